"""Segmenting like the paper: non-overlapping 32-frame segments at 25 fps, audio cut
into the same time spans. Segment t covers [t * 32 / 25, (t + 1) * 32 / 25) seconds; a
trailing partial segment is dropped."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

SEGMENT_FRAMES = 32
"""Frames per segment (the paper's L)."""
TARGET_FPS = 25.0
"""Frame rate every video is resampled to before segmenting."""
SEGMENT_SECONDS = SEGMENT_FRAMES / TARGET_FPS


def segment_count(duration_s: float, fps: float = TARGET_FPS, segment_frames: int = SEGMENT_FRAMES) -> int:
    """T = floor(duration * fps / L), with a little slack for rounding in durations."""
    return int(np.floor(duration_s * fps / segment_frames + 1e-6))


def resample_frames(frames: Iterable[np.ndarray], fps: float, target_fps: float = TARGET_FPS) -> Iterator[np.ndarray]:
    """Resample a frame stream to ``target_fps`` by timestamp.

    Output frame k shows the source frame on screen at time k / target_fps, that is
    source frame floor(k * fps / target_fps). Frames pass through unchanged when the
    rates match.
    """
    if fps <= 0:
        raise ValueError(f"frame rate must be positive, got {fps}")
    if abs(fps - target_fps) < 1e-9:
        yield from frames
        return
    k = 0
    for i, frame in enumerate(frames):
        while int(np.floor(k * fps / target_fps + 1e-9)) == i:
            yield frame
            k += 1


def iter_segments(frames: Iterable[np.ndarray], segment_frames: int = SEGMENT_FRAMES) -> Iterator[np.ndarray]:
    """Group a frame stream into arrays of ``segment_frames`` frames; the remainder is dropped."""
    buf: list[np.ndarray] = []
    for frame in frames:
        buf.append(frame)
        if len(buf) == segment_frames:
            yield np.stack(buf)
            buf = []


def fit_audio(audio: np.ndarray | None, sample_rate: int, T: int) -> np.ndarray:
    """The audio covering exactly T segments: cut, or padded with silence (None = silence)."""
    n = round(T * SEGMENT_SECONDS * sample_rate)
    out = np.zeros(n, dtype=np.float32)
    if audio is not None:
        take = min(n, len(audio))
        out[:take] = audio[:take]
    return out
