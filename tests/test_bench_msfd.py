"""bench/bench_msfd.py on a tiny data set: the FusionNet counts as Fig. 5 defines them
(the stochastic policy's expected shares, summing to one), the argmax's shares labelled
beside them, and the within-routine spread of the expected count."""

import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.test_groundtruth import write_events

ROOT = Path(__file__).resolve().parents[1]


def test_the_msfd_bench_reports_the_stochastic_policy_and_its_spread(tmp_path):
    from tests.support.app_data import make_dataset

    data, ckpt = make_dataset(tmp_path / "d", per_action=3, media=False)
    labels = pd.read_csv(data / "labels.csv")
    first = labels.loc[labels["split"] == "test", "routine_id"].iloc[0]
    write_events(data / "events.csv", [(first, "degradation", 0.0, 6.0, "modality=F")])
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_msfd.py"), "--data", str(data), "--checkpoint", str(ckpt)],
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    expected = re.findall(r"expected share of steps \(stochastic policy\): (.+?) \| entropy ([\d.]+) \| expected count "
                          r"([\d.]+), within-routine sd ([\d.]+|nan), range ([\d.]+)", done.stdout)
    argmax = re.findall(r"argmax share of steps \(deterministic mode\): (.+)", done.stdout)
    assert expected and len(expected) == len(argmax), done.stdout
    for shares, entropy, mean_count, sd, rng in expected:
        values = [float(v.split(": ")[1]) for v in shares.split(", ")]
        assert sum(values) == pytest.approx(1.0, abs=0.02)
        assert 0.0 <= float(entropy) <= 1.0 and 1.0 <= float(mean_count) <= len(values)
        assert sd == "nan" or 0.0 <= float(sd) <= float(rng)  # nan: one step per routine (the last stage here)
    assert "DEGRADED modality" in done.stdout
