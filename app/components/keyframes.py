"""Keyframes panel: RGB frames of a time window with the optical flow of each part of
the window below them (the paper's Figs. 7 and 9), from :mod:`pamfn.features.keyframes`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from pamfn.errors import PamfnError
from pamfn.insights import clock


@st.cache_data(show_spinner="Decoding keyframes…", max_entries=64)
def _keyframes(path: str, mtime_ns: int, start_s: float, end_s: float, count: int) -> tuple[list, list, list]:
    from pamfn.features.keyframes import flow_visualization, keyframes

    edges = np.linspace(start_s, end_s, count + 1)
    rgb = keyframes(path, start_s, end_s, n=count, width=320)
    flow = [flow_visualization(path, float(a), float(b), width=320) for a, b in zip(edges[:-1], edges[1:])]
    return [float((a + b) / 2) for a, b in zip(edges[:-1], edges[1:])], rgb, flow


def keyframes_panel(video: Path, window: tuple[float, float], count: int = 4) -> None:
    """Show ``count`` RGB frames across ``window``, each above the flow of its part."""
    start, end = window
    st.caption(f"**{clock(start)}–{clock(end)}** ({end - start:.1f} s). RGB frames above; optical flow of each "
               "part below (hue = direction, brightness = speed, pale = back-and-forth motion).")
    try:
        times, rgb, flow = _keyframes(str(video), video.stat().st_mtime_ns, float(start), float(end), count)
    except (PamfnError, ValueError) as exc:
        st.warning(f"Keyframes unavailable: {exc}")
        return
    for col, t, frame, motion in zip(st.columns(len(times), gap="small"), times, rgb, flow):
        col.image(frame, caption=clock(t), width="stretch")
        col.image(motion, width="stretch")
