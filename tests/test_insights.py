"""Coach explanations: occlusion re-scoring, MSFD reliance, FusionNet peaks."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from pamfn.insights import (
    clock,
    coach_insights,
    fusion_peaks,
    modality_reliance,
    moments,
    occlusion_scan,
)
from pamfn.routine import RoutineFeatures
from pamfn.serving.scorer import predict_scores
from tests.test_viz_figures import make_explanation


class SumOfAudio(torch.nn.Module):
    """A stand-in scorer: the normalised score is the mean of the audio features' first column."""

    config = SimpleNamespace(modalities=("V", "F", "A"))

    def forward(self, inputs, policy="argmax", generator=None):
        assert policy == "argmax"
        return SimpleNamespace(score=inputs["A"][..., 0].mean(dim=1))


def routine(T: int = 16, loud: slice = slice(8, 12)) -> RoutineFeatures:
    feats = {m: np.zeros((T, 3), np.float32) for m in ("V", "F", "A")}
    feats["A"][loud, 0] = 1.0
    return RoutineFeatures(feats, routine_id="toy")


def test_occlusion_finds_the_window_that_carries_the_score():
    feats = routine()
    occ = occlusion_scan(SumOfAudio(), feats, label_scale=25.0, window=4, baseline="zeros")
    assert occ["start_s"].tolist() == pytest.approx([0, 5.12, 10.24, 15.36])
    # masking segments 8..11 with zeros removes all the audio: full score 4/16 -> 0
    assert occ["delta"].tolist() == pytest.approx([0, 0, 25 * 4 / 16, 0])
    top = moments(occ, n=1)[0]
    assert (top.start_s, top.end_s) == pytest.approx((10.24, 15.36)) and "raised the score by 6.25 points" in top.text


def test_occlusion_with_the_mean_baseline_and_batches():
    feats = routine(T=10, loud=slice(0, 2))
    occ = occlusion_scan(SumOfAudio(), feats, label_scale=10.0, window=4, baseline="mean", batch_size=2)
    # window 0 holds both loud segments; replacing its 4 rows by the mean (0.2) gives 0.8/10
    assert occ["delta"].tolist() == pytest.approx([10 * (0.2 - 0.08), 10 * (0.2 - 0.28), 10 * (0.2 - 0.24)])
    assert occ["end_s"].iloc[-1] == pytest.approx(10 * 1.28)


def test_occlusion_rescoring_matches_a_real_pamfn():
    from pamfn.model import PAMFNConfig, build_model

    torch.manual_seed(0)
    model = build_model(PAMFNConfig(preset=None, K=4, d=16, input_dims={"V": 6, "F": 5, "A": 4})).eval()
    rng = np.random.default_rng(0)
    feats = RoutineFeatures({m: rng.normal(size=(20, d)).astype(np.float32) for m, d in {"V": 6, "F": 5, "A": 4}.items()},
                            routine_id="r")
    occ = occlusion_scan(model, feats, label_scale=25.0, window=4)
    full = predict_scores(model, [feats], 25.0)["r"]
    masked = {m: a.copy() for m, a in feats.features.items()}
    for a in masked.values():
        a[8:12] = a.mean(axis=0)
    manual = predict_scores(model, [RoutineFeatures(masked, routine_id="r")], 25.0)["r"]
    assert occ["delta"].iloc[2] == pytest.approx(full - manual, abs=1e-4)


def test_bad_occlusion_arguments():
    with pytest.raises(ValueError, match="baseline"):
        occlusion_scan(SumOfAudio(), routine(), 25.0, baseline="noise")
    with pytest.raises(ValueError, match="window"):
        occlusion_scan(SumOfAudio(), routine(), 25.0, window=0)


def test_modality_reliance_names_the_stretch_where_audio_dominates():
    expl = make_explanation(T=40)
    stage2 = expl.stages[1]
    stage2.msfd_weights[:] = [0.4, 0.4, 0.2]
    stage2.msfd_weights[3:5] = [0.1, 0.1, 0.8]
    found = modality_reliance(expl, n=5)
    audio = [i for i in found if "music" in i.text]
    assert len(audio) == 1
    assert (audio[0].start_s, audio[0].end_s) == pytest.approx((3 * 5.12, 5 * 5.12))
    assert "0:15–0:26" in audio[0].text


def test_fusion_peaks_and_clock():
    expl = make_explanation(T=40, K=4)
    expl.stages[1].fusion_count[:] = 1
    expl.stages[1].fusion_count[6] = 4
    peak = fusion_peaks(expl)[0]
    assert (peak.start_s, peak.end_s) == pytest.approx((6 * 5.12, 7 * 5.12)) and "up to 4 of 4" in peak.text
    assert clock(61.4) == "1:01" and clock(5) == "0:05"
    kinds = {i.kind for i in coach_insights(expl, None)}
    assert "fusion" in kinds and "moment" not in kinds


def test_batched_predictions_equal_routines_scored_alone():
    from pamfn.model import PAMFNConfig, build_model

    torch.manual_seed(1)
    dims = {"V": 6, "F": 5, "A": 4}
    model = build_model(PAMFNConfig(preset=None, K=4, d=16, input_dims=dims)).eval()
    rng = np.random.default_rng(1)
    routines = [RoutineFeatures({m: rng.normal(size=(T, d)).astype(np.float32) for m, d in dims.items()}, routine_id=f"r{i}")
                for i, T in enumerate([12, 16, 12, 12, 20, 16])]
    batched = predict_scores(model, routines, 25.0, batch_size=2)
    alone = {f.routine_id: predict_scores(model, [f], 25.0)[f.routine_id] for f in routines}
    assert list(batched) == [f.routine_id for f in routines]
    assert batched == pytest.approx(alone, abs=1e-4)


def test_window_around_follows_stage_2_steps():
    from pamfn.insights import window_around

    expl = make_explanation(T=40)
    assert window_around(expl, 12.0) == pytest.approx((2 * 5.12, 3 * 5.12))
    assert window_around(expl, 0.0) == pytest.approx((0.0, 5.12))
    assert window_around(expl, 999.0) == pytest.approx((9 * 5.12, 10 * 5.12))
    expl.stages = []
    assert window_around(expl, 1.0) == pytest.approx((0.0, 5.12))
    assert window_around(expl, 30.0) == pytest.approx((30.0 - 2.56, 30.0 + 2.56))
