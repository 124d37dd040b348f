"""The command-line side of highlight detection: ``pamfn train --task highlight``,
``pamfn evaluate --task highlight`` and ``pamfn reproduce IX`` call these."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from pamfn.atomic import write_text_atomic
from pamfn.highlight.metrics import map_table, paper_map_table

PAPER_NOTE = ("Published in the paper (Table IX, YouTube Highlights: six topics, UMT RGB/audio and I3D flow features); "
              "for side-by-side reading, not this data set.")


def add_highlight_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--highlights", type=Path,
                        help="segment-level highlight labels (CSV/Parquet: video, segment, label); default: DATA/highlights.csv, "
                             "else the elements of DATA/events.csv (sample benchmark version 2)")


def recipe_from_args(args: argparse.Namespace) -> Any:
    """The paper's highlight recipe with the command line's overrides (epochs, batch, crop, --p1/--p2)."""
    from dataclasses import replace

    from pamfn.highlight.train import PAPER_RECIPE, HighlightRecipe
    from pamfn.train.options import phase_recipes

    recipe = HighlightRecipe(*phase_recipes(PAPER_RECIPE, PAPER_RECIPE, args))
    top = {"crop": args.crop, "val_fraction": args.val_fraction}
    return replace(recipe, **{k: v for k, v in top.items() if v is not None})


def train_highlight(args: argparse.Namespace, actions: list[str] | None = None, out: Path | None = None) -> dict[str, dict[str, float]]:
    """Train (or reuse, when finished) one highlight detector per action under ``out``; test mAP per action."""
    from pamfn.data import load_dataset
    from pamfn.highlight.labels import default_labels
    from pamfn.highlight.train import HighlightRun
    from pamfn.serving.checkpoints import write_index
    from pamfn.train import resolve_device
    from pamfn.train.options import chosen_actions, model_config

    recipe = recipe_from_args(args)  # a bad option is refused before the data are read
    data = load_dataset(args.data)
    labels, source = default_labels(data, args.highlights)
    print(f"highlight labels: {source}")
    out = out or args.out
    actions = actions or chosen_actions(args.action, data)
    cfg = model_config(args, data)
    results: dict[str, dict[str, float]] = {}
    for action in actions:
        folder = out / action
        done = folder / "summary.json"
        if done.is_file():
            summary = json.loads(done.read_text(encoding="utf-8"))
        else:
            summary = HighlightRun(data, labels, action, cfg, recipe, folder, seed=args.seed,
                                   device=str(resolve_device(args.device))).run()
        results[action] = {name: r["test_map"] for name, r in summary["results"].items()}
        print(f"[{action}] test mAP: " + ", ".join(f"{n} {v:.3f}" for n, v in results[action].items())
              + f" ({summary['seconds']:.0f} s; {summary['selection']})")
    write_index(out, {a: f"{a}/checkpoint" for a in actions})
    return results


def evaluate_highlight_command(args: argparse.Namespace) -> int:
    from pamfn.data import load_dataset
    from pamfn.highlight.evaluate import evaluate_highlight
    from pamfn.highlight.labels import default_labels
    from pamfn.reproduce import markdown
    from pamfn.serving.checkpoints import read_index

    data = load_dataset(args.data)
    labels, source = default_labels(data, args.highlights)
    plan = read_index(args.checkpoint)
    results = {}
    for action, path in plan.items():
        if action is None:
            from pamfn.checkpoint import read_config

            _, meta = read_config(path)
            action = meta.get("action") or (args.action or [None])[0]
            if action is None:
                from pamfn.errors import CheckpointError

                raise CheckpointError(f"{path}: the checkpoint records no action; give --action")
        if args.action and action not in args.action:
            continue
        results[action] = evaluate_highlight(data, labels, path, action, args.split)
    table = map_table(results)
    if args.json:
        print(json.dumps({"labels": source, "split": args.split, "map": results}, indent=2))
        return 0
    print(f"Highlight detection, mean average precision per action and overall ({args.split} split of {args.data}; labels {source}):")
    print(markdown(table))
    return 0


def reproduce_ix(args: argparse.Namespace) -> int:
    """Table IX on a data set: PAMFN and its branches as highlight detectors, beside the paper's rows."""
    from pamfn.reproduce import markdown

    results = train_highlight(args, out=args.out / "runs")
    ours = map_table(results)
    paper = paper_map_table()
    write_text_atomic(args.out / "table_IX.csv", ours.to_csv(index=False))
    write_text_atomic(args.out / "table_IX_paper.csv", paper.to_csv(index=False))
    text = [
        "# Table IX: highlight detection (mean average precision)",
        "",
        ("AP per video (segments ranked by the predicted highlight probability), mean over the test videos of each "
         "action (the paper's topics), Average: the mean over actions. Epochs selected on validation mAP."),
        "",
        markdown(ours),
        "",
        "## " + PAPER_NOTE,
        "",
        markdown(paper),
        "",
    ]
    write_text_atomic(args.out / "table_IX.md", "\n".join(text))
    print(markdown(ours))
    print(f"wrote {args.out / 'table_IX.md'} and .csv (runs under {args.out / 'runs'})")
    return 0
