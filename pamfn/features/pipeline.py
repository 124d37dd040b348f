"""From frames and audio (or a media file) to RoutineFeatures, by one code path.

An extractor family (see :mod:`pamfn.features.registry`) has a name, per-modality versions and
dimensions, the audio sample rate it wants, the frame size it wants decoded, a
``start()`` method called at the beginning of each routine, a ``segment(frames) -> (V, F)``
method fed with consecutive 32-frame segments in order and an ``audio(audio, T) -> (T, D_A)``
method.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from pamfn.errors import MediaError
from pamfn.features.media import decode_audio, file_sha256, iter_frames, probe
from pamfn.features.registry import extractor_family
from pamfn.features.segments import (
    SEGMENT_FRAMES,
    SEGMENT_SECONDS,
    TARGET_FPS,
    fit_audio,
    iter_segments,
    resample_frames,
    segment_count,
)
from pamfn.routine import MAX_SEGMENTS, RoutineFeatures

_SILENCE = 1e-4
"""Peak amplitude under which an audio track counts as silent."""
LONGEST = f"PAMFN reads routines of at most {MAX_SEGMENTS} segments ({MAX_SEGMENTS * SEGMENT_SECONDS / 3600:.1f} hours)"
"""What a refusal of a routine longer than any says."""
VIDEO_ENDS_EARLY_S = 1.0
"""A video stream this much shorter than its file (whose sound runs on) is scored as far as
it is filmed: ``duration_s`` is its length, and ``flags`` say where it ends (``video_ends_s``)
and how long the file runs (``media_s``)."""


class Extractor(Protocol):
    name: str
    sample_rate: int
    dims: dict[str, int]
    versions: dict[str, str]
    timings: dict[str, float]

    def start(self) -> None: ...

    def frame_size(self, width: int, height: int) -> tuple[int, int]: ...

    def segment(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...

    def audio(self, audio: np.ndarray, T: int) -> np.ndarray: ...


def make_extractor(name: str | Extractor, device: str = "cpu") -> Extractor:
    """An extractor family by name (:data:`pamfn.features.registry.EXTRACTORS`); an
    extractor object passes through."""
    if not isinstance(name, str):
        return name
    return extractor_family(name).build(device)


def extractor_versions(name: str) -> dict[str, str]:
    """Per-modality extractor versions of a family, without building its models
    (WeightsNotFoundError for ``pretrained`` without weights)."""
    return extractor_family(name).versions()


def _timed(frames: Iterable[np.ndarray], timings: dict[str, float], key: str) -> Iterator[np.ndarray]:
    """Pass frames through, adding the time spent producing them to ``timings[key]``."""
    it = iter(frames)
    while True:
        t0 = time.perf_counter()
        try:
            frame = next(it)
        except StopIteration:
            timings[key] = timings.get(key, 0.0) + time.perf_counter() - t0
            return
        timings[key] = timings.get(key, 0.0) + time.perf_counter() - t0
        yield frame


Progress = Callable[[int], None]
"""Called with the number of frames decoded so far, after each one (25 fps frames)."""


def _counted(frames: Iterable[np.ndarray], counter: list[int], on_frame: Progress | None = None) -> Iterator[np.ndarray]:
    for frame in frames:
        counter[0] += 1
        if on_frame is not None:
            on_frame(counter[0])
        yield frame


def _run(
    ext: Extractor,
    frames: Iterable[np.ndarray],
    audio: np.ndarray | None,
    *,
    routine_id: str,
    duration_s: float | None,
    total_segments: int | None,
    progress: bool,
    timings: dict[str, float],
    name: str,
    extra: dict[str, Any],
    on_frame: Progress | None = None,
    source_fps: float | None = None,
) -> RoutineFeatures:
    from tqdm import tqdm

    started = time.perf_counter()
    ext.start()
    v_rows, f_rows = [], []
    n_frames = [0]
    bar = tqdm(total=total_segments, desc=f"extract {name}", unit="seg", disable=not progress, leave=False)
    with bar:
        decoded = _counted(_timed(frames, timings, "decode"), n_frames, on_frame)
        for seg in iter_segments(decoded, SEGMENT_FRAMES):
            v, f = ext.segment(seg)
            v_rows.append(v)
            f_rows.append(f)
            bar.update(1)
            if len(v_rows) > MAX_SEGMENTS:
                raise MediaError(f"{name}: more than {MAX_SEGMENTS} segments of video; {LONGEST}")
        T = len(v_rows)
        if T == 0:
            raise MediaError(f"{name}: video is shorter than one {SEGMENT_SECONDS:.2f} s segment "
                             f"({SEGMENT_FRAMES} frames at {TARGET_FPS:g} fps)")
        bar.set_postfix_str("analysing the audio")  # seconds more on a long routine, after the last frame
        t0 = time.perf_counter()
        a = ext.audio(fit_audio(audio, ext.sample_rate, T), T)
        timings["audio"] = timings.get("audio", 0.0) + time.perf_counter() - t0
    flags: dict[str, Any] = {}
    if source_fps is not None and source_fps != TARGET_FPS:  # a 25 fps source records nothing (and synth sets stay bit for bit)
        flags["source_fps"] = round(float(source_fps), 3)
    video_s = n_frames[0] / TARGET_FPS
    audio_s = 0.0 if audio is None else len(audio) / ext.sample_rate
    if duration_s is not None and min(duration_s, audio_s) - video_s > VIDEO_ENDS_EARLY_S:
        flags.update(video_ends_s=round(video_s, 3), media_s=round(duration_s, 3))  # its sound runs on
        duration_s = round(video_s, 6)  # what is scored: the routine as far as it is filmed
    if audio is None:
        flags.update(silent_audio=True, audio_track=False)
    elif len(audio) == 0 or float(np.max(np.abs(audio))) < _SILENCE:
        flags.update(silent_audio=True)
    feats = RoutineFeatures(
        features={"V": np.stack(v_rows), "F": np.stack(f_rows), "A": a},
        segment_frames=SEGMENT_FRAMES,
        fps=TARGET_FPS,
        duration_s=duration_s,
        extractors=dict(ext.versions),
        routine_id=routine_id,
        flags=flags,
        **extra,
    )
    for key, value in ext.timings.items():
        timings[key] = timings.get(key, 0.0) + value
    timings["total"] = timings.get("total", 0.0) + time.perf_counter() - started
    return feats


def extract_from_arrays(
    frames: Iterable[np.ndarray],
    audio: np.ndarray | None,
    sample_rate: int,
    fps: float = TARGET_FPS,
    extractor: str | Extractor = "lite",
    routine_id: str = "",
    progress: bool = False,
    *,
    device: str = "cpu",
    timings: dict[str, float] | None = None,
    on_frame: Progress | None = None,
) -> RoutineFeatures:
    """Features of frames in memory (or streamed by a generator) and their audio.

    ``frames``: HxWx3 uint8 RGB frames at ``fps`` (resampled to 25 fps by timestamp,
    resized to the extractor's working size). ``audio``: mono float32 in [-1, 1] at
    ``sample_rate``, None for no audio track (silence features, ``flags["silent_audio"]``).
    ``extractor``: a family name or an extractor object (e.g. a PretrainedExtractor built
    once for many routines). ``timings``, if given, receives seconds per stage;
    ``on_frame`` follows the progress (see :data:`Progress`). Raises MediaError for
    fewer frames than one segment, frames that are not RGB images of at least ``MIN_SIDE``
    pixels a side, and audio that is not mono float samples (clipped to [-1, 1], as a
    decoded file's are).
    """
    name = routine_id or "frames"
    if not (isinstance(fps, (int, float)) and math.isfinite(fps) and fps > 0):
        raise MediaError(f"{name}: the frame rate must be a number of frames per second above 0, got {fps!r}")
    if hasattr(frames, "__len__") and segment_count(len(frames) / fps) > MAX_SEGMENTS:
        raise MediaError(f"{name}: {len(frames)} frames at {fps:g} fps last {len(frames) / fps / 3600:.1f} hours; {LONGEST}")
    ext = make_extractor(extractor, device)
    if audio is not None:
        audio = _checked_audio(np.asarray(audio), name)
        if sample_rate != ext.sample_rate and len(audio):
            import librosa

            audio = librosa.resample(audio, orig_sr=sample_rate, target_sr=ext.sample_rate)
    n_in = [0]
    total = None
    if hasattr(frames, "__len__"):
        total = segment_count(len(frames) / fps)
    stream = resample_frames(_counted(_checked_frames(frames, name), n_in), fps, TARGET_FPS)
    timings = {} if timings is None else timings
    feats = _run(ext, stream, audio, routine_id=routine_id, duration_s=None, total_segments=total, progress=progress,
                 timings=timings, name=name, extra={}, on_frame=on_frame, source_fps=fps)
    return replace(feats, duration_s=round(n_in[0] / fps, 6))


def _checked_audio(audio: np.ndarray, name: str) -> np.ndarray:
    """Mono float32 samples clipped to [-1, 1], as :func:`pamfn.features.media.decode_audio`
    gives; MediaError naming what is wrong otherwise."""
    if not np.issubdtype(audio.dtype, np.floating):
        hint = " (for 16-bit PCM, divide by 32768)" if audio.dtype == np.int16 else ""
        raise MediaError(f"{name}: audio must be float samples in [-1, 1], got {audio.dtype}{hint}")
    if audio.ndim != 1:
        raise MediaError(f"{name}: audio must be mono (1-D), got shape {audio.shape}: mix its channels down first")
    if not np.isfinite(audio).all():
        raise MediaError(f"{name}: audio holds NaN or infinite samples")
    return np.clip(audio.astype(np.float32, copy=False), -1.0, 1.0)


def _checked_frames(frames: Iterable[np.ndarray], name: str) -> Iterator[np.ndarray]:
    """Pass frames through; MediaError for one that is not an HxWx3 uint8 image of at least
    ``MIN_SIDE`` pixels a side (what :func:`open_media` refuses in a file)."""
    for i, frame in enumerate(frames):
        shape = getattr(frame, "shape", None)
        if shape is None or len(shape) != 3 or shape[2] != 3 or frame.dtype != np.uint8:
            raise MediaError(f"{name}: frame {i} must be an HxWx3 uint8 RGB image, got "
                             f"{getattr(frame, 'dtype', type(frame).__name__)} of shape {shape}")
        if min(shape[:2]) < MIN_SIDE:
            raise MediaError(f"{name}: frames are {shape[1]}x{shape[0]} pixels; PAMFN reads frames of at least "
                             f"{MIN_SIDE} pixels a side")
        yield frame


def _complete(frames: Iterable[np.ndarray], expected: int, name: str, duration_s: float) -> Iterator[np.ndarray]:
    """Pass frames through; at the end raise MediaError if far fewer came than the header declares."""
    n = 0
    for frame in frames:
        n += 1
        yield frame
    if n < expected - max(TARGET_FPS, 0.05 * expected):
        raise MediaError(f"{name}: truncated or corrupt: decoded only {n / TARGET_FPS:.2f} s of video "
                         f"of the {duration_s:.2f} s its header declares")


def decode_spec(extractor: str | Extractor) -> tuple[Callable[[int, int], tuple[int, int]], int]:
    """What decoding needs from an extractor family, without building its models: the
    frame size it wants for a ``width x height`` video (its class's ``decoded_size``), and
    its audio sample rate."""
    if not isinstance(extractor, str):
        return extractor.frame_size, extractor.sample_rate
    cls = extractor_family(extractor).load_class()
    return cls.decoded_size, cls.sample_rate


@dataclass(frozen=True)
class MediaStream:
    """A media file opened for one extractor family: its frames at 25 fps and the
    family's frame size (streamed while extracting, or decoded ahead in memory), its
    audio, and what a features file records about the file."""

    name: str
    routine_id: str
    frames: Iterable[np.ndarray]
    audio: np.ndarray | None
    duration_s: float
    sha256: str
    source_fps: float | None = None
    """The file's own frame rate (frames are resampled to 25 fps)."""

    def decoded(self) -> MediaStream:
        """The same stream with every frame decoded now (one array, ready to ship to an
        extractor elsewhere); MediaError for a corrupt or truncated file."""
        return replace(self, frames=np.stack(list(self.frames)))


HEADER_SLACK_S = 1.0
"""Seconds decoded past the length a file's header declares (streams differ by a few frames):
a header that lies about the length cannot make decoding run on for hours."""
MIN_SIDE = 32
"""The smallest frame side a routine's video may have: below it nothing of a performer is left to read."""


def open_media(
    path: str | os.PathLike[str],
    extractor: str | Extractor = "lite",
    *,
    routine_id: str | None = None,
    timings: dict[str, float] | None = None,
) -> MediaStream:
    """Probe a media file, decode its audio and open its frames for ``extractor``.

    Raises MediaError for files that are missing, unreadable, empty, not a video, without
    a video stream, with frames under ``MIN_SIDE`` pixels a side, shorter than one segment
    or longer than ``MAX_SEGMENTS`` (refused before anything is decoded); frames of a
    corrupt file raise it while they are read. Nothing past the header's length (and
    ``HEADER_SLACK_S``) is decoded."""
    path = Path(path)
    info = probe(path)
    name = path.name
    if min(info.width, info.height) < MIN_SIDE:
        raise MediaError(f"{name}: video frames are {info.width}x{info.height} pixels; PAMFN reads frames of at "
                         f"least {MIN_SIDE} pixels a side")
    if segment_count(info.duration_s) == 0:
        raise MediaError(f"{name}: video is shorter than one {SEGMENT_SECONDS:.2f} s segment "
                         f"({info.duration_s:.2f} s)")
    if segment_count(info.duration_s) > MAX_SEGMENTS:
        raise MediaError(f"{name}: video lasts {info.duration_s / 3600:.1f} hours; {LONGEST}")
    frame_size, sample_rate = decode_spec(extractor)
    timings = {} if timings is None else timings
    t0 = time.perf_counter()
    declared = info.duration_s + HEADER_SLACK_S  # a header that understates the length bounds what is decoded
    audio = decode_audio(path, sample_rate, duration_s=declared) if info.has_audio else None
    timings["decode_audio"] = time.perf_counter() - t0
    frames = iter_frames(path, frame_size(info.width, info.height), TARGET_FPS, duration_s=declared)
    audio_complete = audio is not None and len(audio) >= (info.duration_s - 1.0) * sample_rate
    if not audio_complete:  # a complete audio track means the file is whole: its video is just shorter
        frames = _complete(frames, int(info.duration_s * TARGET_FPS), name, info.duration_s)
    return MediaStream(name, routine_id if routine_id is not None else path.stem, frames, audio,
                       round(info.duration_s, 6), file_sha256(path), source_fps=info.fps or None)


def extract_media(
    media: MediaStream,
    extractor: str | Extractor = "lite",
    device: str = "cpu",
    progress: bool = True,
    *,
    timings: dict[str, float] | None = None,
    on_frame: Progress | None = None,
) -> RoutineFeatures:
    """Features of an opened media file (see :func:`open_media`)."""
    return _run(make_extractor(extractor, device), media.frames, media.audio, routine_id=media.routine_id,
                duration_s=media.duration_s, total_segments=segment_count(media.duration_s), progress=progress,
                timings={} if timings is None else timings, name=media.name,
                extra={"media": media.name, "media_sha256": media.sha256}, on_frame=on_frame, source_fps=media.source_fps)


def extract_file(
    path: str | os.PathLike[str],
    extractor: str | Extractor = "lite",
    device: str = "cpu",
    progress: bool = True,
    *,
    routine_id: str | None = None,
    timings: dict[str, float] | None = None,
    on_frame: Progress | None = None,
) -> RoutineFeatures:
    """Decode a media file (streaming, 25 fps, scaled by ffmpeg) and extract its features.

    Raises MediaError for files that are missing, unreadable, empty, not a video, without
    a video stream, corrupt, or shorter than one segment. A video without audio gets
    silence features and ``flags["silent_audio"] = True``. ``timings``, if given,
    receives seconds per stage; ``on_frame`` follows the progress (see :data:`Progress`).
    """
    timings = {} if timings is None else timings
    if isinstance(extractor, str):
        extractor = make_extractor(extractor, device)
    media = open_media(path, extractor, routine_id=routine_id, timings=timings)
    return extract_media(media, extractor, device, progress, timings=timings, on_frame=on_frame)
