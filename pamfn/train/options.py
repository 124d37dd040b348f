"""A run's model config, training recipe and actions from the command line's options
(``pamfn train`` and ``pamfn reproduce`` share them): the preset with the data set's dims
and scale, the variant and every override."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from typing import Any


def checked_overrides(cls: type, pairs: Iterable[tuple[str, Any]], flag: str) -> dict[str, Any]:
    """The KEY=VALUE ``pairs`` of ``flag`` as fields of the dataclass ``cls``; ConfigError
    naming the flag for a key that is no field of it or a value of the wrong kind."""
    from pamfn.errors import ConfigError
    from pamfn.fields import hints, kind_problem

    keys = hints(cls)
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key not in keys:
            raise ConfigError(f"{flag} {key}={value!r}: no such key; the keys of {flag} are {', '.join(keys)}")
        problem = kind_problem(cls, key, value)
        if problem:
            raise ConfigError(f"{flag} {key}={value!r}: {key} {problem}")
        out[key] = value
    return out


def model_config(args: argparse.Namespace, data: Any, variant: dict[str, Any] | None = None) -> Any:
    """The PAMFNConfig of the preset with the data's dims and scale, variant and overrides."""
    from pamfn.model import PAMFNConfig

    overrides: dict[str, Any] = {"input_dims": data.dims, "label_scale": data.label_scale}
    if data.extractors:
        overrides["feature_extractors"] = dict(data.extractors)
    for key in ("d", "K"):
        if getattr(args, key, None) is not None:
            overrides[key] = getattr(args, key)
    overrides.update(variant or {})
    overrides.update(checked_overrides(PAMFNConfig, args.model_set, "--set"))
    return PAMFNConfig.preset(args.preset, **overrides)


def train_recipe(args: argparse.Namespace) -> Any:
    """The preset's TrainRecipe with the command line's overrides."""
    from dataclasses import replace

    from pamfn.train import train_preset

    recipe = train_preset(args.preset)
    p1, p2 = recipe.phase1, recipe.phase2
    if args.epochs_scale is not None:
        p1, p2 = p1.scaled(args.epochs_scale), p2.scaled(args.epochs_scale)
    p1, p2 = phase_recipes(p1, p2, args)
    top = {
        "crop": args.crop,
        "val_fraction": args.val_fraction,
        "eval_every": args.eval_every,
        "save_every": args.save_every,
    }
    return replace(recipe, phase1=p1, phase2=p2, select_on_test=args.select_on_test, normalize_inputs=not args.no_normalize, **{k: v for k, v in top.items() if v is not None})


def phase_recipes(p1: Any, p2: Any, args: argparse.Namespace) -> tuple[Any, Any]:
    """The phases ``p1`` and ``p2`` with the command line's batch size, epochs and ``--p1`` / ``--p2``."""
    from pamfn.train import override_phase
    from pamfn.train.recipe import PhaseRecipe

    common = {"batch_size": args.batch_size}
    return (override_phase(p1, {**common, "epochs": args.epochs1, **checked_overrides(PhaseRecipe, args.p1, "--p1")}),
            override_phase(p2, {**common, "epochs": args.epochs2, **checked_overrides(PhaseRecipe, args.p2, "--p2")}))


def chosen_actions(requested: list[str], data: Any) -> list[str]:
    from pamfn.errors import DatasetError

    actions = list(data.actions) if "all" in requested else list(dict.fromkeys(requested))
    unknown = [a for a in actions if a not in data.actions]
    if unknown:
        raise DatasetError(f"{data.root}: unknown action(s) {unknown}; the dataset has {data.actions}")
    return actions
