"""``pamfn evaluate``: Spearman's rho per action, its Fisher-z mean, and MSE in score units,
of a checkpoint or a checkpoint set on a split of a dataset (full-length routines).

    python -m pamfn evaluate --data sample_data --checkpoint assets/checkpoints [--split test] [--json]
    python -m pamfn evaluate --task highlight --data sample_data --checkpoint assets/highlight   # mAP per action
    python -m pamfn evaluate --data DIR --checkpoint CKPT --engine ray [--address ADDR]   # 32 routines per Ray task
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from pamfn.presets import TASKS


def register(subparsers: argparse._SubParsersAction) -> None:
    from pamfn.engines import add_engine_arguments

    parser = subparsers.add_parser("evaluate", help="evaluate a checkpoint (or a set, one per action) on a dataset split",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="dataset folder in our format")
    parser.add_argument("--checkpoint", type=Path, required=True, help="checkpoint folder, or a folder with index.json")
    parser.add_argument("--split", choices=("train", "test"), default="test")
    parser.add_argument("--action", action="append", help="only these actions (repeatable); needed for a checkpoint without a recorded action")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda, auto")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--predictions", action="store_true", help="with --json: include every routine's predicted and judged score")
    parser.add_argument("--task", choices=TASKS, default="score",
                        help="highlight: mean average precision of a highlight detector and of its branches")
    from pamfn.highlight.cli import add_highlight_arguments

    add_highlight_arguments(parser)
    add_engine_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.task == "highlight":
        from pamfn.highlight.cli import evaluate_highlight_command

        return evaluate_highlight_command(args)
    from pamfn.data import load_dataset
    from pamfn.engines import make_engine
    from pamfn.evaluate import evaluate_checkpoints
    from pamfn.metrics import fmt_rho
    from pamfn.train import resolve_device

    data = load_dataset(args.data)
    engine = None if args.engine == "local" else make_engine(args.engine, address=args.address)
    try:
        result = evaluate_checkpoints(data, args.checkpoint, split=args.split, actions=args.action,
                                      device=resolve_device(args.device), engine=engine, progress=True)
    finally:
        if engine is not None:
            engine.close()
    if args.json:
        print(json.dumps(result.to_dict(with_predictions=args.predictions), indent=2))
        return 0
    print(f"{'action':<12} {'n':>4} {'rho':>7} {'mse':>9} {'OOD':>5} {'clipped':>8}")
    for action, r in result.actions.items():
        print(f"{action:<12} {len(r.routine_ids):>4} {fmt_rho(r.rho):>7} {r.mse:>9.3f} {r.out_of_distribution.sum():>5} "
              f"{r.clipped.sum():>8}")
    print(f"{'avg (Fisher z)':<17} {fmt_rho(result.avg_rho):>7}   ({args.split} split of {args.data})")
    for action, r in result.actions.items():
        if r.ood_threshold is None:
            print(f"{action}: the checkpoint has no training feature statistics (pamfn calibrate-ood): distances unknown")
        for rid, far, clip, unlike in zip(r.routine_ids, r.out_of_distribution, r.clipped, r.unlike_length):
            if unlike:
                print(f"{action} {rid}: this routine is {unlike}er than the checkpoint's training routines; "
                      "its score was never checked at this length")
            if far:
                print(f"{action} {rid}: this routine is unlike anything this checkpoint was trained on; its score is not meaningful")
            if clip:
                print(f"{action} {rid}: the prediction is clipped to an end of the score scale")
    return 0
