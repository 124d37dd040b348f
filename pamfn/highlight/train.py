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

import json
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from pamfn.atomic import write_text_atomic
from pamfn.data.dataset import AQADataset, Sample, validation_split
from pamfn.data.normalize import InputNorm
from pamfn.data.tensors import SplitTensors
from pamfn.highlight.evaluate import LABELS, is_highlight, is_segment, split_map, with_labels
from pamfn.model import AQAModel, PAMFNConfig, build_model
from pamfn.train.export import save_for_raw_features
from pamfn.train.loop import SELECT, Stage, fit
from pamfn.train.recipe import PhaseRecipe, check_counts
from pamfn.train.stages import branch_stage, joint_stage

PAPER_RECIPE = PhaseRecipe(optimizer="adamw", lr=5e-4, epochs=300, batch_size=1, schedule="none")
"""Section IV-G: AdamW, lr 5e-4, batch 1, 300 epochs for the branches and for PAMFN."""


@dataclass(frozen=True)
class HighlightRecipe:
    """Each phase's optimiser (the paper's by default), crop length and validation share."""

    phase1: PhaseRecipe = PAPER_RECIPE
    phase2: PhaseRecipe = PAPER_RECIPE
    crop: int = 70
    val_fraction: float = 0.15

    def __post_init__(self) -> None:
        check_counts(crop=self.crop)

    def to_dict(self) -> dict[str, Any]:
        return {"phase1": self.phase1.to_dict(), "phase2": self.phase2.to_dict(), "crop": self.crop, "val_fraction": self.val_fraction}


def segment_loss(probability: Tensor, feats: dict[str, Tensor], judged: Tensor) -> Tensor:
    """Binary cross-entropy per segment against the labels the crops carry, averaged over
    the real (unpadded) segments (a :data:`pamfn.train.loop.Loss`; ``judged`` is unused)."""
    carried_labels = feats[LABELS][..., 0]
    real = is_segment(carried_labels)
    target = is_highlight(carried_labels).float()
    loss = nn.functional.binary_cross_entropy(probability.float().clamp(1e-6, 1 - 1e-6), target, reduction="none")
    return (loss * real).sum() / real.sum().clamp(min=1)


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

    def _fit(self, stage: Stage, model: AQAModel, splits: tuple[SplitTensors, SplitTensors, SplitTensors],
             directory: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Train ``stage``, keep the epoch with the best validation mAP, test it, save
        ``model`` to ``directory``; its results and metric rows."""
        train, select, test = splits
        result = fit(stage, train, select, crop=self.recipe.crop, seed=self.seed, state_dir=None,
                     loss=segment_loss, metric=split_map, progress=False)
        assert result.best_state is not None
        stage.model.load_state_dict(result.best_state)
        stage.eval_mode()
        results = {"selected_epoch": result.best_epoch, "val_map": result.best["map"], "test_map": split_map(stage.predictor, test)["map"]}
        save_for_raw_features(directory, model, self.norm, {"action": self.action, "task": "highlight", "stage": stage.name, "metrics": results})
        return results, result.rows

    def run(self) -> dict[str, Any]:
        """Train both phases, test, write the run folder; the summary."""
        t0 = time.perf_counter()
        torch.manual_seed(self.seed)
        splits = (self._split(self.fit_on, min_length=self.recipe.crop), self._split(self.select), self._split(self.test))
        p1, p2 = self.recipe.phase1, self.recipe.phase2
        rows, results, branches = [], {}, {}
        for m in self.cfg.modalities:
            branches[m] = build_model(self.cfg.with_overrides(modalities=(m,), training="two_stage")).to(self.device)
            stage = branch_stage(f"phase1-{m}", branches[m], p1, p1.epochs)
            results[m], stage_rows = self._fit(stage, branches[m], splits, self.out / "branches" / m)
            rows += stage_rows
        model = build_model(self.cfg).to(self.device)
        for m in self.cfg.modalities:
            model.branches[m].load_state_dict(branches[m].branches[m].state_dict())
        results["PAMFN"], stage_rows = self._fit(joint_stage("phase2", model, p2, p2.epochs), model, splits, self.out / "checkpoint")
        metrics = pd.DataFrame(rows + stage_rows).rename(columns={SELECT + "map": "val_map"})
        write_text_atomic(self.out / "metrics.csv", metrics.to_csv(index=False))
        summary = {
            "action": self.action, "task": "highlight", "seed": self.seed,
            "selection": f"epoch with the best mAP on a validation split ({self.recipe.val_fraction:.0%} of the training videos, seed {self.seed})",
            "recipe": self.recipe.to_dict(), "train_videos": len(self.fit_on), "validation_videos": len(self.select),
            "test_videos": len(self.test), "results": results, "seconds": round(time.perf_counter() - t0, 2),
        }
        write_text_atomic(self.out / "summary.json", json.dumps(summary, indent=2))
        return summary
