"""Explain routines: run a model on one routine (batch 1, every segment, as the paper's
test) and turn its output and stage traces into a :class:`pamfn.explanation.Explanation`.

``mode="deterministic"`` uses the PolicyNet's noiseless argmax and repeats exactly;
``mode="sample"`` draws decisions with Gumbel noise from a generator seeded by ``seed``
(as the released implementation does at test time). Dropout is always off.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from tqdm.auto import tqdm

from pamfn.checkpoint import LoadedCheckpoint, check_compatible
from pamfn.errors import ConfigError
from pamfn.explanation import MODES, Explanation, StageExplanation, stage_spans
from pamfn.model.base import StageTrace
from pamfn.ood import assessment, from_meta
from pamfn.presets import VARIANTS
from pamfn.serving.scorer import routine_inputs, run_model

if TYPE_CHECKING:
    from pamfn.model import AQAModel
    from pamfn.model.config import PAMFNConfig
    from pamfn.routine import RoutineFeatures



def _numpy(x: torch.Tensor | None, dtype: type = np.float64) -> np.ndarray | None:
    return None if x is None else x[0].detach().cpu().numpy().astype(dtype)


def _stage(trace: StageTrace, spans: list[tuple[np.ndarray, np.ndarray]]) -> StageExplanation:
    start, end = spans[trace.stage - 1]
    return StageExplanation(
        stage=trace.stage,
        start_s=start,
        end_s=end,
        msfd_weights=_numpy(trace.msfd_weights),
        policy_probs=_numpy(trace.policy_probs),
        fusion_count=_numpy(trace.fusion_count, np.int64),
        fusion_weights=_numpy(trace.fusion_weights),
        cmfd_attention=_numpy(trace.cmfd_attention),
    )


def explain_routine(
    source: LoadedCheckpoint | AQAModel,
    features: RoutineFeatures,
    *,
    mode: str = "deterministic",
    seed: int | None = None,
    action: str | None = None,
    judged_score: float | None = None,
    support: bool = False,
    on_batch: Callable[[int, int], None] | None = None,
) -> Explanation:
    """Score one routine and explain it; ``source`` is a loaded checkpoint or a model.
    ``support`` also measures the stretch each step depends on (:mod:`pamfn.dependence`,
    batched forwards of perturbed copies, ``on_batch(done, total)`` after each)."""
    if mode not in MODES:
        raise ConfigError(f"explanation mode must be one of {sorted(MODES)}, got {mode!r}")
    model = source.model if isinstance(source, LoadedCheckpoint) else source
    cfg = model.config
    check_compatible(cfg, features)
    device = next(model.parameters()).device
    inputs = routine_inputs(model, features)
    generator = None
    if mode == "sample":
        generator = torch.Generator(device=device)
        seed = int(seed) if seed is not None else secrets.randbits(63)
        generator.manual_seed(seed)
    out = run_model(model, inputs, policy=MODES[mode], generator=generator)
    scale = float(cfg.label_scale)
    score_norm = float(out.score[0])
    spans = stage_spans(features.T, features.segment_seconds)
    stages = [_stage(t, spans) for t in out.stages]
    for st, trace in zip(stages, out.stages):
        steps = next(x.shape[1] for x in (trace.msfd_weights, trace.cmfd_attention) if x is not None)
        if steps != st.steps:
            raise RuntimeError(f"stage {st.stage}: the model ran {steps} steps but stage_spans gives {st.steps}")
    extra = {"seed": seed, "modalities": list(cfg.modalities), "preset": cfg.preset, "variant": _variant(cfg)}
    if support:
        extra["support"] = _add_support(stages, model, features, str(device), on_batch)
    checkpoint = str(source.path) if isinstance(source, LoadedCheckpoint) and source.path is not None else None
    ood = assessment(from_meta(source.meta) if isinstance(source, LoadedCheckpoint) else None, features.features)
    if ood["ood_modalities"]:
        extra["ood_modalities"] = ood["ood_modalities"]
    return Explanation(
        routine_id=features.routine_id,
        score=score_norm * scale,
        score_norm=score_norm,
        label_scale=scale,
        branch_scores={m: float(s[0]) * scale for m, s in out.branch_scores.items()},
        K=cfg.K,
        stages=stages,
        duration_s=float(features.length_s),
        segment_seconds=features.segment_seconds,
        mode=mode,
        action=action,
        judged_score=judged_score,
        checkpoint=checkpoint,
        extra=extra,
        out_of_distribution=ood["out_of_distribution"],
        ood_distance=ood["ood_distance"],
        ood_threshold=ood["ood_threshold"],
        feature_flags=dict(features.flags),
        length_unlike=ood["length_unlike"],
        training_segments=ood["training_segments"],
    )


def _add_support(stages: list[StageExplanation], model: AQAModel, features: RoutineFeatures, device: str,
                 on_batch: Callable[[int, int], None] | None) -> dict[str, dict]:
    """Fill each stage's support stretch in place; returns the measured widths (seconds)."""
    from pamfn.dependence import measure_support

    measured = measure_support(model, features, device=device, on_batch=on_batch)
    seg, duration = features.segment_seconds, features.T * features.segment_seconds
    summary = {}
    for st in stages:
        found = measured.get(st.stage)
        before, after = (found.before, found.after) if found is not None else (0, 0)
        st.support_start_s = np.maximum(st.start_s - before * seg, 0.0) if found is not None else np.zeros(st.steps)
        st.support_end_s = np.minimum(st.end_s + after * seg, duration) if found is not None else np.full(st.steps, duration)
        if found is not None:
            summary[str(st.stage)] = {"before_s": before * seg, "after_s": after * seg, "mass": found.mass}
    return summary


def _variant(cfg: PAMFNConfig) -> dict[str, object]:
    """The config's variant fields (:data:`pamfn.presets.VARIANTS`) and their values."""
    return {k: getattr(cfg, k) for k in VARIANTS}


def explain_many(
    source: LoadedCheckpoint | AQAModel,
    routines: Sequence[RoutineFeatures],
    *,
    mode: str = "deterministic",
    seed: int | None = None,
    actions: Sequence[str | None] | None = None,
    judged_scores: Sequence[float | None] | None = None,
    progress: bool = True,
) -> list[Explanation]:
    """Explain each routine in turn (batch 1); in sample mode each uses ``seed``."""
    actions = actions if actions is not None else [None] * len(routines)
    judged = judged_scores if judged_scores is not None else [None] * len(routines)
    if len(actions) != len(routines) or len(judged) != len(routines):
        raise ConfigError(f"explain_many: {len(routines)} routines but {len(actions)} actions and {len(judged)} judged scores")
    return [
        explain_routine(source, f, mode=mode, seed=seed, action=a, judged_score=j)
        for f, a, j in tqdm(list(zip(routines, actions, judged)), desc="explaining", unit="routine", disable=not progress)
    ]


def explain_split(
    data_dir: str | Path,
    checkpoint: str | Path,
    *,
    split: str = "test",
    actions: Sequence[str] | None = None,
    device: str = "cpu",
    progress: bool = True,
) -> list[Explanation]:
    """Explain every routine of ``split`` of a data set with its action's checkpoint (a
    checkpoint or a set with index.json), in labels order."""
    from pamfn.catalog import load_catalog
    from pamfn.routine import RoutineFeatures
    from pamfn.serving import CheckpointSet

    catalog = load_catalog(data_dir)
    chosen = CheckpointSet(checkpoint, device).for_actions(list(actions) if actions else None)
    rows = catalog.routines[(catalog.routines["split"] == split) & catalog.routines["action"].isin(list(chosen))]
    if rows.empty:
        raise ConfigError(f"{data_dir}: no {split} routine for the actions {sorted(chosen)}")
    return [
        explain_routine(chosen[str(row["action"])], RoutineFeatures.load(row["features_path"]), action=str(row["action"]),
                        judged_score=float(row["score"]))
        for _, row in tqdm(list(rows.iterrows()), desc="explaining", unit="routine", disable=not progress)
    ]
