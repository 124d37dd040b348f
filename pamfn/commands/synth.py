"""``pamfn synth``: generate the sample benchmark; ``pamfn synth-check``: regenerate part
of a generated set and compare it bit for bit."""

from __future__ import annotations

import argparse

from pamfn.synth.config import GENERATOR_VERSIONS


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "synth",
        help="generate the sample benchmark (routines, lite features, labels, showcase videos)",
        description="Generate routines of a performer with an apparatus set to generated music, their lite "
        "features, labels (docs/sample-benchmark.md) and showcase videos. The bundled sample_data/ is "
        "`pamfn synth sample_data --workers 2`.",
    )
    p.add_argument("out_dir", help="folder to write dataset.json, labels.csv, features/ and media/ into")
    p.add_argument("--version", type=int, choices=tuple(GENERATOR_VERSIONS), default=2,
                   help="generator version: 2 (default, the bundled set) or 1 (the first bundled set)")
    p.add_argument("--split", choices=("all", "train", "test"), default="all",
                   help="generate one split only, with the configuration of the set already in OUT_DIR "
                   "(its dataset.json), merged into its labels and checked against its manifest.json "
                   "(e.g. `pamfn synth sample_data --split train`)")
    p.add_argument("--per-action-train", type=int, default=None, help="training routines per apparatus (v2: 300)")
    p.add_argument("--per-action-test", type=int, default=None, help="test routines per apparatus (v2: 100)")
    p.add_argument("--showcase", type=int, default=None, help="test routines per apparatus with a video (v2: 3)")
    p.add_argument("--seed", type=int, default=None, help="master seed (default: the bundled set's)")
    p.add_argument("--workers", type=int, default=1, help="processes generating routines in parallel")
    p.add_argument("--tiny", action="store_true", help="a few short low-resolution routines (for tests)")
    p.add_argument("--resume", action="store_true", help="keep features and videos already in OUT_DIR")
    p.set_defaults(func=run_synth, resume_hint=": the same command with --resume goes on")

    c = subparsers.add_parser(
        "synth-check",
        help="regenerate routines of a generated set and compare them bit for bit",
        description="Regenerate some routines of a set made by `pamfn synth` (by default its shortest one) "
        "and compare labels and features (and with --media the showcase videos) with the files there, and "
        "labels, events and features with the hashes manifest.json records. A routine manifest.json records "
        "but the set does not hold (a training routine of the bundled set) is checked against the manifest "
        "alone, in seconds, without generating its split.",
    )
    c.add_argument("data_dir", nargs="?", default="sample_data", help="the set to check (default: sample_data)")
    c.add_argument("--routine", action="append", dest="routines", help="routine id to check (repeatable)")
    c.add_argument("--count", type=int, default=1, help="how many of the shortest routines to check (1)")
    c.add_argument("--media", action="store_true", help="also regenerate and compare showcase videos")
    c.set_defaults(func=run_check)


def run_synth(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from pamfn.errors import DatasetError
    from pamfn.synth.config import BY_VERSION, TINY
    from pamfn.synth.dataset import build_dataset

    cfg = replace(TINY, version=args.version) if args.tiny else BY_VERSION[args.version]
    train = cfg.per_action_train if args.per_action_train is None else args.per_action_train
    test = cfg.per_action_test if args.per_action_test is None else args.per_action_test
    showcase = cfg.showcase_per_action if args.showcase is None else args.showcase
    if min(train, test, showcase) < 0 or args.workers < 1:
        raise DatasetError("counts must be >= 0 and --workers >= 1")
    if showcase > test:
        raise DatasetError(f"--showcase {showcase} is more than the {test} test routines per apparatus")
    cfg = cfg.with_counts(train, test, showcase)
    if args.seed is not None:
        cfg = replace(cfg, seed=args.seed)
    if args.split != "all":
        from pathlib import Path

        from pamfn.synth.dataset import config_from_meta, read_meta

        if (Path(args.out_dir) / "dataset.json").is_file():
            cfg = config_from_meta(read_meta(args.out_dir))  # a split of an existing set: its own config
    summary = build_dataset(args.out_dir, cfg, workers=args.workers, resume=args.resume, split=args.split)
    print(
        f"wrote {summary['routines']} routines ({summary['video_seconds'] / 60:.1f} min of video) to "
        f"{summary['out']} in {summary['seconds'] / 60:.1f} min"
    )
    if summary["recorded"]:
        print(f"{len(summary['recorded'])} routine(s) not in manifest.json before were recorded there")
    if summary["rounded"]:
        print(
            f"{len(summary['rounded'])} routine(s) match manifest.json within float rounding only "
            "(this CPU's float kernels differ from the recording machine's; docs/sample-benchmark.md)"
        )
    for line in summary["mismatches"]:
        print(line)
    if summary["mismatches"]:
        print(f"{len(summary['mismatches'])} difference(s) from manifest.json")
        return 1
    return 0


def run_check(args: argparse.Namespace) -> int:
    from pamfn.synth.dataset import check_dataset

    check = check_dataset(args.data_dir, routine_ids=args.routines, count=args.count, media=args.media)
    for line in check.problems:
        print(line)
    if check.problems:
        print(f"{len(check.problems)} difference(s)")
        return 1
    if check.rounded:
        print(f"identical except float rounding in the features of {', '.join(check.rounded)} "
              "(this CPU's float kernels differ from the machine that made the set)")  # fmt: skip
    else:
        print("identical")
    return 0
