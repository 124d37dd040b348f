"""Training: the paper's two-phase protocol (and one-stage baselines), honest model
selection, resumable runs."""

from pamfn.train.recipe import TRAIN_PRESETS, PhaseRecipe, TrainRecipe, override_phase, train_preset
from pamfn.train.run import TEST_SELECTION_LABEL, Run, RunConfig, resolve_device

__all__ = [
    "TEST_SELECTION_LABEL",
    "TRAIN_PRESETS",
    "PhaseRecipe",
    "Run",
    "RunConfig",
    "TrainRecipe",
    "override_phase",
    "resolve_device",
    "train_preset",
]
