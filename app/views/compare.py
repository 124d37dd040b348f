"""Compare two routines on one time axis: an athlete against a high-scoring reference.

Either routine comes from the chosen data set or from the local library of analysed
videos. Shown: their scores, the MSFD modality weights and the PolicyNet's FusionNet
counts of one stage, in seconds or as a share of each routine.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import streamlit as st

from app import state
from app.components.figure import show_figure
from app.components.layout import metric_row
from app.components.player import publish
from app.components.remembered import KEPT, one_of, remembered
from app.components.text import md
from app.components.trust import score_trust
from pamfn.errors import PamfnError
from pamfn.explanation import Explanation
from pamfn.occlusion import WEIGHT_STAGE
from pamfn.routine_library import RoutineLibrary
from pamfn.viz import research, tables

DATASET, LIBRARY = "dataset", "library"
REFERENCE, REFERENCE_FOR = "compare_b", "compare_b_for"


@dataclass(frozen=True)
class Choice:
    """A routine to compare: from the data set (by routine id) or the library (by entry id)."""

    origin: str
    key: str
    label: str

    @property
    def id(self) -> str:
        """What the page's widgets hold (plain text: the page's classes are new on every run)."""
        return f"{self.origin}:{self.key}"

    @property
    def short(self) -> str:
        """The name in legends: the routine id, or the library entry's name."""
        return self.label.split(" · ")[1 if self.origin == LIBRARY else 0]


def choices(src: state.Source, library: RoutineLibrary) -> tuple[list[Choice], str]:
    """Every routine on offer (the library's entries first, then the data set's, best judged
    first) and why the data set offers none ("" when it does)."""
    out = [Choice(LIBRARY, e.entry_id, f"Library · {e.name} · saved {e.saved_at}")
           for e in library.entries()]
    try:
        routines = state.catalog(src).routines.sort_values("score", ascending=False)
    except PamfnError as exc:
        return out, f"The data set {src.data_dir} cannot be read: {exc}"
    out += [Choice(DATASET, rid, f"{row.video_id} · {row.action} · judged {row.score:.2f}") for rid, row in routines.iterrows()]
    return out, ""


def explanation_of(src: state.Source, library: RoutineLibrary, choice: Choice) -> tuple[Explanation, Path | None]:
    """The explanation and playable video of a chosen routine."""
    if choice.origin == LIBRARY:
        entry = library.get(choice.key)
        return entry.explanation(), entry.media_path
    return state.explanation(src, choice.key), state.media(src, choice.key)[0]


def reference_for(src: state.Source, athlete: Choice, options: list[Choice], library: RoutineLibrary) -> Choice:
    """The best judged routine of the athlete's apparatus in the data set (another one)."""
    try:
        action = explanation_of(src, library, athlete)[0].action
    except PamfnError:
        action = None
    routines = state.catalog(src).routines
    pool = routines if action is None or action not in set(routines["action"]) else routines[routines["action"] == action]
    pool = pool.drop(index=[athlete.key] if athlete.key in pool.index else []).sort_values("score", ascending=False)
    if pool.empty:
        return options[0]
    best = pool.index[0]
    return next(c for c in options if c.origin == DATASET and c.key == best)


def default_athlete(src: state.Source, options: list[Choice]) -> Choice:
    """The newest library entry, else the data set's lowest judged routine with a video
    (else the lowest judged): someone with room to improve."""
    if options[0].origin == LIBRARY:
        return options[0]
    dataset = [c for c in options if c.origin == DATASET]
    with_video = [c for c in dataset if state.media(src, c.key)[0] is not None]
    return (with_video or dataset)[-1]


def _pair_notes(athlete: Choice, reference: Choice, a: Explanation, b: Explanation) -> None:
    """Say when the pair is not what a comparison usually means."""
    if athlete == reference:
        st.info("The athlete and the reference are the same routine: choose another reference to compare.",
                icon=":material/info:")
    elif a.action and b.action and a.action != b.action:
        st.warning(f"Different apparatus ({md(a.action)} against {md(b.action)}): each routine was scored by its own "
                   "checkpoint and judged by its own rules, so their weights and counts are not like for like.",
                   icon=":material/warning:")
    if a.K != b.K:
        st.caption(f"The two checkpoints have different numbers of FusionNets (K = {a.K} and {b.K}); the chart's "
                   f"ceiling line is the larger.")


def main() -> None:
    st.title("Compare two routines", anchor=False)
    st.caption("An athlete against a high-scoring reference: what PAMFN relied on, step by step, on one time axis.")
    src = state.current_source()
    library = RoutineLibrary()
    options, problem = choices(src, library)
    if problem:
        st.error(md(problem), icon=":material/error:")
    if len(options) < 2:
        st.info("Comparing needs two routines: choose a data set in the sidebar or save analysed videos to the library.")
        return

    by_id = {c.id: c for c in options}
    ids, label = list(by_id), lambda i: by_id[i].label
    left, right = st.columns(2, gap="large")
    first = default_athlete(src, options).id
    athlete = by_id[remembered(left.selectbox, "Athlete", options=ids, format_func=label, key="compare_a", default=first,
                               fit=one_of(ids, first))]
    best = reference_for(src, athlete, options, library).id
    if st.session_state.get(REFERENCE_FOR) != athlete.id:  # a new athlete gets the best reference of its apparatus
        st.session_state[REFERENCE_FOR] = athlete.id
        st.session_state.pop(REFERENCE, None)
        st.session_state.pop(KEPT + REFERENCE, None)
    reference = by_id[remembered(right.selectbox, "Reference", options=ids, format_func=label, key=REFERENCE, default=best,
                                 fit=one_of(ids, best), help="Defaults to the best judged routine of the same apparatus")]
    try:
        a, video_a = explanation_of(src, library, athlete)
        b, video_b = explanation_of(src, library, reference)
    except PamfnError as exc:
        state.show_error(exc, "A routine cannot be explained")
        return
    _pair_notes(athlete, reference, a, b)
    name_a, name_b = athlete.short, reference.short
    if name_a == name_b:
        name_b = f"{name_b} (reference)"

    for col, e, video in ((left, a, video_a), (right, b, video_b)):
        with col:
            row = metric_row()
            row.metric("Predicted", f"{e.score:.2f}", width="content")
            row.metric("Judged", f"{e.judged_score:.2f}" if e.judged_score is not None else "n/a", width="content")
            row.metric("Length", f"{e.duration_s:.0f} s", width="content")
            score_trust(e)
            if video is not None:  # served from app/static, not streamed through the websocket
                st.html(f'<video src="{html.escape(publish(video))}" controls muted playsinline preload="metadata" '
                        'style="width:100%;border-radius:.5rem;background:#000"></video>')
            else:
                st.caption(":material/videocam_off: No video for this routine (features only).")

    stage_col, axis_col = st.columns(2)
    stages = sorted({s.stage for s in a.stages} & {s.stage for s in b.stages}) or [1]
    default_stage = WEIGHT_STAGE if WEIGHT_STAGE in stages else stages[0]
    stage = remembered(stage_col.segmented_control, "Stage", options=stages, key="compare_stage", default=default_stage,
                       fit=one_of(stages, default_stage), format_func=lambda s: f"Stage {s}") or default_stage
    relative = axis_col.toggle("Align as share of each routine", value=abs(a.duration_s - b.duration_s) > 5,
                               key="compare_relative", help="For routines of different lengths")
    msfd, counts = research.comparison_tables({name_a: a, name_b: b}, stage)
    stem = f"{name_a}_vs_{name_b}"
    show_figure(research.comparison_figure(msfd, counts, relative=relative, K=max(a.K, b.K)),
                f"{stem}_stage{stage}", "timeline")
    st.caption(f"Solid: **{md(name_a)}**; dashed: **{md(name_b)}**. Each step is drawn over its own time window.")
    scores = pd.concat([tables.scores_table(a).assign(routine=name_a), tables.scores_table(b).assign(routine=name_b)],
                       ignore_index=True)
    show_figure(research.compare_scores_figure(scores, max(a.label_scale, b.label_scale)), f"{stem}_scores", "scores")


if __name__ == "__main__":  # Streamlit runs a page as __main__; tests import it
    main()
