"""Training and evaluating highlight detectors: one per topic (action), as in the paper.

Phase 1 trains each modality-specific branch alone, phase 2 PAMFN on top of them (V and F
frozen, A fine-tuned, as in the AQA protocol), both on the per-segment binary
cross-entropy of the highlight probability against the segment's label, on random crops
of consecutive segments (padding carries no loss). The epoch kept is the one with the
best mAP on a validation split carved (seeded) from the training videos; the test split
only gives the reported numbers. Run folder per action::

    branches/<m>/   phase-1 branches (highlight checkpoints; the Table IX baselines)
    checkpoint/     PAMFN for highlight detection
    metrics.csv     one row per epoch of every stage
    summary.json    selection, test mAP of PAMFN and of each branch, seconds
"""

from __future__ import annotations

import copy
import json
import math
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from pamfn.atomic import write_text_atomic
from pamfn.checkpoint import load_checkpoint, save_checkpoint
from pamfn.data.dataset import AQADataset, Sample, validation_split
from pamfn.data.normalize import InputNorm
from pamfn.data.tensors import SplitTensors
from pamfn.highlight.metrics import average_precision, mean_average_precision
from pamfn.model import AQAModel, PAMFNConfig, build_model
from pamfn.train.loop import Stage, make_optimizer
from pamfn.train.recipe import PhaseRecipe
from pamfn.train.run import joint_stage

LABELS = "highlight"
"""Key of the per-segment labels carried beside the features in a split (0 pad, 1 no, 2 yes)."""

PAPER_RECIPE = PhaseRecipe(optimizer="adamw", lr=5e-4, epochs=300, batch_size=1, schedule="none")
"""Section IV-G: AdamW, lr 5e-4, batch 1, 300 epochs for the branches and for PAMFN."""


@dataclass(frozen=True)
class HighlightRecipe:
    """Each phase's optimiser (the paper's by default), crop length and validation share."""

    phase1: PhaseRecipe = PAPER_RECIPE
    phase2: PhaseRecipe = PAPER_RECIPE
    crop: int = 70
    val_fraction: float = 0.15

    def to_dict(self) -> dict[str, Any]:
        return {"phase1": self.phase1.to_dict(), "phase2": self.phase2.to_dict(), "crop": self.crop, "val_fraction": self.val_fraction}


def with_labels(split: SplitTensors, labels: dict[str, np.ndarray]) -> SplitTensors:
    """Attach each routine's per-segment labels to ``split`` as a padded (N, W, 1) tensor,
    so crops and full routines carry their labels (models ignore the extra key)."""
    width = next(iter(split.features.values())).shape[1]
    padded = np.zeros((len(split), width, 1), dtype=np.float32)
    for i, sample in enumerate(split.samples):
        y = labels[sample.routine_id]
        padded[i, : len(y), 0] = y + 1.0
    split.features[LABELS] = torch.from_numpy(padded).to(split.device)
    return split


def segment_loss(probability: Tensor, carried: Tensor) -> Tensor:
    """Binary cross-entropy per segment, averaged over the real (unpadded) segments."""
    carried = carried[..., 0]
    real = carried > 0
    target = (carried > 1.5).float()
    loss = nn.functional.binary_cross_entropy(probability.float().clamp(1e-6, 1 - 1e-6), target, reduction="none")
    return (loss * real).sum() / real.sum().clamp(min=1)


@torch.inference_mode()
def video_ap(predictor: Any, split: SplitTensors) -> dict[str, float]:
    """Average precision of every video of ``split`` (full length, one at a time)."""
    out = {}
    for i, sample in enumerate(split.samples):
        x = split.routine(i)
        probability = predictor(x).reshape(-1).float().cpu().numpy()
        labels = x[LABELS][0, :, 0].cpu().numpy() > 1.5
        out[sample.routine_id] = average_precision(probability, labels)
    return out


def fit_highlight(stage: Stage, train: SplitTensors, select: SplitTensors, crop: int, seed: int) -> tuple[dict[str, Tensor], int, float, list[dict[str, Any]]]:
    """Train ``stage`` on the per-segment loss; keep the epoch with the best validation mAP.
    Returns (selected state, its epoch, its mAP, one metrics row per epoch)."""
    recipe = stage.recipe
    optimizer = make_optimizer(stage)
    trainable = [p for g in stage.param_groups for p in g["params"]]
    rng = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    best: tuple[dict[str, Tensor] | None, int, float] = (None, 0, float("nan"))
    rows = []
    for epoch in range(stage.epochs):
        t0 = time.perf_counter()
        lr = recipe.lr * recipe.lr_factor(epoch, stage.epochs)
        for group in optimizer.param_groups:
            group["lr"] = lr * group["lr_scale"]
        stage.train_mode()
        total, seen = 0.0, 0
        for index in train.batches(recipe.batch_size, rng):
            feats = train.crops(index, crop, rng)
            loss = segment_loss(stage.predictor(feats), feats[LABELS])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(trainable, recipe.clip)
            optimizer.step()
            total, seen = total + float(loss.detach()) * len(index), seen + len(index)
        stage.eval_mode()
        val_map = mean_average_precision(video_ap(stage.predictor, select))
        if best[0] is None or (not math.isnan(val_map) and (math.isnan(best[2]) or val_map > best[2])):
            best = ({k: v.detach().clone() for k, v in stage.model.state_dict().items()}, epoch + 1, val_map)
        rows.append({"stage": stage.name, "epoch": epoch + 1, "train_loss": total / max(seen, 1), "lr": lr,
                     "val_map": val_map, "seconds": round(time.perf_counter() - t0, 3)})
    assert best[0] is not None
    return best[0], best[1], best[2], rows


class HighlightRun:
    """Trains the highlight detector of one action (topic) into a run folder."""

    def __init__(self, data: AQADataset, labels: dict[str, np.ndarray], action: str, cfg: PAMFNConfig,
                 recipe: HighlightRecipe, out: str | Path, seed: int = 0, device: str = "cpu") -> None:
        self.data, self.labels, self.action, self.recipe, self.seed = data, labels, action, recipe, seed
        self.cfg = replace(cfg, task="highlight")
        self.out, self.device = Path(out), torch.device(device)
        train = [s for s in data.select(action, "train") if s.routine_id in labels]
        self.test = [s for s in data.select(action, "test") if s.routine_id in labels]
        if len(train) < 3 or not self.test:
            raise ValueError(f"action {action}: too few videos with highlight labels ({len(train)} train, {len(self.test)} test)")
        self.fit_on, self.select = validation_split(train, recipe.val_fraction, seed)
        self.norm = InputNorm.from_samples(data, self.fit_on)

    def _split(self, samples: list[Sample], **kw: Any) -> SplitTensors:
        return with_labels(SplitTensors(self.data, samples, self.device, norm=self.norm, **kw), self.labels)

    def _save(self, directory: Path, model: AQAModel, meta: dict[str, Any]) -> None:
        folded = copy.deepcopy(model)
        self.norm.fold(folded)
        save_checkpoint(directory, folded, folded.config, {"action": self.action, "task": "highlight", **meta})

    def _stage(self, name: str, model: AQAModel) -> Stage:
        if len(model.config.modalities) == 1:
            phase = self.recipe.phase1
            return Stage(name, model, lambda x: model(x).score, [{"params": list(model.parameters()), "lr_scale": 1.0}],
                         phase, phase.epochs, model.train, model.eval)
        return joint_stage(name, model, self.recipe.phase2, self.recipe.phase2.epochs)

    def run(self) -> dict[str, Any]:
        """Train both phases, test, write the run folder; the summary."""
        t0 = time.perf_counter()
        torch.manual_seed(self.seed)
        train = self._split(self.fit_on, min_length=self.recipe.crop)
        select, test = self._split(self.select), self._split(self.test)
        rows, results, branches = [], {}, {}
        for m in self.cfg.modalities:
            model = build_model(self.cfg.with_overrides(modalities=(m,), training="two_stage")).to(self.device)
            stage = self._stage(f"phase1-{m}", model)
            state, epoch, val_map, stage_rows = fit_highlight(stage, train, select, self.recipe.crop, self.seed)
            model.load_state_dict(state)
            model.eval()
            results[m] = {"selected_epoch": epoch, "val_map": val_map, "test_map": mean_average_precision(video_ap(stage.predictor, test))}
            self._save(self.out / "branches" / m, model, {"stage": stage.name, "metrics": results[m]})
            branches[m], rows = model, rows + stage_rows
        model = build_model(self.cfg).to(self.device)
        for m in self.cfg.modalities:
            model.branches[m].load_state_dict(branches[m].branches[m].state_dict())
        stage = self._stage("phase2", model)
        state, epoch, val_map, stage_rows = fit_highlight(stage, train, select, self.recipe.crop, self.seed)
        model.load_state_dict(state)
        model.eval()
        results["PAMFN"] = {"selected_epoch": epoch, "val_map": val_map, "test_map": mean_average_precision(video_ap(stage.predictor, test))}
        self._save(self.out / "checkpoint", model, {"stage": "phase2", "metrics": results["PAMFN"]})
        write_text_atomic(self.out / "metrics.csv", pd.DataFrame(rows + stage_rows).to_csv(index=False))
        summary = {
            "action": self.action, "task": "highlight", "seed": self.seed,
            "selection": f"epoch with the best mAP on a validation split ({self.recipe.val_fraction:.0%} of the training videos, seed {self.seed})",
            "recipe": self.recipe.to_dict(), "train_videos": len(self.fit_on), "validation_videos": len(self.select),
            "test_videos": len(self.test), "results": results, "seconds": round(time.perf_counter() - t0, 2),
        }
        write_text_atomic(self.out / "summary.json", json.dumps(summary, indent=2))
        return summary


def evaluate_highlight(data: AQADataset, labels: dict[str, np.ndarray], checkpoint: str | Path, action: str,
                       split: str = "test") -> dict[str, float]:
    """Test mAP of a highlight checkpoint and of the branches saved beside it (``../branches/<m>``)."""
    from pamfn.checkpoint import read_config
    from pamfn.errors import CheckpointError

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
        if ck.config.task != "highlight":
            raise CheckpointError(f"{path}: a {ck.config.task!r} checkpoint, not a highlight detector (train with --task highlight)")
        model = ck.model.eval()
        out[name] = mean_average_precision(video_ap(lambda x, model=model: model(x).score, split_tensors))
    return out
