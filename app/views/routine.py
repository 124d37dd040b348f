"""Routine view: pick a routine, play it beside its waveform and PAMFN's traces on one
time axis, read the scores and the explanations, look at keyframes."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app import state
from app.components.feedback import confirm_and_rerun, show_confirmation
from app.components.keyframes import default_window, keyframes_panel
from app.components.player import preload_plotly, synced_player
from pamfn import MODALITIES, MODALITY_NAMES
from pamfn.errors import PamfnError
from pamfn.insights import Insight, clock, coach_insights, window_around
from pamfn.viz import figures, tables

PICK_KEY = "routine_picker"
SEEK_KEY = "routine_seek"
WINDOW_KEY = "keyframe_window"
KIND_ICON = {"moment": ":material/bolt:", "modality": ":material/hearing:", "fusion": ":material/hub:"}


def _filters(table: pd.DataFrame) -> pd.DataFrame:
    """Sidebar filters over the routines table."""
    st.sidebar.subheader("Filter routines")
    actions = sorted(table["action"].unique())
    chosen = st.sidebar.multiselect("Apparatus", actions, default=actions, key="filter_action")
    splits = sorted(table["split"].dropna().unique())
    chosen_splits = st.sidebar.multiselect("Split", splits, default=splits, key="filter_split")
    only_video = st.sidebar.toggle("Only routines with a video", value=False, key="filter_video")
    text = st.sidebar.text_input("Routine id contains", key="filter_text")
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
    if job.done:
        confirm_and_rerun(f"Scored all {job.total} routines: the Predicted column is filled in.", icon=":material/task_alt:")
    st.caption(f":material/hourglass_top: Scoring the routines in the background: {len(job.scores)} of {job.total} "
               "done; the Predicted column fills in when they are.")


def _picker(src: state.Source, catalog) -> str | None:
    """The routines table (those with a video first) with single-row selection; returns
    the chosen routine id, by default the first row."""
    job = state.prediction_job(src)  # started at the end of the page, so the first routine is not slowed down
    table = job.table()
    with st.empty():  # one slot, so the elements below keep their place (the player is not remounted)
        if not job.done:
            _scoring_progress(src)
        elif job.errors:
            first = next(iter(job.errors.values()))
            st.warning(f"{len(job.errors)} routine(s) could not be scored. First: {first}", icon=":material/warning:")
    table["has_video"] = catalog.routines["media_path"].map(lambda p: bool(p) and Path(p).is_file()).reindex(table.index)
    shown = _filters(table)
    if shown.empty:
        st.info("No routine matches the filters in the sidebar.")
        return None
    columns = ["routine_id", "action", "split", "score", "predicted", "error", "has_video"]
    view = shown.reset_index()[columns].sort_values("has_video", ascending=False, kind="stable", ignore_index=True)
    event = st.dataframe(
        view,
        key=PICK_KEY,
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
    return str(view.iloc[rows[0] if rows else 0]["routine_id"])


def _scores(expl) -> None:
    cols = st.columns(2 + len(expl.branch_scores))
    judged = expl.judged_score
    cols[0].metric("Judged", f"{judged:.2f}" if judged is not None else "n/a")
    delta = None if judged is None else f"{expl.score - judged:+.2f} vs judges"
    cols[1].metric("PAMFN predicted", f"{expl.score:.2f}", delta=delta, delta_color="off")
    for col, m in zip(cols[2:], [m for m in MODALITIES if m in expl.branch_scores]):
        col.metric(f"{MODALITY_NAMES[m]} branch", f"{expl.branch_scores[m]:.2f}")


def _seek_to(t: float, window: tuple[float, float] | None = None) -> None:
    nonce = st.session_state.get(SEEK_KEY, {}).get("nonce", 0) + 1
    st.session_state[SEEK_KEY] = {"t": float(t), "nonce": nonce}
    if window is not None:
        st.session_state[WINDOW_KEY] = window


def _insights(found: list[Insight], has_player: bool) -> None:
    if not found:
        st.caption("No stretch stands out for this routine.")
    for i, insight in enumerate(found):
        text_col, button_col = st.columns([4, 1], vertical_alignment="center")
        text_col.markdown(f"{KIND_ICON[insight.kind]} {insight.text}")
        button_col.button(
            clock(insight.start_s), key=f"insight_{i}", icon=":material/play_arrow:", width="content",
            help="Jump the player to this moment" if has_player else "Show the keyframes of this moment",
            on_click=_seek_to, args=(insight.start_s, (insight.start_s, insight.end_s)),
        )


def _follow_player(player_key: str, expl) -> None:
    """After a pause or seek: show the keyframes of the stretch the stage-2 step under the
    playhead depends on, unless the playhead stays inside the window already shown."""
    value = st.session_state.get(player_key)
    t = value.get("time") if hasattr(value, "get") else None
    if t is None:
        return
    window = st.session_state.get(WINDOW_KEY)
    if window is None or not window[0] <= float(t) < window[1]:
        st.session_state[WINDOW_KEY] = window_around(expl, float(t))


@st.cache_data(show_spinner=False, max_entries=128)
def _timeline_json(src: state.Source, routine_id: str, video: str | None, window: tuple[float, float] | None,
                   stamp: str) -> str:
    """The routine's figure as JSON: waveform, MSFD weights, FusionNet counts, score impact
    (``stamp``: the checkpoint's version, part of the cache key). The player marks the
    keyframes window itself, so it passes ``window=None``."""
    expl = state.explanation(src, routine_id, support=True)
    wave = state.waveform(Path(video)) if video else None
    marks = [(window[0], window[1], "keyframes")] if window else []
    fig = figures.timeline_figure(tables.msfd_table(expl), tables.fusion_count_table(expl), expl.duration_s,
                                  wave, state.occlusion(src, routine_id), windows=marks)
    return fig.to_json()


@st.fragment
def _routine_view(src: state.Source, routine_id: str) -> None:
    """Player, explanations and keyframes: a fragment, so a pause or seek reruns only this."""
    expl = state.explanation(src, routine_id, support=True)
    video, why = state.media(src, routine_id)
    wave = None
    if video is not None:
        try:
            wave = state.waveform(video)
        except PamfnError as exc:
            video, why = None, f"its media file cannot be decoded ({exc})"
    occ = state.occlusion(src, routine_id)
    found = coach_insights(expl, occ)
    window = st.session_state.get(WINDOW_KEY) or default_window(expl, found)
    if video is not None:
        key = f"player_{routine_id}"
        synced_player(_timeline_json(src, routine_id, str(video), None, state.checkpoint_version(src)), video, expl, key=key,
                      seek=st.session_state.get(SEEK_KEY), window=window,
                      on_time_change=lambda: _follow_player(key, expl))
    else:
        st.warning(f"No player for **{routine_id}**: {why}. The charts below still show the routine on its time axis.",
                   icon=":material/videocam_off:")
        timeline = _timeline_json(src, routine_id, None, window, state.checkpoint_version(src))
        st.plotly_chart(go.Figure(json.loads(timeline)), width="stretch", config={"displayModeBar": False})
    left, right = st.columns([1, 1], gap="large")
    with left:
        st.subheader("What moved the score", anchor=False)
        st.caption("Each 4-segment window is replaced by the routine's other stretches and the routine re-scored: "
                   "a stretch is named only when its impact, or its pull on a modality's MSFD weight, clearly exceeds "
                   "that noise. Fusion statements name the whole stretch the PolicyNet's decisions depend on.")
        _insights(found, video is not None)
    with right:
        st.subheader("Keyframes", anchor=False)
        if video is None:
            st.caption("Keyframes need the routine's video.")
        else:
            keyframes_panel(video, window)


def page() -> None:
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


def _prefetch_waveform(src: state.Source, routine_id: str) -> None:
    """Decode the audio now: ffmpeg runs while the checkpoints still load (the player
    reports a file that cannot be decoded)."""
    video, _ = state.media(src, routine_id)
    if video is not None:
        try:
            state.waveform(video)
        except PamfnError:
            pass


def _routine_page(src: state.Source, catalog) -> None:
    routine_id = _picker(src, catalog)
    if routine_id is None:
        return
    if st.session_state.get("routine_current") != routine_id:
        st.session_state["routine_current"] = routine_id
        st.session_state.pop(SEEK_KEY, None)
        st.session_state.pop(WINDOW_KEY, None)
    _prefetch_waveform(src, routine_id)
    row = catalog.routine(routine_id)
    st.subheader(f"{routine_id} · {str(row['action']).capitalize()}", anchor=False)
    parts = [f"{name} {row[name]:.2f}" for name in ("difficulty", "execution", "musicality") if pd.notna(row.get(name))]
    judges = f"Judges' components: {' · '.join(parts)}. " if parts else ""
    st.caption(f"{judges}Split: {row['split']}. Scores out of {catalog.label_scale:g}; PAMFN on {state.device().upper()}.")
    try:
        expl = state.explanation(src, routine_id, support=True)
    except PamfnError as exc:
        state.show_error(exc, f"PAMFN cannot explain {routine_id}")
        return
    _scores(expl)
    _routine_view(src, routine_id)
    if st.toggle("Figures for slides: MSFD weights (Fig. 7), FusionNet counts (Fig. 8), scores", key="slide_figures"):
        msfd = tables.msfd_table(expl)
        st.plotly_chart(figures.msfd_figure(msfd, expl.duration_s), width="stretch")
        counts = tables.fusion_count_table(expl)
        if len(counts):
            st.plotly_chart(figures.fusion_count_figure(counts, expl.duration_s), width="stretch")
        st.plotly_chart(figures.scores_figure(tables.scores_table(expl), expl.label_scale), width="stretch")


page()
