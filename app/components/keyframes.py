"""Keyframes panel: RGB frames and a flow visualisation for one time window (the
paper's Figs. 7 and 9), from :mod:`pamfn.features.keyframes`."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from pamfn.errors import PamfnError
from pamfn.insights import clock


@st.cache_data(show_spinner=False, max_entries=64)
def _keyframes(path: str, mtime_ns: int, start_s: float, end_s: float, count: int):
    from pamfn.features.keyframes import window_keyframes

    return window_keyframes(path, start_s, end_s, count=count)


def keyframes_panel(video: Path, window: tuple[float, float], count: int = 4) -> None:
    """Show ``count`` RGB frames across ``window`` with their optical flow below."""
    start, end = window
    st.caption(f"{clock(start)}–{clock(end)} ({end - start:.1f} s): RGB frames above, optical flow below "
               "(hue = direction, brightness = speed).")
    try:
        frames = _keyframes(str(video), video.stat().st_mtime_ns, float(start), float(end), count)
    except PamfnError as exc:
        st.warning(f"Keyframes unavailable: {exc}")
        return
    cols = st.columns(len(frames.times))
    for col, t, rgb, flow in zip(cols, frames.times, frames.rgb, frames.flow):
        col.image(rgb, caption=clock(t), width="stretch")
        col.image(flow, width="stretch")
