"""bench/bench_learning_curve.py learns on growing subsets of the training routines of
several folders (never their test split) and prints a row per size."""

import re
import subprocess
import sys
from pathlib import Path

import pandas as pd

from pamfn.features.lite import LITE_DIMS
from pamfn.synth.random_dataset import make_dataset

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "bench" / "bench_learning_curve.py"


def data_set(root: Path) -> Path:
    """12 training routines per apparatus, a drop and a loss of balance in each (the test
    routine's features deleted)."""
    data, _ = make_dataset(root, per_action=13, segments=24, media=False, actions=("ball", "hoop"), dims=dict(LITE_DIMS))
    labels = pd.read_csv(data / "labels.csv")
    events = [(r, k, s, s + 1.0, "") for r in labels["routine_id"] for k, s in (("drop", 2.0), ("loss_of_balance", 12.0))]
    pd.DataFrame(events, columns=["routine_id", "kind", "start_s", "end_s", "detail"]).to_csv(data / "events.csv", index=False)
    for rel in labels.loc[labels["split"] == "test", "features"]:
        (data / rel).unlink()  # the learning curve never reads the test split
    return data


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=600, check=False)


def test_a_row_per_size_from_the_pooled_folders(tmp_path):
    first, more = data_set(tmp_path / "a"), data_set(tmp_path / "b")
    done = run(str(first), "--more", str(more), "--sizes", "6", "12", "30", "--eval", "6", "--draws", "2")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "training routines per apparatus: ball 24, hoop 24; held out 6 each" in done.stdout
    rows = re.findall(r"^\s+(\d+)\s+(-?[\d.]+)\s+(-?[\d.]+)\s+([+-][\d.]+)\s+([\d.]+)\s+([\d.]+)$", done.stdout, re.MULTILINE)
    assert [int(r[0]) for r in rows] == [6, 12]  # 30 + 6 exceeds the 24 routines per apparatus: no row


def test_sizes_beyond_the_pool_and_missing_training_features_are_refused(tmp_path):
    data = data_set(tmp_path / "a")
    done = run(str(data), "--sizes", "30", "--eval", "6")
    assert done.returncode != 0 and "every apparatus needs --eval 6 + n routines" in done.stderr
    for rel in pd.read_csv(data / "labels.csv").query("split == 'train'")["features"]:
        (data / rel).unlink()
    done = run(str(data))
    assert done.returncode != 0 and "no training features" in done.stderr
