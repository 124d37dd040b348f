"""Speed of a routine's explanation scans on the CPU: the occlusion scan (each 4-segment
window swapped with up to ``draws`` partner windows, both ways, batched) and the support measurement (one
perturbed copy per segment, batched), on the bundled checkpoint.

    python bench/bench_occlusion.py                      # a 90-s routine (70 segments: 18 windows, 17 partners each), 1 thread
    python bench/bench_occlusion.py --threads 2 --repeats 7 --draws 8

Target: a 90-s routine's occlusion scan under 2 s on the CPU. Prints the median and the
spread of ``--repeats`` runs (wall clock) and the machine's load average, since the
machine may be shared.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pamfn.dependence import measure_support
from pamfn.occlusion import DRAWS, WINDOW, occlusion_scan
from pamfn.occlusion import partners as pair_plan
from pamfn.routine import RoutineFeatures
from pamfn.serving import CheckpointSet


def ninety_seconds(features: RoutineFeatures, seconds: float) -> RoutineFeatures:
    """The routine tiled (in time) to ``seconds``: real features, the length of a long routine."""
    T = round(seconds / features.segment_seconds)
    reps = -(-T // features.T)
    return RoutineFeatures({m: np.tile(a, (reps, 1))[:T] for m, a in features.features.items()},
                           routine_id=f"{features.routine_id}@{seconds:g}s")


def timed(fn, repeats: int) -> list[float]:
    fn()  # warm-up
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT / "sample_data")
    parser.add_argument("--checkpoint", type=Path, default=ROOT / "assets" / "checkpoints")
    parser.add_argument("--routine", default="hoop_303")
    parser.add_argument("--seconds", type=float, default=90.0)
    parser.add_argument("--draws", type=int, default=DRAWS)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    features = ninety_seconds(RoutineFeatures.load(args.data / "features" / f"{args.routine}.npz"), args.seconds)
    loaded = CheckpointSet(args.checkpoint).load(args.routine.split("_")[0])
    scale = loaded.config.label_scale
    scan = timed(lambda: occlusion_scan(loaded.model, features, scale, draws=args.draws), args.repeats)
    support = timed(lambda: measure_support(loaded.model, features), args.repeats)
    windows = -(-features.T // WINDOW)
    partners = pair_plan(windows, args.draws, np.random.default_rng(0)).shape[1]
    print(f"routine {features.routine_id}: T = {features.T} segments, {windows} windows x {partners} partners "
          f"= {windows * partners + 1} forward passes; torch threads {args.threads}; load average {os.getloadavg()[0]:.1f}")
    for name, times in (("occlusion scan", scan), ("support measurement", support)):
        print(f"  {name:<20} median {statistics.median(times):.3f} s (min {min(times):.3f}, max {max(times):.3f}, "
              f"{args.repeats} runs)")
    print(f"  occlusion target 2 s: {'met' if statistics.median(scan) < 2.0 else 'NOT met'} "
          f"(ratio {statistics.median(scan) / 2.0:.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
