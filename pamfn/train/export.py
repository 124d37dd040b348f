"""Checkpoints of trained models, made to take raw features."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from pamfn.checkpoint import save_checkpoint
from pamfn.data.normalize import InputNorm
from pamfn.model import AQAModel


def save_for_raw_features(directory: Path, model: AQAModel, norm: InputNorm | None, meta: dict[str, Any]) -> Path:
    """Save ``model``, trained on features standardised by ``norm`` (None: raw ones), as a
    checkpoint that takes raw features: the standardisation folded into a copy."""
    if norm is not None:
        model = copy.deepcopy(model)
        norm.fold(model)
    return save_checkpoint(directory, model, model.config, meta)
