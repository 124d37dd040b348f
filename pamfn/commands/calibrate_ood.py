"""``pamfn calibrate-ood --data DIR --checkpoint CKPT``: store in a checkpoint the feature
statistics of its training routines and the out-of-distribution threshold calibrated on
them (:mod:`pamfn.ood`), for checkpoints trained before training stored them. Only the
metadata in config.json changes; the weights, hence the scores, stay bit for bit.

The training routines are the ``train`` split of the actions the checkpoint serves (a set's
index.json, else its ``meta["action"]``, e.g. ``ball+clubs+hoop+ribbon``, else --action).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("calibrate-ood", help="store training feature statistics and the OOD threshold in a checkpoint",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="the data set the checkpoint was trained on")
    parser.add_argument("--checkpoint", type=Path, required=True, help="checkpoint folder, or a set with index.json")
    parser.add_argument("--action", help="the action(s) a single checkpoint was trained on, joined by '+'")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from pamfn.atomic import write_text_atomic
    from pamfn.checkpoint import CONFIG, read_config
    from pamfn.data.dataset import load_dataset
    from pamfn.ood import FEW_ROUTINES, META_KEY, TrainingDistribution
    from pamfn.serving import read_index
    from pamfn.serving.checkpoints import served_actions

    data = load_dataset(args.data)
    folders: dict[Path, set[str]] = {}
    for action, folder in read_index(args.checkpoint).items():
        _, meta = read_config(folder)
        named = [action] if action else served_actions(folder, meta, args.action.split("+") if args.action else None)
        folders.setdefault(Path(folder), set()).update(named)
    for folder, actions in folders.items():
        # select: DatasetError for an empty train split, saying how to make it
        train = [s for action in sorted(actions) for s in data.select(action, "train")]
        seen = {s.features: data.features[s.features] for s in train}
        dist = TrainingDistribution.fit(list(seen.values()))
        test = {s.features: data.features[s.features] for s in data.samples if s.split == "test" and s.action in actions}
        inside = np.mean([dist.distance(f) <= dist.threshold for f in test.values()]) if test else float("nan")
        path = folder / CONFIG
        doc = json.loads(path.read_text(encoding="utf-8"))
        doc["meta"][META_KEY] = dist.to_dict()
        write_text_atomic(path, json.dumps(doc, indent=2))
        if len(seen) < FEW_ROUTINES:
            print(f"warning: {folder}: only {len(seen)} training routines; the threshold is little more than their "
                  f"largest distance (calibrate on {FEW_ROUTINES} or more)", file=sys.stderr)
        print(f"{folder}: {len(seen)} training routines of {sorted(actions)} ({dist.segments[0]} to {dist.segments[1]} "
              f"segments), threshold {dist.threshold:.3f}; "
              f"{inside:.1%} of {len(test)} test routines inside")
    return 0
