"""Explanation: what PAMFN did on one routine, the contract between the model and the
dashboard.

Per stage ``i`` (1..3) it holds the time span of each step, the MSFD modality weights
(T_i x 3, rows sum to 1), the PolicyNet probabilities (T_i x K), the decision as a
FusionNet count in 1..K, the FusionNets' modality weights (T_i x K x 3) and the CMFD
attention over the K FusionNets (T_i x K). Ablation variants without a module leave
its fields ``None``. ``support_start_s``/``support_end_s`` (when measured, see
:mod:`pamfn.dependence`) are the stretch of the routine each step's MSFD weights and
decision depend on, wider than the step's own window.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pamfn import MODALITIES

MODES = {"deterministic": "argmax", "sample": "sample"}
"""How the PolicyNet decides in an explanation: its noiseless argmax, or Gumbel-sampled decisions."""


def stage_spans(T: int, segment_seconds: float, n_stages: int = 3) -> list[tuple[np.ndarray, np.ndarray]]:
    """Start and end seconds of each step of each stage for a routine of T segments.

    Stage 1 runs at T//2 steps of two segments, stage 2 at T//4 steps of four
    segments (average pooling drops a trailing odd segment), stage 3 is one step over
    the whole routine. Routines shorter than the pooling still give one step.
    """
    spans = []
    for stage in range(1, n_stages + 1):
        if stage == n_stages:
            spans.append((np.array([0.0]), np.array([T * segment_seconds])))
            continue
        width = 2**stage
        steps = max(T // width, 1)
        start = np.arange(steps) * width * segment_seconds
        end = np.minimum(start + width * segment_seconds, T * segment_seconds)
        spans.append((start, end))
    return spans


_ARRAYS = ("start_s", "end_s", "msfd_weights", "policy_probs", "fusion_count", "fusion_weights", "cmfd_attention",
           "support_start_s", "support_end_s")


@dataclass
class StageExplanation:
    """What one fusion stage did, step by step."""

    stage: int
    start_s: np.ndarray
    end_s: np.ndarray
    msfd_weights: np.ndarray | None = None
    policy_probs: np.ndarray | None = None
    fusion_count: np.ndarray | None = None
    fusion_weights: np.ndarray | None = None
    cmfd_attention: np.ndarray | None = None
    support_start_s: np.ndarray | None = None
    support_end_s: np.ndarray | None = None

    @property
    def steps(self) -> int:
        return int(len(self.start_s))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"stage": self.stage}
        for key in _ARRAYS:
            value = getattr(self, key)
            out[key] = None if value is None else np.asarray(value).tolist()
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StageExplanation:
        def arr(key: str, dtype: type = np.float64) -> np.ndarray | None:
            value = data.get(key)
            return None if value is None else np.asarray(value, dtype=dtype)

        return cls(
            stage=int(data["stage"]),
            start_s=arr("start_s"),
            end_s=arr("end_s"),
            msfd_weights=arr("msfd_weights"),
            policy_probs=arr("policy_probs"),
            fusion_count=arr("fusion_count", np.int64),
            fusion_weights=arr("fusion_weights"),
            cmfd_attention=arr("cmfd_attention"),
            support_start_s=arr("support_start_s"),
            support_end_s=arr("support_end_s"),
        )

    def stretch(self, step: int) -> tuple[float, float]:
        """The stretch step ``step`` depends on: its support when measured, else its own window."""
        if self.support_start_s is not None and self.support_end_s is not None:
            return float(self.support_start_s[step]), float(self.support_end_s[step])
        return float(self.start_s[step]), float(self.end_s[step])


@dataclass
class Explanation:
    """Scores and per-stage fusion traces of one routine."""

    routine_id: str
    score: float
    """Predicted score in the dataset's units (normalised score x label_scale)."""
    score_norm: float
    label_scale: float
    branch_scores: dict[str, float]
    """Each modality branch's own score in the dataset's units, keys V, F, A."""
    K: int
    stages: list[StageExplanation]
    duration_s: float
    segment_seconds: float
    mode: str = "deterministic"
    action: str | None = None
    judged_score: float | None = None
    checkpoint: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    out_of_distribution: bool | None = None
    """Whether the routine's features lie beyond the checkpoint's calibrated threshold
    (:mod:`pamfn.ood`); None when the checkpoint has no training statistics."""
    ood_distance: float | None = None
    """Distance of the routine's features from the training distribution (larger is further)."""
    ood_threshold: float | None = None
    feature_flags: dict[str, Any] = field(default_factory=dict)
    """The features' flags (:attr:`pamfn.routine.RoutineFeatures.flags`), e.g. ``silent_audio``."""
    length_unlike: str | None = None
    """``"short"`` or ``"long"`` when the routine's length lies beyond its checkpoint's training
    routines' (:func:`pamfn.ood.length_unlike`), else None."""
    training_segments: tuple[int, int] | None = None
    """The shortest and longest training routine of the checkpoint, in segments (None: unknown)."""

    @property
    def warnings(self) -> list[str]:
        """Plain sentences the score carries: out of distribution, clipped to an end of the scale, no sound."""
        from pamfn.ood import length_sentence, warnings_for

        trained = None if self.training_segments is None else tuple(n * self.segment_seconds for n in self.training_segments)
        return warnings_for(self.out_of_distribution, self.score_norm, self.label_scale, self.feature_flags,
                            length_sentence(self.length_unlike, self.scored_s, trained))

    @property
    def scored_s(self) -> float:
        """Seconds of the routine the model read: its T whole segments (the media may run on
        for part of a segment, or further where its video stream ends before its sound)."""
        return float(self.stages[-1].end_s[-1])

    def to_dict(self) -> dict[str, Any]:
        return {
            "routine_id": self.routine_id,
            "action": self.action,
            "score": self.score,
            "score_norm": self.score_norm,
            "label_scale": self.label_scale,
            "judged_score": self.judged_score,
            "branch_scores": {m: self.branch_scores[m] for m in MODALITIES if m in self.branch_scores},
            "K": self.K,
            "mode": self.mode,
            "duration_s": self.duration_s,
            "segment_seconds": self.segment_seconds,
            "checkpoint": self.checkpoint,
            "stages": [s.to_dict() for s in self.stages],
            "extra": self.extra,
            "out_of_distribution": self.out_of_distribution,
            "ood_distance": self.ood_distance,
            "ood_threshold": self.ood_threshold,
            "feature_flags": self.feature_flags,
            "length_unlike": self.length_unlike,
            "training_segments": None if self.training_segments is None else list(self.training_segments),
            "warnings": self.warnings,
        }

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Explanation:
        return cls(
            routine_id=data["routine_id"],
            score=float(data["score"]),
            score_norm=float(data["score_norm"]),
            label_scale=float(data["label_scale"]),
            branch_scores={k: float(v) for k, v in data["branch_scores"].items()},
            K=int(data["K"]),
            stages=[StageExplanation.from_dict(s) for s in data["stages"]],
            duration_s=float(data["duration_s"]),
            segment_seconds=float(data["segment_seconds"]),
            mode=data.get("mode", "deterministic"),
            action=data.get("action"),
            judged_score=data.get("judged_score"),
            checkpoint=data.get("checkpoint"),
            extra=dict(data.get("extra") or {}),
            out_of_distribution=data.get("out_of_distribution"),
            ood_distance=data.get("ood_distance"),
            ood_threshold=data.get("ood_threshold"),
            feature_flags=dict(data.get("feature_flags") or {}),
            length_unlike=data.get("length_unlike"),
            training_segments=tuple(data["training_segments"]) if data.get("training_segments") else None,
        )

    @classmethod
    def from_json(cls, text: str) -> Explanation:
        return cls.from_dict(json.loads(text))
