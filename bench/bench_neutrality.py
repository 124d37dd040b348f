"""Where the occlusion baseline's small bias comes from: the mean impact of the test
split's windows (averaged within each routine, then over routines) with the scan's own
replacements (stretches from anywhere else in the routine) against replacements by an
adjacent stretch only (the window's neighbour, one window before or after: nearly the
same content and position, the same splice). If both give the same bias, it comes from
splicing itself, not from the content brought in. Standard error clustered by routine.

    python bench/bench_neutrality.py [--data sample_data] [--checkpoint assets/checkpoints]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from unittest import mock

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pamfn.occlusion as occlusion
from pamfn.checkpoint import load_checkpoint
from pamfn.data.dataset import read_labels
from pamfn.routine import RoutineFeatures


def adjacent_starts(start: int, window: int, T: int, draws: int, rng: np.random.Generator) -> np.ndarray:
    """The stretch just before or just after the window (whichever exist), ``draws`` times."""
    near = np.array([s for s in (start - window, start + window) if 0 <= s <= T - window] or [max(T - window, 0)])
    return rng.choice(near, size=draws, replace=True)


def mean_impacts(model, routines: list[RoutineFeatures], label_scale: float) -> np.ndarray:
    return np.array([occlusion.occlusion_scan(model, f, label_scale).impact.mean() for f in routines])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(ROOT / "sample_data"))
    ap.add_argument("--checkpoint", default=str(ROOT / "assets" / "checkpoints"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    labels, _ = read_labels(Path(args.data))
    results: dict[str, list[np.ndarray]] = {"own replacements": [], "adjacent only": []}
    for action in sorted(labels.action.unique()):
        ck = load_checkpoint(Path(args.checkpoint) / action)
        rows = labels[(labels.action == action) & (labels.split == "test")]
        routines = [RoutineFeatures.load(Path(args.data) / f) for f in rows["features"]]
        results["own replacements"].append(mean_impacts(ck.model, routines, ck.config.label_scale))
        with mock.patch.object(occlusion, "replacement_starts", adjacent_starts):
            results["adjacent only"].append(mean_impacts(ck.model, routines, ck.config.label_scale))
        cells = ", ".join(f"{k} {v[-1].mean():+.4f}" for k, v in results.items())
        print(f"{action}: {cells}", flush=True)
    for name, parts in results.items():
        per = np.concatenate(parts)
        print(f"{name:16s} mean impact {per.mean():+.4f} ± {per.std(ddof=1) / np.sqrt(len(per)):.4f} points "
              f"({len(per)} routines)")


if __name__ == "__main__":
    main()
