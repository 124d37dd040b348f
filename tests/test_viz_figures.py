"""Tidy tables and plotly figures of an Explanation: built without a browser."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pamfn import MODALITIES
from pamfn.viz import colors, figures, tables
from tests.support.explanations import make_explanation


def test_msfd_table_has_every_step_of_every_stage_in_seconds():
    expl = make_explanation(T=40)
    df = tables.msfd_table(expl)
    assert list(df.columns) == ["stage", "step", "start_s", "end_s", "modality", "weight"]
    assert df.groupby("stage")["step"].nunique().to_dict() == {1: 20, 2: 10, 3: 1}
    sums = df.groupby(["stage", "step"])["weight"].sum()
    assert np.allclose(sums, 1.0)
    stage2 = df[(df.stage == 2) & (df.modality == "V")]
    assert stage2["start_s"].iloc[1] == pytest.approx(4 * 1.28)
    assert df[df.stage == 3]["end_s"].iloc[0] == pytest.approx(40 * 1.28)


def test_fusion_count_and_scores_tables():
    expl = make_explanation(K=4)
    counts = tables.fusion_count_table(expl)
    assert counts["count"].between(1, 4).all() and (counts["K"] == 4).all()
    scores = tables.scores_table(expl)
    assert scores["kind"].tolist() == ["judged", "predicted", "branch", "branch", "branch"]
    assert scores["score"].tolist() == [18.0, 17.3, 15.0, 16.2, 12.1]
    assert "judged" not in tables.scores_table(make_explanation(judged=None))["kind"].tolist()


def test_ablation_without_msfd_leaves_its_stages_out():
    expl = make_explanation()
    for st in expl.stages:
        st.msfd_weights = None
    assert tables.msfd_table(expl).empty


def test_waveform_envelope_bounds_the_signal():
    t = np.arange(8000 * 3) / 8000
    signal = 0.5 * np.sin(2 * np.pi * 220 * t)
    df = tables.waveform_table(signal, 8000, points=300)
    assert len(df) == 300
    assert df["hi"].max() == pytest.approx(0.5, abs=1e-3) and df["lo"].min() == pytest.approx(-0.5, abs=1e-3)
    assert df["time_s"].iloc[-1] < 3.0 and df["time_s"].is_monotonic_increasing
    assert tables.waveform_table(np.zeros(0), 8000).empty


def test_msfd_figure_stacks_each_step_over_its_real_window():
    expl = make_explanation(T=40)
    fig = figures.msfd_figure(tables.msfd_table(expl), expl.duration_s)
    stage2 = [tr for tr in fig.data if tr.xaxis == "x2"]
    assert [tr.name for tr in stage2] == [colors.modality_label(m) for m in MODALITIES]
    x, top = np.asarray(stage2[-1].x), np.asarray(stage2[-1].y)
    assert x[0] == 0 and x[1] == pytest.approx(4 * 1.28) and x[-1] == pytest.approx(40 * 1.28)
    assert np.allclose(top, 1.0)
    assert [tr.line.color for tr in stage2] == [colors.MODALITY_COLORS[m] for m in MODALITIES]
    stage3 = [tr for tr in fig.data if tr.xaxis == "x3"]
    assert len(stage3[0].x) == 2, "stage 3 is one bar over the whole routine"


def test_fusion_count_figure_marks_K():
    expl = make_explanation(K=6)
    fig = figures.fusion_count_figure(tables.fusion_count_table(expl), expl.duration_s)
    assert any(getattr(s, "y0", None) == 6 for s in fig.layout.shapes)
    assert any("K = 6" in (a.text or "") for a in fig.layout.annotations)


def test_timeline_shares_one_time_axis_and_marks_windows():
    expl = make_explanation(T=40)
    wave = tables.waveform_table(np.sin(np.arange(8000 * 51) / 50.0), 8000)
    occ = pd.DataFrame({"start_s": np.arange(10) * 5.12, "end_s": np.arange(1, 11) * 5.12, "impact": np.linspace(-1, 1, 10),
                        "noise": 0.2, "significant": [True] + [False] * 9})
    fig = figures.timeline_figure(tables.msfd_table(expl), tables.fusion_count_table(expl), expl.duration_s, wave, occ,
                                  windows=[(5.12, 10.24, "T1")])
    axes = [k for k in fig.layout.to_plotly_json() if k.startswith("xaxis")]
    assert len(axes) == 6  # waveform, 3 MSFD stages, counts, occlusion
    for k in axes:
        assert tuple(fig.layout[k].range) == (0, pytest.approx(expl.duration_s))
    assert fig.layout.dragmode is False
    assert any(getattr(s, "x0", None) == 5.12 and getattr(s, "x1", None) == 10.24 for s in fig.layout.shapes)
    bars = [t for t in fig.data if t.type == "bar"][0]
    assert list(bars.marker.color[:2]) == ["#dc2626", "#9ca3af"]  # only windows beyond their noise are coloured
    assert list(bars.error_y.array) == pytest.approx([0.2] * 10)


def test_scores_figure_uses_the_modality_colours():
    expl = make_explanation()
    fig = figures.scores_figure(tables.scores_table(expl), expl.label_scale)
    bar = fig.data[0]
    assert list(bar.marker.color[2:]) == [colors.MODALITY_COLORS[m] for m in MODALITIES]
    assert tuple(fig.layout.xaxis.range) == (0, 25.0)


def test_timeline_refuses_an_empty_figure():
    expl = make_explanation()
    with pytest.raises(ValueError, match="nothing to draw"):
        figures.timeline_figure(tables.msfd_table(expl).iloc[:0], tables.fusion_count_table(expl).iloc[:0], expl.duration_s)


def test_fault_check_figure_sets_impacts_beside_the_probe():
    from pamfn.viz.research import fault_check_figure

    impacts = pd.DataFrame({"kind": ["loss_of_balance", "drop", "tremor"], "windows": [5, 3, 4], "clean": 9, "auc": [0.51, 0.49, 0.53]})
    probe = pd.DataFrame({"kind": ["drop", "drop", "loss_of_balance"], "features": ["V", "V+F+A", "V+F+A"],
                          "train_windows": 1, "test_windows": 1, "clean": 1, "auc": [0.7, 0.9, 0.8]})
    fig = fault_check_figure(impacts, probe)
    assert [t.type for t in fig.data] == ["bar", "bar"]
    assert list(fig.data[0].x) == ["loss of balance", "drop", "tremor"] and list(fig.data[0].y) == [0.51, 0.49, 0.53]
    got = list(fig.data[1].y)
    assert got[:2] == [0.8, 0.9] and np.isnan(got[2])  # the V+F+A probe; tremor was not probed
    assert sorted(s.y0 for s in fig.layout.shapes) == [0.5, 0.75]
    assert len(fault_check_figure(impacts).data) == 1
    scores = pd.DataFrame({"kind": ["drop", "drop"], "trained_on": ["score", "n_drops"], "test_windows": 1, "clean": 1,
                           "auc": [0.45, 0.6], "null_mean": [0.47, 0.48], "null_sd": [0.05, 0.02], "rho": 0.5})
    fig = fault_check_figure(impacts, probe, scores)
    assert [t.name.split()[1] for t in fig.data] == ["model's", "fault", "null:", "probe"]
    assert np.isnan(fig.data[1].y[0]) and fig.data[1].y[1] == 0.45  # the detector trained on the total score
    assert "0.470 ± 0.050" in fig.data[1].customdata[1] and fig.data[1].customdata[0] == ""  # its null, in the hover
    null = fig.data[2]  # and drawn on the detector's bar: mean with the sd as its error bar
    assert null.type == "scatter" and null.offsetgroup == fig.data[1].offsetgroup and fig.layout.scattermode == "group"
    assert np.isnan(null.y[0]) and null.y[1] == 0.47 and null.error_y.array[1] == 0.05
    without = scores.drop(columns=["null_mean", "null_sd"])  # results written before the nulls: no null trace
    assert [t.type for t in fault_check_figure(impacts, probe, without).data] == ["bar", "bar", "bar"]
