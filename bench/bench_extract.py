"""Benchmark of the lite extractor: real-time factor with its breakdown, and peak memory.

    python bench/bench_extract.py            # 90-s 1280x720 25-fps video with audio
    python bench/bench_extract.py --long     # also a 10-minute 1920x1080 video: peak RSS

The test videos are generated with the bundled ffmpeg (testsrc2 pattern with moving
content, a beeping sine track) into a temporary folder. Peak memory is the largest sum of
resident memory of the extracting process and its ffmpeg children, sampled every 50 ms.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pamfn.features.testmedia import write_test_video


def _cpu_seconds() -> float:
    """User + system CPU seconds of this process and its finished children (ffmpeg)."""
    t = psutil.Process().cpu_times()
    return t.user + t.system + t.children_user + t.children_system


def realtime(path: Path, seconds: float) -> None:
    from pamfn.features import extract_file

    extract_file(path.with_name("warmup.mp4"), progress=False)  # librosa/numba warm-up, not timed
    timings: dict[str, float] = {}
    cpu0 = _cpu_seconds()
    t0 = time.perf_counter()
    feats = extract_file(path, progress=False, timings=timings)
    wall = time.perf_counter() - t0
    cpu = _cpu_seconds() - cpu0
    decode = timings["decode"] + timings["decode_audio"]
    rest = wall - decode - timings["flow"] - timings["audio"] - timings["appearance"]
    print(f"video: {path.name}, {seconds:.0f} s, T={feats.T}, dims={feats.dims}")
    print(f"wall {wall:.2f} s  real-time factor {wall / seconds:.3f}x (target <= 0.25x); "
          f"CPU time (process + ffmpeg) {cpu:.1f} s = {cpu / seconds:.3f}x of the video, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for key, value in [("decode (waiting for ffmpeg: frames + audio)", decode), ("flow (Farneback + F)", timings["flow"]),
                       ("audio features (A)", timings["audio"]), ("appearance (V)", timings["appearance"]),
                       ("rest (probe, sha256, segmenting, resizing)", rest)]:
        print(f"  {key:<46} {value:7.2f} s  {value / seconds:.3f}x")


def peak_memory(path: Path) -> None:
    code = (f"import sys; sys.path.insert(0, {str(ROOT)!r}); from pamfn.features import extract_file; "
            f"f = extract_file({str(path)!r}, progress=False); print(f.T)")
    t0 = time.perf_counter()
    proc = psutil.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    peak = 0
    while proc.poll() is None:
        try:
            procs = [proc, *proc.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in procs if p.is_running()))
        except psutil.Error:
            pass
        time.sleep(0.05)
    out = proc.stdout.read().strip()
    wall = time.perf_counter() - t0
    print(f"10-min 1080p: T={out}, wall {wall:.1f} s ({wall / 600:.3f}x), "
          f"peak RSS (process + ffmpeg) {peak / 2**20:.0f} MiB (target < 1536 MiB)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--long", action="store_true", help="also measure peak memory on a 10-min 1080p video")
    parser.add_argument("--seconds", type=int, default=90)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        write_test_video(tmp / "warmup.mp4", 3)
        write_test_video(tmp / "bench720.mp4", args.seconds, (1280, 720), preset="veryfast", crf=23)
        print(f"generated the 720p test video in {time.perf_counter() - t0:.1f} s (libx264 veryfast, crf 23)")
        realtime(tmp / "bench720.mp4", args.seconds)
        if args.long:
            t0 = time.perf_counter()
            write_test_video(tmp / "bench1080.mp4", 600, (1920, 1080), preset="ultrafast", crf=35)
            print(f"generated the 10-min 1080p test video in {time.perf_counter() - t0:.1f} s")
            peak_memory(tmp / "bench1080.mp4")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
