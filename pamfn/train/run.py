"""A training run for one action: the stages the model's config asks for, written to a
run folder.

Two-stage training (the paper): phase 1 trains each modality-specific branch alone
(``phase1-V``, ``phase1-F``, ``phase1-A``), phase 2 trains the mixed-modality branch on
top of the selected branches with V and F frozen. One-stage baselines train everything
together (``one_stage``). Run folder::

    config.json      the run's full configuration (model, recipe, data, seed)
    metrics.csv      one row per epoch of every stage
    branches/<m>/    phase-1 branches as unimodal checkpoints
    checkpoint/      the selected final model (safetensors + JSON)
    last/            the final model after its last epoch
    summary.json     selection, test results of the selected (with each test routine's
                     prediction) and of the last epoch
    state/<stage>/   resumable state while the run is unfinished

Model selection keeps the epoch with the best Spearman's rho on a validation split
carved (seeded) from the training routines. ``select_on_test`` selects on the test set
instead, as the released code does; every output then says "selected on TEST set".
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from pamfn.atomic import sweep_temporaries, write_text_atomic
from pamfn.checkpoint import load_checkpoint
from pamfn.data.dataset import AQADataset, validation_split
from pamfn.data.normalize import InputNorm
from pamfn.data.tensors import SplitTensors
from pamfn.errors import ConfigError, DatasetError, OutputError
from pamfn.evaluate import score_split
from pamfn.locks import exclusive_lock
from pamfn.model import AQAModel, PAMFNConfig, build_model
from pamfn.ood import META_KEY as OOD_META_KEY
from pamfn.ood import TrainingDistribution
from pamfn.serving.device import resolve_device
from pamfn.train.export import save_for_raw_features
from pamfn.train.loop import FitResult, Stage, fit
from pamfn.train.recipe import TrainRecipe
from pamfn.train.stages import branch_predictor, branch_stage, joint_stage, pick_teacher

TEST_SELECTION_LABEL = "selected on TEST set (--select-on-test): optimistic, not a fair test result"
PHASES = ("both", "1", "2")


RUN_FILES = ("config.json", "metrics.csv", "checkpoint", "last", "summary.json")
"""What a run writes at the top of its folder (``branches/<m>`` and ``state/`` below)."""


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines a run, so a resumed run can check it is the same one."""

    data: str
    action: str
    model: PAMFNConfig
    recipe: TrainRecipe
    phase: str = "both"
    branches: str | None = None
    """Phase-1 branches (a run's ``branches/`` folder) when ``phase == "2"``."""
    seed: int = 0
    pooled: tuple[str, ...] = ()
    """Actions whose routines train one shared model (``action`` is then the pool's name);
    each action's validation split is carved as if it were trained alone."""

    def __post_init__(self) -> None:
        if self.phase not in PHASES:
            raise ConfigError(f"phase must be one of {list(PHASES)}, got {self.phase!r}")
        if self.phase == "2" and not self.branches:
            raise ConfigError("phase 2 alone needs the phase-1 branches (--branches RUN/branches)")
        if self.phase == "2" and self.model.unimodal:
            raise ConfigError(
                f"one modality ({self.model.modalities[0]}) is its branch alone: phase 2 has nothing to train "
                "(its model is the phase-1 branch, e.g. RUN/branches/<m>)"
            )
        if self.model.training == "one_stage" and self.phase != "both":
            raise ConfigError("one-stage training has no phases; leave --phase at 'both'")
        if self.recipe.phase2.distill and (self.model.training != "two_stage" or not self.model.frozen_modalities):
            raise ConfigError("distillation (--p2 distill) needs frozen phase-1 branches: two-stage PAMFN's phase 2 only")
        if (self.recipe.phase1.recon and self.model.training != "two_stage") or self.recipe.phase2.recon:
            raise ConfigError("the autoencoding term (--p1 recon) belongs to phase 1 of two-stage training only")

    @property
    def actions(self) -> tuple[str, ...]:
        """The actions whose routines this run trains and tests on."""
        return self.pooled or (self.action,)

    @property
    def selection(self) -> str:
        if self.recipe.select_on_test:
            return TEST_SELECTION_LABEL
        return f"selected on a validation split ({self.recipe.val_fraction:.0%} of the training routines, seed {self.seed})"

    def to_dict(self) -> dict[str, Any]:
        pool = {"pooled": list(self.pooled)} if self.pooled else {}
        return {
            "data": self.data,
            "action": self.action,
            **pool,
            "model": self.model.to_dict(),
            "train": self.recipe.to_dict(),
            "phase": self.phase,
            "branches": self.branches,
            "seed": self.seed,
            "selection": self.selection,
        }


class Run:
    """Trains one action's model into a run folder; resumes a run left unfinished."""

    def __init__(self, data: AQADataset, config: RunConfig, out: str | os.PathLike[str], *, device: str = "auto",
                 amp: bool = False, progress: bool = True, label: str | None = None) -> None:
        """``label`` names the run on its progress bars (default: its action)."""
        self.data, self.config, self.out = data, config, Path(out)
        self.label = config.action if label is None else label
        self.device = resolve_device(device)
        self.amp = amp and self.device.type == "cuda"
        self.progress = progress
        self.rows: list[dict[str, Any]] = []
        cfg = config.model
        data.check_dims({m: cfg.input_dims[m] for m in cfg.modalities}, what="the model config")
        if cfg.label_scale != data.label_scale:
            raise ConfigError(f"model label_scale {cfg.label_scale} differs from the dataset's {data.label_scale}")
        self.train_samples, self.select_samples, self.test_samples = [], [], []
        for action in config.actions:
            train, test = data.select(action, "train"), data.select(action, "test")
            if config.recipe.select_on_test:
                fit_on, select_on = train, test
            else:
                fit_on, select_on = validation_split(train, config.recipe.val_fraction, config.seed)
            if len(fit_on) < 2:  # a batch of one routine cannot train the regressor's batch norm
                raise DatasetError(f"{data.root}: action {action!r} leaves {len(fit_on)} routine to train on "
                                   f"({len(train)} in its training split, {len(train) - len(fit_on)} kept to select "
                                   "the epoch); training needs at least 2")
            self.train_samples += fit_on
            self.select_samples += select_on
            self.test_samples += test
        self.norm = InputNorm.from_samples(data, self.train_samples) if config.recipe.normalize_inputs else None
        self.distribution = TrainingDistribution.fit(list({s.features: data.features[s.features] for s in self.train_samples}.values()))

    # -- run folder -------------------------------------------------------------------
    def _claim_folder(self) -> None:
        """Write config.json, or check that an existing one is this run's (then resume)."""
        path = self.out / "config.json"
        doc = json.loads(json.dumps(self.config.to_dict()))
        if path.is_file():
            old = json.loads(path.read_text(encoding="utf-8"))
            if old != doc:
                changed = sorted(k for k in doc if old.get(k) != doc.get(k))
                raise ConfigError(f"{self.out} holds a different run (differs in {changed}); choose a new --out")
            return
        write_text_atomic(path, json.dumps(doc, indent=2))

    def _write_metrics(self, current: list[dict[str, Any]]) -> None:
        table = pd.DataFrame(self.rows + current)
        if self.config.recipe.select_on_test:
            table = table.rename(columns={"select_rho": "test_rho_SELECTION", "select_mse": "test_mse_SELECTION"})
        else:
            table = table.rename(columns={"select_rho": "val_rho", "select_mse": "val_mse"})
        write_text_atomic(self.out / "metrics.csv", table.to_csv(index=False))

    # -- stages -----------------------------------------------------------------------
    def _tensors(self) -> tuple[SplitTensors, SplitTensors, SplitTensors]:
        crop = self.config.recipe.crop
        return (
            SplitTensors(self.data, self.train_samples, self.device, min_length=crop, norm=self.norm),
            SplitTensors(self.data, self.select_samples, self.device, norm=self.norm),
            SplitTensors(self.data, self.test_samples, self.device, norm=self.norm),
        )

    def _save(self, directory: Path, model: AQAModel, meta: dict[str, Any]) -> None:
        save_for_raw_features(directory, model, self.norm, meta)

    def _fit(self, stage: Stage, tensors: tuple[SplitTensors, SplitTensors, SplitTensors]) -> FitResult:
        recipe = self.config.recipe
        result = fit(
            stage,
            tensors[0],
            tensors[1],
            crop=recipe.crop,
            seed=self.config.seed,
            state_dir=self.out / "state" / stage.name,
            save_every=recipe.save_every,
            eval_every=recipe.eval_every,
            amp=self.amp,
            on_epoch=self._write_metrics,
            progress=self.progress,
            label=self.label,
        )
        self.rows.extend(result.rows)
        return result

    def _finish(self, stage: Stage, result: FitResult, test: SplitTensors, last_dir: Path | None) -> dict[str, Any]:
        """Test the last epoch, then restore the selected one and test it."""
        stage.eval_mode()
        last = score_split(stage.predictor, test, amp=self.amp)
        if last_dir is not None:
            self._save(last_dir, stage.model, self._meta(stage.name, stage.epochs, {"test_rho": last.rho, "test_mse": last.mse}))
        if result.best_state is not None:
            stage.model.load_state_dict(result.best_state)
        stage.eval_mode()
        chosen = score_split(stage.predictor, test, amp=self.amp)
        return {
            "epochs": stage.epochs,
            "selection": self.config.selection,
            "selected_epoch": result.best_epoch,
            "selection_rho": result.best["rho"],
            "selection_mse": result.best["mse"],
            "test_selected": chosen.to_dict(with_predictions=True),
            "test_last": {"rho": last.rho, "mse": last.mse, "n": len(test)},
        }

    def _meta(self, stage: str, epoch: int, metrics: dict[str, Any]) -> dict[str, Any]:
        return {
            "action": self.config.action,
            "dataset": self.data.info.get("name", str(self.data.root)),
            "stage": stage,
            "epoch": epoch,
            "selection": self.config.selection,
            "seed": self.config.seed,
            "train": self.config.recipe.to_dict(),
            "metrics": metrics,
            OOD_META_KEY: self.distribution.to_dict(),
        }

    def _phase1(self, m: str, tensors: tuple[SplitTensors, SplitTensors, SplitTensors]) -> tuple[AQAModel, dict[str, Any]]:
        cfg = self.config.model.with_overrides(modalities=(m,), model="pamfn", training="two_stage")
        model = build_model(cfg).to(self.device)
        recipe = self.config.recipe.phase1
        stage = branch_stage(f"phase1-{m}", model, recipe, recipe.epochs_for(self.config.action))
        result = self._fit(stage, tensors)
        summary = self._finish(stage, result, tensors[2], None)
        self._save(self.out / "branches" / m, model, self._meta(stage.name, result.best_epoch, summary))
        return model, summary

    def _load_branches(self) -> dict[str, AQAModel]:
        """Phase-1 branch checkpoints (raw-feature models), made to take this run's inputs."""
        root = Path(self.config.branches or "")
        models = {m: load_checkpoint(root / m, str(self.device)).model for m in self.config.model.modalities}
        if self.norm is not None:
            for model in models.values():
                self.norm.unfold(model)
        return models

    def _joint_stage(self, name: str, model: AQAModel) -> Stage:
        recipe = self.config.recipe.phase2
        return joint_stage(name, model, recipe, recipe.epochs_for(self.config.action))

    def _teach(self, stage: Stage, select: SplitTensors) -> dict[str, Any]:
        """Give phase 2 its distillation teacher (when the recipe asks); what was chosen."""
        if not self.config.recipe.phase2.distill:
            return {}
        m, rho = pick_teacher(stage.model, select)
        stage.teacher = branch_predictor(stage.model, m)
        return {"teacher": {"modality": m, "validation_rho": rho, "weight": self.config.recipe.phase2.distill}}

    # -- the whole run ----------------------------------------------------------------
    @property
    def finished(self) -> bool:
        """Whether the run folder holds a finished run (its summary)."""
        return (self.out / "summary.json").is_file()

    def run(self) -> dict[str, Any]:
        """Train, select, test, write the run folder; return the summary.

        A finished run folder is not trained again: its summary is returned. The folder is
        locked while the run trains (where the file system allows): a second process training
        into it is refused (OutputError), and the temporaries of a killed one are removed first.
        """
        self.out.mkdir(parents=True, exist_ok=True)
        with exclusive_lock(self.out, wait=False) as mine:
            if mine is False:
                raise OutputError(f"{self.out}: another process is training into this run folder; wait for it to "
                                  "finish (the same command then returns its summary) or choose another --out")
            self._claim_folder()
            if self.finished:
                return json.loads((self.out / "summary.json").read_text(encoding="utf-8"))
            if mine:
                sweep_temporaries(self.out, RUN_FILES)
                sweep_temporaries(self.out / "branches", self.config.model.modalities)
            return self._train()

    def _train(self) -> dict[str, Any]:
        torch.manual_seed(self.config.seed)
        t0 = time.perf_counter()
        cfg, phase = self.config.model, self.config.phase
        tensors = self._tensors()
        stages: dict[str, dict[str, Any]] = {}
        final: dict[str, Any] | None = None
        final_model: AQAModel | None = None
        if cfg.training == "one_stage":
            model = build_model(cfg).to(self.device)
            stage = self._joint_stage("one_stage", model)
            final = stages["one_stage"] = self._finish(stage, self._fit(stage, tensors), tensors[2], self.out / "last")
            final_model = model
        else:
            if phase in ("both", "1"):
                branch_models = {}
                for m in cfg.modalities:
                    branch_models[m], stages[f"phase1-{m}"] = self._phase1(m, tensors)
                if cfg.unimodal:
                    final, final_model = stages[f"phase1-{cfg.modalities[0]}"], branch_models[cfg.modalities[0]]
            else:
                branch_models = self._load_branches()
            if phase in ("both", "2") and not cfg.unimodal:
                model = build_model(cfg).to(self.device)
                for m in cfg.modalities:
                    model.branches[m].load_state_dict(branch_models[m].branches[m].state_dict())
                stage = self._joint_stage("phase2", model)
                teacher = self._teach(stage, tensors[1])
                final = stages["phase2"] = {**self._finish(stage, self._fit(stage, tensors), tensors[2], self.out / "last"), **teacher}
                final_model = model
        if final is not None and final_model is not None:
            self._save(self.out / "checkpoint", final_model, self._meta("final", final["selected_epoch"], final))
        summary = {
            "action": self.config.action,
            "model": cfg.model,
            "modalities": list(cfg.modalities),
            "training": cfg.training,
            "phase": phase,
            "selection": self.config.selection,
            "device": str(self.device),
            "train_routines": len(self.train_samples),
            "selection_routines": len(self.select_samples),
            "test_routines": len(self.test_samples),
            "stages": stages,
            "final": final,
            "seconds": round(time.perf_counter() - t0, 2),
        }
        write_text_atomic(self.out / "summary.json", json.dumps(summary, indent=2))
        shutil.rmtree(self.out / "state", ignore_errors=True)
        return summary
