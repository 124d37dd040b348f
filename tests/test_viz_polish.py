"""What the figures and tables show, read off the objects: legends beside the plot, axes on
the label scale, titles once and readable, words instead of codes, blanks instead of None."""

from __future__ import annotations

import colorsys

import numpy as np
import pandas as pd
import pytest

from pamfn import MODALITIES
from pamfn.viz import colors, figures, research, tables
from tests.support.explanations import make_explanation

IMPACTS = pd.DataFrame({"kind": ["loss_of_balance", "drop", "tremor", "off_beat", "off_energy"], "windows": 5, "clean": 9,
                        "auc": [0.51, 0.49, 0.53, 0.5, 0.52]})


def legend_above_the_plot(fig) -> bool:
    legend = fig.layout.legend
    return legend.orientation == "h" and legend.yanchor == "bottom" and legend.y >= 1


def test_fault_chart_legend_leaves_every_fault_label_visible():
    fig = research.fault_check_figure(IMPACTS)
    assert legend_above_the_plot(fig)  # not over the x axis's category labels
    assert list(fig.data[0].x) == list(research.FAULT_LABELS.values())
    assert fig.layout.title.subtitle.font.size >= 12 and "<sup>" not in fig.layout.title.text


def test_fig6_subtitle_is_readable():
    iv = pd.DataFrame([{"key": f"K={k}", "group": "", "row": f"K = {k}", "column": c, "mean": 0.4, "lo": 0.2, "hi": 0.5, "seeds": 3}
                       for k in (1, 4) for c in ("ball", "Avg.")])
    title = research.fig6_figure(iv).layout.title
    assert "<sup>" not in title.text and title.subtitle.font.size >= 12 and "3 seed(s)" in title.subtitle.text


def test_fig5_panel_titles_are_set_small_enough_to_stay_apart():
    exps = [make_explanation(seed=i) for i in range(2)]
    fig = research.decision_frequency_figure(research.decision_frequencies(exps), research.policy_entropy(exps))
    titles = [a for a in fig.layout.annotations if a.text.startswith("(")]
    assert len(titles) == 3 and {a.font.size for a in titles} == {research.SUBTITLE_SIZE}


def test_compare_scores_legend_outside_and_axis_on_the_label_scale():
    e = make_explanation()
    scores = pd.concat([tables.scores_table(e).assign(routine="a"), tables.scores_table(e).assign(routine="b")])
    fig = research.compare_scores_figure(scores, 25.0)
    assert legend_above_the_plot(fig) and fig.layout.margin.t >= 60  # above the top bar, in the margin
    assert tuple(fig.layout.xaxis.range) == (0, 25.0) and fig.layout.xaxis.title.text == "score (0 to 25)"
    assert fig.layout.margin.r >= 30  # room for the last tick (25) at the axis's end


def hue(hex_color: str) -> float:
    r, g, b = (int(hex_color.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4))
    return colorsys.rgb_to_hsv(r, g, b)[0] * 360


def test_highlight_track_has_its_own_colour_a_legend_entry_and_a_named_threshold():
    away = [min(abs(hue(colors.HIGHLIGHT_COLOR) - hue(c)), 360 - abs(hue(colors.HIGHLIGHT_COLOR) - hue(c)))
            for c in colors.MODALITY_COLORS.values()]
    assert min(away) >= 45, "the highlight bars must not read as a modality (e.g. optical flow's orange)"
    expl = make_explanation(T=40)
    hl = pd.DataFrame({"start_s": np.arange(10) * 5.12, "end_s": np.arange(1, 11) * 5.12, "probability": np.linspace(0, 1, 10)})
    fig = figures.timeline_figure(tables.msfd_table(expl), tables.fusion_count_table(expl), expl.duration_s, highlight_df=hl)
    bar = next(t for t in fig.data if t.name == "Highlight probability")
    assert bar.showlegend is not False and bar.marker.color == colors.HIGHLIGHT_COLOR
    assert "highlight threshold 0.5" in [a.text for a in fig.layout.annotations]
    assert any(s.y0 == 0.5 and s.y1 == 0.5 and s.yref == bar.yaxis for s in fig.layout.shapes)


def test_slide_figures_carry_one_title_each():
    expl = make_explanation()
    assert not figures.scores_figure(tables.scores_table(expl), expl.label_scale).layout.title.text  # the heading says "Scores"
    fig8 = figures.fusion_count_figure(tables.fusion_count_table(expl), expl.duration_s)
    assert not fig8.layout.title.text
    assert [a.text for a in fig8.layout.annotations if a.text.startswith("FusionNets")] == [
        "FusionNets enabled (PolicyNet, expected count)"]


def test_results_tables_show_blanks_not_none(tmp_path):
    ours = pd.DataFrame({"group": ["Ours", "Ours"], "row": ["RGB", "RGB+Flow"], "RGB": ["x", "x"], "Flow": [None, "x"],
                         "ball": [0.5, np.nan]})
    ours.to_csv(tmp_path / "t.csv", index=False)
    paper = pd.DataFrame({"group": ["Ours"], "row": ["RGB"], "RG Avg.": [0.7], "Fis-V Avg.": [0.8]})
    merged = research.side_by_side(pd.read_csv(tmp_path / "t.csv"), paper)
    text = merged[["group", "row", "RGB", "Flow"]]
    assert not text.isna().any().any() and merged.loc[0, "Flow"] == ""
    assert np.isnan(merged.loc[1, "ball"]) and np.isnan(merged.loc[1, "Paper RG Avg."])  # numbers keep their NaN


def test_the_interval_reference_is_named_with_its_group():
    iv = pd.DataFrame({"group": ["Weighted Fusion", "Ours"], "row": ["RGB+Flow+Audio"] * 2,
                       "diff_vs": ["RGB+Flow+Audio", np.nan]})
    assert research.interval_reference(iv) == ("Ours", "RGB+Flow+Audio")
    assert research.interval_reference(iv.assign(diff_vs=np.nan)) is None
    assert research.interval_reference(iv.drop(columns="diff_vs")) is None


@pytest.mark.parametrize("key", ["fault_auc", "fault_probe_scores", "degradation", "sentences"])
def test_check_tables_speak_words(key):
    raw = {
        "fault_auc": IMPACTS,
        "fault_probe_scores": pd.DataFrame({"kind": ["drop"], "trained_on": ["n_drops"], "test_windows": [3], "clean": [9],
                                            "auc": [0.6], "null_mean": [0.5], "null_sd": [0.02], "rho": [0.3]}),
        "degradation": pd.DataFrame({"modality": [*MODALITIES, "all"], "stretches": 1, "share_dropped": 0.5, "inside": 0.2,
                                     "outside": 0.3, "mean_drop": 0.1, "se": 0.01}),
        "sentences": pd.DataFrame({"kind": ["moment", "all"], "sentences": [2, 2], "hits": [0.5, 0.5], "chance": [0.4, 0.4]}),
    }[key]
    table = research.check_table(raw, key)
    assert not [c for c in table.columns if "_" in c], table.columns
    assert list(table.select_dtypes("number").to_numpy().ravel()) == list(raw.select_dtypes("number").to_numpy().ravel())
    words = table.select_dtypes(exclude="number").to_numpy().ravel().tolist()
    assert not [w for w in words if "_" in w or w in MODALITIES]
    if key == "fault_auc":  # the chart's own words
        assert table["fault"].tolist() == list(research.fault_check_figure(IMPACTS).data[0].x)
    if key == "degradation":
        assert table["degraded modality"].tolist() == [colors.modality_label(m) for m in MODALITIES] + ["all"]
    if key == "fault_probe_scores":
        assert table["trained on"].tolist() == ["number of drops"]
    if key == "sentences":
        assert table.columns[0] == "sentence kind"


def test_the_end_no_step_covers_is_greyed_and_named():
    from pamfn.viz.figures import msfd_panel

    rows = [{"stage": 2, "step": i, "modality": m, "weight": 1 / 3, "start_s": 5.12 * i, "end_s": 5.12 * (i + 1)}
            for i in range(9) for m in "VFA"]
    panel = msfd_panel(pd.DataFrame(rows), showlegend=False, duration_s=50.6)
    assert "no step covers the last 4.5 s" in panel.title
    assert [(s["x0"], s["x1"]) for s in panel.shapes] == [(pytest.approx(46.08), 50.6)]
    assert msfd_panel(pd.DataFrame(rows), showlegend=False, duration_s=46.08).shapes == []
    assert msfd_panel(pd.DataFrame(rows), showlegend=False, duration_s=46.4).shapes == []  # a last partial segment
