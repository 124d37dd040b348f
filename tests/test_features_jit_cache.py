"""The numba warm-up that parallel extraction runs in the parent before its workers
start (numba issue #10128: workers compiling a cached gufunc at once can leave a
mismatched pair of cache files that make every later process segfault) must compile
everything a real routine needs, so that the workers only read the cache."""

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


def _python(code: str, cache: Path, *args: str) -> str:
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache), "PYTHONPATH": path}
    done = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=300)
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
