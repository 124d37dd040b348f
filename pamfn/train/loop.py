"""The epoch loop shared by every stage: phase 1 (one branch), phase 2 (mixed branch),
one-stage baselines and highlight detection. It selects the epoch to keep on a held-out
split, saves a resumable state, and resumes bit for bit after an interruption."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from pamfn.data.tensors import SplitTensors
from pamfn.evaluate import Predictor, score_split
from pamfn.train.average import WeightAverage
from pamfn.train.recipe import PhaseRecipe
from pamfn.train.state import TrainState, load_state, save_state


@dataclass
class Stage:
    """One thing to train: which parameters, how to predict, how to set the train mode."""

    name: str
    model: nn.Module
    predictor: Predictor
    param_groups: list[dict[str, Any]]
    """Each ``{"params": [...], "lr_scale": factor}``."""
    recipe: PhaseRecipe
    epochs: int
    train_mode: Callable[[], Any]
    eval_mode: Callable[[], Any]
    teacher: Predictor | None = None
    """A fixed model whose prediction of each crop enters the target with weight
    ``recipe.distill`` (phase 2's distillation); None: the labels alone."""
    training_forward: Callable[[dict[str, torch.Tensor]], tuple[torch.Tensor, torch.Tensor]] | None = None
    """In training only, one forward pass giving (prediction, extra loss term) in place of
    ``predictor`` (phase 1's autoencoding term); None: the prediction's loss alone."""


Loss = Callable[[torch.Tensor, dict[str, torch.Tensor], torch.Tensor], torch.Tensor]
"""(prediction, the batch's crops, the batch's target scores) -> the loss to minimise."""

Metric = Callable[[Predictor, SplitTensors], dict[str, float]]
"""An epoch's metrics on the held-out split by name; the epoch kept is the one whose FIRST
metric is highest. Each goes into the epoch's metric row as ``select_<name>``."""

SELECT = "select_"


def score_loss(predicted: torch.Tensor, feats: dict[str, torch.Tensor], target: torch.Tensor) -> torch.Tensor:
    """Mean squared error of the predicted scores against the target scores."""
    return nn.functional.mse_loss(predicted.float(), target)


def score_metrics(amp: bool = False) -> Metric:
    """Spearman's rho (the one selected on) and MSE of the scores of full routines."""

    def metric(predictor: Predictor, split: SplitTensors) -> dict[str, float]:
        result = score_split(predictor, split, amp=amp)
        return {"rho": result.rho, "mse": result.mse}

    return metric


def selected_metrics(rows: list[dict[str, Any]], epoch: int) -> dict[str, float]:
    """The held-out metrics of ``epoch`` by name, from the stage's metric rows (empty when
    no such epoch was evaluated)."""
    row = next((r for r in rows if r["epoch"] == epoch), {})
    return {k.removeprefix(SELECT): v for k, v in row.items() if k.startswith(SELECT)}


@dataclass
class FitResult:
    """What a stage's training gave: the selected epoch, its held-out metrics, the rows."""

    best_epoch: int
    best: dict[str, float]
    """The selected epoch's held-out metrics by name (see :data:`Metric`)."""
    rows: list[dict[str, Any]] = field(default_factory=list)
    best_state: dict[str, torch.Tensor] | None = None


def make_optimizer(stage: Stage) -> torch.optim.Optimizer:
    r = stage.recipe
    groups = [{"params": g["params"], "lr_scale": g["lr_scale"], "lr": r.lr * g["lr_scale"]} for g in stage.param_groups]
    if r.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=r.lr, momentum=r.momentum, weight_decay=r.weight_decay)
    return torch.optim.AdamW(groups, lr=r.lr, weight_decay=r.weight_decay)


def _better(rho: float, best: float) -> bool:
    return not math.isnan(rho) and (math.isnan(best) or rho > best)


def _snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def fit(
    stage: Stage,
    train: SplitTensors,
    select: SplitTensors,
    *,
    crop: int,
    seed: int,
    state_dir: str | os.PathLike[str] | None,
    loss: Loss = score_loss,
    metric: Metric | None = None,
    save_every: int = 5,
    eval_every: int = 1,
    amp: bool = False,
    on_epoch: Callable[[list[dict[str, Any]]], None] | None = None,
    progress: bool = True,
    label: str = "",
) -> FitResult:
    """Train ``stage`` on ``loss``, choosing the epoch with the best ``metric`` on
    ``select`` (default: :func:`score_metrics`, the best rho).

    Continues from the state in ``state_dir`` if there is one and saves there (None: no
    resumable state). Returns with the model holding the LAST epoch's weights;
    ``best_state`` holds the selected epoch's (the weight average's, when the recipe
    keeps one).
    """
    model, recipe = stage.model, stage.recipe
    metric = metric or score_metrics(amp)
    device = train.device
    optimizer = make_optimizer(stage)
    trainable = [p for g in stage.param_groups for p in g["params"]]
    data_rng = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    start, best_state = 0, None
    progress_doc: dict[str, Any] = {"best_epoch": 0, "rows": []}
    saved = load_state(state_dir) if state_dir is not None else None
    if saved is not None:
        model.load_state_dict(saved.model)
        optimizer.load_state_dict(saved.optimizer)
        data_rng.set_state(saved.data_rng)
        torch.set_rng_state(saved.torch_rng)
        if saved.cuda_rng is not None and device.type == "cuda":
            torch.cuda.set_rng_state(saved.cuda_rng, device)
        best_state = {k: v.to(device) for k, v in saved.best_model.items()} if saved.best_model else None
        start, progress_doc = saved.epoch, saved.progress
    average = None
    if recipe.ema_decay > 0:
        resumed = saved is not None and saved.average is not None
        average = WeightAverage(model, recipe.ema_decay, updates=saved.average_updates if resumed else 0, state=saved.average if resumed else None)
    use_amp = amp and device.type == "cuda"
    desc = f"{label} {stage.name}".strip() + (f" (resumed after epoch {start})" if start else "")
    bar = tqdm(range(start, stage.epochs), desc=desc, unit="epoch", initial=start, total=stage.epochs, disable=not progress)
    for epoch in bar:
        t0 = time.perf_counter()
        lr = recipe.lr * recipe.lr_factor(epoch, stage.epochs)
        for group in optimizer.param_groups:
            group["lr"] = lr * group["lr_scale"]
        stage.train_mode()
        total, seen = torch.zeros((), device=device), 0
        for index in train.batches(recipe.batch_size, data_rng):
            feats = train.crops(index, crop, data_rng)
            target = train.labels[index.to(device)]
            if stage.teacher is not None and recipe.distill > 0:
                with torch.no_grad():
                    target = (1.0 - recipe.distill) * target + recipe.distill * stage.teacher(feats).float()
            extra = None
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_amp):
                if stage.training_forward is not None:
                    predicted, extra = stage.training_forward(feats)
                else:
                    predicted = stage.predictor(feats)
            batch_loss = loss(predicted, feats, target)
            if extra is not None:
                batch_loss = batch_loss + extra.float()
            optimizer.zero_grad(set_to_none=True)
            batch_loss.backward()
            nn.utils.clip_grad_norm_(trainable, recipe.clip)
            optimizer.step()
            if average is not None:
                average.update(model)
            total += batch_loss.detach() * len(index)
            seen += len(index)
        row: dict[str, Any] = {"stage": stage.name, "epoch": epoch + 1, "train_loss": float(total) / max(seen, 1), "lr": lr}
        last = epoch + 1 == stage.epochs
        if (epoch + 1) % eval_every == 0 or last:
            stage.eval_mode()
            with average.swapped_in(model) if average is not None else nullcontext():
                values = metric(stage.predictor, select)
                name, value = next(iter(values.items()))
                best = selected_metrics(progress_doc["rows"], progress_doc["best_epoch"]).get(name, float("nan"))
                if _better(value, best) or best_state is None:
                    best_state = _snapshot(model)
                    progress_doc["best_epoch"] = epoch + 1
            row.update({SELECT + k: v for k, v in values.items()})
            bar.set_postfix({"loss": f"{row['train_loss']:.4f}", name: f"{value:.3f}", "best": progress_doc["best_epoch"]})
        row["seconds"] = round(time.perf_counter() - t0, 3)
        progress_doc["rows"].append(row)
        if on_epoch is not None:
            on_epoch(progress_doc["rows"])
        if state_dir is not None and ((epoch + 1) % save_every == 0 or last):
            cuda_rng = torch.cuda.get_rng_state(device) if device.type == "cuda" else None
            state = TrainState(
                epoch + 1, model.state_dict(), optimizer.state_dict(), best_state, torch.get_rng_state(), data_rng.get_state(), cuda_rng, progress_doc,
                average=average.state if average is not None else None,
                average_updates=average.updates if average is not None else 0,
            )
            save_state(state_dir, state)
    bar.close()
    rows = progress_doc["rows"]
    return FitResult(progress_doc["best_epoch"], selected_metrics(rows, progress_doc["best_epoch"]), rows, best_state)

