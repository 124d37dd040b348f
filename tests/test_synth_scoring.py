"""The score formula: monotone in what a judge sees, bounded to RG's 0-25 scale."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from pamfn.synth import TINY, make_routine, routine_specs
from pamfn.synth.scoring import BEAT_CHANCE, JUDGE_NOISE, Realised, beat_sync, formula, score

BASE = Realised(
    n_elements=10, n_leaps=3, n_pivots=3, n_balances=2, n_throws=2, mean_amplitude=0.5, element_value=5.0,
    tremor_deg=1.0, n_stumbles=1, stumble_severity=0.5, n_drops=1, n_accents=80, beat_sync=0.5,
    energy_corr=0.4, tempo_bpm=120.0, duration_s=75.0,
)  # fmt: skip


def total(r: Realised) -> float:
    return sum(formula(r))


def test_more_drops_lower_execution():
    assert formula(replace(BASE, n_drops=2))[1] < formula(BASE)[1] < formula(replace(BASE, n_drops=0))[1]


def test_tremor_and_stumbles_lower_execution():
    assert formula(replace(BASE, tremor_deg=3.0))[1] < formula(BASE)[1]
    assert formula(replace(BASE, n_stumbles=3, stumble_severity=2.0))[1] < formula(BASE)[1]


def test_elements_raise_difficulty():
    assert formula(replace(BASE, element_value=7.0))[0] > formula(BASE)[0]


def test_accents_on_beat_raise_musicality():
    assert formula(replace(BASE, beat_sync=0.9))[2] > formula(BASE)[2] > formula(replace(BASE, beat_sync=0.1))[2]
    assert formula(replace(BASE, energy_corr=0.8))[2] > formula(BASE)[2] > formula(replace(BASE, energy_corr=-0.3))[2]


def test_bounds():
    best = replace(BASE, element_value=100.0, tremor_deg=0.0, n_stumbles=0, stumble_severity=0.0, n_drops=0,
                   beat_sync=1.0, energy_corr=1.0)  # fmt: skip
    worst = replace(BASE, element_value=0.0, tremor_deg=10.0, n_stumbles=10, stumble_severity=10.0, n_drops=10,
                    beat_sync=0.0, energy_corr=-1.0)  # fmt: skip
    assert total(best) == pytest.approx(25.0)
    assert total(worst) == pytest.approx(0.0)
    for r in (best, worst, BASE):
        for seed in range(20):
            s = score(r, np.random.default_rng(seed))
            assert 0.0 <= s.total <= 25.0
            assert s.total == pytest.approx(s.difficulty + s.execution + s.musicality)


def test_judge_noise_is_small():
    totals = [score(BASE, np.random.default_rng(seed)).total for seed in range(400)]
    expected = np.sqrt(sum(v**2 for v in JUDGE_NOISE.values()))
    assert np.mean(totals) == pytest.approx(total(BASE), abs=0.06)
    assert np.std(totals) == pytest.approx(expected, rel=0.2)


def test_beat_sync_measures_timing():
    beats = 1.0 + 0.5 * np.arange(100)
    ones = np.ones(60)
    assert beat_sync(beats[10:70], ones, beats, 0.5) == pytest.approx(1.0)
    assert beat_sync(beats[10:70] + 0.25, ones, beats, 0.5) == 0.0
    random = np.random.default_rng(0).uniform(beats[0], beats[-1], 5000)
    assert beat_sync(random, np.ones(5000), beats, 0.5) < 0.05
    assert 0 < BEAT_CHANCE < 0.3


def test_realised_routine_counts_its_faults():
    spec = routine_specs(TINY)[0]
    r = make_routine(spec, TINY)
    els = r.plan.elements
    assert r.realised.n_elements == len(els)
    assert r.realised.n_drops == sum(e.dropped for e in els)
    assert r.realised.n_stumbles == sum(e.stumble > 0 for e in els)
    assert r.realised.tremor_deg > 0
    assert -1.0 <= r.realised.energy_corr <= 1.0 and 0.0 <= r.realised.beat_sync <= 1.0
