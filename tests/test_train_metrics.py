"""Metrics: Spearman's rho, the Fisher-z mean against a hand computation, MSE, recipes."""

import math

import numpy as np
import pytest

from pamfn.metrics import fisher_z_mean, fmt_rho, mse, spearman_rho, summarize
from pamfn.train.recipe import override_phase, train_preset


def test_fisher_z_matches_hand_computation():
    rhos = [0.757, 0.825, 0.836, 0.846]
    z = [0.5 * math.log((1 + r) / (1 - r)) for r in rhos]
    mean = sum(z) / len(z)
    by_hand = (math.exp(2 * mean) - 1) / (math.exp(2 * mean) + 1)
    assert fisher_z_mean(rhos) == pytest.approx(by_hand, abs=1e-12)
    assert fisher_z_mean(rhos) == pytest.approx(0.819, abs=5e-4)  # the paper's RG Avg. of PAMFN in Table I
    assert fisher_z_mean([0.5, -0.5]) == pytest.approx(0.0)
    assert math.isfinite(fisher_z_mean([1.0, 0.2]))
    assert math.isnan(fisher_z_mean([0.3, float("nan")]))
    assert summarize({"a": 0.3, "b": 0.3})["avg"] == pytest.approx(0.3)


def test_spearman_and_mse():
    judged = [10.0, 12.0, 15.0, 11.0]
    assert spearman_rho([1, 2, 3, 1.5], judged) == pytest.approx(1.0)
    assert spearman_rho([4, 3, 1, 3.5], judged) == pytest.approx(-1.0)
    assert math.isnan(spearman_rho([2, 2, 2, 2], judged))
    assert mse([1.0, 3.0], [2.0, 1.0]) == pytest.approx(2.5)
    with pytest.raises(ValueError):
        mse([1.0], [1.0, 2.0])
    assert fmt_rho(float("nan")) == "-" and fmt_rho(0.81949) == "0.819"


def test_recipe_presets_and_schedule():
    rg, fisv = train_preset("rg"), train_preset("fisv")
    assert (rg.crop, fisv.crop) == (70, 130)
    assert rg.phase2.epochs_for("clubs") == 500 and rg.phase2.epochs_for("hoop") == 300
    assert rg.phase2.lr == 5e-4 and fisv.phase2.lr == 8e-4 and fisv.phase2.schedule == "none"
    p1 = rg.phase1
    assert (p1.optimizer, p1.lr, p1.momentum, p1.weight_decay, p1.batch_size, p1.clip) == ("sgd", 1e-2, 0.9, 1e-4, 32, 2.0)
    # as the released code: no warm-up, and phase 2's AdamW at PyTorch's default decay
    assert rg.phase2.weight_decay == fisv.phase2.weight_decay == 0.01 and p1.warmup_epochs == 0
    factors = [p1.lr_factor(e, 250) for e in range(250)]
    assert factors[0] == pytest.approx(1.0)
    assert factors[-1] * p1.lr == pytest.approx(5e-6, rel=0.05)
    assert np.all(np.diff(factors) <= 0)
    warm = override_phase(p1, {"warmup_epochs": 5})
    warm_factors = [warm.lr_factor(e, 250) for e in range(250)]
    assert warm_factors[0] < warm_factors[4] < warm_factors[5] == pytest.approx(1.0)
    assert rg.phase2.scaled(0.1).epochs_for("ribbon") == 50
