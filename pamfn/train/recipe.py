"""Training recipes: the paper's and the released code's settings as presets (Section IV-C).

Phase 1 trains each modality-specific branch alone; phase 2 trains the mixed-modality
branch on top (V and F frozen, A fine-tuned, the final regressor at 0.1x lr). One-stage
baselines train everything at once with the phase-2 optimiser. Every value can be
overridden.

As in the authors' released code: no schedule warms up (its scheduler is built with no
warm-up epochs), and phase 2's AdamW applies PyTorch's default weight decay, 0.01 (the configs
name 1e-4, which the released optimizer builder never passes). Choices the paper leaves
open, made here: the phase-2 cosine schedule (RG) decays to 0; datasets whose actions have
no published epoch count train for ``default_epochs``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from pamfn.errors import ConfigError


def check_counts(**counts: Any) -> None:
    """ConfigError naming the first count (epochs, batch size, crop ...) that is not a whole number of at least 1."""
    for name, value in counts.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name} must be a whole number of at least 1, got {value!r}")


def check_positive(**values: Any) -> None:
    """ConfigError naming the first value (learning rate, clip ...) that is not a finite number above 0."""
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
            raise ConfigError(f"{name} must be a number above 0, got {value!r}")


@dataclass(frozen=True)
class PhaseRecipe:
    """Optimiser, schedule and length of one training phase."""

    optimizer: str
    """``"sgd"`` (momentum) or ``"adamw"``."""
    lr: float
    weight_decay: float = 1e-4
    momentum: float = 0.9
    epochs: int = 250
    epochs_per_action: dict[str, int] = field(default_factory=dict)
    batch_size: int = 32
    clip: float = 2.0
    schedule: str = "cosine"
    """``"cosine"`` (after ``warmup_epochs`` of linear warm-up, down to ``min_lr``) or ``"none"``."""
    warmup_epochs: int = 0
    min_lr: float = 0.0
    regressor_lr_scale: float = 1.0
    """Learning-rate factor of the model's final regressor (0.1 in phase 2)."""
    ema_decay: float = 0.0
    """Per-step decay of an exponential moving average of the weights, which is then
    evaluated and selected instead of the raw weights: the selected checkpoint holds the
    average, ``last/`` the raw final weights (0: off; see :mod:`pamfn.train.average`).
    Not in the paper or the released code."""
    distill: float = 0.0
    """Phase 2 only: weight of a frozen teacher branch's prediction in the training target,
    ``(1 - distill) * label + distill * teacher``; the teacher is the frozen branch that
    ranks the validation routines best (see :func:`pamfn.train.run.pick_teacher`). 0: off.
    Not in the paper or the released code."""
    recon: float = 0.0
    """Phase 1 only: weight of an autoencoding term. Each branch's embedding e0 must also
    reconstruct its own (standardised) segment features through a linear read-out used only
    in training, so that e0 keeps the within-segment detail the mixed branch compares across
    modalities: ``loss = mse(score) + recon * mse(read-out(e0), features)``. 0: off.
    Not in the paper or the released code."""

    def __post_init__(self) -> None:
        if self.optimizer not in ("sgd", "adamw"):
            raise ConfigError(f"optimizer must be 'sgd' or 'adamw', got {self.optimizer!r}")
        if self.schedule not in ("cosine", "none"):
            raise ConfigError(f"schedule must be 'cosine' or 'none', got {self.schedule!r}")
        check_positive(lr=self.lr, clip=self.clip)
        check_counts(epochs=self.epochs, batch_size=self.batch_size,
                     **{f"epochs of {action}": n for action, n in self.epochs_per_action.items()})
        if not 0.0 <= self.ema_decay < 1.0:
            raise ConfigError(f"ema_decay must lie in [0, 1), got {self.ema_decay}")
        if not 0.0 <= self.distill < 1.0:
            raise ConfigError(f"distill must lie in [0, 1), got {self.distill}")
        if not self.recon >= 0.0:
            raise ConfigError(f"recon must be >= 0, got {self.recon}")

    def epochs_for(self, action: str) -> int:
        return int(self.epochs_per_action.get(action, self.epochs))

    def lr_factor(self, epoch: int, total: int) -> float:
        """Multiplier of ``lr`` during ``epoch`` (0-based) of ``total``; the last epoch runs at ``min_lr``."""
        if self.schedule == "none":
            return 1.0
        if epoch < self.warmup_epochs:
            return (epoch + 1) / (self.warmup_epochs + 1)
        span = max(total - self.warmup_epochs - 1, 1)
        progress = min((epoch - self.warmup_epochs) / span, 1.0)
        floor = self.min_lr / self.lr
        return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))

    def scaled(self, factor: float) -> PhaseRecipe:
        """The same recipe with every epoch count multiplied by ``factor`` (at least 1)."""
        return replace(
            self,
            epochs=max(1, round(self.epochs * factor)),
            epochs_per_action={a: max(1, round(e * factor)) for a, e in self.epochs_per_action.items()},
            warmup_epochs=min(self.warmup_epochs, max(0, round(self.warmup_epochs * factor))),
        )

    def to_dict(self) -> dict[str, Any]:
        """The fields; ``ema_decay``, ``distill`` and ``recon`` only when set, so runs made
        before they existed keep their config."""
        doc = asdict(self)
        for key in ("ema_decay", "distill", "recon"):
            if not doc[key]:
                del doc[key]
        return doc


@dataclass(frozen=True)
class TrainRecipe:
    """Everything about training but the model: both phases, crops, selection."""

    preset: str
    phase1: PhaseRecipe
    phase2: PhaseRecipe
    crop: int
    """Consecutive segments per training sample (zero-padded when a routine is shorter)."""
    val_fraction: float = 0.15
    select_on_test: bool = False
    eval_every: int = 1
    save_every: int = 5
    normalize_inputs: bool = True
    """Train on standardised features (training-routine statistics), folded into the saved
    checkpoints' first layers (see :mod:`pamfn.data.normalize`)."""

    def __post_init__(self) -> None:
        check_counts(crop=self.crop, eval_every=self.eval_every, save_every=self.save_every)

    def to_dict(self) -> dict[str, Any]:
        return {
            **{f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("phase1", "phase2")},
            "phase1": self.phase1.to_dict(),
            "phase2": self.phase2.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainRecipe:
        data = dict(data)
        return cls(phase1=PhaseRecipe(**data.pop("phase1")), phase2=PhaseRecipe(**data.pop("phase2")), **data)


_PHASE1 = PhaseRecipe(optimizer="sgd", lr=1e-2, epochs=250, schedule="cosine", min_lr=5e-6)
_ADAMW_DEFAULT_DECAY = 0.01
"""What ``torch.optim.AdamW`` applies when no weight decay is passed, as the released code does."""
_PHASE1_FEATS2 = PhaseRecipe(optimizer="adamw", lr=1e-3, weight_decay=_ADAMW_DEFAULT_DECAY, epochs=250, schedule="none")

TRAIN_PRESETS: dict[str, TrainRecipe] = {
    "rg": TrainRecipe(
        preset="rg",
        phase1=_PHASE1,
        phase2=PhaseRecipe(
            optimizer="adamw",
            lr=5e-4,
            weight_decay=_ADAMW_DEFAULT_DECAY,
            epochs=400,
            epochs_per_action={"ball": 400, "clubs": 500, "hoop": 300, "ribbon": 500},
            schedule="cosine",
            regressor_lr_scale=0.1,
        ),
        crop=70,
    ),
    "fisv": TrainRecipe(
        preset="fisv",
        phase1=_PHASE1,
        phase2=PhaseRecipe(
            optimizer="adamw",
            lr=8e-4,
            weight_decay=_ADAMW_DEFAULT_DECAY,
            epochs=500,
            epochs_per_action={"TES": 500, "PCS": 500},
            schedule="none",
            regressor_lr_scale=0.1,
        ),
        crop=130,
    ),
    "rg_feats2": TrainRecipe(
        preset="rg_feats2",
        phase1=_PHASE1_FEATS2,
        phase2=PhaseRecipe(
            optimizer="adamw",
            lr=8e-4,
            weight_decay=_ADAMW_DEFAULT_DECAY,
            epochs=500,
            epochs_per_action={"ball": 500, "clubs": 100, "hoop": 300, "ribbon": 20},
            schedule="none",
        ),
        crop=70,
    ),
    "fisv_feats2": TrainRecipe(
        preset="fisv_feats2",
        phase1=_PHASE1_FEATS2,
        phase2=PhaseRecipe(
            optimizer="adamw",
            lr=3e-4,
            weight_decay=_ADAMW_DEFAULT_DECAY,
            epochs=100,
            epochs_per_action={"TES": 100, "PCS": 100},
            schedule="none",
        ),
        crop=130,
    ),
}
"""``rg`` / ``fisv``: the first feature set (VST / I3D / AST). ``rg_feats2`` /
``fisv_feats2``: the released ``RG_feats2`` / ``FISV_feats2`` configs (UMT / I3D / MAST):
AdamW everywhere, no schedule, no reduced regressor rate. Every AdamW phase decays
weights by 0.01, PyTorch's default, which is what the released optimizer builder applies."""


def train_preset(name: str) -> TrainRecipe:
    try:
        return TRAIN_PRESETS[name]
    except KeyError:
        raise ConfigError(f"unknown training preset {name!r}; choose one of {sorted(TRAIN_PRESETS)}") from None


def override_phase(recipe: PhaseRecipe, values: dict[str, Any]) -> PhaseRecipe:
    """Apply the non-None ``values``; an explicit ``epochs`` replaces every per-action count."""
    values = {k: v for k, v in values.items() if v is not None}
    if "epochs" in values:
        values["epochs_per_action"] = {}
    return replace(recipe, **values)
