"""Features fingerprints: float rounding agrees, any real change of the features does not."""

from __future__ import annotations

import numpy as np

from pamfn.synth.fingerprint import TOLERANCE, agree, fingerprint


def _features(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {name: rng.normal(0.5, 0.3, (40, dim)).astype(np.float16) for name, dim in (("V", 83), ("F", 97), ("A", 160))}


def _one_step(x: np.ndarray, where: np.ndarray) -> np.ndarray:
    """x with one float16 step added at ``where`` (what another CPU's rounding does)."""
    out = x.copy()
    out[where] = np.nextafter(x[where], np.float16(np.inf))
    return out


def test_rounding_agrees_and_real_changes_do_not():
    base = _features()
    fp = fingerprint({**base, "__meta__": np.frombuffer(b"{}", np.uint8)})
    assert set(fp) == {"A", "F", "V"} and len(fp["F"]["proj"]) == 4
    rng = np.random.default_rng(1)
    flips = rng.random(base["F"].shape) < 0.02  # 2% of the values one step up (another CPU moved 1.7% of a routine's F)
    assert agree(fp, fingerprint({**base, "F": _one_step(base["F"], flips)}))
    one_segment = base["F"].astype(np.float32)
    one_segment[5] *= 1.02  # 2% on one of 40 segments
    assert not agree(fp, fingerprint({**base, "F": one_segment.astype(np.float16)}))
    assert not agree(fp, fingerprint({**base, "A": base["A"][:-1]}))  # a segment fewer
    assert not agree(fp, fingerprint({k: v for k, v in base.items() if k != "V"}))
    nan = base["V"].copy()
    nan[0, 0] = np.nan
    assert not agree(fp, fingerprint({**base, "V": nan}))
    assert not agree(fp, fingerprint(_features(seed=2)))


def test_fingerprint_is_fixed_and_json_ready():
    import json

    fp = fingerprint(_features())
    assert json.loads(json.dumps(fp)) == fp
    assert fingerprint(_features()) == fp
    assert 0 < TOLERANCE < 1e-3
