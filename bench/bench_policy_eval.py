"""Does the PolicyNet's evaluation mode matter? Spearman's rho on each run's VALIDATION
routines (carved with the seed and share its config.json records) of PAMFN checkpoints
scored with the argmax policy, with one Gumbel-sampled policy, and with the mean over
``--draws`` sampled policies. The test split is never read.

    python bench/bench_policy_eval.py --data DATA --run runs/a2/s0/pamfn [--run ...] [--draws 32]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pamfn.checkpoint import load_checkpoint
from pamfn.data import SplitTensors, load_dataset, validation_split
from pamfn.metrics import fisher_z_mean
from pamfn.serving.scorer import run_model

MODES = ("argmax", "one sample", "sampled mean")


def validation_scores(model, split: SplitTensors, draws: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {m: [] for m in MODES}
    for i in range(len(split)):
        x = split.routine(i)
        generator = torch.Generator().manual_seed(i)
        sampled = [float(run_model(model, x, "sample", generator).score) for _ in range(draws)]
        out["argmax"].append(float(run_model(model, x, "argmax").score))
        out["one sample"].append(sampled[0])
        out["sampled mean"].append(float(np.mean(sampled)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--run", action="append", required=True, help="a phase-2 run folder of --action all")
    ap.add_argument("--draws", type=int, default=32)
    args = ap.parse_args()
    torch.set_num_threads(1)
    data = load_dataset(args.data)
    for run in args.run:
        rhos: dict[str, list[float]] = {m: [] for m in MODES}
        for action in data.actions:
            config = json.loads((Path(run) / action / "config.json").read_text())
            model = load_checkpoint(Path(run) / action / "checkpoint").model
            _, val = validation_split(data.select(action, "train"), config["train"]["val_fraction"], config["seed"])
            split = SplitTensors(data, val, modalities=model.config.modalities)
            for mode, pred in validation_scores(model, split, args.draws).items():
                rhos[mode].append(float(spearmanr(pred, split.scores)[0]))
        for mode, values in rhos.items():
            cells = " ".join(f"{a} {r:.3f}" for a, r in zip(data.actions, values))
            print(f"{run} {mode:12s} {cells}  Fisher-z {fisher_z_mean(values):.3f}", flush=True)


if __name__ == "__main__":
    main()
