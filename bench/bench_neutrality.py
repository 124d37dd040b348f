"""Is the occlusion baseline neutral? The scan's swap estimate against the one-sided
estimate, from the same forward passes (``pamfn.occlusion.swap_scores``) on every test
routine.

- one-sided: the full score minus the mean score with a partner's content in the
  window's place (the scan's estimate before 2026-12-04, which drew 16 random stretches
  of the routine; here the swap scan's partners);
- swap (the scan): half the score with the window's content in the partner's place minus
  the score with the partner's content in the window's place. Its mean over a routine's
  windows is zero by construction (each swap counts for both its windows with opposite
  signs); the line checks it, and its share of positive windows says whether impacts
  lean one way.

The one-sided mean is, with the sign turned, what a splice does to the score on average
(both orientations of every pair occur, so the mean score with a partner's content in a
window is the mean over all the re-scored routines).

Each figure is averaged over a routine's windows, then over routines (standard error
over routines, i.e. clustered by routine), in score points; routines of fewer than 3
windows have no scan and are left out. Since the swap's mean is zero by construction, a
last line tests it where it can fail: the swap's mean impact of the routine's first and
last windows (where a copy has one splice point only, so the splice's effect lands on
them) against its interior windows. Beside it: the share of
windows beyond their noise by the scan's rule (Student's t, Bonferroni over the
routine's windows), each estimate with its own per-partner spread.

    python bench/bench_neutrality.py [--data sample_data] [--checkpoint assets/checkpoints]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pamfn.checkpoint import load_checkpoint
from pamfn.data.dataset import read_labels
from pamfn.groundtruth import edge_and_interior
from pamfn.occlusion import DRAWS, MIN_WINDOWS, significance, swap_scores
from pamfn.routine import RoutineFeatures


def routine_figures(swaps) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per window and estimate: the impact and whether it is beyond its noise (the scan's rule)."""
    windows = np.arange(len(swaps.starts))[:, None]
    out = {}
    for name, values in (("one-sided", swaps.full - swaps.scores[windows, swaps.pairs]), ("swap (the scan)", swaps.values())):
        found = significance(values)
        out[name] = (found["impact"], found["significant"])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(ROOT / "sample_data"))
    ap.add_argument("--checkpoint", default=str(ROOT / "assets" / "checkpoints"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    labels, _ = read_labels(Path(args.data))
    per_routine: dict[str, list[float]] = {}
    positive: dict[str, list[bool]] = {}
    beyond: dict[str, list[bool]] = {}
    swap_windows = []
    for action in sorted(labels.action.unique()):
        ck = load_checkpoint(Path(args.checkpoint) / action)
        rows = labels[(labels.action == action) & (labels.split == "test")]
        for rel in tqdm(rows["features"], desc=action, unit="routine"):
            feats = RoutineFeatures.load(Path(args.data) / rel)
            if -(-feats.T // 4) < MIN_WINDOWS:
                continue
            swaps = swap_scores(ck.model, feats, ck.config.label_scale, window=4, draws=DRAWS, seed=0, device="cpu", batch_size=64)
            figures = routine_figures(swaps)
            for name, (impact, significant) in figures.items():
                per_routine.setdefault(name, []).append(float(impact.mean()))
                positive.setdefault(name, []).extend((impact > 0).tolist())
                beyond.setdefault(name, []).extend(significant.tolist())
            swap_windows.append(pd.DataFrame({"routine_id": rel, "start_s": np.asarray(swaps.starts, dtype=float),
                                              "impact": figures["swap (the scan)"][0]}))
    for name, means in per_routine.items():
        m = np.asarray(means)
        print(f"{name:16s} mean {m.mean():+.5f} ± {m.std(ddof=1) / np.sqrt(len(m)):.5f} points over {len(m)} routines; "
              f"{np.mean(positive[name]):.1%} of {len(positive[name])} windows positive, "
              f"{np.mean(beyond[name]):.1%} beyond their noise")
    split = edge_and_interior(pd.concat(swap_windows, ignore_index=True))
    for name, key in (("swap, edge windows", "edge"), ("swap, interior", "interior")):
        print(f"{name:16s} mean {split[f'{key}_mean_impact']:+.5f} ± {split[f'{key}_se']:.5f} points over {len(swap_windows)} routines")


if __name__ == "__main__":
    main()
