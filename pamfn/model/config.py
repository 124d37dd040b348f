"""PAMFNConfig: every size and variant of the model, JSON-able."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from pamfn import MODALITIES
from pamfn.errors import ConfigError
from pamfn.fields import kind_problem
from pamfn.presets import PAPER_INPUT_DIMS, PRESETS, TASKS, VARIANTS

MAX_PARAMETERS = 2_000_000_000
"""The largest model a config may ask for (8 GB of float32 weights); the paper's have about 23 million."""


@dataclass(frozen=True)
class PAMFNConfig:
    """Sizes and variant of a PAMFN model (or of a baseline of Section IV-E/F).

    Sizes: ``K`` FusionNets per stage, feature width ``d``, ``input_dims`` per modality,
    ``label_scale`` (a normalised score of 1 is ``label_scale`` in dataset units).

    Variants (Tables IV-VIII of the paper):

    - ``modalities``: any non-empty subset of V, F, A. A single modality gives the
      unimodal model: the modality-specific branch alone (Table IV).
    - ``fusionnets``: ``"ranked"`` (the paper: decision j enables FusionNets 1..j),
      ``"unranked"`` (one-hot decision: only FusionNet j is enabled), ``"free"`` (all K
      enabled, no PolicyNet) (Table VII).
    - ``msfd`` / ``cmfd``: ``"attention"`` (the paper's decoder), ``"none"`` (removed) or
      ``"weighted"`` (replaced by Weighted Fusion: learnable softmax weights over the
      modalities, resp. over the enabled FusionNets) (Table VI). At least one of them must
      remain; the mixed feature is ``d`` wide plus ``d`` per remaining decoder. Without the
      CMFD the Adaptive Fusion Module goes too: only the CMFD takes in its cross-modal
      features.
    - ``fusion_stages``: fuse in the first 1, 2 or all 3 stages; later stages only run the
      mixed branch's convolution block (Table VIII).
    - ``model="late_fusion"``: the late-fusion baselines of Table V, fusing the branches'
      last convolution block outputs with ``fusion`` in avg / cat / weighted / attention,
      then a two-FC regressor.
    - ``training``: ``"two_stage"`` (pretrained branches; V and F frozen, A fine-tuned,
      as in the paper's phase 2) or ``"one_stage"`` (all branches trained jointly).
    - ``msfd_heads`` / ``cmfd_heads``: attention heads of the MSFD and CMFD (1: the paper;
      the second feature set's released models use several). ``regressor_ratio``: the
      final regressor's hidden width is ``d / regressor_ratio`` (released ``fc_r``: 2, or 1
      for the second feature set).
    - ``task``: ``"score"`` (AQA: one score per routine) or ``"highlight"`` (Section IV-G:
      no temporal pooling anywhere, the regressor becomes a per-segment classification
      head giving each segment's highlight probability; ``score`` is then (B, T)).
    - ``fast_fusionnets``: compute the K FusionNets with one grouped convolution (True)
      or with the per-FusionNet reference loop (False); same weights, same outputs.
    """

    preset: str | None = None
    K: int = 10
    d: int = 256
    input_dims: dict[str, int] = field(default_factory=lambda: dict(PAPER_INPUT_DIMS))
    label_scale: float = 25.0
    modalities: tuple[str, ...] = MODALITIES
    model: str = "pamfn"
    fusionnets: str = "ranked"
    msfd: str = "attention"
    cmfd: str = "attention"
    fusion_stages: int = 3
    fusion: str = "weighted"
    training: str = "two_stage"
    branch_dropout: float = 0.5
    embed_dropout: float = 0.3
    feat_dropout: float = 0.5
    attn_dropout: float = 0.1
    regressor_dropout: float = 0.5
    tau_init: float = 10.0
    mask_value: float = -1e9
    fast_fusionnets: bool = True
    msfd_heads: int = 1
    cmfd_heads: int = 1
    regressor_ratio: int = 2
    task: str = "score"
    feature_extractors: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for f in fields(self):
            problem = kind_problem(PAMFNConfig, f.name, getattr(self, f.name))
            if problem:
                raise ConfigError(f"config field {f.name}={getattr(self, f.name)!r} {problem}")
        unknown = [m for m in self.modalities if m not in MODALITIES]
        if unknown:
            raise ConfigError(f"config field modalities names {unknown}; modalities are {list(MODALITIES)}")
        object.__setattr__(self, "modalities", tuple(m for m in MODALITIES if m in self.modalities))
        object.__setattr__(self, "input_dims", {m: int(v) for m, v in self.input_dims.items()})
        self.validate()

    def validate(self) -> None:
        """Raise ConfigError naming the first bad field."""
        for name, allowed in VARIANTS.items():
            if getattr(self, name) not in allowed:
                raise ConfigError(f"config field {name}={getattr(self, name)!r} is not one of {list(allowed)}")
        if not self.modalities:
            raise ConfigError("config field modalities must name at least one of V, F, A")
        missing = [m for m in self.modalities if m not in self.input_dims]
        if missing:
            raise ConfigError(f"config input_dims lacks modalities {missing} (has {sorted(self.input_dims)})")
        if any(self.input_dims[m] <= 0 for m in self.modalities):
            raise ConfigError(f"config input_dims must be positive, got {self.input_dims}")
        if self.K < 1 or self.d < 2 or self.d % 2:
            raise ConfigError(f"config needs K >= 1 and an even d >= 2, got K={self.K}, d={self.d}")
        for name in ("msfd_heads", "cmfd_heads", "regressor_ratio"):
            value = getattr(self, name)
            if value < 1 or self.d % value:
                raise ConfigError(f"config field {name}={value} must be a positive divisor of d={self.d}")
        if not (isinstance(self.label_scale, (int, float)) and 0 < self.label_scale < float("inf")):
            raise ConfigError(f"config label_scale must be a positive number (the score scale's top), got {self.label_scale!r}")
        for name in ("branch_dropout", "embed_dropout", "feat_dropout", "attn_dropout", "regressor_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ConfigError(f"config field {name}={getattr(self, name)!r} must lie in [0, 1)")
        if not 0 < self.tau_init < float("inf"):
            raise ConfigError(f"config field tau_init={self.tau_init!r} (the Gumbel-softmax temperature) must be above 0")
        if not self.mask_value <= -1e4:
            raise ConfigError(f"config mask_value must be a large negative number (paper: -inf), got {self.mask_value}")
        if self.msfd == "none" and self.cmfd == "none":
            raise ConfigError("config removes both MSFD and CMFD: the mixed branch would receive no modality information")
        if self.task not in TASKS:
            raise ConfigError(f"config field task={self.task!r} is not one of {list(TASKS)}")
        if self.task == "highlight" and self.model != "pamfn":
            raise ConfigError("highlight detection is defined for PAMFN and its branches, not for late fusion")
        if self.model == "late_fusion" and len(self.modalities) < 2:
            raise ConfigError("late fusion needs at least two modalities")
        if self.min_parameters() > MAX_PARAMETERS:
            raise ConfigError(f"config K={self.K}, d={self.d}, input_dims {self.input_dims} asks for at least "
                              f"{self.min_parameters():,} parameters, more than the {MAX_PARAMETERS:,} allowed")

    def min_parameters(self) -> int:
        """A lower bound on the model's parameter count, without building it: per modality the
        branch's embedding (d_in x 512 x d) and three residual blocks (18 d^2), and per fusing
        stage the K FusionNets' two convolutions (6 K d^2)."""
        branches = sum(512 * (self.input_dims[m] + self.d) + 18 * self.d**2 for m in self.modalities)
        fusing = self.model == "pamfn" and self.cmfd != "none" and not self.unimodal
        return branches + (self.fusion_stages * 6 * self.K * self.d**2 if fusing else 0)

    @property
    def unimodal(self) -> bool:
        return len(self.modalities) == 1

    @property
    def frozen_modalities(self) -> tuple[str, ...]:
        """Branches frozen in the second training phase (V and F in two-stage training)."""
        if self.training != "two_stage" or self.unimodal:
            return ()
        return tuple(m for m in ("V", "F") if m in self.modalities)

    @property
    def mixed_width(self) -> int:
        """Channels of the mixed feature: the stage's own d plus d per decoder kept."""
        return self.d * (1 + (self.msfd != "none") + (self.cmfd != "none"))

    def with_overrides(self, **overrides: Any) -> PAMFNConfig:
        return replace(self, **overrides)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["modalities"] = list(self.modalities)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PAMFNConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown model config fields {unknown}")
        data = dict(data)
        if "modalities" in data:
            data["modalities"] = tuple(data["modalities"])
        return cls(**data)


def _from_preset(cls: type[PAMFNConfig], name: str, **overrides: Any) -> PAMFNConfig:
    """One of the paper's settings (:data:`PRESETS`), d=256, with overrides."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    base: dict[str, Any] = {"preset": name, **PRESETS[name]}
    base["feature_extractors"] = dict(base["feature_extractors"])
    base.update(overrides)
    return cls(**base)


# ``PAMFNConfig.preset("rg")`` builds a config while ``cfg.preset`` is the field (the preset's
# name): the classmethod is attached after the dataclass has taken the field's default, and
# an instance's own value shadows it.
PAMFNConfig.preset = classmethod(_from_preset)  # type: ignore[method-assign,assignment]
