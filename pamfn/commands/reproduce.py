"""``pamfn reproduce``: train and test the rows of one of the paper's tables (IV-VIII) on a
dataset, and write it as Markdown and CSV beside the paper's published numbers.

    python -m pamfn reproduce IV --data sample_data --out runs/table4 --d 64 --K 6 --epochs-scale 0.2
    python -m pamfn reproduce IV --data DIR --out OUT --rows V,F,A,wf-VFA,ours-VFA

Rows trained in two stages share one phase-1 run per action; finished runs under
OUT/runs are reused and unfinished ones resume, so an interrupted table continues.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    from pamfn.commands.train import add_model_arguments, add_recipe_arguments

    parser = subparsers.add_parser("reproduce", help="train and evaluate the rows of the paper's Table IV, V, VI, VII or VIII",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("table", choices=("IV", "V", "VI", "VII", "VIII"))
    parser.add_argument("--data", type=Path, required=True, help="dataset folder in our format")
    parser.add_argument("--out", type=Path, required=True, help="output folder (tables and runs/)")
    parser.add_argument("--rows", help="comma-separated row keys (default: every row); see docs/training.md")
    parser.add_argument("--action", action="append", help="only these actions (repeatable; default all)")
    add_model_arguments(parser)
    add_recipe_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pamfn.commands.train import chosen_actions, model_config, set_threads, train_recipe
    from pamfn.data import load_dataset
    from pamfn.reproduce import make_run_factory, markdown, reproduce

    set_threads(args)
    data = load_dataset(args.data)
    actions = chosen_actions(args.action or ["all"], data)
    factory = make_run_factory(str(args.data), model_config(args, data), train_recipe(args), args.seed)
    rows = [r.strip() for r in args.rows.split(",")] if args.rows else None
    result = reproduce(args.table, data, args.out, factory, rows=rows, actions=actions,
                       device=args.device, amp=args.amp, progress=not args.quiet)
    print(f"Table {args.table} on {args.data} (test rho, {result.selection}):")
    print(markdown(result.frame("selected")))
    print(f"wrote {args.out / f'table_{args.table}.md'} and .csv")
    return 0
