"""bench/bench_fault_probe.py finds faults planted in the features of their windows,
learning on the training split and scoring on the test split."""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from pamfn.routine import RoutineFeatures
from pamfn.synth.random_dataset import make_dataset

ROOT = Path(__file__).resolve().parents[1]
KINDS = ("loss_of_balance", "drop", "tremor")


def test_the_probe_finds_faults_planted_in_the_picture(tmp_path):
    data, _ = make_dataset(tmp_path / "d", per_action=6, segments=40, media=False)
    labels = pd.read_csv(data / "labels.csv")
    events = []
    for n, r in enumerate(labels.itertuples()):
        feats = RoutineFeatures.load(data / r.features)
        for k, kind in enumerate(KINDS):  # windows 1, 3, 5 hold a fault, shifted in V's column k
            w = 1 + 2 * k + (n % 2) * 2 if k < 2 else 5 + (n % 2)
            feats.features["V"][4 * w : 4 * w + 4, k] += 6.0
            events.append((r.routine_id, kind, 4 * w * 1.28 + 0.5, 4 * w * 1.28 + 1.0, ""))
        feats.save(data / r.features)
    pd.DataFrame(events, columns=["routine_id", "kind", "start_s", "end_s", "detail"]).to_csv(data / "events.csv", index=False)
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_fault_probe.py"), "--data", str(data)],
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    aucs = {m.group(1): [float(v) for v in m.group(2).split()] for m in re.finditer(r"^(\w+)\s+([\d. ]+?)\s+\(", done.stdout, re.M)}
    assert set(aucs) == set(KINDS), done.stdout
    for kind, (v, f, a, vfa) in aucs.items():
        assert v > 0.9 and vfa > 0.9, (kind, done.stdout)
        assert np.isfinite([f, a]).all()


def test_the_probe_needs_the_training_split(tmp_path):
    data, _ = make_dataset(tmp_path / "d", per_action=2, media=False)
    labels = pd.read_csv(data / "labels.csv")
    for rel in labels.loc[labels["split"] == "train", "features"]:
        (data / rel).unlink()
    pd.DataFrame(columns=["routine_id", "kind", "start_s", "end_s", "detail"]).to_csv(data / "events.csv", index=False)
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_fault_probe.py"), "--data", str(data)],
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode != 0 and "no training features" in done.stderr
