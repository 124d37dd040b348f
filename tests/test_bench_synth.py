"""bench/bench_synth.py reads a set's training split only, and says so in one line when the
set carries none (as the bundled sample does until `pamfn synth --split train`)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_a_set_without_its_training_split_is_named_not_a_traceback():
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_synth.py"), str(ROOT / "sample_data")],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "no training routine with its features" in done.stderr and "--split train" in done.stderr
