"""Routine view: pick a routine, play it beside its waveform and PAMFN's traces on one
time axis, read the scores and the explanations, look at keyframes."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

import pandas as pd
import streamlit as st

from app import state
from app.components.feedback import confirm_and_rerun, show_confirmation
from app.components.player import preload_plotly
from app.components.remembered import among, remembered
from app.components.routine_view import figures_and_report, playable, reset, routine_view, scores_row, timeline_json
from app.components.text import code, md
from pamfn.catalog import SUB_SCORES
from pamfn.errors import CheckpointError, PamfnError

PICK_KEY = "routine_picker"
CURRENT = "routine_current"
VIEW = "routine"


def _filters(table: pd.DataFrame) -> pd.DataFrame:
    """Sidebar filters over the routines table."""
    st.sidebar.subheader("Filter routines")
    actions = sorted(table["action"].unique())
    chosen = remembered(st.sidebar.multiselect, "Apparatus", options=actions, key="filter_action", default=actions,
                        fit=among(actions))
    splits = sorted(table["split"].dropna().unique())
    chosen_splits = remembered(st.sidebar.multiselect, "Split", options=splits, key="filter_split", default=splits,
                               fit=among(splits))
    only_video = remembered(st.sidebar.toggle, "Only routines with a video", key="filter_video", default=False)
    text = remembered(st.sidebar.text_input, "Routine id contains", key="filter_text", default="")
    mask = table["action"].isin(chosen) & table["split"].isin(chosen_splits)
    if only_video:
        mask &= table["has_video"]
    if text:
        mask &= table.index.str.contains(text, case=False, regex=False)
    return table[mask]


@st.fragment(run_every=1.5)
def _scoring_progress(src: state.Source) -> None:
    """Progress of the background scoring; refreshes the page once every routine is scored."""
    job = state.prediction_job(src)
    if job.done and job.errors:
        confirm_and_rerun(f"Scored {job.total - len(job.errors)} of {job.total} routines; the others could not be "
                          "scored (below, why).", icon=":material/warning:", warn=True)
    elif job.done:
        confirm_and_rerun(f"Scored all {job.total} routines: the Predicted column is filled in.", icon=":material/task_alt:")
    st.caption(f":material/hourglass_top: Scoring the routines in the background: {len(job.scores)} of {job.total} "
               "done; the Predicted column fills in when they are.")


def picker_key(routine_ids: Iterable[str]) -> str:
    """The table's widget key, one per list of rows shown: a new list (other filters)
    starts unselected, since a selected row's number means nothing in it."""
    digest = hashlib.blake2s("|".join(routine_ids).encode(), digest_size=8).hexdigest()
    return f"{PICK_KEY}:{digest}"


def _picker(src: state.Source, catalog) -> str | None:
    """The routines table (those with a video first) with single-row selection; returns
    the chosen routine id: the selected row, else the routine shown before if the filters
    still show it, else the first row."""
    job = state.prediction_job(src)  # started at the end of the page, so the first routine is not slowed down
    table = job.table()
    with st.empty():  # one slot, so the elements below keep their place (the player is not remounted)
        if not job.done:
            _scoring_progress(src)
        elif job.errors:
            first = next(iter(job.errors.values()))
            st.warning(f"{len(job.errors)} routine(s) could not be scored. First: {md(first)}", icon=":material/warning:")
    table["has_video"] = catalog.playable().reindex(table.index)
    shown = _filters(table)
    if shown.empty:
        st.info("No routine matches the filters in the sidebar.")
        return None
    columns = ["routine_id", "action", "split", "score", "predicted", "error", "has_video"]
    view = shown.reset_index()[columns].sort_values("has_video", ascending=False, kind="stable", ignore_index=True)
    event = st.dataframe(
        view,
        key=picker_key(view["routine_id"]),
        on_select="rerun",
        selection_mode="single-row",
        hide_index=True,
        height=min(36 + 35 * len(view), 280),
        width="stretch",
        column_config={
            "routine_id": st.column_config.TextColumn("Routine"),
            "action": st.column_config.TextColumn("Apparatus"),
            "split": st.column_config.TextColumn("Split"),
            "score": st.column_config.NumberColumn("Judged", format="%.2f"),
            "predicted": st.column_config.NumberColumn("Predicted", format="%.2f"),
            "error": st.column_config.NumberColumn("Error", format="%+.2f", help="predicted - judged"),
            "has_video": st.column_config.CheckboxColumn("Video"),
        },
    )
    rows = event.selection.rows if event is not None else []
    if rows and rows[0] < len(view):
        return str(view.iloc[rows[0]]["routine_id"])
    shown_before = st.session_state.get(CURRENT)
    return shown_before if shown_before in set(view["routine_id"]) else str(view.iloc[0]["routine_id"])


@st.cache_data(show_spinner=False, max_entries=128)
def _timeline_json(src: state.Source, routine_id: str, video: str | None, window: tuple[float, float] | None,
                   stamp: str) -> str:
    """:func:`timeline_json` of a data set routine, with the highlight track when a highlight
    detector is loaded; cached (``stamp``: the checkpoints' versions, part of the cache key)."""
    return timeline_json(state.explanation(src, routine_id, support=True), state.occlusion(src, routine_id),
                         Path(video) if video else None, window, _highlights_or_none(src, routine_id))


def _highlights_or_none(src: state.Source, routine_id: str) -> pd.DataFrame | None:
    """The highlight track's table, or None when there is none or it cannot be computed
    (:func:`_routine_view` says why)."""
    try:
        return state.highlights(src, routine_id)
    except PamfnError:
        return None


def _stamp(src: state.Source) -> str:
    return f"{state.checkpoint_version(src)}|{state.highlight_version()}"


@st.fragment
def _routine_view(src: state.Source, routine_id: str) -> None:
    """The routine view in a fragment, so a pause or seek reruns only this."""
    video, why = playable(*state.media(src, routine_id))
    stamp = _stamp(src)
    try:
        state.highlights(src, routine_id)
    except PamfnError as exc:
        st.caption(f":material/info: No highlight track: the highlight detector cannot score this routine ({md(exc)}).")
    routine_view(state.explanation(src, routine_id, support=True), state.occlusion(src, routine_id), video,
                 key=VIEW, name=routine_id, no_video=why,
                 timeline=lambda window: _timeline_json(src, routine_id, str(video) if video else None, window, stamp))


def main() -> None:
    src = state.current_source()
    st.title("Routine view", anchor=False)
    preload_plotly()
    st.caption("Pick a routine; play it beside its waveform and what PAMFN did, on one time axis. "
               "Press or drag on the charts to seek.")
    show_confirmation()
    try:
        catalog = state.catalog(src)
    except PamfnError as exc:
        state.show_error(exc, "The data set cannot be read")
        return
    try:
        _routine_page(src, catalog)
    finally:
        state.prediction_job(src).start()


def _routine_page(src: state.Source, catalog) -> None:
    routine_id = _picker(src, catalog)
    if routine_id is None:
        return
    if st.session_state.get(CURRENT) != routine_id:
        st.session_state[CURRENT] = routine_id
        reset(VIEW)
    playable(*state.media(src, routine_id))  # ffmpeg decodes the audio while the checkpoints still load
    row = catalog.routine(routine_id)
    action = str(row["action"])
    st.subheader(f"{md(row['video_id'])} · {md(action[:1].upper() + action[1:])}", anchor=False)
    parts = [f"{name} {row[name]:.2f}" for name in SUB_SCORES if pd.notna(row.get(name))]
    judges = f"Judges' components: {' · '.join(parts)}. " if parts else ""
    st.caption(f"{judges}Split: {md(row['split'])}. Scores out of {catalog.label_scale:g}; PAMFN on {state.device().upper()}.")
    try:
        with st.spinner(f"Explaining {md(routine_id)}: what PAMFN did at each step, the stretch each step depends on, "
                        "each window's score impact…"):
            expl = state.explanation(src, routine_id, support=True)
            state.occlusion(src, routine_id)
    except CheckpointError as exc:
        state.show_error(exc, f"The checkpoint folder {code(src.checkpoint_dir)} cannot explain {md(routine_id)}")
        return
    except PamfnError as exc:
        state.show_error(exc, f"PAMFN cannot explain {md(routine_id)}")
        return
    scores_row(expl)
    _routine_view(src, routine_id)
    figures_and_report(expl, state.occlusion(src, routine_id), key=VIEW, name=routine_id,
                       details={"Data set": src.data_dir, "Split": str(row["split"])})


if __name__ == "__main__":  # Streamlit runs a page as __main__; tests import it
    main()
