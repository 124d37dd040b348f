"""bench/bench_feature_audit.py compares a generated set's features with the generator's
ground truth: its measures find planted timing, and on a tiny real set the motion energy it
recomputes from the rendered frames is the features file's."""

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from pamfn.errors import DatasetError
from pamfn.synth import TINY, build_dataset, make_routine, routine_specs

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from bench_feature_audit import (
    audit,
    bar_means,
    explained_share,
    summarise,
    sync_estimate,
    true_beat_cos,
    with_motion_energy,
    write_motion_set,
)

FPS = 25.0


def _beats(n: int, period: int, offset: int) -> np.ndarray:
    e = np.zeros(n)
    e[offset::period] = 1.0
    return e


def test_sync_estimate_prefers_movement_on_the_beat():
    n, period = 1500, 12  # a beat every 0.48 s
    beat_cos = np.cos(2 * np.pi * np.arange(n) / period)
    on, off = _beats(n, period, 0), _beats(n, period, period // 2)
    noise = np.random.default_rng(0).random(n)
    assert sync_estimate(on, beat_cos, FPS) > 0.3
    assert sync_estimate(off, beat_cos, FPS) < -0.3
    assert abs(sync_estimate(noise, beat_cos, FPS)) < 0.1


def test_explained_share_of_planted_jumps():
    rng = np.random.default_rng(1)
    jumps = (rng.random(2000) < 0.2).astype(float)
    assert explained_share(0.5 * jumps + 0.05 * rng.normal(size=2000), jumps) > 0.9
    assert explained_share(rng.normal(size=2000), jumps) < 0.01
    assert explained_share(np.ones(2000), jumps) == 0.0


def test_true_beat_cos_follows_the_feature_convention():
    cfg = replace(TINY, min_duration_s=6.0, max_duration_s=7.0, per_action_train=1, per_action_test=0)
    plan = make_routine(routine_specs(cfg)[0], cfg).plan
    beats, beat_s = plan.music.beat_times(), plan.music.beat_s
    values = true_beat_cos(plan, np.array([beats[1], beats[1] + beat_s / 2, beats[0] - 0.1, beats[-1] + 0.1]))
    np.testing.assert_allclose(values, [1.0, -1.0, 0.0, 0.0], atol=1e-9)
    means = bar_means(np.arange(plan.n_frames, dtype=float), plan, FPS)
    assert means.size == plan.music.n_bars and np.all(np.diff(means[np.isfinite(means)]) > 0)


@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("audit")
    cfg = replace(TINY, min_duration_s=6.0, max_duration_s=7.0, per_action_train=1, per_action_test=0)
    build_dataset(out, cfg, workers=1, progress=False)
    return out


def test_audit_on_a_generated_set(tiny_set):
    rows = audit(tiny_set, per_action=1, widths=(80,), progress=False)
    assert len(rows) == 4
    assert (rows["recomputed_vs_file"] > 0.999).all(), "the audit measures motion as the extractor does"
    assert rows[["beat_phase_corr", "features|jumps", "features|speed"]].notna().all().all()
    assert (rows["camera error @80px"] < 0.5).all(), "the median flow follows the background's shift"
    np.testing.assert_allclose(rows["true speed|speed"], 1.0)
    table = summarise(rows)
    assert list(table["motion energy"]) == ["true speed", "features", "mean @80px", "p99 @80px", "stabilised @80px",
                                            "stabilised p99 @80px"]  # fmt: skip


def test_bad_folders_are_refused(tmp_path, tiny_set):
    with pytest.raises(DatasetError, match="dataset.json|labels|not found|no such"):
        audit(tmp_path, per_action=1, progress=False)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "dataset.json").write_text((tiny_set / "dataset.json").read_text())
    with pytest.raises(DatasetError, match="no training routine's features"):
        audit(empty, per_action=1, progress=False)
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_feature_audit.py"), str(empty)],
                          capture_output=True, text=True, cwd=ROOT, check=False)  # fmt: skip
    assert done.returncode == 2 and "no training routine's features" in done.stderr


def test_counterfactual_motion_replaces_only_the_motion_energy(tiny_set):
    from pamfn.routine import RoutineFeatures

    feats = RoutineFeatures.load(next((tiny_set / "features").glob("*.npz")))
    per_frame = np.arange(feats.T * 32 + 5, dtype=float)
    out = with_motion_energy(feats, per_frame, "true").features
    np.testing.assert_allclose(out["F"][:, 38:70].reshape(-1), per_frame[: feats.T * 32], rtol=1e-6)
    np.testing.assert_allclose(out["F"][:, 0], out["F"][:, 38:70].mean(1), rtol=1e-6)
    np.testing.assert_allclose(out["F"][:, 72], 1.0, rtol=1e-6)  # the mean absolute change of a ramp
    untouched = np.r_[1:38, 73:97]
    np.testing.assert_array_equal(out["F"][:, untouched], feats.features["F"][:, untouched])
    np.testing.assert_array_equal(out["V"], feats.features["V"])
    np.testing.assert_array_equal(out["A"], feats.features["A"])


@pytest.mark.parametrize("source", ["true", "p99"])
def test_write_motion_set(tiny_set, tmp_path, source):
    from pamfn.routine import RoutineFeatures

    out = tmp_path / source
    assert write_motion_set(tiny_set, out, per_action=1, source=source, progress=False) == 4
    assert (out / "labels.csv").read_text() == (tiny_set / "labels.csv").read_text()
    for path in (out / "features").glob("*.npz"):
        made, real = RoutineFeatures.load(path), RoutineFeatures.load(tiny_set / "features" / path.name)
        assert made.extractors["F"].endswith(f"+{source}-motion")
        assert not np.array_equal(made.features["F"][:, 38:70], real.features["F"][:, 38:70])
        if source == "p99":  # the extractor's own per-field 99th percentile, kept as its segment mean (F 4)
            np.testing.assert_allclose(made.features["F"][1:, 38:70].mean(1), real.features["F"][1:, 4], rtol=0.02)


def test_write_motion_set_refuses_bad_requests(tiny_set):
    with pytest.raises(DatasetError, match="must not overwrite"):
        write_motion_set(tiny_set, tiny_set, per_action=1, source="true", progress=False)
    with pytest.raises(ValueError, match="unknown motion source"):
        write_motion_set(tiny_set, tiny_set / "x", per_action=1, source="pose", progress=False)
