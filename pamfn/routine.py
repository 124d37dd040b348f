"""RoutineFeatures: per-segment features of one routine, the contract between feature
extraction and the model.

Segment ``t`` covers ``[t * L / fps, (t + 1) * L / fps)`` seconds, where ``L`` is the
segment length in frames. On disk a features file is an ``.npz`` without pickles:
one float array per modality (``V``, ``F``, ``A``) and a JSON metadata blob.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pamfn import MODALITIES
from pamfn.atomic import atomic_path
from pamfn.errors import FeatureError
from pamfn.features.segments import SEGMENT_FRAMES, TARGET_FPS

FORMAT_VERSION = 1
_META_KEY = "__meta__"
MAX_SEGMENTS = 10_000
"""No routine is this long (3.6 hours of 1.28-s segments): a file declaring more is corrupt,
and is refused before its arrays are allocated."""
MAX_WIDTH = 8192
"""Features per segment of the widest extractor are 1024 (the paper's V and F): a file
declaring more than this per modality is corrupt, and is refused before it is read."""
MAX_VALUES = 1 << 25
"""At most this many values per modality (128 MiB as float32: 10,000 segments of 3,355
features); a compressed file cannot make the loader allocate more."""
MAX_META_BYTES = 1 << 20
"""The metadata record is a few hundred bytes of JSON; a larger one is refused unread."""
MAX_ABS = 1e6
"""Features of every extractor lie far inside this (the lite ones within 30); larger values
overflow the model's float32 arithmetic, so they mark a corrupt file."""


@dataclass(frozen=True)
class RoutineFeatures:
    """Features of one routine: per modality an array (T, D_m), aligned in time."""

    features: dict[str, np.ndarray]
    segment_frames: int = SEGMENT_FRAMES
    fps: float = TARGET_FPS
    duration_s: float | None = None
    extractors: dict[str, str] = field(default_factory=dict)
    """Modality -> extractor name and version, e.g. ``"lite-flow@1"``."""
    routine_id: str = ""
    media: str | None = None
    """File name (or path) of the source media, if any."""
    media_sha256: str | None = None
    flags: dict[str, Any] = field(default_factory=dict)
    """Extra facts, e.g. ``{"silent_audio": True}`` for a video without an audio track."""

    def __post_init__(self) -> None:
        self.validate()

    @property
    def T(self) -> int:
        """Number of segments."""
        return int(next(iter(self.features.values())).shape[0])

    @property
    def segment_seconds(self) -> float:
        """Length of one segment in seconds (L / fps)."""
        return self.segment_frames / self.fps

    @property
    def length_s(self) -> float:
        """The routine's length in seconds: its media's duration when known, else its T segments'."""
        return self.duration_s if self.duration_s is not None else self.T * self.segment_seconds

    @property
    def dims(self) -> dict[str, int]:
        return {m: int(a.shape[1]) for m, a in self.features.items()}

    def segment_span(self, t: int) -> tuple[float, float]:
        """Start and end time in seconds of segment ``t``."""
        return t * self.segment_seconds, (t + 1) * self.segment_seconds

    def validate(self) -> None:
        """Raise FeatureError naming the problem if the features are unusable."""
        name = self.routine_id or "routine"
        missing = [m for m in MODALITIES if m not in self.features]
        if missing:
            raise FeatureError(f"{name}: missing modality features {missing} (need {list(MODALITIES)})")
        lengths = {}
        for m in MODALITIES:
            arr = self.features[m]
            if not isinstance(arr, np.ndarray) or arr.ndim != 2:
                shape = getattr(arr, "shape", None)
                raise FeatureError(f"{name}: features of modality {m} must be a 2-D array (T, D), got shape {shape}")
            if arr.shape[0] == 0:
                raise FeatureError(f"{name}: modality {m} has no segments (T=0)")
            if not np.issubdtype(arr.dtype, np.floating):
                raise FeatureError(f"{name}: modality {m} has dtype {arr.dtype}, expected a float array")
            if not np.isfinite(arr).all():
                bad = int((~np.isfinite(arr)).any(axis=1).sum())
                raise FeatureError(f"{name}: modality {m} has NaN or infinite values in {bad} segment(s)")
            if np.abs(arr).max() > MAX_ABS:
                raise FeatureError(f"{name}: modality {m} has values up to {float(np.abs(arr).max()):.3g}; features lie "
                                   f"within {MAX_ABS:g} (the file is corrupt or holds something else)")
            if arr.shape[0] > MAX_SEGMENTS:
                raise FeatureError(f"{name}: modality {m} has {arr.shape[0]} segments; no routine has more than "
                                   f"{MAX_SEGMENTS} (the file is corrupt)")
            lengths[m] = arr.shape[0]
        if len(set(lengths.values())) != 1:
            raise FeatureError(f"{name}: modalities have different numbers of segments {lengths}")
        if self.segment_frames <= 0 or not self.fps > 0:
            raise FeatureError(f"{name}: invalid segment timing (segment_frames={self.segment_frames}, fps={self.fps})")
        self._check_duration(name, lengths[MODALITIES[0]])

    def _check_duration(self, name: str, T: int) -> None:
        """FeatureError unless ``duration_s`` is unknown or a length the T segments fit in: the
        features cover the media's first T segments, so it is at least their length (and no
        longer than ``MAX_SEGMENTS`` of them)."""
        d = self.duration_s
        if d is None:
            return
        if isinstance(d, bool) or not isinstance(d, (int, float)) or not math.isfinite(d):
            raise FeatureError(f"{name}: its duration {d!r} is not a number of seconds")
        covered = T * self.segment_seconds
        if d < covered - 1e-3 or d > MAX_SEGMENTS * self.segment_seconds:
            raise FeatureError(f"{name}: declares a duration of {d:.2f} s but holds {T} segments ({covered:.2f} s); "
                               "the file is corrupt")

    def metadata(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "routine_id": self.routine_id,
            "segment_frames": self.segment_frames,
            "fps": self.fps,
            "duration_s": self.duration_s,
            "extractors": self.extractors,
            "media": self.media,
            "media_sha256": self.media_sha256,
            "flags": self.flags,
            "T": self.T,
            "dims": self.dims,
        }

    def save(self, path: str | os.PathLike[str], *, dtype: str = "float32", compress: bool = True) -> Path:
        """Write the features atomically as an ``.npz`` without pickles."""
        path = Path(path)
        arrays = {m: self.features[m].astype(dtype) for m in MODALITIES}
        meta = np.frombuffer(json.dumps(self.metadata()).encode("utf-8"), dtype=np.uint8)
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            (np.savez_compressed if compress else np.savez)(fh, **arrays, **{_META_KEY: meta})
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> RoutineFeatures:
        """Read a features file written by :meth:`save`; never unpickles."""
        path = Path(path)
        if not path.is_file():
            raise FeatureError(f"features file not found: {path}")
        with open(path, "rb") as fh:
            magic = fh.read(4)
        if magic != b"PK\x03\x04":  # an .npz is a zip archive; anything else is not ours, whatever numpy would say
            raise FeatureError(f"{path}: not a PAMFN features file (not an .npz archive"
                               f"{': empty' if not magic else ''})")
        try:
            with np.load(path, allow_pickle=False) as data:
                if _META_KEY not in data.files:
                    raise FeatureError(f"{path}: not a PAMFN features file (no {_META_KEY} record)")
                _check_declared(path, data.zip)
                meta = json.loads(bytes(data[_META_KEY]).decode("utf-8"))
                arrays = {m: np.asarray(data[m], dtype=np.float32) for m in MODALITIES}
        except FeatureError:
            raise
        except (EOFError, zipfile.BadZipFile) as exc:
            raise FeatureError(f"{path}: not a readable PAMFN features file: truncated or corrupt ({exc})") from None
        except (OSError, ValueError, KeyError, UnicodeDecodeError) as exc:
            raise FeatureError(f"{path}: not a readable PAMFN features file ({exc})") from None
        if not isinstance(meta, dict):
            raise FeatureError(f"{path}: its {_META_KEY} record is not a JSON object")
        if meta.get("format_version", FORMAT_VERSION) != FORMAT_VERSION:
            raise FeatureError(f"{path}: features format version {meta.get('format_version')!r}; this version of "
                               f"PAMFN Studio reads version {FORMAT_VERSION} (extract the features again)")
        try:
            segment_frames, fps = int(meta["segment_frames"]), float(meta["fps"])
        except (KeyError, TypeError, ValueError) as exc:
            raise FeatureError(f"{path}: its {_META_KEY} record lacks a valid segment_frames or fps ({exc!r})") from None
        return cls(
            features=arrays,
            segment_frames=segment_frames,
            fps=fps,
            duration_s=meta.get("duration_s"),
            extractors=dict(meta.get("extractors") or {}),
            routine_id=meta.get("routine_id") or path.stem,
            media=meta.get("media"),
            media_sha256=meta.get("media_sha256"),
            flags=dict(meta.get("flags") or {}),
        )


def _check_declared(path: Path, archive: zipfile.ZipFile) -> None:
    """FeatureError before any array is read when a stored header declares an impossible
    size (a modality longer than ``MAX_SEGMENTS``, wider than ``MAX_WIDTH`` or larger than
    ``MAX_VALUES``, a metadata record larger than ``MAX_META_BYTES``), more data than the
    archive holds, or a type that is not a real float (bytes for the metadata): a small
    compressed file cannot make the loader allocate gigabytes. Members other than our
    ``.npy`` arrays are refused (numpy would read a member named ``V`` as raw bytes,
    unchecked)."""
    ours = {f"{m}.npy" for m in (*MODALITIES, _META_KEY)}
    others = sorted(set(archive.namelist()) - ours)
    if others:
        raise FeatureError(f"{path}: not a PAMFN features file (it holds {', '.join(others[:4])}"
                           f"{' …' if len(others) > 4 else ''}; ours hold {', '.join(sorted(ours))} only)")
    for m in (*MODALITIES, _META_KEY):
        member = f"{m}.npy"
        if member not in archive.namelist():
            continue  # validate names the missing modality
        with archive.open(member) as fh:
            version = np.lib.format.read_magic(fh)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = read_header(fh)
            stored = archive.getinfo(member).file_size - fh.tell()
        if m == _META_KEY:
            if dtype != np.uint8 or len(shape) != 1 or shape[0] > MAX_META_BYTES:
                raise FeatureError(f"{path}: its {_META_KEY} record is stored as {dtype} of shape {shape}, not as at most "
                                   f"{MAX_META_BYTES} bytes of JSON (the file is corrupt)")
        else:
            _check_modality_header(path, m, shape, dtype)
        if math.prod(shape) * dtype.itemsize > stored:
            raise FeatureError(f"{path}: {'its ' + _META_KEY + ' record' if m == _META_KEY else 'modality ' + m} declares "
                               f"shape {shape} but holds {stored} bytes of data (the file is corrupt)")


def _check_modality_header(path: Path, m: str, shape: tuple[int, ...], dtype: np.dtype) -> None:
    """FeatureError when a modality's stored header declares a type or size no features file has."""
    if not np.issubdtype(dtype, np.floating):
        raise FeatureError(f"{path}: modality {m} is stored as {dtype}, not as real floats")
    if len(shape) >= 1 and shape[0] > MAX_SEGMENTS:
        raise FeatureError(f"{path}: modality {m} declares {shape[0]} segments; no routine has more than "
                           f"{MAX_SEGMENTS} (the file is corrupt)")
    if len(shape) == 2 and shape[1] > MAX_WIDTH:
        raise FeatureError(f"{path}: modality {m} declares {shape[1]} features per segment; no extractor gives more "
                           f"than {MAX_WIDTH} (the file is corrupt)")
    if math.prod(shape) > MAX_VALUES:
        raise FeatureError(f"{path}: modality {m} declares shape {shape}, more than {MAX_VALUES} values; no routine's "
                           "features are this large (the file is corrupt)")
