"""The numba warm-up that every process runs, one at a time, before its first audio
(numba issue #10128: processes compiling a cached gufunc at once can leave a mismatched
pair of cache files that make every later process segfault) must compile everything a
real routine needs, so that the others only read the cache."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REAL_AUDIO = """
import sys
from pamfn.features.lite import AUDIO_RATE, audio_features
from pamfn.features.media import decode_audio
audio = decode_audio(sys.argv[1], AUDIO_RATE)
print(audio_features(audio, int(len(audio) / AUDIO_RATE / 1.28)).shape)
"""


def _env(cache: Path) -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "NUMBA_CACHE_DIR": str(cache), "XDG_CACHE_HOME": str(cache / "user"), "PYTHONPATH": path}


def _python(code: str, cache: Path, *args: str) -> str:
    done = subprocess.run([sys.executable, "-c", code, *args], env=_env(cache), capture_output=True, text=True, check=False,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _cache_files(cache: Path) -> set[str]:
    return {str(p.relative_to(cache)) for p in cache.rglob("*.nb[ci]")}


@pytest.mark.slow
def test_warm_up_compiles_everything_a_real_routine_needs(tmp_path):
    _python("from pamfn.features.lite import warm_jit_cache; warm_jit_cache()", tmp_path)
    warmed = _cache_files(tmp_path)
    assert any("beat" in f for f in warmed), warmed  # the beat tracker's gufuncs were compiled
    # a real routine's soundtrack then compiles nothing new: parallel workers only read
    _python(REAL_AUDIO, tmp_path, str(ROOT / "sample_data" / "media" / "ball_309.mp4"))
    assert _cache_files(tmp_path) == warmed


@pytest.mark.slow
def test_two_processes_extracting_audio_at_once_leave_a_cache_that_loads(tmp_path):
    """Two commands started together on a fresh cache (without the lock: a segfault of one
    of them and of every later process, 4 times in 4 on a 2-core machine)."""
    ball = str(ROOT / "sample_data" / "media" / "ball_309.mp4")
    both = [subprocess.Popen([sys.executable, "-c", REAL_AUDIO, ball], env=_env(tmp_path), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for process in both:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err[-2000:]
    assert _python(REAL_AUDIO, tmp_path, ball) == out  # a later process loads the cache they left
