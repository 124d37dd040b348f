"""``pamfn train``: train PAMFN (or a baseline / ablation) on one or more actions.

    python -m pamfn train --data DIR --action ball --preset rg --out RUN_DIR
    python -m pamfn train --data DIR --action all --preset rg --d 64 --K 6 --epochs1 60 --epochs2 80 --out RUNS
    python -m pamfn train --data DIR --action ball --phase 2 --branches RUN_DIR/branches --out RUN2
    python -m pamfn train --data DIR --action ball --model late_fusion --fusion weighted --training one_stage --out RUN3

Every recipe value can be overridden: ``--p1 KEY=VALUE`` (phase 1), ``--p2 KEY=VALUE``
(phase 2 and one-stage training), ``--set KEY=VALUE`` (model config fields). Running the
same command again on an unfinished run folder resumes it. Several actions write one
run folder per action plus ``index.json``, a checkpoint set for ``pamfn evaluate``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from pamfn.presets import PRESETS, TASKS, VARIANT_HELP, VARIANTS

POOLED = "pooled"
"""Run folder (under ``--out``) of a model trained with ``--pool-actions``."""


def _key_value(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    key, value = text.split("=", 1)
    try:
        return key.strip(), json.loads(value)
    except json.JSONDecodeError:
        return key.strip(), value


def at_least_one(text: str) -> int:
    value = int(text) if text.strip().lstrip("+-").isdigit() else None
    if value is None or value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return value


def _above_zero(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"expected a number above 0, got {text!r}")
    return value


def add_model_arguments(parser: argparse.ArgumentParser, K_type: Any = int, K_help: str = "FusionNets per stage (paper: 10 on RG, 6 on Fis-V)") -> None:
    """Model size and the variant flags of the paper's tables."""
    g = parser.add_argument_group("model")
    g.add_argument("--preset", choices=sorted(PRESETS), default="rg",
                   help="the paper's setting: model K, heads and scale, training recipe (default rg; *_feats2: the second feature set, Table III)")
    g.add_argument("--d", type=int, help="feature width (paper: 256)")
    g.add_argument("--K", type=K_type, help=K_help)
    g.add_argument("--set", dest="model_set", action="append", type=_key_value, default=[], metavar="KEY=VALUE",
                   help="any other model config field, e.g. --set attn_dropout=0.2")


def add_recipe_arguments(parser: argparse.ArgumentParser) -> None:
    """Training recipe overrides, selection, seed, device."""
    g = parser.add_argument_group("training")
    g.add_argument("--epochs1", type=int, help="phase-1 epochs (paper: 250)")
    g.add_argument("--epochs2", type=int, help="phase-2 / one-stage epochs (paper: per action, 300-500)")
    g.add_argument("--epochs-scale", type=_above_zero, help="multiply every epoch count of the preset by this factor")
    g.add_argument("--batch-size", type=int, help="batch size of both phases (paper: 32)")
    g.add_argument("--crop", type=int, help="training crop in segments (70 rg, 130 fisv)")
    g.add_argument("--p1", action="append", type=_key_value, default=[], metavar="KEY=VALUE",
                   help="phase-1 recipe field: optimizer, lr, weight_decay, momentum, epochs, batch_size, clip, schedule, warmup_epochs, min_lr")
    g.add_argument("--p2", action="append", type=_key_value, default=[], metavar="KEY=VALUE",
                   help="phase-2 / one-stage recipe field (same keys, plus regressor_lr_scale)")
    g.add_argument("--val-fraction", type=float, help="validation share of each action's training routines (default 0.15)")
    g.add_argument("--select-on-test", action="store_true",
                   help="select the epoch on the TEST set like the released code (optimistic; labelled in every output)")
    g.add_argument("--no-normalize", action="store_true",
                   help="train on the raw features (default: standardised, folded into the saved first layers)")
    g.add_argument("--eval-every", type=int, help="evaluate the selection split every N epochs (default 1)")
    g.add_argument("--save-every", type=int, help="save the resumable state every N epochs (default 5)")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:1 ...")
    g.add_argument("--amp", action="store_true", help="bfloat16 mixed precision (CUDA only; ignored on CPU)")
    g.add_argument("--threads", type=at_least_one, help="CPU threads for torch (1 is often fastest for small models on a busy machine)")
    g.add_argument("--quiet", action="store_true", help="no progress bars")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("train", help="train PAMFN, a baseline or an ablation (two-phase protocol)",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="dataset folder in our format (see pamfn import-official)")
    parser.add_argument("--action", action="append", required=True, help="action to train (repeatable), or 'all'")
    parser.add_argument("--out", type=Path, required=True, help="run folder")
    parser.add_argument("--phase", choices=("both", "1", "2"), default="both",
                        help="1: branches only, 2: mixed branch on --branches, both (default)")
    parser.add_argument("--branches", type=Path,
                        help="for --phase 2: a phase-1 run folder (single action or --action all), or its branches/ folder")
    parser.add_argument("--task", choices=TASKS, default="score",
                        help="score: action quality assessment (default); highlight: per-segment highlight detection (Section IV-G)")
    from pamfn.highlight.cli import add_highlight_arguments

    add_highlight_arguments(parser)
    parser.add_argument("--pool-actions", action="store_true",
                        help=f"train ONE model on the union of the actions' routines into OUT/{POOLED}; index.json maps every action to it")
    add_model_arguments(parser)
    g = parser.add_argument_group("variant (Tables IV-VIII)")
    g.add_argument("--modalities", help="subset of VFA, e.g. VA (default VFA)")
    for name, choices in VARIANTS.items():
        g.add_argument(f"--{name.replace('_', '-')}", type=type(choices[0]), choices=choices, help=VARIANT_HELP[name])
    add_recipe_arguments(parser)
    parser.set_defaults(func=run, resume_hint=": the same command again resumes from the last saved epoch")


def branches_for(given: Path | None, action: str) -> str | None:
    """The phase-1 branches of ``action``: ``given`` may be a branches folder (with V/, F/, A/),
    a phase-1 run folder (with branches/), or a multi-action run folder (with <action>/branches/)."""
    if given is None:
        return None
    for candidate in (given / action / "branches", given / "branches"):
        if candidate.is_dir():
            return str(candidate)
    return str(given)


def run_groups(actions: list[str], pool: bool) -> list[tuple[str, tuple[str, ...]]]:
    """(run name, pooled actions) per run: one run per action, or one pooled run of all."""
    if pool:
        return [("+".join(actions), tuple(actions))]
    return [(action, ()) for action in actions]


def set_threads(args: argparse.Namespace) -> None:
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)


def run(args: argparse.Namespace) -> int:
    if args.task == "highlight":
        from pamfn.highlight.cli import train_highlight

        set_threads(args)
        train_highlight(args)
        return 0
    from pamfn.data import load_dataset
    from pamfn.metrics import fisher_z_mean, fmt_rho
    from pamfn.serving import write_index
    from pamfn.train import Run, RunConfig
    from pamfn.train.options import chosen_actions, model_config, train_recipe

    set_threads(args)
    data = load_dataset(args.data)
    actions = chosen_actions(args.action, data)
    variant = {name: getattr(args, name) for name in VARIANTS if getattr(args, name) is not None}
    if args.modalities:
        variant["modalities"] = tuple(args.modalities.upper())
    cfg = model_config(args, data, variant)
    recipe = train_recipe(args)
    several = len(actions) > 1 or "all" in args.action
    results, index = {}, {}
    for name, pool in run_groups(actions, args.pool_actions):
        out = args.out / (POOLED if pool else name) if several or pool else args.out
        config = RunConfig(str(args.data), name, cfg, recipe, args.phase, branches_for(args.branches, POOLED if pool else name), args.seed, pool)
        training = Run(data, config, out, device=args.device, amp=args.amp, progress=not args.quiet)
        finished = training.finished
        summary = training.run()
        if finished:
            print(f"[{name}] {out} holds a finished run: not trained again; its results follow", file=sys.stderr)
        results[name] = summary
        if summary["final"] is not None:
            index.update({a: f"{out.relative_to(args.out).as_posix()}/checkpoint" for a in pool or (name,)})
        print(_report(name, summary))
    if index and (several or args.pool_actions):
        write_index(args.out, index)
    if several and index and not args.pool_actions:
        rhos = [results[a]["final"]["test_selected"]["rho"] for a in index]
        print(f"avg (Fisher z) test rho of the selected epochs: {fmt_rho(fisher_z_mean(rhos))}")
    if recipe.select_on_test:
        print("NOTE: epochs were selected on the TEST set (--select-on-test); the test figures are optimistic.")
    return 0


def _report(action: str, summary: dict[str, Any]) -> str:
    from pamfn.metrics import fmt_rho

    lines = [f"[{action}] {summary['selection']}"]
    for name, st in summary["stages"].items():
        sel, last = st["test_selected"], st["test_last"]
        lines.append(
            f"  {name:<10} selected epoch {st['selected_epoch']}/{st['epochs']}: test rho {fmt_rho(sel['rho'])} mse {sel['mse']:.3f}"
            f" | last epoch: test rho {fmt_rho(last['rho'])} mse {last['mse']:.3f}"
        )
    return "\n".join(lines)
