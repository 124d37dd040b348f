"""bench/bench_fault_weight.py trains the fault detector on totals whose fault deductions
weigh k times as much, on training routines only: planted drops are found once they weigh
enough, and labels without fault counts are refused."""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from pamfn.routine import RoutineFeatures
from pamfn.synth.random_dataset import make_dataset

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "bench" / "bench_fault_weight.py"


def data_set(root: Path, counts: bool = True) -> Path:
    """80 training routines per apparatus; half hold a drop (feature V0 + 4 in its window,
    one point off the score) and every routine a loss of balance that leaves no trace; the
    total's other part is noise of sd 1."""
    data, _ = make_dataset(root, per_action=81, segments=24, media=False, actions=("ball", "hoop"),
                           dims={"V": 3, "F": 3, "A": 3})
    labels = pd.read_csv(data / "labels.csv")
    rng = np.random.default_rng(0)
    events, drops = [], rng.random(len(labels)) < 0.5
    for r, drop in zip(labels.itertuples(), drops):
        feats = RoutineFeatures.load(data / r.features)
        w = int(rng.integers(0, feats.T // 4))
        if drop:
            feats.features["V"][4 * w : 4 * w + 4, 0] += 4.0
            events.append((r.routine_id, "drop", 4 * w * 1.28 + 0.5, 4 * w * 1.28 + 1.5, ""))
        feats.save(data / r.features)
        events.append((r.routine_id, "loss_of_balance", 1.0, 2.0, ""))
    labels["score"] = rng.normal(size=len(labels)) - 1.0 * drops
    if counts:
        labels = labels.assign(n_drops=drops.astype(int), n_stumbles=1, stumble_severity=0.0)
    for rel in labels.loc[labels["split"] == "test", "features"]:
        (data / rel).unlink()  # never read
    labels.to_csv(data / "labels.csv", index=False)
    pd.DataFrame(events, columns=["routine_id", "kind", "start_s", "end_s", "detail"]).to_csv(data / "events.csv", index=False)
    return data


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=600, check=False)


def test_drops_are_found_once_they_weigh_enough(tmp_path):
    done = run(str(data_set(tmp_path / "a")), "--weights", "0", "1", "5", "--size", "50", "--eval", "30", "--draws", "2")
    assert done.returncode == 0, done.stderr[-2000:]
    rows = {m[0]: m[1:] for m in re.findall(r"^\s+(\S+)\s+([\d.]+%)?\s+([\d.]+) ± ([\d.]+)\s+([\d.nan]+) ± ", done.stdout, re.MULTILINE)}
    assert list(rows) == ["0", "1", "5", "null"], done.stdout
    share = {k: float(v[0].rstrip("%")) for k, v in rows.items() if v[0]}
    assert share["0"] == 0 and share["1"] < share["5"]  # the deductions' part of the target's variance
    drop = {k: float(v[1]) for k, v in rows.items()}
    assert drop["5"] > 0.9 and drop["5"] > drop["null"] + 0.2, done.stdout
    assert drop["0"] < 0.8, done.stdout  # without the deductions the total says nothing of the drops


def test_labels_without_fault_counts_and_sizes_beyond_the_pool_are_refused(tmp_path):
    done = run(str(data_set(tmp_path / "a", counts=False)), "--size", "10", "--eval", "10")
    assert done.returncode != 0 and "the labels have no n_drops, n_stumbles, stumble_severity" in done.stderr
    done = run(str(data_set(tmp_path / "b")), "--size", "80", "--eval", "30")
    assert done.returncode != 0 and "every apparatus needs --eval 30 + --size 80" in done.stderr
    done = run(str(tmp_path / "b" / "data"), "--weights", "-1")
    assert done.returncode != 0 and "0 or more" in done.stderr
