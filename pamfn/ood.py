"""Out of distribution: how far a routine's features lie from a checkpoint's training routines.

A score means something only for routines like those the checkpoint was trained on. The
checkpoint keeps, in its metadata (``meta["training_features"]``), the per-dimension mean
and standard deviation of the segment features of its training routines (the statistics
training standardises with, :mod:`pamfn.data.normalize`) and a threshold calibrated on
those same routines.

Distance (larger is further): per modality, each segment's features are standardised with
the training statistics and summarised by their root mean square over the dimensions
(about 1 for a typical training segment); the routine's distance in that modality is the
mean over its segments, and the routine's distance is the largest over the modalities,
so one modality unlike anything seen is enough. The threshold is the ``QUANTILE`` (99%)
quantile of the training routines' own distances times ``MARGIN`` (1.25): a routine
beyond it lies further than 99% of the training routines by a quarter more.

Length: the checkpoint also keeps the shortest and longest of its training routines (in
segments). A routine shorter than the shortest divided by ``MARGIN``, or longer than the
longest times ``MARGIN``, is unlike them in length: the model pools over the whole routine,
and its score was never checked on routines of that length, whatever their features.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pamfn.errors import CheckpointError

META_KEY = "training_features"
QUANTILE = 0.99
MARGIN = 1.25
FEW_ROUTINES = 20
"""Below this many training routines the 99% quantile is little more than their maximum:
calibrate-ood says so."""
_MIN_STD = 1e-6
SATURATION = 0.01
"""A prediction within 1% of the scale's ends counts as clipped (the sigmoid regressor saturates)."""
OOD_SENTENCE = "This routine is unlike anything this checkpoint was trained on; its score is not meaningful."
CLIPPED_SENTENCE = "The prediction is clipped to the {end} of the score scale ({value:g}): the model saturates here."
NO_AUDIO_SENTENCE = "The video has no audio track: its audio features are those of silence, the score hears no music."
SILENT_AUDIO_SENTENCE = "The video is silent: its audio features are those of silence, the score hears no music."
LOW_FPS_SENTENCE = ("The video was filmed at {fps:g} frames per second; PAMFN reads {target:g}, so frames are repeated and "
                    "the optical flow sees no motion between the copies: its score is not comparable with scores of "
                    "videos filmed at {least:g} fps or more.")
VIDEO_ENDS_SENTENCE = ("The video ends at {video}, while the file's sound runs to {media}: only the first {video} of "
                       "the routine are scored.")
MIN_SOURCE_FPS = 23.0
"""Videos filmed at fewer frames per second than this get :data:`LOW_FPS_SENTENCE` (24 and
23.976 fps film pass: one frame in 25 or fewer is repeated)."""
LENGTH_SENTENCE = ("This routine lasts {length}; the checkpoint was trained on routines of {shortest} to {longest}: "
                   "its score was never checked on routines this {kind}.")


def segment_statistics(routines: Sequence[dict[str, np.ndarray]]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Per modality, the mean and std (float32) of every segment of ``routines``; a constant
    dimension keeps std 1 (it is only centred). Training standardises with these too."""
    mean, std = {}, {}
    for m in routines[0]:
        stacked = np.concatenate([r[m] for r in routines]).astype(np.float64)
        mean[m] = stacked.mean(axis=0).astype(np.float32)
        sd = stacked.std(axis=0)
        std[m] = np.where(sd < _MIN_STD, 1.0, sd).astype(np.float32)
    return mean, std


@dataclass(frozen=True)
class TrainingDistribution:
    """Per-modality mean and std of training segment features, and the calibrated threshold."""

    mean: dict[str, np.ndarray]
    std: dict[str, np.ndarray]
    threshold: float
    quantile: float = QUANTILE
    margin: float = MARGIN
    n_routines: int = 0
    segments: tuple[int, int] | None = None
    """The shortest and longest training routine, in segments (None: calibrated before they were kept)."""

    @classmethod
    def fit(cls, routines: Sequence[dict[str, np.ndarray]]) -> TrainingDistribution:
        """Statistics over every segment of ``routines`` (modality -> (T, D) array each),
        and the threshold calibrated on the same routines."""
        if not routines:
            raise ValueError("no training routines to describe")
        mean, std = segment_statistics(routines)
        bare = cls(mean, std, threshold=float("inf"))
        distances = np.array([bare.distance(r) for r in routines])
        threshold = float(np.quantile(distances, QUANTILE) * MARGIN)
        lengths = [len(next(iter(r.values()))) for r in routines]
        return cls(mean, std, threshold, QUANTILE, MARGIN, len(routines), (min(lengths), max(lengths)))

    def modality_distances(self, features: dict[str, np.ndarray]) -> dict[str, float]:
        """Per modality: the mean over segments of the RMS of the standardised features."""
        out = {}
        for m, mean in self.mean.items():
            x = np.asarray(features[m], dtype=np.float64)
            if x.ndim != 2 or x.shape[1] != mean.shape[0]:
                raise CheckpointError(f"modality {m}: features of shape {x.shape} do not match the training "
                                      f"statistics ({mean.shape[0]} dims)")
            z = (x - mean) / self.std[m]
            out[m] = float(np.sqrt((z**2).mean(axis=1)).mean())
        return out

    def distance(self, features: dict[str, np.ndarray]) -> float:
        """The routine's distance: the largest of its modality distances."""
        return max(self.modality_distances(features).values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "mean": {m: v.tolist() for m, v in self.mean.items()},
            "std": {m: v.tolist() for m, v in self.std.items()},
            "threshold": self.threshold,
            "quantile": self.quantile,
            "margin": self.margin,
            "n_routines": self.n_routines,
            "segments": None if self.segments is None else list(self.segments),
            "distance": "max over modalities of the mean over segments of the RMS of standardised features",
        }

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> TrainingDistribution:
        """Statistics as :meth:`to_dict` wrote them; CheckpointError when they are not usable."""
        try:
            dist = cls(
                {m: np.asarray(v, dtype=np.float32) for m, v in doc["mean"].items()},
                {m: np.asarray(v, dtype=np.float32) for m, v in doc["std"].items()},
                float(doc["threshold"]), float(doc.get("quantile", QUANTILE)), float(doc.get("margin", MARGIN)),
                int(doc.get("n_routines", 0)),
                _segments(doc.get("segments")),
            )
            dist.check()
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise CheckpointError(f"unreadable {META_KEY} in the checkpoint metadata ({exc})") from exc
        return dist

    def check(self) -> None:
        """ValueError unless every modality has as many finite means as positive finite stds,
        and the threshold is a positive number."""
        if set(self.mean) != set(self.std):
            raise ValueError(f"means for {sorted(self.mean)} but stds for {sorted(self.std)}")
        for m, mean in self.mean.items():
            std = self.std[m]
            if mean.ndim != 1 or mean.shape != std.shape:
                raise ValueError(f"modality {m}: {mean.size} means against {std.size} stds")
            if not (np.isfinite(mean).all() and np.isfinite(std).all() and (std > 0).all()):
                raise ValueError(f"modality {m}: means and stds must be finite and the stds positive")
        if not 0 < self.threshold < float("inf"):
            raise ValueError(f"threshold {self.threshold} is not a positive number")


def _segments(value: Any) -> tuple[int, int] | None:
    """The (shortest, longest) training lengths as JSON holds them, checked; None when absent."""
    if value is None:
        return None
    shortest, longest = (int(v) for v in value)
    if not 0 < shortest <= longest:
        raise ValueError(f"training lengths {value} are not a range of segments")
    return shortest, longest


def from_meta(meta: dict[str, Any]) -> TrainingDistribution | None:
    """The training distribution a checkpoint's metadata carries, or None (older checkpoints)."""
    doc = meta.get(META_KEY)
    return TrainingDistribution.from_dict(doc) if doc else None


def assessment(dist: TrainingDistribution | None, features: dict[str, np.ndarray]) -> dict[str, Any]:
    """``ood_distance``, ``ood_threshold``, ``out_of_distribution`` and the per-modality
    distances of one routine, its ``length_unlike`` (:func:`length_unlike`) and the training
    routines' ``training_segments``; all None when the checkpoint has no training statistics."""
    if dist is None:
        return {"out_of_distribution": None, "ood_distance": None, "ood_threshold": None, "ood_modalities": {},
                "length_unlike": None, "training_segments": None}
    per = dist.modality_distances(features)
    d = max(per.values())
    T = len(next(iter(features.values())))
    return {"out_of_distribution": bool(d > dist.threshold), "ood_distance": d, "ood_threshold": dist.threshold,
            "ood_modalities": per, "length_unlike": length_unlike(T, dist.segments, dist.margin),
            "training_segments": dist.segments}


def length_unlike(T: int, segments: tuple[int, int] | None, margin: float = MARGIN) -> str | None:
    """``"short"`` or ``"long"`` when a routine of ``T`` segments lies beyond the training
    routines' lengths ``segments`` (shortest, longest) by ``margin``, else None (also when
    they are unknown)."""
    if segments is None:
        return None
    shortest, longest = segments
    if T < shortest / margin:
        return "short"
    if T > longest * margin:
        return "long"
    return None


def length_sentence(unlike: str | None, duration_s: float, training_length_s: tuple[float, float] | None) -> str | None:
    """The plain sentence for a routine unlike the training routines in length, else None."""
    if unlike is None or training_length_s is None:
        return None
    from pamfn.insights import clock

    return LENGTH_SENTENCE.format(length=clock(duration_s), shortest=clock(training_length_s[0]),
                                  longest=clock(training_length_s[1]), kind=unlike)


def clipped_end(score_norm: float) -> str | None:
    """``"bottom"`` or ``"top"`` when a normalised prediction sits at an end of the scale, else None."""
    if score_norm <= SATURATION:
        return "bottom"
    if score_norm >= 1.0 - SATURATION:
        return "top"
    return None


def warnings_for(out_of_distribution: bool | None, score_norm: float, label_scale: float,
                 feature_flags: Mapping[str, Any] | None = None, length: str | None = None) -> list[str]:
    """The plain sentences a score carries: out of distribution, unlike the training routines
    in ``length`` (:func:`length_sentence`), clipped to an end, and (from the features'
    ``flags``, :class:`pamfn.routine.RoutineFeatures`) no sound, a video filmed at too few
    frames per second, a video that ends before its sound."""
    said = [OOD_SENTENCE] if out_of_distribution else []
    if length:
        said.append(length)
    end = clipped_end(score_norm)
    if end is not None:
        said.append(CLIPPED_SENTENCE.format(end=end, value=0.0 if end == "bottom" else label_scale))
    flags = feature_flags or {}
    if flags.get("audio_track") is False:
        said.append(NO_AUDIO_SENTENCE)
    elif flags.get("silent_audio"):
        said.append(SILENT_AUDIO_SENTENCE)
    fps = flags.get("source_fps")
    if isinstance(fps, (int, float)) and 0 < fps < MIN_SOURCE_FPS:
        from pamfn.features.segments import TARGET_FPS

        said.append(LOW_FPS_SENTENCE.format(fps=round(fps, 2), target=TARGET_FPS, least=MIN_SOURCE_FPS))
    if isinstance(flags.get("video_ends_s"), (int, float)) and isinstance(flags.get("media_s"), (int, float)):
        from pamfn.insights import clock

        said.append(VIDEO_ENDS_SENTENCE.format(video=clock(flags["video_ends_s"]), media=clock(flags["media_s"])))
    return said
