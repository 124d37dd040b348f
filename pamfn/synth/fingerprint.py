"""Features fingerprints: how a regenerated routine is checked on a CPU unlike the one that
recorded it.

numpy, OpenBLAS and OpenCV choose their float kernels per CPU (AVX2, AVX-512), so float32
results can differ in their last bits between machines, and after the float16 cast a few
values in a thousand move by one float16 step: the features' sha256 then differs although
nothing about the routine changed. A fingerprint (per array: its shape, its L1 norm and
:data:`PROJECTIONS` fixed pseudo-random +-1 projections) moves by that rounding only,
orders of magnitude less than any change of the generator or the extractor does
(docs/sample-benchmark.md gives the measured margins).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

PROJECTIONS = 4
TOLERANCE = 2e-4
"""Largest change of a projection, relative to the array's L1 norm, that counts as rounding."""
_MIX = (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB))


def _signs(n: int, k: int) -> np.ndarray:
    """The k-th fixed +-1 pattern of length n (an integer hash of the position: no RNG whose
    stream could change between library versions)."""
    with np.errstate(over="ignore"):
        h = np.arange(n, dtype=np.uint64) * _MIX[0] + np.uint64(k + 1) * _MIX[1]
        h ^= h >> np.uint64(31)
        h *= _MIX[2]
    return np.where((h >> np.uint64(40)) & np.uint64(1), 1.0, -1.0)


def fingerprint(arrays: Mapping[str, np.ndarray]) -> dict[str, dict[str, Any]]:
    """Per float array: ``shape``, ``l1`` and ``proj`` (rounded to 9 significant digits)."""
    out: dict[str, dict[str, Any]] = {}
    for name in sorted(arrays):
        a = np.asarray(arrays[name])
        if a.dtype.kind != "f":
            continue
        x = a.astype(np.float64).ravel()
        proj = [float(np.dot(_signs(x.size, k), x)) for k in range(PROJECTIONS)]
        out[name] = {"shape": list(a.shape), "l1": float(f"{np.abs(x).sum():.9g}"),
                     "proj": [float(f"{p:.9g}") for p in proj]}  # fmt: skip
    return out


def agree(a: Mapping[str, Mapping[str, Any]], b: Mapping[str, Mapping[str, Any]]) -> bool:
    """Whether two fingerprints differ by no more than float rounding."""
    if a.keys() != b.keys():
        return False
    for name in a:
        fa, fb = a[name], b[name]
        if list(fa["shape"]) != list(fb["shape"]):
            return False
        scale = TOLERANCE * max(fa["l1"], fb["l1"], 1e-12)
        deltas = [fa["l1"] - fb["l1"], *(p - q for p, q in zip(fa["proj"], fb["proj"], strict=True))]
        if not all(abs(d) <= scale for d in deltas):  # NaN compares False: never agrees
            return False
    return True
