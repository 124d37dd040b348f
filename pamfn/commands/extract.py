"""``pamfn extract``: per-segment features of a video, or of every video in a folder.

    python -m pamfn extract VIDEO -o OUT.npz [--extractor lite|pretrained] [--device cpu|cuda]
    python -m pamfn extract FOLDER -o OUTDIR    # cached by content hash + extractor version
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pamfn.features.registry import DEFAULT_EXTRACTOR, EXTRACTORS

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v", ".mpg", ".mpeg")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "extract",
        help="extract per-segment RGB, optical-flow and audio features from a video or a folder of videos",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("input", type=Path, help="a video file, or a folder of videos (searched recursively)")
    parser.add_argument("-o", "--output", type=Path, required=True,
                        help="features file (.npz) for a video (or a folder to put <name>.npz in); "
                             "output folder for a folder")
    parser.add_argument("--extractor", choices=list(EXTRACTORS), default=DEFAULT_EXTRACTOR,
                        help="; ".join(f"{f.name}: {f.help}" for f in EXTRACTORS.values()))
    parser.add_argument("--device", default="cpu", help="torch device for the pretrained extractor (cpu, cuda); lite runs on CPU")
    parser.add_argument("--force", action="store_true", help="folder mode: re-extract even when cached")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(func=run)


def is_cached(out: Path, sha256: str, versions: dict[str, str]) -> bool:
    """True if ``out`` holds features of content ``sha256`` made by exactly ``versions``."""
    from pamfn.errors import FeatureError
    from pamfn.routine import RoutineFeatures

    if not out.is_file():
        return False
    try:
        feats = RoutineFeatures.load(out)
    except FeatureError:
        return False
    return feats.media_sha256 == sha256 and feats.extractors == versions


def videos_in(folder: Path) -> list[Path]:
    """Video files under ``folder`` (by suffix, recursively, sorted; hidden files skipped)."""
    return sorted(p for p in folder.rglob("*")
                  if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES and not p.name.startswith("."))


def output_paths(videos: list[Path], root: Path, out_dir: Path) -> dict[Path, Path]:
    """``root/a/b.mp4`` -> ``out_dir/a/b.npz``; videos that would share a name keep their
    suffix (``b.mp4.npz``, ``b.mov.npz``)."""
    plain = {v: out_dir / v.relative_to(root).with_suffix(".npz") for v in videos}
    counts: dict[Path, int] = {}
    for out in plain.values():
        counts[out] = counts.get(out, 0) + 1
    return {v: out if counts[out] == 1 else out.with_name(v.name + ".npz") for v, out in plain.items()}


def run(args: argparse.Namespace) -> int:
    from pamfn.errors import MediaError
    from pamfn.features import extract_file

    if args.input.is_dir():
        return run_folder(args)
    if not args.input.exists():
        raise MediaError(f"{args.input}: file not found")
    feats = extract_file(args.input, extractor=args.extractor, device=args.device, progress=not args.quiet)
    out = feats.save(args.output / f"{args.input.stem}.npz" if args.output.is_dir() else args.output)
    flags = f", flags {feats.flags}" if feats.flags else ""
    print(f"wrote {out}: T={feats.T} segments of {feats.segment_seconds:.2f} s, dims {feats.dims}{flags}")
    return 0


def run_folder(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from pamfn.errors import PamfnError
    from pamfn.features import extract_file, extractor_versions
    from pamfn.features.media import file_sha256

    videos = videos_in(args.input)
    if not videos:
        print(f"no videos ({', '.join(VIDEO_SUFFIXES)}) in {args.input}", file=sys.stderr)
        return 1
    versions = extractor_versions(args.extractor)
    outputs = output_paths(videos, args.input, args.output)
    done = cached = 0
    failed: list[str] = []
    for video in tqdm(videos, desc="videos", unit="video", disable=args.quiet):
        out = outputs[video]
        try:
            if not args.force and is_cached(out, file_sha256(video), versions):
                cached += 1
                continue
            feats = extract_file(video, extractor=args.extractor, device=args.device, progress=not args.quiet,
                                 routine_id=video.stem)
            feats.save(out)
            done += 1
        except PamfnError as exc:
            failed.append(str(exc))
    print(f"{done} extracted, {cached} cached, {len(failed)} failed -> {args.output}")
    for line in failed:
        print(f"error: {line}", file=sys.stderr)
    return 1 if failed else 0
