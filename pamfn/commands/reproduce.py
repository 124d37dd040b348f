"""``pamfn reproduce``: train and test the rows of one of the paper's tables (IV-VIII), or
the paper's Fig. 6 (PAMFN per number of FusionNets K), on a dataset, with one or more
seeds, and write it as Markdown and CSV with 95% intervals beside the paper's numbers; or
draw the paper's Fig. 5 (PolicyNet decision frequencies per stage) of a trained checkpoint.

    python -m pamfn reproduce IV --data sample_data --out runs/table4 --d 64 --K 6 --epochs-scale 0.2
    python -m pamfn reproduce IV --data DIR --out OUT --rows V,F,A,wf-VFA,ours-VFA --seeds 3
    python -m pamfn reproduce fig6 --data DIR --out OUT --K 1,2,4,6,8,10,12 --seeds 3
    python -m pamfn reproduce IV --data DIR --out OUT --seeds 5 --engine ray [--address ADDR] [--gpus-per-run 1]
    python -m pamfn reproduce fig5 --data sample_data --checkpoint assets/checkpoints --out runs/fig5
    python -m pamfn reproduce IX --data sample_data --out runs/table9   # highlight detection (Section IV-G)

Fig. 5 is the stochastic policy's expected frequency of each FusionNet count (exact, from
the PolicyNet's probabilities), with sampled decisions as a check and the argmax as a
labelled alternative (fig5.csv), and each stage's policy entropy (fig5_entropy.csv).

Rows trained in two stages share one phase-1 run per action and seed; finished runs under
OUT/runs (seed 0) and OUT/runs/seed<s> are reused and unfinished ones resume, so an
interrupted table continues. Intervals: bootstrap over the test routines and the seeds.
With --engine ray every run is a Ray task; a failed run is listed in OUT/failures.csv and
rerunning the command runs only what failed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pamfn.paper_tables import FIG6, TABLES

HIGHLIGHT_TABLE = "IX"
"""Table IX, highlight detection (Section IV-G), trained by :mod:`pamfn.highlight`."""
FIG5 = "fig5"
"""The paper's Fig. 5, PolicyNet decision frequencies, drawn from a trained checkpoint."""


def _int_list(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def register(subparsers: argparse._SubParsersAction) -> None:
    from pamfn.commands.train import add_model_arguments, add_recipe_arguments
    from pamfn.engines import add_engine_arguments

    parser = subparsers.add_parser("reproduce", help="train and evaluate the rows of the paper's Table IV-VIII or Fig. 6, with seeds and intervals",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("table", choices=(*TABLES, HIGHLIGHT_TABLE, FIG5, FIG6))
    parser.add_argument("--data", type=Path, required=True, help="dataset folder in our format")
    parser.add_argument("--out", type=Path, required=True, help="output folder (tables and runs/)")
    parser.add_argument("--rows", help="comma-separated row keys (default: every row); see docs/training.md")
    parser.add_argument("--action", action="append", help="only these actions (repeatable; default all)")
    parser.add_argument("--checkpoint", type=Path, help="fig5: the trained checkpoint (or set with index.json) to draw")
    parser.add_argument("--split", default="test", help="fig5: the split whose routines are explained (default test)")
    from pamfn.highlight.cli import add_highlight_arguments

    add_highlight_arguments(parser)
    parser.add_argument("--seeds", type=int, default=1,
                        help="train every row with N seeds (--seed, --seed+1, ...); cells are means with 95%% intervals")
    add_model_arguments(parser, K_type=_int_list,
                        K_help="FusionNets per stage; for fig6 the list of K to train (default 1,2,4,6,8,10,12)")
    add_recipe_arguments(parser)
    add_engine_arguments(parser)
    parser.add_argument("--cpus-per-run", type=float, default=1.0, help="with --engine ray: CPUs each training run reserves")
    parser.add_argument("--gpus-per-run", type=float, default=0.0, help="with --engine ray: GPUs each training run reserves")
    parser.set_defaults(func=run, resume_hint=": the same command again resumes (finished runs are kept)")


def run(args: argparse.Namespace) -> int:
    if args.table == FIG5:
        return run_figure5(args)
    if args.table == HIGHLIGHT_TABLE:
        return run_table9(args)
    from pamfn.commands.train import set_threads
    from pamfn.data import load_dataset
    from pamfn.errors import ConfigError
    from pamfn.paper_tables import markdown
    from pamfn.reproduce import interval_frame, make_run_factory, reproduce
    from pamfn.train.options import chosen_actions, model_config, train_recipe

    if args.seeds < 1:
        raise ConfigError(f"--seeds must be at least 1, got {args.seeds}")
    Ks = args.K
    if args.table != FIG6:
        if Ks is not None and len(Ks) != 1:
            raise ConfigError(f"--K takes one number for Table {args.table} (a list only for fig6), got {Ks}")
        args.K = Ks[0] if Ks else None
        Ks = None
    else:
        args.K = None
    set_threads(args)
    data = load_dataset(args.data)
    actions = chosen_actions(args.action or ["all"], data)
    factory = make_run_factory(str(args.data), model_config(args, data), train_recipe(args))
    rows = [r.strip() for r in args.rows.split(",")] if args.rows else None
    seeds = [args.seed + i for i in range(args.seeds)]
    result = reproduce(args.table, data, args.out, factory, rows=rows, actions=actions, seeds=seeds, Ks=Ks,
                       device=args.device, amp=args.amp, progress=not args.quiet,
                       execute=None if args.engine == "local" else engine_executor(args, factory))
    name = result.table.name
    print(f"{result.table.title} on {args.data} (test rho, mean over {len(seeds)} seed(s) [95% interval], {result.selection}):")
    print(markdown(interval_frame(result)))
    if name == FIG6:
        from pamfn.report import write_figure
        from pamfn.viz.research import fig6_figure

        paths = write_figure(fig6_figure(result.intervals()), args.out / FIG6)
        print("wrote " + ", ".join(str(p) for p in paths))
    print(f"wrote {args.out / f'table_{name}.md'}, .csv and _intervals.csv")
    return 0


def engine_executor(args: argparse.Namespace, factory: object):
    """Runs the plan's waves as Ray tasks (see pamfn.sweep), with a progress bar over runs."""
    import torch
    from tqdm import tqdm

    from pamfn.engines import Resources, make_engine
    from pamfn.sweep import SweepOptions, run_waves

    def execute(waves: list) -> None:
        engine = make_engine(args.engine, address=args.address)
        options = SweepOptions(threads=torch.get_num_threads(), device=args.device, amp=args.amp)
        try:
            with tqdm(total=sum(map(len, waves)), desc="runs", unit="run", disable=args.quiet) as bar:
                run_waves(waves, engine, str(args.data), factory, options,
                          Resources(args.cpus_per_run, args.gpus_per_run), args.out, on_done=lambda job: bar.update(1))
        finally:
            engine.close()

    return execute


def run_figure5(args: argparse.Namespace) -> int:
    from pamfn.commands.train import set_threads
    from pamfn.errors import ConfigError
    from pamfn.explain import explain_split
    from pamfn.paper_tables import markdown
    from pamfn.reproduce import write_figure5
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


def run_table9(args: argparse.Namespace) -> int:
    from pamfn.commands.train import set_threads
    from pamfn.errors import ConfigError
    from pamfn.highlight.cli import reproduce_ix

    if args.seeds != 1:
        raise ConfigError("Table IX trains one seed (--seed); --seeds is for Tables IV-VIII and fig6")
    Ks = args.K or []
    if len(Ks) > 1:
        raise ConfigError(f"--K takes one number for Table IX, got {Ks}")
    args.K = Ks[0] if Ks else None
    args.action = args.action or ["all"]
    set_threads(args)
    return reproduce_ix(args)
