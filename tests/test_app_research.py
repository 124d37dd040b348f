"""The research page through Streamlit's testing API, on a small generated data set."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from tests.support.app_data import make_dataset

PAGE = str(Path(__file__).resolve().parents[1] / "app" / "views" / "research.py")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("research"), per_action=4, media=False)


def run_page(monkeypatch, data, ckpt) -> AppTest:
    monkeypatch.setenv("PAMFN_DATA", str(data))
    monkeypatch.setenv("PAMFN_CHECKPOINT", str(ckpt))
    at = AppTest.from_file(PAGE, default_timeout=60)
    return at.run()


def rho_table(at: AppTest) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if "rho" in getattr(d.value, "columns", []))


def test_research_view_draws_every_figure_for_the_test_split(monkeypatch, dataset):
    at = run_page(monkeypatch, *dataset)
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert at.title[0].value == "Research view"
    assert at.selectbox(key="research_split").value == "test"
    png = [json.loads(c.proto.config)["toImageButtonOptions"] for c in at.get("plotly_chart")]
    png = [p for p in png if p["filename"].startswith("data-")]  # results bundled in docs/ add their own figures
    assert [p["filename"] for p in png] == ["data-test-decision-frequencies", "data-test-msfd-weights", "data-test-predicted-vs-judged"]
    assert {p["scale"] for p in png} == {3}
    assert len(at.get("download_button")) == len(at.get("plotly_chart"))  # each figure has its HTML download
    rho = rho_table(at)
    assert list(rho["action"]) == ["ball", "hoop", "Avg."]
    assert list(rho["n"]) == [1, 1, 2]  # one test routine per action


def test_a_click_does_not_explain_the_split_again(monkeypatch, dataset):
    """A split has more routines than the per-routine cache holds (400 on the bundled set):
    it is kept whole, so a widget click redraws without explaining one routine again."""
    from app import state

    at = run_page(monkeypatch, *dataset)
    at.selectbox(key="research_split").select("train").run()
    calls = []
    real = state.explanation
    monkeypatch.setattr(state, "explanation", lambda *a, **k: calls.append(a[1]) or real(*a, **k))
    at.radio(key="fig5_check").set_value("None").run()
    assert not at.exception and calls == []
    at.selectbox(key="research_split").select("test").run()
    assert not at.exception and calls == []  # drawn before, in this process: kept too


def test_switching_split_and_actions(monkeypatch, dataset):
    at = run_page(monkeypatch, *dataset)
    at.selectbox(key="research_split").select("train").run()
    assert not at.exception
    rho = rho_table(at)
    assert list(rho["n"]) == [3, 3, 6]
    at.multiselect(key="research_actions").set_value(["hoop"]).run()
    rho = rho_table(at)
    assert list(rho["action"]) == ["hoop", "Avg."]
    at.multiselect(key="research_actions").set_value([]).run()
    assert "No routine in this split" in at.warning[0].value


def test_results_tables_show_paper_numbers_labelled(monkeypatch, dataset):
    at = run_page(monkeypatch, *dataset)
    at.selectbox(key="research_table").select("VI").run()
    assert not at.exception
    texts = " ".join(m.value for m in at.markdown)
    assert "Published in the paper" in texts and "Table VI" in texts
    paper = [d.value for d in at.dataframe if "RG Avg." in getattr(d.value, "columns", [])]
    assert paper and paper[-1].set_index("row").loc["Our Full Model", "RG Avg."] == pytest.approx(0.819)


def test_bad_checkpoint_gives_a_message_and_the_paper_tables(monkeypatch, dataset, tmp_path):
    data, _ = dataset
    at = run_page(monkeypatch, data, tmp_path / "no_such_checkpoint")
    assert not at.exception
    assert "cannot be loaded" in at.error[0].value
    assert any("Published in the paper" in m.value for m in at.markdown)


def test_mismatched_checkpoint_is_reported_not_crashing(monkeypatch, tmp_path):
    from tests.support.app_data import make_checkpoint

    data, _ = make_dataset(tmp_path / "a", per_action=2, media=False)
    other = make_checkpoint(tmp_path / "other_dims", dims={"V": 3, "F": 3, "A": 3})
    at = run_page(monkeypatch, data, other)
    assert not at.exception
    assert "feature dims do not match" in at.error[0].value


def test_reproduced_tables_appear_beside_the_paper(monkeypatch, dataset, tmp_path):
    run = tmp_path / "runs" / "sample_rg"
    run.mkdir(parents=True)
    pd.DataFrame({"group": ["Ours"], "row": ["RGB+Flow+Audio"], "ball": [0.612], "Avg.": [0.6]}).to_csv(run / "table_IV.csv", index=False)
    pd.DataFrame({"group": ["Ours"], "row": ["RGB+Flow+Audio"], "ball": [0.598], "Avg.": [0.59]}).to_csv(
        run / "table_IV_last_epoch.csv", index=False)
    monkeypatch.setenv("PAMFN_RESULTS", str(tmp_path / "runs"))
    at = run_page(monkeypatch, *dataset)
    assert at.selectbox(key="research_table").value == "IV"
    ours = [d.value for d in at.dataframe if "ball" in getattr(d.value, "columns", [])]
    assert [o["ball"].tolist() for o in ours] == [[0.612], [0.598]]
    assert ours[0]["Paper RG Avg."].tolist() == [0.819]  # the paper's full model, beside ours
    assert not at.info or all("No Table IV" not in i.value for i in at.info)


def plotly_array(value):
    """A trace's values from the chart's JSON (plotly writes numbers as base64 typed arrays)."""
    import base64

    import numpy as np

    if isinstance(value, dict):
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"])).astype(float)
    return np.asarray(value, dtype=float)


def test_fig5_is_the_expectation_of_the_policy_probabilities(monkeypatch, dataset):
    """The drawn frequencies equal the mean of the PolicyNet's probabilities over every step
    of the split's routines (per action and stage), computed here from policy_probs."""
    import numpy as np

    from pamfn.catalog import load_catalog
    from pamfn.explain import explain_routine
    from pamfn.routine import RoutineFeatures
    from pamfn.serving import CheckpointSet

    data, ckpt = dataset
    at = run_page(monkeypatch, data, ckpt)
    assert not at.exception, at.exception
    import plotly.graph_objects as go

    fig = go.Figure(json.loads(at.get("plotly_chart")[0].proto.spec))
    drawn = {}
    for trace in fig.data:
        if trace.name in ("ball", "hoop"):
            axis = trace.xaxis or "x"
            drawn[(trace.name, 1 if axis == "x" else int(axis[1:]))] = plotly_array(trace.y)
    routines = load_catalog(data).routines
    models = CheckpointSet(ckpt)
    expected = {}
    for rid, row in routines[routines["split"] == "test"].iterrows():
        expl = explain_routine(models.load(row["action"]), RoutineFeatures.load(row["features_path"]))
        for stage in expl.stages:
            expected.setdefault((row["action"], stage.stage), []).append(stage.policy_probs)
    assert set(drawn) == set(expected)
    for key, probs in expected.items():
        np.testing.assert_allclose(drawn[key], np.concatenate(probs).mean(axis=0), rtol=1e-6)  # float32 probabilities renormalised in float64
    entropy = next(d.value for d in at.dataframe if "policy entropy" in getattr(d.value, "columns", []))
    assert list(entropy.columns) == ["action", "stage", "steps", "policy entropy", "expected FusionNets"]  # no raw names
    assert set(entropy["stage"]) == {1, 2, 3} and entropy["policy entropy"].between(0, 1).all()
    assert "trivial solution" in " ".join(c.value for c in at.caption)
    at.radio(key="fig5_check").set_value("Argmax (deterministic mode, without eq. 9's Gumbel noise)").run()
    names = {t.get("name") for t in json.loads(at.get("plotly_chart")[0].proto.spec)["data"]}
    assert "ball (argmax)" in names


def test_seeded_intervals_and_fig6_from_run_folders(monkeypatch, dataset, tmp_path):
    run = tmp_path / "runs" / "seeded"
    run.mkdir(parents=True)
    pd.DataFrame({"group": ["Weighted Fusion", "Ours"], "row": ["RGB+Flow+Audio"] * 2, "RGB": ["x", None],
                  "ball": [0.4, 0.612], "Avg.": [0.4, 0.612]}).to_csv(run / "table_IV.csv", index=False)
    base = {"group": "Ours", "row": "RGB+Flow+Audio", "seeds": 3, "diff_vs": "", "inside_noise": False}
    wf = {**base, "group": "Weighted Fusion", "key": "wf-VFA", "diff_vs": "RGB+Flow+Audio", "inside_noise": True,
          "paper_inside_interval": False}
    pd.DataFrame([
        {**wf, "column": "ball", "mean": 0.4, "lo": 0.2, "hi": 0.6, "paper": 0.613},
        {**wf, "column": "Avg.", "mean": 0.4, "lo": 0.2, "hi": 0.6, "paper": 0.703},
        {**base, "key": "ours-VFA", "column": "ball", "mean": 0.612, "lo": 0.41, "hi": 0.77, "paper": 0.757, "paper_inside_interval": True},
        {**base, "key": "ours-VFA", "column": "Avg.", "mean": 0.612, "lo": 0.41, "hi": 0.77, "paper": 0.819, "paper_inside_interval": False},
    ]).to_csv(run / "table_IV_intervals.csv", index=False)
    fig6 = tmp_path / "runs" / "k-sweep"
    fig6.mkdir()
    pd.DataFrame({"group": [""] * 2, "row": ["K = 1", "K = 4"], "ball": [0.3, 0.5]}).to_csv(fig6 / "table_fig6.csv", index=False)
    pd.DataFrame([
        {"key": f"K={k}", "group": "", "row": f"K = {k}", "column": c, "mean": m, "lo": m - 0.2, "hi": m + 0.1, "seeds": 3}
        for k, m in ((1, 0.3), (4, 0.5)) for c in ("ball", "Avg.")
    ]).to_csv(fig6 / "table_fig6_intervals.csv", index=False)
    monkeypatch.setenv("PAMFN_RESULTS", str(tmp_path / "runs"))
    at = run_page(monkeypatch, *dataset)
    assert not at.exception, at.exception
    ours = next(d.value for d in at.dataframe if "ball" in getattr(d.value, "columns", []))
    assert ours["ball"].tolist() == [0.4, 0.612] and ours["RGB"].tolist() == ["x", ""]  # blank, not None
    intervals = [t.value for t in at.table]  # a static table: its cells wrap to the page's width
    assert [t["ball"].tolist() for t in intervals] == [["0.400 [0.200, 0.600] ~", "0.612 [0.410, 0.770] ≈"]]
    assert any("Mean over 3 seed(s) with 95% intervals" in m.value for m in at.markdown)
    assert any("a difference to the row Ours · RGB+Flow+Audio inside the noise" in c.value for c in at.caption)
    charts = [json.loads(c.proto.config)["toImageButtonOptions"]["filename"] for c in at.get("plotly_chart")]
    assert "k-sweep-fig6" in charts
    fig6_tables = [d.value for d in at.dataframe if "K" in getattr(d.value, "columns", [])]
    assert fig6_tables and fig6_tables[0]["K"].tolist() == [1, 4, 1, 4]


def test_a_bad_results_file_is_named_and_the_rest_of_the_view_stays(monkeypatch, dataset, tmp_path):
    runs = tmp_path / "runs"
    (runs / "odd").mkdir(parents=True)
    (runs / "odd" / "table_IV.csv").write_text("foo,bar\n1,2\n")
    (runs / "checks").mkdir()
    (runs / "checks" / "explanations-results.json").write_text(json.dumps({"neutrality": {"mean_impact": 0.0}}))
    monkeypatch.setenv("PAMFN_RESULTS", str(runs))
    at = run_page(monkeypatch, *dataset)
    assert not at.exception, at.exception
    errors = " ".join(e.value for e in at.error)
    assert "table_IV.csv: not a table written by `pamfn reproduce` (no column 'group', 'row')" in errors
    assert "explanations-results.json: its neutrality figures lack se, share_positive, share_significant" in errors
    assert any("Published in the paper" in m.value for m in at.markdown)  # the paper's table still drawn
    assert any("K" in getattr(d.value, "columns", []) for d in at.dataframe)  # and the tabs after it: Fig. 6 from docs/


def test_no_action_chosen_keeps_the_split_independent_sections(monkeypatch, dataset):
    at = run_page(monkeypatch, *dataset)
    at.multiselect(key="research_actions").set_value([]).run()
    assert not at.exception, at.exception
    assert "choose at least one action" in at.warning[0].value
    assert any("Nothing to draw" in i.value for i in at.info)
    assert at.selectbox(key="research_table").value == "IV"
    assert any("Published in the paper" in m.value for m in at.markdown)


def test_explanation_checks_speak_words(monkeypatch, dataset, tmp_path):
    checks = tmp_path / "runs" / "checks"
    checks.mkdir(parents=True)
    (checks / "explanations-results.json").write_text(json.dumps({
        "neutrality": {"mean_impact": 0.0012, "se": 0.0034, "share_positive": 0.5, "share_significant": 0.01},
        "fault_auc": [{"kind": "loss_of_balance", "windows": 4, "clean": 9, "auc": 0.61},
                      {"kind": "off_energy", "windows": 3, "clean": 9, "auc": 0.5}],
        "degradation": [{"modality": "A", "stretches": 2, "share_dropped": 0.5, "inside": 0.2, "outside": 0.3,
                         "mean_drop": 0.1, "se": 0.02}],
    }))
    monkeypatch.setenv("PAMFN_RESULTS", str(tmp_path / "runs"))
    at = run_page(monkeypatch, *dataset)
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Mean score impact ± standard error"] == "+0.001 ± 0.003"
    assert "± standard error" not in metrics  # no longer a metric of its own
    faults = next(d.value for d in at.dataframe if "fault" in getattr(d.value, "columns", []))
    assert list(faults.columns) == ["fault", "fault windows", "clean windows", "ROC AUC"]
    assert faults["fault"].tolist() == ["loss of balance", "off-energy section"]
    degradation = next(d.value for d in at.dataframe if "degraded modality" in getattr(d.value, "columns", []))
    assert degradation["degraded modality"].tolist() == ["Audio (A)"]
    assert not [c for c in degradation.columns if "_" in c]


def test_a_broken_member_or_routine_leaves_the_rest_in_view(monkeypatch, dataset, tmp_path):
    import shutil

    data, ckpts = tmp_path / "data", tmp_path / "ckpts"
    shutil.copytree(dataset[0], data)
    shutil.copytree(dataset[1], ckpts)
    (ckpts / "hoop" / "model.safetensors").write_bytes(b"cut short")
    at = run_page(monkeypatch, data, ckpts)
    assert not at.exception, at.exception
    warned = " ".join(w.value for w in at.warning)
    assert "No hoop checkpoint" in warned and "corrupt or truncated" in warned
    assert "1 of 2 routines left out" in warned  # the hoop test routine; ball's is drawn
    assert list(rho_table(at)["action"]) == ["ball", "Avg."]
