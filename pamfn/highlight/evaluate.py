"""Highlight labels carried beside a split's features, and a detector's mean average
precision on them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from pamfn.checkpoint import load_checkpoint, read_config
from pamfn.data.dataset import AQADataset
from pamfn.data.tensors import SplitTensors
from pamfn.errors import CheckpointError
from pamfn.highlight.metrics import average_precision, mean_average_precision
from pamfn.highlight.predict import require_detector
from pamfn.serving.scorer import Predictor, predictor

LABELS = "highlight"
"""Key of the per-segment labels carried beside the features in a split (see :func:`carried`)."""


def carried(labels: np.ndarray) -> np.ndarray:
    """0/1 labels as carried in a split: 1 no, 2 yes, so that 0 marks padding."""
    return labels + 1.0


def is_segment(carried_labels: Tensor) -> Tensor:
    """Where carried labels mark a real (unpadded) segment."""
    return carried_labels > 0


def is_highlight(carried_labels: Tensor) -> Tensor:
    """Where carried labels mark a highlight."""
    return carried_labels > 1.5


def with_labels(split: SplitTensors, labels: dict[str, np.ndarray]) -> SplitTensors:
    """Attach each routine's per-segment labels to ``split`` as a padded (N, W, 1) tensor,
    so crops and full routines carry their labels (models ignore the extra key)."""
    width = next(iter(split.features.values())).shape[1]
    padded = np.zeros((len(split), width, 1), dtype=np.float32)
    for i, sample in enumerate(split.samples):
        y = labels[sample.routine_id]
        padded[i, : len(y), 0] = carried(y)
    split.features[LABELS] = torch.from_numpy(padded).to(split.device)
    return split


@torch.inference_mode()
def video_ap(predictor: Predictor, split: SplitTensors) -> dict[str, float]:
    """Average precision of every video of ``split`` (full length, one at a time)."""
    out = {}
    for i, sample in enumerate(split.samples):
        x = split.routine(i)
        probability = predictor(x).reshape(-1).float().cpu().numpy()
        out[sample.routine_id] = average_precision(probability, is_highlight(x[LABELS][0, :, 0]).cpu().numpy())
    return out


def split_map(predictor: Predictor, split: SplitTensors) -> dict[str, float]:
    """``{"map": mAP}`` of ``split``'s videos (the highlight stages' selection metric)."""
    return {"map": mean_average_precision(video_ap(predictor, split))}


def evaluate_highlight(data: AQADataset, labels: dict[str, np.ndarray], checkpoint: str | Path, action: str,
                       split: str = "test") -> dict[str, float]:
    """Test mAP of a highlight checkpoint and of the branches saved beside it (``../branches/<m>``)."""
    checkpoint = Path(checkpoint)
    main = read_config(checkpoint)[0]
    if len(main.modalities) == 1:  # a branch alone
        paths = {main.modalities[0]: checkpoint}
    else:
        paths = {"PAMFN": checkpoint, **{m: checkpoint.parent / "branches" / m for m in main.modalities}}
    samples = [s for s in data.select(action, split) if s.routine_id in labels]
    if not samples:
        raise CheckpointError(f"action {action}: no {split} video has highlight labels")
    split_tensors = with_labels(SplitTensors(data, samples), labels)
    out = {}
    for name, path in paths.items():
        if path != checkpoint and not path.is_dir():
            continue
        ck = load_checkpoint(path)
        require_detector(ck)
        out[name] = split_map(predictor(ck.model), split_tensors)["map"]
    return out
