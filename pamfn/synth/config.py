"""Configuration of the sample routine generator: timing, render sizes and set sizes."""

from __future__ import annotations

from dataclasses import dataclass, replace

from pamfn.presets import RG_ACTIONS

GENERATOR_VERSIONS: dict[int, str] = {1: "synth-rg@1", 2: "synth-rg@2"}
"""Every generator version this code reproduces by name (a new one whenever a change would
alter what a seed produces)."""
GENERATOR_VERSION = GENERATOR_VERSIONS[2]
"""The current version, that of the bundled set."""

ACTIONS = RG_ACTIONS
"""The four apparatus, the "actions" of the benchmark (as in the RG dataset)."""

DEFAULT_SEED = 20260515


@dataclass(frozen=True)
class SynthConfig:
    """How long routines are, at which sizes they are rendered and how many are made."""

    fps: float = 25.0
    sample_rate: int = 22050
    min_duration_s: float = 60.0
    max_duration_s: float = 90.0
    feature_size: tuple[int, int] = (128, 96)
    """(width, height) of the frames the features are computed from."""
    showcase_size: tuple[int, int] = (640, 480)
    """(width, height) of the showcase videos."""
    per_action_train: int = 100
    per_action_test: int = 30
    showcase_per_action: int = 2
    seed: int = DEFAULT_SEED
    extractor: str = "lite"
    version: int = 2
    """Generator version (a key of GENERATOR_VERSIONS)."""

    @property
    def generator_version(self) -> str:
        return GENERATOR_VERSIONS[self.version]

    @property
    def samples_per_frame(self) -> int:
        return round(self.sample_rate / self.fps)

    def with_counts(self, train: int, test: int, showcase: int) -> SynthConfig:
        return replace(self, per_action_train=train, per_action_test=test, showcase_per_action=showcase)


BUNDLED = SynthConfig(
    min_duration_s=50.0,
    max_duration_s=75.0,
    feature_size=(80, 60),
    per_action_train=300,
    per_action_test=100,
    showcase_per_action=3,
)
"""The configuration of the bundled set in ``sample_data/`` (version 2)."""

BUNDLED_V1 = SynthConfig(version=1)
"""The first bundled set (version 1: 100 + 30 routines per apparatus), reproducible by name."""

BY_VERSION: dict[int, SynthConfig] = {1: BUNDLED_V1, 2: BUNDLED}

TINY = SynthConfig(
    min_duration_s=8.0,
    max_duration_s=10.0,
    feature_size=(80, 60),
    showcase_size=(192, 144),
    per_action_train=2,
    per_action_test=1,
    showcase_per_action=1,
)
"""A few short low-resolution routines, for tests."""
