"""The ``lite`` extractor family: hand-made per-segment descriptors that run offline on a CPU.

Every value is in fixed units (fractions, intensities in [0, 1], flow in percent of the
frame's longer side per frame, decibels / 100), so a segment's features never depend
on the video's length or on other videos. Frames are analysed at a fixed working size
whose longer side is :data:`BOX` pixels. See docs/features.md for the full layout.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import cv2
import numpy as np

from pamfn.locks import exclusive_lock

BOX = 80
"""Longer side of the working size, in pixels (version 1: 128)."""
GRID = 4
"""Spatial grid (GRID x GRID cells) for per-region statistics."""
PROFILE = 32
"""Temporal profile resolution inside a segment: 32 steps of 40 ms (one video frame, two audio hops)."""
HUE_BINS, LUMA_BINS, ORIENT_BINS = 12, 8, 8
AUDIO_RATE = 22050
HOP = 441
"""Audio hop: 441 samples at 22050 Hz = 20 ms, exactly 64 audio frames per segment."""
N_FFT = 2048
N_MELS = 32
FRAMES_PER_SEGMENT = 64
VERSION = 2
_EPS = 1e-8
_SPECTRAL_FLOOR = 1e-4
"""White power floor added per bin before spectral shape statistics (about -94 dB below a
full-scale sine), so near-silence has a stable shape (that of white noise) instead of noise."""
FARNEBACK: dict[str, float] = {"pyr_scale": 0.5, "levels": 3, "winsize": 9, "iterations": 2, "poly_n": 5, "poly_sigma": 1.1,
                               "flags": 0}
"""Parameters of OpenCV's Farneback optical flow, shared by the flow features, the keyframes and the feature audit."""
_MOVING = 0.5
"""Flow magnitude (percent of the longer side per frame) above which a pixel counts as moving."""


@contextlib.contextmanager
def one_cv2_thread() -> Iterator[None]:
    """Run OpenCV single-threaded inside the block: on frames this small its threads cost
    more than they give, and the other core is decoding (measured: 2-3x faster under load)."""
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        yield
    finally:
        cv2.setNumThreads(threads)


def working_size(width: int, height: int, box: int = BOX) -> tuple[int, int]:
    """Working size (even) with the frame's aspect ratio and longer side ``box``."""
    scale = box / max(width, height)
    return max(2, 2 * round(width * scale / 2)), max(2, 2 * round(height * scale / 2))


def to_working_size(frame: np.ndarray) -> np.ndarray:
    """Resize an RGB frame to :func:`working_size` (area averaging when shrinking)."""
    h, w = frame.shape[:2]
    size = working_size(w, h)
    if size == (w, h):
        return frame
    interp = cv2.INTER_AREA if size[0] < w else cv2.INTER_LINEAR
    return cv2.resize(frame, size, interpolation=interp)


def _grid_means(x: np.ndarray) -> np.ndarray:
    """Mean of (N, H, W) maps over a GRID x GRID grid of cells: (N, GRID * GRID)."""
    n, h, w = x.shape
    hc, wc = h // GRID, w // GRID
    return x[:, : hc * GRID, : wc * GRID].reshape(n, GRID, hc, GRID, wc).mean(axis=(2, 4)).reshape(n, -1)


def _histograms(idx: np.ndarray, bins: int, weights: np.ndarray | None = None) -> np.ndarray:
    """Per-frame histograms of integer maps (N, H, W) in [0, bins), as fractions of the pixels."""
    n = idx.shape[0]
    flat = (idx.reshape(n, -1) + bins * np.arange(n)[:, None]).ravel()
    w = None if weights is None else weights.ravel()
    counts = np.bincount(flat, weights=w, minlength=n * bins).reshape(n, bins)
    return counts / idx[0].size


def appearance_features(frames: np.ndarray) -> np.ndarray:
    """V: appearance of one segment (N, H, W, 3) uint8 at working size -> (V_DIM,).

    Per frame: saturation-weighted hue histogram, saturation and value statistics,
    luminance histogram, gradient energy and edge density, colourfulness, grid of mean
    luminance, grid of gradient energy; averaged over the segment. Then the temporal
    variation of the global scalars, frame-difference energy statistics and its grid.
    """
    frames = np.ascontiguousarray(frames)
    hsv = np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2HSV) for f in frames])
    grey = np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames])
    sat = hsv[..., 1].astype(np.float32) / 255.0
    val = hsv[..., 2].astype(np.float32) / 255.0
    hue_hist = _histograms((hsv[..., 0].astype(np.int64) * HUE_BINS) // 180, HUE_BINS, sat)
    luma_hist = _histograms(grey.astype(np.int64) * LUMA_BINS // 256, LUMA_BINS)
    g = grey.astype(np.float32) / 255.0
    gx = np.zeros_like(g)
    gy = np.zeros_like(g)
    gx[:, :, 1:] = np.diff(g, axis=2)
    gy[:, 1:, :] = np.diff(g, axis=1)
    grad = np.sqrt(gx * gx + gy * gy)
    rgb = frames[:, ::2, ::2].astype(np.float32) / 255.0  # colourfulness is global: every 2nd pixel suffices
    rg = rgb[..., 0] - rgb[..., 1]
    yb = 0.5 * (rgb[..., 0] + rgb[..., 1]) - rgb[..., 2]
    axes = (1, 2)
    colourful = np.sqrt(rg.std(axes) ** 2 + yb.std(axes) ** 2) + 0.3 * np.sqrt(rg.mean(axes) ** 2 + yb.mean(axes) ** 2)
    scalars = np.stack([sat.mean(axes), val.mean(axes), grad.mean(axes), (grad > 0.1).mean(axes), colourful], axis=1)
    per_frame = np.concatenate(
        [hue_hist, scalars[:, :2], sat.std(axes)[:, None], val.std(axes)[:, None], luma_hist, scalars[:, 2:],
         _grid_means(g), _grid_means(grad)],
        axis=1,
    )
    diff = np.abs(np.diff(g, axis=0))
    diff_energy = diff.mean(axis=(1, 2))
    return np.concatenate(
        [per_frame.mean(0), scalars.std(0), [diff_energy.mean(), diff_energy.std(), diff_energy.max()],
         _grid_means(diff).mean(0)]
    ).astype(np.float32)


def _flow_pair_features(flows: np.ndarray) -> np.ndarray:
    """Descriptors of flow fields (P, H, W, 2), in percent of the longer side per frame,
    measured relative to the camera: the global camera motion (each field's median flow)
    is removed first and kept as two scalars. Returns (P, 36) float64, one row per field.

    Batched over the fields: every operation is per element or a reduction over one
    field's pixels, so each row equals what that field alone gives, bit for bit."""
    p = flows.shape[0]
    sub = flows[:, ::2, ::2].reshape(p, -1, 2)
    half = sub.shape[1] // 2
    cam = np.partition(sub, half, axis=1)[:, half, :]  # medians, (P, 2)
    u = flows[..., 0] - cam[:, 0, None, None]
    v = flows[..., 1] - cam[:, 1, None, None]
    mag = np.sqrt(u * u + v * v)
    ang = np.arctan2(v, u)
    orient = ((ang + np.pi) * (ORIENT_BINS / (2 * np.pi))).astype(np.int64) % ORIENT_BINS
    pixels = mag[0].size
    orient_hist = _histograms(orient, ORIENT_BINS, mag)
    du_dy, du_dx = np.gradient(u, axis=(1, 2))
    dv_dy, dv_dx = np.gradient(v, axis=(1, 2))
    div = du_dx + dv_dy
    curl = dv_dx - du_dy
    flat = mag.reshape(p, -1)
    ranks = [int(q * (pixels - 1)) for q in (0.5, 0.9, 0.99)]
    quantiles = np.partition(flat, ranks, axis=1)[:, ranks]
    axes = (1, 2)
    mean_u, mean_v, mean_mag = u.mean(axes), v.mean(axes), mag.mean(axes)
    scalars = [mean_mag, mag.std(axes), *quantiles.T, (mag > _MOVING).mean(axes), mean_u, mean_v,
               np.hypot(mean_u, mean_v) / (mean_mag + np.float32(_EPS)), div.mean(axes), np.abs(div).mean(axes),
               np.abs(curl).mean(axes), cam[:, 0], cam[:, 1]]  # fmt: skip
    return np.concatenate(
        [np.stack([s.astype(np.float64) for s in scalars], axis=1), orient_hist, _grid_means(mag).astype(np.float64)],
        axis=1,
    )


_PAIR_SCALARS = 14
"""Scalar descriptors at the start of a flow field's descriptor; then orientations, then the grid."""
_ORIENT_END = _PAIR_SCALARS + ORIENT_BINS


def motion_features(pairs: np.ndarray) -> np.ndarray:
    """F: motion of one segment from its flow fields' descriptors (P, 36) -> (F_DIM,).

    The mean of the per-pair descriptors; the motion-energy profile at 40 ms (PROFILE
    values, one per frame pair; the first segment of a routine repeats its first pair);
    accent statistics (std, peak over median, mean absolute change); the temporal
    variation of the grid of motion energy and of the orientation histogram.
    """
    energy = pairs[:, 0]
    profile = np.concatenate([np.full(max(0, PROFILE - len(energy)), energy[0]), energy[-PROFILE:]])
    accents = [energy.std(), energy.max() - np.median(energy), np.abs(np.diff(energy)).mean() if len(energy) > 1 else 0.0]
    return np.concatenate(
        [pairs.mean(0), profile, accents, pairs[:, _ORIENT_END:].std(0), pairs[:, _PAIR_SCALARS:_ORIENT_END].std(0)]
    ).astype(np.float32)


class LiteVideo:
    """Streaming V and F extraction: feed 32-frame segments in order, get (V, F) per segment.

    Optical flow (OpenCV Farneback) runs on consecutive grey frames at working size; the
    last frame of a segment is kept so the first pair of the next segment spans the cut.
    ``timings`` accumulates seconds spent in ``flow`` and ``appearance``.
    """

    def __init__(self) -> None:
        self._prev: np.ndarray | None = None
        self.timings = {"flow": 0.0, "appearance": 0.0}

    def segment(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with one_cv2_thread():
            return self._segment(frames)

    def _segment(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        frames = np.stack([to_working_size(f) for f in frames])
        t0 = time.perf_counter()
        v = appearance_features(frames)
        t1 = time.perf_counter()
        scale = 100.0 / BOX
        flows = []
        for frame in frames:
            grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
            if self._prev is not None and self._prev.shape == grey.shape:
                flows.append(cv2.calcOpticalFlowFarneback(self._prev, grey, None, **FARNEBACK))
            self._prev = grey
        f = motion_features(_flow_pair_features(np.stack(flows) * scale))
        self.timings["appearance"] += t1 - t0
        self.timings["flow"] += time.perf_counter() - t1
        return v, f


def _segment_stats(x: np.ndarray, T: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std per segment of a per-audio-frame array (n_features, T * 64)."""
    seg = x[:, : T * FRAMES_PER_SEGMENT].reshape(x.shape[0], T, FRAMES_PER_SEGMENT)
    return seg.mean(-1).T, seg.std(-1).T


def _profile(x: np.ndarray, T: int) -> np.ndarray:
    """(T * 64,) -> (T, PROFILE) means over the 40-ms steps of each segment."""
    return x[: T * FRAMES_PER_SEGMENT].reshape(T, PROFILE, -1).mean(-1)


def beat_phase(beat_frames: np.ndarray, n: int) -> np.ndarray:
    """cos(2 pi phase) per audio frame, the phase running 0 to 1 from one tracked beat to the
    next (1 on a beat, -1 half-way); 0 before the first and after the last beat."""
    out = np.zeros(n, np.float32)
    beats = np.unique(beat_frames[beat_frames < n])
    for a, b in itertools.pairwise(beats):
        out[a:b] = np.cos(2 * np.pi * np.arange(b - a) / (b - a))
    if beats.size:
        out[beats[-1]] = 1.0
    return out


class _AudioFrames:
    """Per-audio-frame descriptors of a whole track, computed in chunks (bounded memory)."""

    def __init__(self, audio: np.ndarray, n_frames: int, chunk: int = 2048) -> None:
        import librosa

        mel_fb = librosa.filters.mel(sr=AUDIO_RATE, n_fft=N_FFT, n_mels=N_MELS).astype(np.float32)
        chroma_fb = librosa.filters.chroma(sr=AUDIO_RATE, n_fft=N_FFT).astype(np.float32)
        freqs = librosa.fft_frequencies(sr=AUDIO_RATE, n_fft=N_FFT).astype(np.float32)[:, None]
        padded = np.pad(audio.astype(np.float32), (N_FFT // 2, N_FFT // 2 + HOP * 2))
        need = (n_frames - 1) * HOP + N_FFT
        if len(padded) < need:
            padded = np.pad(padded, (0, need - len(padded)))
        self.logmel = np.empty((N_MELS, n_frames), np.float32)
        self.shape = np.empty((4, n_frames), np.float32)
        self.rms_db = np.empty(n_frames, np.float32)
        self.zcr = np.empty(n_frames, np.float32)
        self.chroma = np.empty((12, n_frames), np.float32)
        self.onset = np.empty(n_frames, np.float32)
        prev: np.ndarray | None = None
        window = np.hanning(N_FFT + 1)[:-1].astype(np.float32)
        for j0 in range(0, n_frames, chunk):
            j1 = min(n_frames, j0 + chunk)
            y = padded[j0 * HOP : (j1 - 1) * HOP + N_FFT]
            frames = np.lib.stride_tricks.sliding_window_view(y, N_FFT)[::HOP][: j1 - j0]
            mag = np.abs(np.fft.rfft(frames * window, axis=1)).T.astype(np.float32)
            power = mag**2
            db = 10.0 * np.log10(np.maximum(mel_fb @ power, 1e-10))
            self.logmel[:, j0:j1] = db / 100.0
            floored = power + _SPECTRAL_FLOOR
            fmag = np.sqrt(floored)
            total = fmag.sum(0)
            centroid = (freqs * fmag).sum(0) / total
            bandwidth = np.sqrt((((freqs - centroid) ** 2) * fmag).sum(0) / total)
            cum = np.cumsum(floored, axis=0)
            rolloff = freqs[np.argmax(cum >= 0.85 * cum[-1:], axis=0), 0]
            flat = np.exp(np.log(floored).mean(0)) / floored.mean(0)
            nyq = AUDIO_RATE / 2
            self.shape[:, j0:j1] = np.stack([centroid / nyq, bandwidth / nyq, rolloff / nyq, flat])
            rms = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1))
            self.rms_db[j0:j1] = 20.0 * np.log10(np.maximum(rms, 1e-5)) / 100.0
            self.zcr[j0:j1] = np.mean(np.abs(np.diff(np.signbit(frames), axis=1)), axis=1)
            chroma = chroma_fb @ power
            self.chroma[:, j0:j1] = chroma / np.maximum(chroma.max(0, keepdims=True), 1e-10)
            ref = np.concatenate([db[:, :1] if prev is None else prev, db[:, :-1]], axis=1)
            self.onset[j0:j1] = np.maximum(db - ref, 0.0).mean(0)
            prev = db[:, -1:]


TEMPO_WINDOW = 384
"""Autocorrelation window of the local tempo, in audio frames (7.68 s)."""


def _local_tempo(onset: np.ndarray, chunk: int = 4096) -> tuple[np.ndarray, np.ndarray, float]:
    """Per audio frame: tempo (BPM, 40-240, argmax of the windowed onset autocorrelation)
    and pulse clarity (that peak over lag 0); plus the track's tempo (the mean
    autocorrelation weighted by a log-normal prior around 120 BPM). Computed in chunks of
    frames, so memory does not grow with the track's length; 0 where there is no pulse."""
    n, win = len(onset), TEMPO_WINDOW
    lags = np.arange(win)
    bpm = np.where(lags > 0, 60.0 * AUDIO_RATE / HOP / np.maximum(lags, 1), 0.0)
    band = (bpm >= 40) & (bpm <= 240)
    padded = np.pad(onset.astype(np.float32), win // 2, mode="linear_ramp", end_values=0)
    taper = np.hanning(win).astype(np.float32)
    tempo = np.zeros(n, np.float32)
    clarity = np.zeros(n, np.float32)
    total = np.zeros(int(band.sum()), np.float64)
    windows = np.lib.stride_tricks.sliding_window_view(padded, win)
    for j0 in range(0, n, chunk):
        x = windows[j0 : min(n, j0 + chunk)] * taper
        spectrum = np.fft.rfft(x, n=2 * win, axis=1)
        ac = np.fft.irfft(np.abs(spectrum) ** 2, axis=1)[:, :win]
        ac = np.where(ac[:, :1] > 1e-10, ac / np.maximum(ac[:, :1], 1e-10), 0.0)[:, band]
        peak = ac.argmax(1)
        clarity[j0 : j0 + len(x)] = np.maximum(ac.max(1), 0.0)
        tempo[j0 : j0 + len(x)] = np.where(ac.max(1) > 1e-6, bpm[band][peak], 0.0)
        total += ac.sum(0)
    prior = np.exp(-0.5 * np.log2(bpm[band] / 120.0) ** 2)
    track = float(bpm[band][np.argmax(total * prior)]) if total.max() > 0 else 0.0
    return tempo, clarity, track


@contextlib.contextmanager
def _jit_lock() -> Iterator[None]:
    """An exclusive lock shared by every process of this user (``~/.cache/pamfn-studio/jit.lock``);
    none where that file cannot be made (no home folder, a read-only one)."""
    with contextlib.ExitStack() as stack:
        try:
            folder = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "pamfn-studio"
            folder.mkdir(parents=True, exist_ok=True)
            stack.enter_context(exclusive_lock(folder / "jit.lock"))
        except (OSError, RuntimeError):  # RuntimeError: Path.home() of a user without a home
            pass
        yield


@functools.cache
def warm_jit_cache() -> None:
    """Compile (or load) the numba-cached librosa functions :func:`audio_features` uses,
    once per process, before its first audio and under a lock shared by every process of
    this user. numba writes a cached gufunc as two files, one after the other, so two
    processes compiling at once (parallel workers, two commands, the dashboard beside a
    command) can leave a mismatched pair in the shared cache, and every later process
    that loads it segfaults (numba issue #10128). Warmed one process at a time, the
    others only read the cache."""
    t = np.arange(int(AUDIO_RATE * 10.24)) / AUDIO_RATE
    clicks = (np.sin(2 * np.pi * 660 * t) * ((t % 0.5) < 0.03)).astype(np.float32)
    with _jit_lock():
        _audio_features(clicks, int(10.24 / (FRAMES_PER_SEGMENT * HOP / AUDIO_RATE)))


def audio_features(audio: np.ndarray, T: int) -> np.ndarray:
    """A: audio descriptors of T segments from mono float32 audio at AUDIO_RATE -> (T, A_DIM).

    Per segment: log-mel energies (mean, std), onset strength statistics and onset
    rate, the onset-strength profile and the beat phase (cos) at 40 ms (PROFILE values
    each), beat rate and beat salience, local tempo and
    pulse clarity from the onset autocorrelation in a 7.68-s window, spectral centroid, bandwidth,
    rolloff and flatness (mean, std), RMS level (mean, std, max), zero-crossing rate,
    chroma. Silence gives finite values (no beats, zero tempo).
    """
    warm_jit_cache()
    return _audio_features(audio, T)


def _audio_features(audio: np.ndarray, T: int) -> np.ndarray:
    import librosa

    n = T * FRAMES_PER_SEGMENT
    fr = _AudioFrames(audio, n)
    mel_mean, mel_std = _segment_stats(fr.logmel, T)
    shape_mean, shape_std = _segment_stats(fr.shape, T)
    seg_rms = fr.rms_db.reshape(T, -1)
    onset = fr.onset
    seg_onset = onset.reshape(T, -1)
    onsets = np.zeros(n, np.float32)
    beats = np.zeros(n, np.float32)
    phase = np.zeros(n, np.float32)
    tempo, clarity, track_bpm = _local_tempo(onset)
    if onset.max() > 1e-3 and track_bpm > 0:
        peaks = librosa.onset.onset_detect(onset_envelope=onset, sr=AUDIO_RATE, hop_length=HOP, backtrack=False)
        onsets[peaks[peaks < n]] = 1.0
        _, beat_frames = librosa.beat.beat_track(onset_envelope=onset, sr=AUDIO_RATE, hop_length=HOP, bpm=track_bpm,
                                                 trim=False)
        beats[beat_frames[beat_frames < n]] = 1.0
        phase = beat_phase(beat_frames, n)
    seconds = FRAMES_PER_SEGMENT * HOP / AUDIO_RATE
    seg_beats = beats.reshape(T, -1)
    salience = (seg_onset * seg_beats).sum(1) / np.maximum(seg_beats.sum(1), 1) / (seg_onset.mean(1) + 1e-3)
    return np.concatenate(
        [mel_mean, mel_std,
         np.stack([seg_onset.mean(1), seg_onset.std(1), seg_onset.max(1), onsets.reshape(T, -1).sum(1) / seconds], 1),
         _profile(onset, T), _profile(phase, T),
         np.stack([seg_beats.sum(1) / seconds, salience, tempo.reshape(T, -1).mean(1) / 240.0,
                   clarity.reshape(T, -1).mean(1)], 1),
         shape_mean, shape_std,
         np.stack([seg_rms.mean(1), seg_rms.std(1), seg_rms.max(1), fr.zcr.reshape(T, -1).mean(1)], 1),
         _segment_stats(fr.chroma, T)[0]],
        axis=1,
    ).astype(np.float32)


V_DIM = HUE_BINS + 4 + LUMA_BINS + 3 + 2 * GRID * GRID + 5 + 3 + GRID * GRID
F_DIM = _ORIENT_END + GRID * GRID + PROFILE + 3 + GRID * GRID + ORIENT_BINS
A_DIM = 2 * N_MELS + 4 + 2 * PROFILE + 4 + 8 + 4 + 12
LITE_DIMS: dict[str, int] = {"V": V_DIM, "F": F_DIM, "A": A_DIM}
"""Fixed dimensions of the lite features per modality."""


class LiteExtractor:
    """The ``lite`` family behind the common extractor interface (see pamfn.features.pipeline)."""

    name = "lite"
    sample_rate = AUDIO_RATE
    dims = LITE_DIMS
    versions: ClassVar[dict[str, str]] = {"V": f"lite-rgb@{VERSION}", "F": f"lite-flow@{VERSION}",
                                          "A": f"lite-audio@{VERSION}"}

    def __init__(self, device: str = "cpu") -> None:
        self.start()

    @classmethod
    def family_versions(cls) -> dict[str, str]:
        return dict(cls.versions)

    def start(self) -> None:
        """Begin a new routine: fresh flow state and timings."""
        self._video = LiteVideo()
        self.timings = self._video.timings

    decoded_size = staticmethod(working_size)
    """Frame size to decode a ``width x height`` video at, without an instance."""

    def frame_size(self, width: int, height: int) -> tuple[int, int]:
        return working_size(width, height)

    def segment(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self._video.segment(frames)

    def audio(self, audio: np.ndarray, T: int) -> np.ndarray:
        return audio_features(audio, T)
