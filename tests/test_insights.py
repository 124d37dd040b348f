"""Coach explanations: occlusion with a neutral baseline, MSFD reliance beyond noise,
FusionNet peaks from the stochastic policy, and the stretch each step depends on."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from pamfn.insights import clock, coach_insights, fusion_peaks, modality_reliance, moments, window_around
from pamfn.occlusion import occlusion_scan, partners, scan_from_dict, scan_to_dict, swap_scores
from pamfn.routine import RoutineFeatures
from pamfn.serving.scorer import predict_scores
from tests.support.explanations import make_explanation


class SumOfAudio(torch.nn.Module):
    """A stand-in scorer: the normalised score is the mean of the audio features' first column."""

    config = SimpleNamespace(modalities=("V", "F", "A"))

    def forward(self, inputs, policy="argmax", generator=None):
        assert policy == "argmax"
        return SimpleNamespace(score=inputs["A"][..., 0].mean(dim=1), stages=[])


def routine(T: int = 40, loud: slice = slice(8, 12), seed: int = 0, rid: str = "toy") -> RoutineFeatures:
    rng = np.random.default_rng(seed)
    feats = {m: rng.normal(0, 0.05, size=(T, 3)).astype(np.float32) for m in ("V", "F", "A")}
    feats["A"][loud, 0] += 1.0
    return RoutineFeatures(feats, routine_id=rid)


def test_occlusion_finds_the_window_that_carries_the_score_beyond_its_noise():
    feats = routine()
    occ = occlusion_scan(SumOfAudio(), feats, label_scale=25.0, window=4)
    assert occ["start_s"].tolist() == pytest.approx(np.arange(10) * 5.12)
    # the loud window adds 4/40 of the score compared with any other stretch put there
    assert occ["impact"].iloc[2] == pytest.approx(25 * 4 / 40, abs=0.1)
    assert occ["significant"].tolist() == [i == 2 for i in range(10)]
    assert (occ["noise"] > 0).all() and (occ["se"] < occ["noise"]).all()
    top = moments(occ, n=3)
    assert len(top) == 1 and (top[0].start_s, top[0].end_s) == pytest.approx((10.24, 15.36))
    assert "raised the score by 2.5" in top[0].text and "noise ±" in top[0].text


def test_occlusion_baseline_is_neutral_over_routines():
    """Routines without a special stretch: impacts average to zero within their noise."""
    impacts = [occlusion_scan(SumOfAudio(), routine(loud=slice(0, 0), seed=s, rid=f"r{s}"), 25.0)["impact"].mean()
               for s in range(40)]
    assert abs(np.mean(impacts)) < 3 * np.std(impacts, ddof=1) / np.sqrt(len(impacts))


class SeamAverse(torch.nn.Module):
    """A stand-in scorer that loses score at every jump of a smooth feature, as a model
    that never saw a splice might: the mean of audio's first column minus the mean
    absolute step of its second column, which drifts slowly in every routine."""

    config = SimpleNamespace(modalities=("V", "F", "A"))

    def forward(self, inputs, policy="argmax", generator=None):
        a = inputs["A"]
        return SimpleNamespace(score=a[..., 0].mean(dim=1) - a[..., 1].diff(dim=1).abs().mean(dim=1), stages=[])


def drifting(seed: int) -> RoutineFeatures:
    feats = routine(loud=slice(0, 0), seed=seed, rid=f"d{seed}")
    feats.features["A"][:, 1] = np.linspace(0, 4, feats.T, dtype=np.float32)
    return feats


def test_swapping_cancels_what_a_seam_costs_between_interior_windows():
    """A one-sided splice reads the seam's cost as every window's impact; in a swap of two
    interior windows both copies carry two seams, so it cancels (a copy over an edge
    window has one seam only, so pairs with an edge window keep part of it)."""
    feats = drifting(0)
    swaps = swap_scores(SeamAverse(), feats, 25.0, window=4, draws=24, seed=0, device="cpu", batch_size=64)
    interior = np.arange(1, len(swaps.starts) - 1)
    inner = [(w, int(r)) for w in interior for r in swaps.pairs[w] if r in interior]
    two_way = np.array([(swaps.scores[r, w] - swaps.scores[w, r]) / 2 for w, r in inner])
    one_sided = np.array([swaps.full - swaps.scores[w, r] for w, r in inner])
    loud = feats.features["A"][:, 0]
    content = np.array([25 * (loud[4 * w : 4 * w + 4].sum() - loud[4 * r : 4 * r + 4].sum()) / feats.T for w, r in inner])
    assert np.abs(two_way - content).max() < 1e-4  # what the content is worth, and nothing of the seams
    assert (one_sided - content).mean() > 0.5  # the seams lower the re-scored routine: read as impact one-sidedly


def test_occlusion_rescoring_matches_a_real_pamfn():
    from pamfn.model import PAMFNConfig, build_model

    torch.manual_seed(0)
    model = build_model(PAMFNConfig(preset=None, K=4, d=16, input_dims={"V": 6, "F": 5, "A": 4})).eval()
    rng = np.random.default_rng(0)
    feats = RoutineFeatures({m: rng.normal(size=(20, d)).astype(np.float32) for m, d in {"V": 6, "F": 5, "A": 4}.items()},
                            routine_id="r")
    occ = occlusion_scan(model, feats, label_scale=25.0, window=4, batch_size=4)
    full = predict_scores(model, [feats], 25.0)["r"]

    def swapped(place: int, source: int) -> float:
        masked = {m: a.copy() for m, a in feats.features.items()}
        for m, a in masked.items():
            a[place : place + 4] = feats.features[m][source : source + 4]
        return predict_scores(model, [RoutineFeatures(masked, routine_id="r")], 25.0)["r"]

    others = [0, 4, 12, 16]  # five windows: every other one is a partner of the third
    values = [(swapped(r, 8) - swapped(8, r)) / 2 for r in others]
    assert occ["impact"].iloc[2] == pytest.approx(np.mean(values), abs=1e-4)
    assert occ["draws"].iloc[2] == 4 and occ["se"].iloc[2] == pytest.approx(np.std(values, ddof=1) / 2, abs=1e-4)
    assert occ["impact"].iloc[2] != pytest.approx(full - np.mean([swapped(8, r) for r in others]), abs=1e-4)
    assert occ["impact"].sum() == pytest.approx(0.0, abs=1e-4)  # each swap counts for both its windows
    assert {"weight_A", "baseline_A", "spread_A"} <= set(occ.columns)
    assert np.allclose(occ[["weight_V", "weight_F", "weight_A"]].sum(axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("n, most", [(5, 24), (18, 17), (40, 24), (41, 10)])
def test_partners_are_a_symmetric_relation_without_self_pairs(n, most):
    pairs = partners(n, most, np.random.default_rng(0))
    assert pairs.shape == (n, min(n - 1, most - most % 2 if n - 1 > most else n - 1))
    relation = {(w, int(r)) for w in range(n) for r in pairs[w]}
    assert all((r, w) in relation for w, r in relation) and all(w != r for w, r in relation)
    assert all(len(set(row)) == len(row) for row in pairs)


def test_a_routine_of_fewer_than_three_windows_has_no_scan():
    assert occlusion_scan(SumOfAudio(), routine(T=8), 25.0).empty
    assert not occlusion_scan(SumOfAudio(), routine(T=9), 25.0).empty


def test_bad_occlusion_arguments():
    with pytest.raises(ValueError, match="window"):
        occlusion_scan(SumOfAudio(), routine(), 25.0, window=0)
    with pytest.raises(ValueError, match="draws"):
        occlusion_scan(SumOfAudio(), routine(), 25.0, draws=1)
    with pytest.raises(ValueError, match="at least 3 windows"):
        partners(2, 24, np.random.default_rng(0))


def test_scan_round_trip_and_old_scans_are_dropped():
    occ = occlusion_scan(SumOfAudio(), routine(), 25.0)
    back = scan_from_dict(scan_to_dict(occ))
    pd.testing.assert_frame_equal(back, occ, check_dtype=False)
    assert scan_from_dict({"start_s": [0.0], "end_s": [5.12], "delta": [0.3]}).empty
    assert moments(scan_from_dict(None)) == []


def scan_with_weights(weights: np.ndarray, baseline: np.ndarray, spread: float) -> pd.DataFrame:
    n = len(weights)
    occ = pd.DataFrame({"start_s": np.arange(n) * 5.12, "end_s": np.arange(1, n + 1) * 5.12, "impact": 0.0, "se": 0.01,
                        "noise": 0.05, "z": 0.0, "significant": False, "threshold_z": 3.5, "draws": 16})
    for j, m in enumerate("VFA"):
        occ[f"weight_{m}"], occ[f"baseline_{m}"], occ[f"spread_{m}"] = weights[:, j], baseline[:, j], spread
    return occ


def test_modality_sentences_only_beyond_the_weights_noise():
    base = np.full((6, 3), 1 / 3)
    weights = base.copy()
    weights[3] = [0.2, 0.2, 0.6]  # the content of window 3 pulls the audio weight far beyond its noise
    weights[1] = [0.3, 0.3, 0.4]  # 0.07 above: within 3.5 x noise of 0.02
    found = modality_reliance(scan_with_weights(weights, base, spread=0.02), n=5)
    assert len(found) == 1 and "music" in found[0].text
    assert (found[0].start_s, found[0].end_s) == pytest.approx((3 * 5.12, 4 * 5.12))
    assert "0:15–0:20" in found[0].text and "0.60 against 0.33" in found[0].text
    assert modality_reliance(scan_with_weights(weights, base, spread=0.2)) == []  # weights that move that much: noise
    small = base.copy()
    small[2] = [0.32, 0.32, 0.36]  # far beyond a tiny noise, but a shift of 0.03 means nothing
    assert modality_reliance(scan_with_weights(small, base, spread=0.001)) == []
    assert modality_reliance(None) == [] and modality_reliance(scan_from_dict(None)) == []


def test_fusion_peaks_follow_the_expected_count_and_name_the_support():
    expl = make_explanation(T=40, K=4)
    stage = expl.stages[1]
    stage.policy_probs[:] = [0.7, 0.1, 0.1, 0.1]  # expected count 1.6
    stage.policy_probs[6] = [0.02, 0.02, 0.02, 0.94]  # expected count 3.88
    stage.support_start_s = np.maximum(stage.start_s - 5.12, 0)
    stage.support_end_s = np.minimum(stage.end_s + 6.4, expl.duration_s)
    peak = fusion_peaks(expl)[0]
    assert (peak.start_s, peak.end_s) == pytest.approx((5 * 5.12, 7 * 5.12 + 6.4))
    assert "up to 3.9 of 4" in peak.text and "depends on this whole stretch" in peak.text
    assert "the stage-2 PolicyNet" in peak.text
    stage.policy_probs[:] = 0.25  # a uniform policy: decisions are coin flips, nothing to say
    assert fusion_peaks(expl) == []
    assert clock(61.4) == "1:01" and clock(5) == "0:05"
    assert {i.kind for i in coach_insights(expl, None)} == set()


def test_window_around_is_the_support_of_the_stage_2_step():
    expl = make_explanation(T=40)
    assert window_around(expl, 12.0) == pytest.approx((2 * 5.12, 3 * 5.12))  # not measured: the step's own window
    stage = expl.stages[1]
    stage.support_start_s = np.maximum(stage.start_s - 3 * 1.28, 0)
    stage.support_end_s = np.minimum(stage.end_s + 5 * 1.28, expl.duration_s)
    assert window_around(expl, 12.0) == pytest.approx((2 * 5.12 - 3.84, 3 * 5.12 + 6.4))
    assert window_around(expl, 0.0) == pytest.approx((0.0, 5.12 + 6.4))
    assert window_around(expl, 999.0) == pytest.approx((9 * 5.12 - 3.84, 10 * 5.12))
    expl.stages = []
    assert window_around(expl, 30.0) == pytest.approx((30.0 - 2.56, 30.0 + 2.56))


def test_support_is_measured_on_the_model_and_widens_with_the_stage():
    from pamfn.dependence import measure_support
    from pamfn.explain import explain_routine
    from pamfn.model import PAMFNConfig, build_model

    torch.manual_seed(0)
    dims = {"V": 6, "F": 5, "A": 4}
    model = build_model(PAMFNConfig(preset=None, K=4, d=16, input_dims=dims)).eval()
    rng = np.random.default_rng(0)
    feats = RoutineFeatures({m: rng.normal(size=(48, d)).astype(np.float32) for m, d in dims.items()}, routine_id="r")
    support = measure_support(model, feats, batch_size=16)
    assert set(support) == {1, 2}
    T = 48
    own = support[2].profile[T : T + 4].sum()
    assert 0 < own < support[2].profile.sum()  # stage 2 depends on segments beyond its own four
    wide = measure_support(model, feats, mass=0.999, batch_size=16)
    assert wide[2].before + wide[2].after > support[2].before + support[2].after >= 0
    expl = explain_routine(model, feats, support=True)
    for st in expl.stages:
        assert (st.support_start_s <= st.start_s + 1e-9).all() and (st.support_end_s >= st.end_s - 1e-9).all()
    assert expl.stages[2].stretch(0) == pytest.approx((0.0, 48 * 1.28))
    assert expl.extra["support"]["2"]["mass"] == 0.9
    with pytest.raises(ValueError, match="mass"):
        measure_support(model, feats, mass=0)


def test_a_long_routine_perturbs_a_bounded_spread_of_segments():
    from pamfn.dependence import PROBES, measure_support, probed_segments
    from pamfn.model import PAMFNConfig, build_model

    assert list(probed_segments(10)) == list(range(10))
    spread = probed_segments(1000)
    assert len(spread) == PROBES and spread[0] == 0 and spread[-1] == 999 and (np.diff(spread) > 0).all()
    torch.manual_seed(0)
    dims = {"V": 6, "F": 5, "A": 4}
    model = build_model(PAMFNConfig(preset=None, K=4, d=16, input_dims=dims)).eval()
    rng = np.random.default_rng(1)
    feats = RoutineFeatures({m: rng.normal(size=(300, d)).astype(np.float32) for m, d in dims.items()}, routine_id="long")
    calls = []
    support = measure_support(model, feats, batch_size=16, on_batch=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (PROBES, PROBES) and len(calls) == PROBES // 16
    every = measure_support(model, feats, batch_size=64, probes=300)
    for stage in (1, 2):  # the spread finds the stretch that perturbing every segment finds
        assert (support[stage].before, support[stage].after) == (every[stage].before, every[stage].after)


def test_the_scan_reports_its_progress_to_the_last_batch():
    calls = []
    occlusion_scan(SumOfAudio(), routine(), 25.0, batch_size=8, on_batch=lambda done, total: calls.append((done, total)))
    done, total = zip(*calls)
    assert len(set(total)) == 1 and done[-1] == total[0] and list(done) == sorted(done)


def test_the_players_readout_speaks_of_the_stage_the_sentences_speak_of():
    from pamfn.insights import insight_stage
    from pamfn.viz.tables import readout_steps

    expl = make_explanation(T=40, K=4)
    steps = readout_steps(expl)
    assert {s["stage"] for s in steps} == {2} == {insight_stage(expl, "policy_probs").stage}
    assert [s["start"] for s in steps] == pytest.approx(list(expl.stages[1].start_s))
