"""``pamfn extract``: per-segment features of a video, or of every video in a folder.

    python -m pamfn extract VIDEO -o OUT.npz [--extractor lite|pretrained] [--device cpu|cuda]
    python -m pamfn extract FOLDER -o OUTDIR    # cached by content hash + extractor version
    python -m pamfn extract FOLDER -o OUTDIR --engine ray [--address ADDR]   # one Ray task per video

A folder run goes on past bad videos and lists them in OUTDIR/failures.csv (file, reason).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from pamfn.features.registry import DEFAULT_EXTRACTOR, EXTRACTORS

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v", ".mpg", ".mpeg")


def register(subparsers: argparse._SubParsersAction) -> None:
    from pamfn.engines import add_engine_arguments

    parser = subparsers.add_parser(
        "extract",
        help="extract per-segment RGB, optical-flow and audio features from a video or a folder of videos",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("input", type=Path, help="a video file, or a folder of videos (searched recursively)")
    parser.add_argument("-o", "--output", required=True,
                        help="features file (.npz) for a video (or a folder to put <name>.npz in); "
                             "output folder for a folder")
    parser.add_argument("--extractor", choices=list(EXTRACTORS), default=DEFAULT_EXTRACTOR,
                        help="; ".join(f"{f.name}: {f.help}" for f in EXTRACTORS.values()))
    parser.add_argument("--device", default="cpu", help="torch device for the pretrained extractor (cpu, cuda); lite runs on CPU")
    parser.add_argument("--force", action="store_true", help="folder mode: re-extract even when cached")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    add_engine_arguments(parser)
    parser.add_argument("--gpu-workers", type=int, default=1,
                        help="folder mode with --device cuda: extractor workers that load the weights once each")
    parser.add_argument("--gpus-per-worker", type=float, default=1.0, help="GPUs each extractor worker reserves (Ray num_gpus)")
    parser.set_defaults(func=run)


def videos_in(folder: Path) -> list[Path]:
    """Video files under ``folder`` (by suffix, recursively, sorted; hidden files skipped)."""
    return sorted(p for p in folder.rglob("*")
                  if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES and not p.name.startswith("."))


def output_paths(videos: list[Path], root: Path, out_dir: Path) -> dict[Path, Path]:
    """``root/a/b.mp4`` -> ``out_dir/a/b.npz``; videos that would share a name keep their
    suffix (``b.mp4.npz``, ``b.mov.npz``)."""
    shared = shared_names(videos, root, out_dir)
    return {v: out.with_name(v.name + ".npz") if out in shared else out for v, out in _plain(videos, root, out_dir).items()}


def _plain(videos: list[Path], root: Path, out_dir: Path) -> dict[Path, Path]:
    return {v: out_dir / v.relative_to(root).with_suffix(".npz") for v in videos}


def shared_names(videos: list[Path], root: Path, out_dir: Path) -> dict[Path, list[Path]]:
    """The plain outputs (``b.npz``) that several videos would share, with those videos."""
    groups: dict[Path, list[Path]] = {}
    for v, out in _plain(videos, root, out_dir).items():
        groups.setdefault(out, []).append(v)
    return {out: vs for out, vs in groups.items() if len(vs) > 1}


def remove_superseded(videos: list[Path], root: Path, out_dir: Path, done: set[Path]) -> list[tuple[Path, Path]]:
    """Remove an earlier run's plain output (``b.npz``) of a video whose name is now shared
    and whose features were written to its suffixed name this run (``b.mp4.npz``), so a
    folder never holds one video's features twice. Returns (removed file, where they are)."""
    from pamfn.errors import FeatureError
    from pamfn.features.media import file_sha256
    from pamfn.routine import RoutineFeatures

    removed = []
    suffixed = output_paths(videos, root, out_dir)
    for plain, group in shared_names(videos, root, out_dir).items():
        if not plain.is_file():
            continue
        try:
            sha = RoutineFeatures.load(plain).media_sha256
        except FeatureError:
            continue  # not features of ours: left alone
        same = [v for v in group if v in done and file_sha256(v) == sha]
        if same:
            plain.unlink()
            removed.append((plain, suffixed[same[0]]))
    return removed


def run(args: argparse.Namespace) -> int:
    from pamfn.atomic import refuse_overwriting_inputs, writable_target
    from pamfn.errors import MediaError
    from pamfn.features import extract_file

    if args.input.is_dir():
        return run_folder(args, Path(args.output))
    if not args.input.exists():
        raise MediaError(f"{args.input}: file not found")
    output = Path(args.output)  # a str until here: its trailing "/" says "-o new/" names a folder to make
    out = output / f"{args.input.stem}.npz" if output.is_dir() or args.output.endswith(("/", os.sep)) else output
    refuse_overwriting_inputs(out, args.input)  # before the work, not after it
    writable_target(out)
    feats = extract_file(args.input, extractor=args.extractor, device=args.device, progress=not args.quiet)
    out = feats.save(out)
    flags = f", flags {feats.flags}" if feats.flags else ""
    print(f"wrote {out}: T={feats.T} segments of {feats.segment_seconds:.2f} s, dims {feats.dims}{flags}")
    return 0


def run_folder(args: argparse.Namespace, output: Path) -> int:
    from tqdm import tqdm

    from pamfn.atomic import writable_folder
    from pamfn.engines import make_engine, write_failures
    from pamfn.errors import MediaError
    from pamfn.features import extractor_versions
    from pamfn.features.batch import ExtractJob, extract_videos

    writable_folder(output, "the features of a folder of videos")  # before the work, not after it
    videos = videos_in(args.input)
    if not videos:
        raise MediaError(f"{args.input}: no videos ({', '.join(VIDEO_SUFFIXES)}) in the folder")
    versions = extractor_versions(args.extractor)
    jobs = [ExtractJob(str(v), str(out), args.extractor, versions, args.force)
            for v, out in output_paths(videos, args.input, output).items()]
    engine = make_engine(args.engine, address=args.address)
    try:
        with tqdm(total=len(jobs), desc="videos", unit="video", disable=args.quiet) as bar:
            report = extract_videos(jobs, engine, device=args.device, gpu_workers=args.gpu_workers,
                                    gpus_per_worker=args.gpus_per_worker, on_done=lambda: bar.update(1),
                                    progress=not args.quiet)
    finally:
        engine.close()
    table = write_failures(output, report.failures)
    print(f"{len(report.extracted)} extracted, {len(report.cached)} cached, {len(report.failures)} failed -> {output}")
    done = {Path(v) for v in report.extracted + report.cached}
    for stale, now in remove_superseded(videos, args.input, output, done):
        print(f"removed {stale}: an earlier run's features of a video now written to {now.name} (its name is shared)")
    for video, reason in report.failures:
        print(f"error: {video}: {reason}", file=sys.stderr)
    if table:
        print(f"failures listed in {table}", file=sys.stderr)
    return 1 if report.failures else 0
