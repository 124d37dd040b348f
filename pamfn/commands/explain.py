"""``pamfn explain``: score one routine and print what PAMFN did (the Explanation).

    python -m pamfn explain FEATURES.npz --checkpoint CKPT [--action ball] --json
    python -m pamfn explain --data DIR --checkpoint CKPT [--split test] [--out OUT] [--engine ray]

The batch form (--data) scores and explains every routine (branch scores, explanation,
occlusion scan) into one Parquet table plus one JSON file per routine, by default in the
dashboard's cache, which then shows them instead of recomputing (pamfn.batch_explain);
there a new batch replaces the older ones of the same data set and checkpoint folders.
With --json it prints ``out``, ``explained``, ``failed``, ``failures`` (the failures.csv,
or null), ``removed`` (the older batches removed from the cache) and ``routines`` (the
scores table's rows) instead of its summary line.

The JSON holds the scores (dataset units and normalised), each branch's score, and per
stage the step times in seconds, MSFD modality weights, PolicyNet probabilities, the
FusionNet counts (decisions of --mode) and the CMFD attention; ``policy`` sums up each
stage's decisions as the paper defines them (pamfn.decisions): the stochastic policy's
expected frequency of each count, the argmax frequency as the alternative, the policy
entropy (0 certain, 1 uniform) and the expected FusionNet count. Each stage carries
``support_start_s``/``support_end_s``: the stretch each step depends on (measured by
perturbation, pamfn.dependence).

With ``--occlusion`` the JSON adds ``windows`` (per 4-segment window: ``start_s, end_s,
impact`` in points, ``se``, ``noise``, ``significant``; pamfn.occlusion, which swaps each
window with the routine's other windows) and the coach statements (``insights``), which
speak only of windows beyond their noise.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from pamfn.commands.train import at_least_one, set_threads


def add_routine_arguments(parser: argparse.ArgumentParser, batch: bool = False) -> None:
    """One routine's features and the checkpoint (set) that serves it (explain, report);
    ``batch``: the features file is optional, ``--data`` explains a whole data set."""
    parser.add_argument("features", type=Path, nargs="?" if batch else None, help="a features file (.npz) from pamfn extract")
    parser.add_argument("--checkpoint", type=Path, required=True, help="checkpoint folder, or a set with index.json")
    parser.add_argument("--action", help="which checkpoint of a set to use")
    parser.add_argument("--device", default="cpu")


def files_read(args: argparse.Namespace) -> list[Path]:
    """The files a routine command reads (see :func:`add_routine_arguments`), which its
    output must never replace: the features file, and the checkpoint's files (a set's
    index and every member's files, wherever the index points)."""
    from pamfn.checkpoint import CONFIG, WEIGHTS
    from pamfn.serving.checkpoints import INDEX, read_index

    checkpoint = Path(args.checkpoint)
    files = [checkpoint / INDEX] + [folder / name for folder in read_index(checkpoint).values() for name in (CONFIG, WEIGHTS)]
    return [p for p in (args.features, *files) if p is not None]


def register(subparsers: argparse._SubParsersAction) -> None:
    from pamfn.engines import add_engine_arguments
    from pamfn.explanation import MODES

    parser = subparsers.add_parser("explain", help="explain one routine's score (per-stage MSFD weights, decisions)",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_routine_arguments(parser, batch=True)
    parser.add_argument("--data", type=Path, help="batch form: explain every routine of this data set (with --split, of one split)")
    parser.add_argument("--split", help="batch form: only this split (default: every routine)")
    parser.add_argument("--out", type=Path, help="batch form: output folder (default: the dashboard's cache, "
                                                 "$PAMFN_CACHE, else cache/dashboard in a checkout or ~/.cache/pamfn-studio/dashboard, "
                                                 "in batch-<fingerprint>); "
                                                 "a new or empty folder, or an earlier batch's, outside the data set and "
                                                 "checkpoint folders")
    add_engine_arguments(parser)
    parser.add_argument("--mode", choices=tuple(MODES), default="deterministic",
                        help="deterministic: noiseless PolicyNet argmax (default); sample: Gumbel-sampled decisions")
    parser.add_argument("--seed", type=int, help="seed of --mode sample")
    parser.add_argument("--json", action="store_true",
                        help="print the full Explanation as JSON (batch form: output folder, counts, each routine's scores)")
    parser.add_argument("--occlusion", action="store_true",
                        help="also scan the score impact of each window of the routine (neutral baseline, with noise) and print the "
                             "coach statements; the JSON gets `windows` and `insights`")
    parser.add_argument("--threads", type=at_least_one,
                        help="CPU threads for torch (default: one per core; give 1 when other work shares the cores)")
    parser.add_argument("--draws", type=int,
                        help="--occlusion: at most this many partner windows per window (default: pamfn.occlusion.DRAWS)")
    parser.set_defaults(func=run)


def run_batch(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from pamfn.batch_explain import batch_folder, batch_output, explain_batch, remove_older_batches
    from pamfn.catalog import load_catalog
    from pamfn.engines import make_engine
    from pamfn.serving import CheckpointSet
    from pamfn.serving.cache import cache_dir
    from pamfn.serving.predictions import fingerprint

    catalog = load_catalog(args.data)
    checkpoints = CheckpointSet(args.checkpoint, args.device)
    out = args.out or batch_folder(cache_dir(), fingerprint(catalog, checkpoints))
    batch_output(out, catalog, checkpoints)  # before the engine starts, not after the work
    engine = make_engine(args.engine, address=args.address)
    total = len(catalog.routines) if args.split is None else int((catalog.routines["split"] == args.split).sum())
    try:
        with tqdm(total=total, desc="routines", unit="routine", disable=args.json) as bar:
            table = explain_batch(catalog, checkpoints, out, engine, split=args.split, device=args.device, on_done=bar.update)
    finally:
        engine.close()
    failed = total - len(table)
    failures = out / "failures.csv" if failed else None
    removed = [] if args.out else remove_older_batches(Path(out), catalog, checkpoints)  # the cache keeps the newest
    if args.json:
        print(json.dumps({"out": str(out), "explained": len(table), "failed": failed, "removed": [str(p) for p in removed],
                          "failures": None if failures is None else str(failures),
                          "routines": json.loads(table.to_json(orient="records"))}, indent=2))
    else:
        print(f"{len(table)} routines explained, {failed} failed -> {out}" + (f" (see {failures})" if failures else ""))
        if removed:
            print(f"removed {len(removed)} older batch(es) of this data set and checkpoint from the cache")
    return 1 if failed else 0


@contextlib.contextmanager
def step_bar(what: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr for a long step, shown only on a terminal."""
    from tqdm import tqdm

    with tqdm(desc=what, unit="batch", disable=None, leave=False) as bar:
        def on_batch(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        yield on_batch


def run(args: argparse.Namespace) -> int:
    set_threads(args)
    if args.data is not None:
        return run_batch(args)
    if args.features is None:
        from pamfn.errors import ConfigError

        raise ConfigError("give a features file, or --data DIR for every routine of a data set")
    import numpy as np

    from pamfn import MODALITIES
    from pamfn.decisions import stage_summary
    from pamfn.explain import explain_routine
    from pamfn.insights import coach_insights
    from pamfn.occlusion import DRAWS, MIN_WINDOWS, WINDOW, occlusion_scan, scan_records
    from pamfn.routine import RoutineFeatures
    from pamfn.serving import CheckpointSet
    from pamfn.serving.routines import SCAN_STEP, SUPPORT_STEP

    features = RoutineFeatures.load(args.features)
    loaded, action = CheckpointSet(args.checkpoint, args.device).resolve(args.action)
    with step_bar(SUPPORT_STEP) as on_batch:
        explanation = explain_routine(loaded, features, mode=args.mode, seed=args.seed, action=action, support=True,
                                      on_batch=on_batch)
    policy = [{"stage": st.stage, **stage_summary(st.policy_probs)} for st in explanation.stages if st.policy_probs is not None]
    extra: dict = {"policy": policy}
    found = []
    if args.occlusion:
        with step_bar(SCAN_STEP) as on_batch:
            scan = occlusion_scan(loaded.model, features, loaded.config.label_scale,
                                  draws=DRAWS if args.draws is None else args.draws, device=args.device, on_batch=on_batch)
        if scan.empty:
            print(f"note: {features.routine_id} has {features.T} segments, fewer than {MIN_WINDOWS} windows of {WINDOW} to swap: "
                  "no occlusion scan", file=sys.stderr)
        found = coach_insights(explanation, scan)
        extra["windows"] = scan_records(scan)
        extra["insights"] = [{"kind": i.kind, "start_s": i.start_s, "end_s": i.end_s, "text": i.text} for i in found]
    if args.json:
        print(json.dumps({**explanation.to_dict(), **extra}, indent=2))
        return 0
    branches = ", ".join(f"{m} {s:.2f}" for m, s in explanation.branch_scores.items())
    print(f"{explanation.routine_id} ({action}): score {explanation.score:.2f} / {explanation.label_scale:g} (branches: {branches})")
    for warning in explanation.warnings:
        print(f"  warning: {warning}")
    for st in explanation.stages:
        line = f"  stage {st.stage}: {st.steps} step(s)"
        if st.msfd_weights is not None:
            mean = st.msfd_weights.mean(axis=0)
            line += "; mean MSFD weights " + ", ".join(f"{m} {w:.2f}" for m, w in zip(MODALITIES, mean))
        summary = next((p for p in policy if p["stage"] == st.stage), None)
        if summary is not None:
            line += (f"; expected FusionNet count {summary['expected_count']:.2f} of {explanation.K} "
                     f"(stochastic policy, entropy {summary['entropy']:.2f})")
        if st.fusion_count is not None:
            line += f"; {'argmax' if args.mode == 'deterministic' else 'sampled'} decisions' mean {st.fusion_count.mean():.1f}"
        if st.support_start_s is not None and st.steps > 1:
            widths = st.support_end_s - st.support_start_s
            line += f"; each step depends on about {np.median(widths):.1f} s of the routine"
        print(line)
    if args.occlusion:
        print(f"  windows beyond their noise: {sum(w['significant'] for w in extra['windows'])} of {len(extra['windows'])}")
        for insight in found:
            print(f"  - {insight.text.replace('**', '')}")
    return 0
