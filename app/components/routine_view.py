"""The routine view: one function for every page that shows a scored routine (a routine
of the data set, an analysed video). It draws the scores row, the player synced with
PAMFN's traces on one time axis (or the charts alone without a playable video), the
statements of what moved the score with a button to their moment, the keyframes of the
chosen moment, the routine's figure set for slides and its report as one HTML file."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app import state
from app.components.figure import show_figure
from app.components.keyframes import default_window, keyframes_panel
from app.components.layout import metric_row
from app.components.player import synced_player
from app.components.text import md
from app.components.trust import score_trust
from pamfn import MODALITIES, MODALITY_NAMES
from pamfn.errors import PamfnError
from pamfn.explanation import Explanation
from pamfn.insights import Insight, clock, coach_insights, window_around
from pamfn.occlusion import LONGEST_SCAN_S, MIN_WINDOWS, WINDOW
from pamfn.report import export_name, routine_figures, routine_report
from pamfn.viz import figures, tables

KIND_ICON = {"moment": ":material/bolt:", "modality": ":material/hearing:", "fusion": ":material/hub:"}
Timeline = Callable[[tuple[float, float] | None], str]
"""The routine's timeline figure as JSON, with the keyframes window marked (None: unmarked)."""


def scores_row(expl: Explanation) -> None:
    """Judged, predicted (with its error), each modality branch's score, and what the score is worth."""
    row = metric_row()
    judged = expl.judged_score
    row.metric("Judged", f"{judged:.2f}" if judged is not None else "n/a", width="content")
    delta = None if judged is None else f"{expl.score - judged:+.2f} vs judges"
    row.metric("PAMFN predicted", f"{expl.score:.2f}", delta=delta, delta_color="off", width="content")
    for m in [m for m in MODALITIES if m in expl.branch_scores]:
        row.metric(f"{MODALITY_NAMES[m]} branch", f"{expl.branch_scores[m]:.2f}", width="content")
    score_trust(expl)


def playable(video: Path | None, why: str) -> tuple[Path | None, str]:
    """The video if its audio decodes (the player's waveform), else None and the reason."""
    if video is None:
        return None, why
    try:
        state.waveform(video)
    except PamfnError as exc:
        return None, f"its media file cannot be decoded ({exc})"
    return video, ""


def timeline_json(expl: Explanation, occlusion: pd.DataFrame, video: Path | None, window: tuple[float, float] | None,
                  highlights: pd.DataFrame | None = None) -> str:
    """The timeline figure of :data:`Timeline`: waveform, MSFD weights, FusionNet counts, score
    impact, and each segment's highlight probability when ``highlights`` is given."""
    wave = state.waveform(video) if video is not None else None
    marks = [(window[0], window[1], "keyframes")] if window else []
    return figures.timeline_figure(tables.msfd_table(expl), tables.fusion_count_table(expl), expl.duration_s,
                                   wave, occlusion, windows=marks, highlight_df=highlights).to_json()


def reset(key: str) -> None:
    """Forget the moment and keyframes window chosen in the view ``key`` (another routine)."""
    st.session_state.pop(f"{key}_seek", None)
    st.session_state.pop(f"{key}_window", None)


def _seek_to(key: str, t: float, window: tuple[float, float]) -> None:
    nonce = st.session_state.get(f"{key}_seek", {}).get("nonce", 0) + 1
    st.session_state[f"{key}_seek"] = {"t": float(t), "nonce": nonce}
    st.session_state[f"{key}_window"] = window


def _follow_player(key: str, player_key: str, expl: Explanation) -> None:
    """After a pause or seek: show the keyframes of the stretch the stage-2 step under the
    playhead depends on, unless the playhead stays inside the window already shown."""
    if st.session_state.get(f"{key}_player") != player_key:
        return  # a late report of the previous routine's player
    value = st.session_state.get(player_key)
    t = value.get("time") if hasattr(value, "get") else None
    if t is None:
        return
    window = st.session_state.get(f"{key}_window")
    if window is None or not window[0] <= float(t) < window[1]:
        st.session_state[f"{key}_window"] = window_around(expl, float(t))


def _insights(key: str, found: list[Insight], has_player: bool) -> None:
    if not found:
        st.info("No stretch stands out for this routine: no window moved the score, or pulled a modality's weight, "
                "beyond its noise. The timeline's *Score impact of each window* row shows every window with its noise "
                "(grey bars are within it).",
                icon=":material/info:")
    for i, insight in enumerate(found):
        text_col, button_col = st.columns([4, 1], vertical_alignment="center")
        text_col.markdown(f"{KIND_ICON[insight.kind]} {insight.text}")
        button_col.button(
            clock(insight.start_s), key=f"{key}_insight_{i}", icon=":material/play_arrow:", width="content",
            help="Jump the player to this moment" if has_player else "Show the keyframes of this moment",
            on_click=_seek_to, args=(key, insight.start_s, (insight.start_s, insight.end_s)),
        )


def routine_view(
    expl: Explanation,
    occlusion: pd.DataFrame,
    video: Path | None,
    *,
    key: str,
    name: str,
    no_video: str = "",
    timeline: Timeline | None = None,
) -> None:
    """Player (or charts), statements and keyframes of one routine. ``video``: a playable
    file (see :func:`playable`) or None, ``no_video`` saying why; ``key`` names this view's
    widgets and state; ``timeline`` may be a cached :data:`Timeline`."""
    timeline = timeline or (lambda window: timeline_json(expl, occlusion, video, window))
    found = coach_insights(expl, occlusion)
    scanned = occlusion is not None and len(occlusion) > 0
    window = st.session_state.get(f"{key}_window") or default_window(expl, found)
    if video is not None:
        player_key = st.session_state[f"{key}_player"] = f"{key}_player_{export_name(name)}"
        synced_player(timeline(None), video, expl, key=player_key, seek=st.session_state.get(f"{key}_seek"), window=window,
                      on_time_change=lambda: _follow_player(key, player_key, expl))
    else:
        st.warning(f"No player for **{md(name)}**: {md(no_video)}. The charts below still show the routine on its time axis.",
                   icon=":material/videocam_off:")
        st.plotly_chart(go.Figure(json.loads(timeline(window))), width="stretch", config={"displayModeBar": False})
    left, right = st.columns([1, 1], gap="large")
    with left:
        st.subheader("What moved the score", anchor=False)
        st.caption(f"Each {WINDOW}-segment window trades places with the routine's other windows and the routine is re-scored "
                   "each way; how far the score moves across those swaps is the noise. A stretch is named only when its "
                   "impact, or its pull on a modality's MSFD weight, clearly exceeds that noise. Fusion statements name "
                   "the whole stretch the PolicyNet's decisions depend on.")
        if not scanned:
            st.caption(f"No score-impact scan for this routine: it is shorter than {MIN_WINDOWS} windows of "
                       f"{WINDOW * expl.segment_seconds:.2f} s, longer than "
                       f"{LONGEST_SCAN_S / 60:g} min (scan it with `pamfn explain --occlusion`), or it was saved with an "
                       "earlier version of the scan (analyse the video again to scan it).")
        _insights(key, found, video is not None)
    with right:
        st.subheader("Keyframes", anchor=False)
        if video is None:
            st.caption("Keyframes need the routine's video.")
        else:
            keyframes_panel(video, window)


def figures_and_report(expl: Explanation, occlusion: pd.DataFrame, *, key: str, name: str,
                       details: Mapping[str, str] | None = None) -> None:
    """The routine's report as one HTML file, and its figure set for slides behind a toggle."""
    st.download_button(
        "Download the report (one HTML file)", lambda: routine_report(expl, occlusion=occlusion, details=details),
        file_name=f"{export_name(name)}_report.html", mime="text/html", icon=":material/description:",
        key=f"{key}_report", on_click="ignore",
    )
    if st.toggle("Figures for slides: scores, timeline, MSFD weights (Fig. 7), FusionNet counts (Fig. 8), decisions (Fig. 5)",
                 key=f"{key}_figures"):
        for heading, stem, fig in routine_figures(expl, occlusion):
            st.markdown(f"**{heading}**")
            show_figure(fig, f"{export_name(name)}_{stem}", f"{key}_{stem}")
