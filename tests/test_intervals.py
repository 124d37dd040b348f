"""Seeds and intervals: the bootstrap over test routines and seeds, paired across rows."""

import numpy as np
import pytest
from scipy.stats import spearmanr

from pamfn.intervals import AVG, SeedPredictions, bootstrap_table, inside, interval, point_estimates, spearman_rows


def test_spearman_rows_matches_scipy_with_ties_and_constants():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 5, size=(20, 12)).astype(float)  # many ties
    y = rng.integers(0, 6, size=12).astype(float)
    ours = spearman_rows(x, y[None])
    expected = [spearmanr(row, y).statistic for row in x]
    np.testing.assert_allclose(ours, expected, atol=1e-12)
    assert np.isnan(spearman_rows(np.ones((1, 5)), np.arange(5.0)[None])[0])


def _cells(n=30, seeds=3, noise=(0.2, 2.0), seed=0):
    rng = np.random.default_rng(seed)
    out = {}
    for a in ("ball", "hoop"):
        judged = rng.normal(size=n)
        for key, sd in zip(("good", "bad"), noise):
            out.setdefault(key, {})[a] = SeedPredictions(judged + rng.normal(scale=sd, size=(seeds, n)), judged)
    return out


def test_intervals_hold_the_estimate_and_pairing_separates_a_real_difference():
    cells = _cells()
    boot = bootstrap_table(cells, replicates=500)
    means = point_estimates(cells)
    for row in cells:
        for col in ("ball", "hoop", AVG):
            lo, hi = interval(boot[row][col])
            assert lo < means[row][col] < hi and hi - lo < 1
    diff = interval(boot["bad"][AVG] - boot["good"][AVG])
    assert diff[1] < 0 and not inside(0.0, diff)  # good predictions are really better
    same = interval(boot["good"][AVG] - boot["good"][AVG])
    assert same == (0.0, 0.0) and inside(0.0, same)  # a row against itself: no difference at all


def test_more_seeds_and_routines_give_narrower_intervals_and_draws_are_seeded():
    wide = interval(bootstrap_table(_cells(n=10, seeds=1, noise=(1.0, 1.0)), 500)["good"][AVG])
    narrow = interval(bootstrap_table(_cells(n=200, seeds=4, noise=(1.0, 1.0)), 500)["good"][AVG])
    assert narrow[1] - narrow[0] < (wide[1] - wide[0]) / 2
    a = bootstrap_table(_cells(), 200, seed=1)["good"]["ball"]
    assert np.array_equal(a, bootstrap_table(_cells(), 200, seed=1)["good"]["ball"])


def test_rows_must_agree_on_seeds_and_routines():
    cells = _cells()
    cells["bad"]["ball"] = SeedPredictions(cells["bad"]["ball"].predicted[:2], cells["bad"]["ball"].judged)
    with pytest.raises(ValueError, match="same number of seeds"):
        bootstrap_table(cells, 10)
    cells = _cells()
    cells["bad"]["hoop"] = SeedPredictions(cells["bad"]["hoop"].predicted[:, :5], cells["bad"]["hoop"].judged[:5])
    with pytest.raises(ValueError, match="test routines"):
        bootstrap_table(cells, 10)
