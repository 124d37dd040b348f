"""bench/bench_neutrality.py on a tiny data set: the swap estimate sums to zero per
routine; the one-sided estimate is reported beside it."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_neutrality_bench_reports_both_estimates(tmp_path):
    from tests.support.app_data import make_dataset

    data, ckpt = make_dataset(tmp_path / "d", per_action=3, media=False)
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_neutrality.py"), "--data", str(data), "--checkpoint", str(ckpt)],
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = {m.group(1).strip(): float(m.group(2)) for m in re.finditer(r"^(.+?) mean ([+-][\d.]+) ±", done.stdout, re.M)}
    assert set(lines) == {"one-sided", "swap (the scan)", "swap, edge windows", "swap, interior"}, done.stdout
    assert abs(lines["swap (the scan)"]) < 1e-4
