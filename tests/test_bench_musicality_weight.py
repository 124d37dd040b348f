"""bench/bench_musicality_weight.py fits the flow ridge and the all-modality ridge on totals
whose musicality counts k times, on training routines only: when musicality lives in the
audio, fusion gains with its weight; bad arguments are refused."""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from pamfn.features.lite import LITE_DIMS
from pamfn.routine import RoutineFeatures
from pamfn.synth.random_dataset import make_dataset

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "bench" / "bench_musicality_weight.py"


def data_set(root: Path) -> Path:
    """60 training routines per apparatus: the score's first part is written in the flow
    (every F feature's mean), musicality in the audio (every A feature's mean); no events."""
    data, _ = make_dataset(root, per_action=61, segments=24, media=False, actions=("ball", "hoop"), dims=dict(LITE_DIMS))
    labels = pd.read_csv(data / "labels.csv")
    rng = np.random.default_rng(0)
    flow, music = rng.normal(size=len(labels)), rng.normal(size=len(labels))
    for r, f, m in zip(labels.itertuples(), flow, music):
        feats = RoutineFeatures.load(data / r.features)
        feats.features["F"] += f
        feats.features["A"] += m
        feats.save(data / r.features)
    labels["musicality"] = 0.3 * music  # the panel's score, one part of the total
    labels["score"] = flow + labels["musicality"] + 0.3 * rng.normal(size=len(labels))
    for rel in labels.loc[labels["split"] == "test", "features"]:
        (data / rel).unlink()  # never read
    labels.to_csv(data / "labels.csv", index=False)
    pd.DataFrame(columns=["routine_id", "kind", "start_s", "end_s", "detail"]).to_csv(data / "events.csv", index=False)
    return data


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=600, check=False)


def test_fusion_gains_as_musicality_weighs_more(tmp_path):
    data = data_set(tmp_path / "a")
    done = run(str(data), "--weights", "1", "5", "--size", "40", "--eval", "20", "--draws", "2")
    assert done.returncode == 0, done.stderr[-2000:]
    rows = re.findall(r"^\s+(\S+)\s+([\d.]+)%\s+(-?[\d.]+) ± [\d.]+\s+(-?[\d.]+) ± [\d.]+\s+([+-][\d.]+)$", done.stdout, re.MULTILINE)
    assert [r[0] for r in rows] == ["1", "5"], done.stdout
    (_, share1, f1, _, gain1), (_, share5, f5, _, gain5) = rows
    assert 0 < float(share1) < 25 and 60 < float(share5) < 100  # musicality's part of the target's variance
    assert float(f1) > float(f5)  # the flow explains less of a total that is mostly musicality
    assert float(gain5) > float(gain1) and float(gain5) > 0.2, done.stdout


def test_bad_arguments_are_refused(tmp_path):
    data = data_set(tmp_path / "a")
    done = run(str(data), "--size", "50", "--eval", "20")
    assert done.returncode != 0 and "every apparatus needs --eval 20 + --size 50" in done.stderr
    done = run(str(data), "--weights", "-2")
    assert done.returncode != 0 and "0 or more" in done.stderr
