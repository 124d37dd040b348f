"""``pamfn reproduce``: train and test the rows of one of the paper's tables (IV-VIII) on a
dataset, and write it as Markdown and CSV beside the paper's published numbers; or draw
the paper's Fig. 5 (PolicyNet decision frequencies per stage) of a trained checkpoint.

    python -m pamfn reproduce IV --data sample_data --out runs/table4 --d 64 --K 6 --epochs-scale 0.2
    python -m pamfn reproduce IV --data DIR --out OUT --rows V,F,A,wf-VFA,ours-VFA
    python -m pamfn reproduce fig5 --data sample_data --checkpoint assets/checkpoints --out runs/fig5

Fig. 5 is the stochastic policy's expected frequency of each FusionNet count (exact, from
the PolicyNet's probabilities), with sampled decisions as a check and the argmax as a
labelled alternative (fig5.csv), and each stage's policy entropy (fig5_entropy.csv).

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
    parser.add_argument("table", choices=("IV", "V", "VI", "VII", "VIII", "fig5"))
    parser.add_argument("--data", type=Path, required=True, help="dataset folder in our format")
    parser.add_argument("--out", type=Path, required=True, help="output folder (tables and runs/)")
    parser.add_argument("--rows", help="comma-separated row keys (default: every row); see docs/training.md")
    parser.add_argument("--action", action="append", help="only these actions (repeatable; default all)")
    parser.add_argument("--checkpoint", type=Path, help="fig5: the trained checkpoint (or set with index.json) to draw")
    parser.add_argument("--split", default="test", help="fig5: the split whose routines are explained (default test)")
    add_model_arguments(parser)
    add_recipe_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.table == "fig5":
        return run_figure5(args)
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


def run_figure5(args: argparse.Namespace) -> int:
    from pamfn.commands.train import set_threads
    from pamfn.errors import ConfigError
    from pamfn.explain import explain_split
    from pamfn.reproduce import markdown, write_figure5
    from pamfn.train import resolve_device
    from pamfn.viz import research

    if args.checkpoint is None:
        raise ConfigError("reproduce fig5 draws a trained checkpoint: give --checkpoint CKPT")
    set_threads(args)
    explanations = explain_split(args.data, args.checkpoint, split=args.split, actions=args.action,
                                 device=str(resolve_device(args.device)), progress=not args.quiet)
    paths = write_figure5(explanations, args.out, seed=args.seed)
    expected = research.decision_frequencies(explanations, "expected")
    wide = expected.pivot_table(index=["action", "stage"], columns="count", values="frequency")
    wide = wide.rename(columns=lambda k: f"count {k}").reset_index()
    print(f"Fig. 5 on the {args.split} split of {args.data}: expected frequency of each FusionNet count (stochastic policy)")
    print(markdown(wide))
    print(markdown(research.policy_entropy(explanations)))
    print(f"wrote {paths['csv']}, {paths['entropy']} and {paths['html']}")
    return 0
