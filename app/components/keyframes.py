"""Keyframes panel: RGB frames of a time window with the optical flow around each frame
below them (the paper's Figs. 7 and 9), from :mod:`pamfn.features.keyframes`."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from app.components.text import md
from pamfn.errors import PamfnError
from pamfn.explanation import Explanation
from pamfn.insights import Insight, clock, window_around


@st.cache_data(show_spinner="Decoding keyframes…", max_entries=64)
def _keyframes(path: str, mtime_ns: int, start_s: float, end_s: float, count: int) -> tuple[list, list, list]:
    from pamfn.features.keyframes import keyframe_strip

    return keyframe_strip(path, start_s, end_s, n=count)


def default_window(expl: Explanation, found: list[Insight]) -> tuple[float, float]:
    """The keyframes shown first: the first insight's stretch, else the routine's first stage-2 step."""
    return (found[0].start_s, found[0].end_s) if found else window_around(expl, 0.0)


def keyframes_panel(video: Path, window: tuple[float, float], count: int = 4) -> None:
    """Show ``count`` RGB frames across ``window``, each above the optical flow around it."""
    from pamfn.features.keyframes import FLOW_SPAN_S  # OpenCV loads with the first keyframes, not the page

    start, end = window
    st.caption(f"**{clock(start)}–{clock(end)}** ({end - start:.1f} s, shaded on the charts). RGB frames above; "
               "below, the optical flow "
               f"of the {FLOW_SPAN_S:g} s around each frame (hue = direction, brightness = speed, pale = back-and-forth).")
    try:
        times, rgb, flow = _keyframes(str(video), video.stat().st_mtime_ns, float(start), float(end), count)
    except (PamfnError, ValueError) as exc:
        st.warning(f"Keyframes unavailable: {md(exc)}")
        return
    for col, t, frame, motion in zip(st.columns(len(times), gap="small"), times, rgb, flow):
        col.image(frame, caption=clock(t), width="stretch")
        col.image(motion, width="stretch")
