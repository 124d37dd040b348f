"""Research figures and tables (pamfn.viz.research) from generated explanations; no browser."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from pamfn import results
from pamfn.explanation import Explanation, StageExplanation, stage_spans
from pamfn.metrics import fisher_z_mean, spearman_rho
from pamfn.viz import research
from pamfn.viz.colors import MODALITY_COLORS


def make_explanation(rid: str, action: str, counts: list[list[int]], K: int = 4, score: float = 10.0, judged=None):
    """An explanation whose stage i has the given FusionNet counts (the argmax of its policy
    probabilities, each with probability 0.6) and random MSFD weights."""
    rng = np.random.default_rng(abs(hash(rid)) % 2**32)
    T = 2 * len(counts[0])
    stages = []
    for i, (start, end) in enumerate(stage_spans(T, 1.28), start=1):
        c = np.asarray(counts[i - 1][: len(start)], dtype=np.int64)
        w = rng.dirichlet(np.ones(3), size=len(start))
        probs = np.full((len(c), K), 0.4 / (K - 1))
        probs[np.arange(len(c)), c - 1] = 0.6  # the count is the argmax, drawn with chance 0.6
        stages.append(StageExplanation(stage=i, start_s=start, end_s=end, msfd_weights=w, fusion_count=c, policy_probs=probs))
    return Explanation(
        routine_id=rid, score=score, score_norm=score / 25, label_scale=25.0, branch_scores={"V": 1.0, "F": 2.0, "A": 3.0},
        K=K, stages=stages, duration_s=T * 1.28, segment_seconds=1.28, action=action, judged_score=judged,
    )


def test_decision_frequencies_expected_sampled_and_argmax():
    a = make_explanation("a", "ball", [[1, 1, 2, 4], [2, 2], [3]])
    b = make_explanation("b", "ball", [[4, 4, 4, 4], [2, 1], [3]])
    c = make_explanation("c", "hoop", [[1, 2, 3, 4], [4, 4], [1]])
    argmax = research.decision_frequencies([a, b, c], "argmax")
    ball1 = argmax[(argmax.action == "ball") & (argmax.stage == 1)].set_index("count")
    assert list(ball1.index) == [1, 2, 3, 4]
    assert ball1["steps"].tolist() == [2, 1, 0, 5]
    assert ball1.loc[4, "frequency"] == pytest.approx(5 / 8)
    expected = research.decision_frequencies([a, b, c])  # the paper's stochastic policy
    assert set(expected["method"]) == {"expected"}
    ball1 = expected[(expected.action == "ball") & (expected.stage == 1)].set_index("count")
    share = np.array([2, 1, 0, 5]) / 8
    assert ball1["frequency"].to_numpy() == pytest.approx(0.6 * share + 0.4 / 3 * (1 - share))
    assert ball1["frequency"].sum() == pytest.approx(1.0)
    sampled = research.decision_frequencies([a, b, c], "sampled", draws=4000, seed=1)
    merged = sampled.merge(expected, on=["action", "stage", "count"], suffixes=("_mc", ""))
    assert ((merged["frequency_mc"] - merged["frequency"]).abs() <= 4 * merged["se_mc"] + 1e-12).all()
    assert (merged["se_mc"] > 0).any()
    hoop3 = expected[(expected.action == "hoop") & (expected.stage == 3)].set_index("count")
    assert hoop3.loc[1, "frequency"] == pytest.approx(0.6)
    assert set(expected["K"]) == {4}
    with pytest.raises(ValueError, match="method"):
        research.decision_frequencies([a], "mode")


def test_policy_entropy_per_stage():
    a = make_explanation("a", "ball", [[1, 1, 2, 4], [2, 2], [3]])
    entropy = research.policy_entropy([a]).set_index("stage")
    p = np.array([0.6, 0.4 / 3, 0.4 / 3, 0.4 / 3])
    assert entropy.loc[1, "entropy"] == pytest.approx(-(p * np.log(p)).sum() / np.log(4))
    assert entropy.loc[1, "steps"] == 4 and entropy.loc[3, "steps"] == 1


def test_decision_frequency_figure_has_uniform_line_per_stage():
    exps = [make_explanation(f"r{i}", act, [[1, 2, 3, 4], [i % 4 + 1, 2], [4]]) for i, act in enumerate(["ball", "clubs"] * 3)]
    fig = research.decision_frequency_figure(research.decision_frequencies(exps))
    uniform = [t for t in fig.data if t.name == "Uniform"]
    assert len(uniform) == 3
    assert all(np.allclose(t.y, 0.25) for t in uniform)
    names = {t.name for t in fig.data if t.showlegend}
    assert names == {"ball", "clubs", "Uniform"}
    assert [a.text for a in fig.layout.annotations][:3] == ["(a) Stage 1", "(b) Stage 2", "(c) Stage 3"]
    assert "expected (stochastic policy" in fig.layout.title.subtitle.text
    entropy = research.policy_entropy(exps)
    check = research.decision_frequencies(exps, "sampled", draws=50)
    fig = research.decision_frequency_figure(research.decision_frequencies(exps), entropy, check)
    assert [a.text for a in fig.layout.annotations][0].startswith("(a) Stage 1<br>policy entropy 0.")
    assert {t.name for t in fig.data if t.showlegend} == {"ball", "clubs", "ball (sampled)", "clubs (sampled)", "Uniform"}


def test_mixed_K_is_refused():
    with pytest.raises(ValueError, match="different K"):
        research.decision_frequencies([make_explanation("a", "x", [[1, 1], [1], [1]], K=4),
                                       make_explanation("b", "x", [[1, 1], [1], [1]], K=6)])


def test_msfd_weights_figure_uses_modality_colours_and_all_weights():
    exps = [make_explanation(f"r{i}", "ball", [[1] * 6, [1] * 3, [1]]) for i in range(3)]
    weights = research.msfd_weight_samples(exps)
    assert len(weights) == 3 * (6 + 3 + 1) * 3
    assert weights.groupby(["routine_id", "stage", "step"])["weight"].sum().round(9).eq(1.0).all()
    fig = research.msfd_weight_figure(weights)
    assert [t.marker.color for t in fig.data] == [MODALITY_COLORS[m] for m in "VFA"]
    assert sum(len(t.y) for t in fig.data) == len(weights)


def test_scores_and_spearman_with_fisher_z_mean():
    rng = np.random.default_rng(0)
    exps = []
    for action in ("ball", "hoop"):
        for i in range(8):
            judged = float(rng.uniform(10, 20))
            exps.append(make_explanation(f"{action}{i}", action, [[1, 1], [1], [1]], score=judged + rng.normal(0, 2), judged=judged))
    exps.append(make_explanation("unjudged", "ball", [[1, 1], [1], [1]], score=12.0))
    scores = research.score_table(exps)
    assert math.isnan(scores.set_index("routine_id").loc["unjudged", "judged"])
    rhos = research.spearman_by_action(scores).set_index("action")
    for action in ("ball", "hoop"):
        sub = scores[(scores.action == action)].dropna()
        assert rhos.loc[action, "rho"] == pytest.approx(spearman_rho(sub.predicted, sub.judged))
        assert rhos.loc[action, "n"] == 8
    assert rhos.loc["Avg.", "rho"] == pytest.approx(fisher_z_mean([rhos.loc["ball", "rho"], rhos.loc["hoop", "rho"]]))
    fig = research.predicted_vs_judged_figure(scores, rhos.reset_index())
    assert f"{rhos.loc['Avg.', 'rho']:.3f}" in fig.layout.title.text
    assert any(t.name.startswith("ball (ρ = ") for t in fig.data)
    assert sum(len(t.x) for t in fig.data if t.mode == "markers") == 16


def test_empty_inputs_give_a_figure_that_says_why():
    fig = research.decision_frequency_figure(research.decision_frequencies([]))
    assert "No PolicyNet" in fig.layout.annotations[0].text
    assert "No MSFD" in research.msfd_weight_figure(research.msfd_weight_samples([])).layout.annotations[0].text
    scores = research.score_table([make_explanation("x", "ball", [[1, 1], [1], [1]])])
    assert "No judged" in research.predicted_vs_judged_figure(scores, research.spearman_by_action(scores)).layout.annotations[0].text


def test_result_discovery(tmp_path):
    (tmp_path / "runs" / "a").mkdir(parents=True)
    for name in ("a/table_IV.csv", "a/table_IV_last_epoch.csv", "a/table_IV_paper.csv", "table_VII.csv", "metrics.csv"):
        pd.DataFrame({"x": [1]}).to_csv(tmp_path / "runs" / name)
    found = results.find_result_tables([tmp_path / "runs", tmp_path / "missing"])
    assert found == {"IV": [tmp_path / "runs" / "a" / "table_IV.csv"], "VII": [tmp_path / "runs" / "table_VII.csv"]}
    # the first folder's tables come first, whatever the folders' names sort as (e.g. a clone whose path sorts first)
    (tmp_path / "z_first").mkdir()
    pd.DataFrame({"x": [1]}).to_csv(tmp_path / "z_first" / "table_IV.csv")
    found = results.find_result_tables([tmp_path / "z_first", tmp_path / "runs"])
    assert found["IV"] == [tmp_path / "z_first" / "table_IV.csv", tmp_path / "runs" / "a" / "table_IV.csv"]


def test_side_by_side_matches_rows_by_group_and_label():
    ours = pd.DataFrame({"group": ["Ours", None], "row": ["RGB+Flow", "w/o CMFD"], "ball": [0.5, 0.4], "Avg.": [0.5, 0.4]})
    paper = pd.DataFrame({"group": ["Ours", ""], "row": ["RGB+Flow", "w/o CMFD"], "Ball": [0.75, 0.672],
                          "RG Avg.": [0.79, 0.755], "Fis-V Avg.": [0.814, 0.804]})
    merged = research.side_by_side(ours, paper)
    assert list(merged.columns) == ["group", "row", "ball", "Avg.", "Paper RG Avg.", "Paper Fis-V Avg."]
    assert merged["Paper RG Avg."].tolist() == [0.79, 0.755]
    extra = pd.concat([ours, pd.DataFrame({"group": ["Ours"], "row": ["new row"], "ball": [0.1], "Avg.": [0.1]})])
    assert research.side_by_side(extra, paper)["Paper RG Avg."].isna().tolist() == [False, False, True]
