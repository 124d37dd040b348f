"""Keyframes and an optical-flow picture of any time window of a video (the dashboard's
RGB and flow strips, the paper's Figs. 7 and 9). Only the window is decoded: ffmpeg seeks
to its start."""

from __future__ import annotations

import os
from itertools import pairwise

import cv2
import numpy as np

from pamfn.errors import MediaError
from pamfn.features.lite import FARNEBACK, one_cv2_thread, working_size
from pamfn.features.media import iter_frames, probe
from pamfn.features.segments import TARGET_FPS

FLOW_BOX = 192
"""Longer side, in pixels, at which the flow picture's optical flow is computed."""
FLOW_SPAN_S = 0.4
"""The flow picture under a keyframe shows the motion of this many seconds around it."""
FLOW_SATURATION = 2.0
"""Flow magnitude (percent of the image width per frame) drawn at full brightness."""


def _window(video_path: str | os.PathLike[str], start_s: float, end_s: float, width: int | None) -> list[np.ndarray]:
    """Frames of ``[start_s, end_s)`` at 25 fps, ``width`` wide (None: longer side FLOW_BOX)."""
    info = probe(video_path)
    if not 0 <= start_s < end_s:
        raise ValueError(f"invalid time window [{start_s}, {end_s}) s")
    if start_s >= info.duration_s:
        raise MediaError(f"{info.path.name}: window starts at {start_s:.2f} s, after the video's end "
                         f"({info.duration_s:.2f} s)")
    if width is None:
        size = working_size(info.width, info.height, FLOW_BOX)
    else:
        size = (width, max(2, 2 * round(info.height * width / info.width / 2)))
    frames = list(iter_frames(video_path, size, TARGET_FPS, start_s=start_s,
                              duration_s=min(end_s, info.duration_s) - start_s))
    if not frames:
        raise MediaError(f"{info.path.name}: no frames in the window [{start_s:.2f}, {end_s:.2f}) s")
    return frames


def keyframes(video_path: str | os.PathLike[str], start_s: float, end_s: float, n: int = 3,
              width: int = 320) -> list[np.ndarray]:
    """``n`` RGB uint8 frames (width ``width``) at the centres of ``n`` equal parts of the window."""
    frames = _window(video_path, start_s, end_s, width)
    picks = ((np.arange(n) + 0.5) * len(frames) / n).astype(int)
    return [frames[i].copy() for i in picks]


def flow_to_rgb(flow: np.ndarray, coherence: np.ndarray | None = None,
                saturation: float = FLOW_SATURATION) -> np.ndarray:
    """HSV colour coding of a flow field (H, W, 2) in pixels: hue = direction, brightness =
    magnitude (full at ``saturation`` percent of the width per frame), colour saturation =
    ``coherence`` (1 where not given; low for back-and-forth motion)."""
    h, w = flow.shape[:2]
    mag, ang = cv2.cartToPolar(flow[..., 0].astype(np.float32), flow[..., 1].astype(np.float32))
    hsv = np.empty((h, w, 3), np.uint8)
    hsv[..., 0] = (ang * (90.0 / np.pi)).astype(np.uint8)
    hsv[..., 1] = 255 if coherence is None else np.clip(coherence * 255, 0, 255).astype(np.uint8)
    hsv[..., 2] = np.clip(mag * (100.0 / w) / saturation * 255, 0, 255).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


def flow_visualization(video_path: str | os.PathLike[str], start_s: float, end_s: float,
                       width: int = 320) -> np.ndarray:
    """One RGB uint8 picture of the motion in a window (Farneback flow between consecutive
    25-fps frames): hue = net direction, brightness = peak speed, so the path swept by a
    moving limb lights up; paleness = motion that goes back and forth. The flow is computed with the longer side at FLOW_BOX pixels, then scaled to ``width``."""
    frames = _window(video_path, start_s, end_s, None)
    grey = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]
    total = np.zeros(grey[0].shape + (2,), np.float32)
    path = np.zeros(grey[0].shape, np.float32)
    peak = np.zeros(grey[0].shape, np.float32)
    with one_cv2_thread():
        for a, b in pairwise(grey):
            flow = cv2.calcOpticalFlowFarneback(a, b, None, **FARNEBACK)
            speed = np.linalg.norm(flow, axis=2)
            total += flow
            path += speed
            np.maximum(peak, speed, out=peak)
    net = np.linalg.norm(total, axis=2)
    coherence = net / np.maximum(path, 1e-6)
    direction = total / np.maximum(net, 1e-6)[..., None]
    picture = flow_to_rgb(direction * peak[..., None], coherence)
    height = max(2, 2 * round(picture.shape[0] * width / picture.shape[1] / 2))
    return cv2.resize(picture, (width, height), interpolation=cv2.INTER_LINEAR)


def keyframe_strip(video_path: str | os.PathLike[str], start_s: float, end_s: float, n: int = 4,
                   width: int = 320) -> tuple[list[float], list[np.ndarray], list[np.ndarray]]:
    """The dashboard's strip: ``n`` keyframes across the window (their times, as in
    :func:`keyframes`) and under each the flow picture of the ``FLOW_SPAN_S`` around it
    (narrower when the keyframes are closer), all decoded with one OpenCV thread."""
    edges = np.linspace(start_s, end_s, n + 1)
    times = [float(t) for t in (edges[:-1] + edges[1:]) / 2]
    half = min(FLOW_SPAN_S, (end_s - start_s) / n) / 2
    with one_cv2_thread():
        rgb = keyframes(video_path, start_s, end_s, n=n, width=width)
        flow = [flow_visualization(video_path, max(0.0, t - half), t + half, width=width) for t in times]
    return times, rgb, flow
