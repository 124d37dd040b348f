"""Benchmark of scaling out: the local engine against Ray with 2 workers, in one run.

    python bench/bench_scale.py                  # 8 generated 20-s videos, the bundled test split
    python bench/bench_scale.py --videos 16 --seconds 30

Measures, on this machine:

- Ray start: seconds from ``ray.init`` (local, 2 CPUs, no dashboard) until a first task
  has run, and the shutdown;
- extraction: videos per minute of ``extract_videos`` (the code path of ``pamfn extract
  FOLDER``) with the lite extractor, local engine vs Ray (one task per video, 2 at a
  time), Ray's start not included; the feature files of both are compared bit for bit;
- scoring: routines scored per second by ``evaluate_checkpoints`` (the code path of
  ``pamfn evaluate``) on the bundled data set's test split with the bundled checkpoints,
  local vs Ray (32 routines per task), checked to give the same predictions.

The machine's load (1-min average) and the other busy processes are printed, since
other jobs on a shared machine change every figure.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

from pamfn.engines import Engine, make_engine
from pamfn.features.batch import ExtractJob, extract_videos
from pamfn.features.pipeline import extractor_versions
from pamfn.features.testmedia import write_test_video


def others() -> str:
    """The busiest other processes now (CPU % over 0.5 s)."""
    procs = [p for p in psutil.process_iter(["pid", "name", "cmdline"]) if p.pid != os.getpid()]
    for p in procs:
        try:
            p.cpu_percent(None)
        except psutil.Error:
            pass
    time.sleep(0.5)
    busy = []
    for p in procs:
        try:
            cpu = p.cpu_percent(None)
        except psutil.Error:
            continue
        if cpu >= 10:
            busy.append((cpu, " ".join(p.info["cmdline"] or [p.info["name"]])[:90]))
    return "; ".join(f"{cpu:.0f}% {cmd}" for cpu, cmd in sorted(busy, reverse=True)[:5]) or "none"


def extract_rate(videos: list[Path], out: Path, engine: Engine) -> float:
    versions = extractor_versions("lite")
    jobs = [ExtractJob(str(v), str(out / f"{v.stem}.npz"), "lite", versions) for v in videos]
    t0 = time.perf_counter()
    report = extract_videos(jobs, engine)
    seconds = time.perf_counter() - t0
    assert not report.failures and len(report.extracted) == len(videos), report
    return len(videos) / seconds * 60


def score_rate(engine: Engine | None) -> tuple[float, dict]:
    from pamfn.data import load_dataset
    from pamfn.evaluate import evaluate_checkpoints

    data = load_dataset(ROOT / "sample_data")
    t0 = time.perf_counter()
    result = evaluate_checkpoints(data, ROOT / "assets" / "checkpoints", split="test", engine=engine)
    seconds = time.perf_counter() - t0
    n = sum(len(r.routine_ids) for r in result.actions.values())
    return n / seconds, {a: r.predicted for a, r in result.actions.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each generated video")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}; busy others: {others()}")
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "videos"
        src.mkdir()
        videos = [write_test_video(src / f"v{i:02d}.mp4", args.seconds, (640, 360)) for i in range(args.videos)]
        warm = write_test_video(Path(tmp) / "warm.mp4", 2)
        extract_rate([warm], Path(tmp) / "warm", make_engine("local"))  # librosa/numba warm-up, not timed

        local_vpm = extract_rate(videos, Path(tmp) / "local", make_engine("local"))
        local_rps, local_pred = score_rate(None)

        t0 = time.perf_counter()
        ray_engine = make_engine("ray", num_cpus=2)
        list(ray_engine.map(abs, [-1]))
        start_s = time.perf_counter() - t0
        list(ray_engine.map(abs, [-1, -2]))  # second worker up
        ray_vpm = extract_rate(videos, Path(tmp) / "ray", ray_engine)
        ray_rps, ray_pred = score_rate(ray_engine)
        t0 = time.perf_counter()
        ray_engine.close()
        stop_s = time.perf_counter() - t0

        same = all((Path(tmp) / "local" / f"{v.stem}.npz").read_bytes() == (Path(tmp) / "ray" / f"{v.stem}.npz").read_bytes()
                   for v in videos)
        same_scores = all(np.array_equal(local_pred[a], ray_pred[a]) for a in local_pred)
    print(f"Ray start (local, 2 CPUs, first task done): {start_s:.1f} s; shutdown {stop_s:.1f} s")
    print(f"extraction, {args.videos} videos of {args.seconds:g} s 640x360 (lite): "
          f"local {local_vpm:.1f} videos/min, Ray 2 workers {ray_vpm:.1f} videos/min "
          f"(x{ray_vpm / local_vpm:.2f}); files identical: {same}")
    print(f"scoring, bundled test split (evaluate): local {local_rps:.1f} routines/s, Ray 2 workers {ray_rps:.1f} routines/s "
          f"(x{ray_rps / local_rps:.2f}); predictions identical: {same_scores}")
    print(f"load at the end {os.getloadavg()[0]:.2f}; busy others: {others()}")


if __name__ == "__main__":
    main()
