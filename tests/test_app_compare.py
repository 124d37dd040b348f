"""The compare page through Streamlit's testing API, and its figures without a browser."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from pamfn import MODALITIES
from pamfn.explanation import Explanation, StageExplanation, stage_spans
from pamfn.routine import RoutineFeatures
from pamfn.routine_library import RoutineLibrary
from pamfn.viz import research
from pamfn.viz.colors import MODALITY_COLORS
from tests.support.app_data import make_dataset

PAGE = str(Path(__file__).resolve().parents[1] / "app" / "views" / "compare.py")


def expl(rid: str, T: int, counts: int = 2) -> Explanation:
    rng = np.random.default_rng(T)
    stages = [StageExplanation(i + 1, s, e, msfd_weights=rng.dirichlet(np.ones(3), len(s)), fusion_count=np.full(len(s), counts))
              for i, (s, e) in enumerate(stage_spans(T, 1.28))]
    return Explanation(rid, 12.0, 0.48, 25.0, {"V": 11.0, "F": 10.0, "A": 7.0}, 4, stages, T * 1.28, 1.28,
                       action="ball", judged_score=13.0)


def test_comparison_tables_and_figure_share_one_axis():
    a, b = expl("athlete", 16), expl("reference", 32, counts=3)
    msfd, counts = research.comparison_tables({"athlete": a, "reference": b}, stage=2)
    assert set(msfd["routine"]) == {"athlete", "reference"}
    assert len(msfd) == (16 // 4 + 32 // 4) * 3 and len(counts) == 16 // 4 + 32 // 4
    assert counts.groupby("routine")["share_end"].max().round(6).tolist() == [1.0, 1.0]
    fig = research.comparison_figure(msfd, counts, K=4)
    assert fig.layout.xaxis4.title.text == "time (s)"
    lines = [t for t in fig.data if t.x and t.x[0] is not None]
    ref_counts = [t for t in lines if t.name == "reference" and "FusionNets" in t.hovertemplate][0]
    assert max(ref_counts.x) == pytest.approx(32 * 1.28) and set(ref_counts.y) == {3.0}
    athlete_audio = [t for t in lines if t.name == "athlete" and t.line.color == MODALITY_COLORS["A"]][0]
    assert athlete_audio.line.dash == "solid"
    assert {t.line.dash for t in lines if t.name == "reference"} == {"dash"}
    rel = research.comparison_figure(msfd, counts, relative=True)
    assert max(max(t.x) for t in rel.data if t.x and t.x[0] is not None) == pytest.approx(100.0)
    assert sum(1 for t in fig.data if t.showlegend is not False) == 2  # one legend entry per routine
    assert len([t for t in lines if t.line.color in {MODALITY_COLORS[m] for m in MODALITIES}]) == 6


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("compare"), per_action=3, media=False)


def page(monkeypatch, data, ckpt, library) -> AppTest:
    monkeypatch.setenv("PAMFN_DATA", str(data))
    monkeypatch.setenv("PAMFN_CHECKPOINT", str(ckpt))
    monkeypatch.setenv("PAMFN_LIBRARY", str(library))
    return AppTest.from_file(PAGE, default_timeout=60).run()


def chosen(at: AppTest, key: str) -> str:
    """The label shown in a routine picker."""
    box = at.selectbox(key=key)
    return box.options[box.index]


def test_reference_defaults_to_the_best_judged_routine_of_the_same_apparatus(monkeypatch, dataset, tmp_path):
    from pamfn.catalog import load_catalog

    data, ckpt = dataset
    at = page(monkeypatch, data, ckpt, tmp_path / "lib")
    assert not at.exception, at.exception
    routines = load_catalog(data).routines
    athlete = chosen(at, "compare_a").split(" · ")[0]
    same = routines[routines.action == routines.loc[athlete, "action"]].drop(index=athlete)
    assert chosen(at, "compare_b").split(" · ")[0] == same["score"].idxmax()
    assert len(at.get("plotly_chart")) == 2 and len(at.get("download_button")) == 2
    assert len(at.metric) == 6
    assert not at.warning and not at.info

    at.selectbox(key="compare_a").select("dataset:hoop_02").run()
    assert chosen(at, "compare_b").startswith("hoop")
    at.toggle(key="compare_relative").set_value(True).run()
    assert not at.exception


def test_library_routine_against_a_data_set_routine(monkeypatch, dataset, tmp_path):
    data, ckpt = dataset
    e = expl("uploaded", 20)
    feats = RoutineFeatures({m: np.zeros((20, 4), np.float32) for m in MODALITIES}, routine_id="uploaded")
    RoutineLibrary(tmp_path / "lib").add(feats, e, name="Anna, Nov")
    at = page(monkeypatch, data, ckpt, tmp_path / "lib")
    assert not at.exception, at.exception
    assert chosen(at, "compare_a").startswith("Library · Anna, Nov · saved ")
    assert chosen(at, "compare_b").startswith("ball")
    assert at.metric[0].value == "12.00"


def test_library_entries_of_one_name_are_all_offered(monkeypatch, dataset, tmp_path):
    data, ckpt = dataset
    library = RoutineLibrary(tmp_path / "lib")
    feats = RoutineFeatures({m: np.zeros((20, 4), np.float32) for m in MODALITIES}, routine_id="uploaded")
    older = library.add(feats, expl("uploaded", 20), name="Anna")
    newer = library.add(feats, replace(expl("uploaded", 24), action="hoop"), name="Anna")
    at = page(monkeypatch, data, ckpt, tmp_path / "lib")
    assert not at.exception, at.exception
    ids = at.selectbox(key="compare_a").options
    assert sum(o.startswith("Library · Anna · saved") for o in ids) == 2
    assert at.selectbox(key="compare_a").value == f"library:{newer.entry_id}", "the newest entry is the athlete"
    assert chosen(at, "compare_b").split(" · ")[1] == "hoop", "against the best hoop routine"
    at.selectbox(key="compare_a").select(f"library:{older.entry_id}").run()
    assert not at.exception and chosen(at, "compare_b").split(" · ")[1] == "ball"


def test_odd_pairs_are_named(monkeypatch, dataset, tmp_path):
    data, ckpt = dataset
    at = page(monkeypatch, data, ckpt, tmp_path / "lib")
    at.selectbox(key="compare_a").select("dataset:ball_00").run()
    at.selectbox(key="compare_b").select("dataset:ball_00").run()
    assert not at.exception, at.exception
    assert any("the same routine" in i.value for i in at.info)
    at.selectbox(key="compare_b").select("dataset:hoop_01").run()
    assert any("Different apparatus (ball against hoop)" in w.value for w in at.warning)


def test_choices_survive_a_visit_to_another_page(monkeypatch, dataset, tmp_path):
    data, ckpt = dataset
    monkeypatch.setenv("PAMFN_DATA", str(data))
    monkeypatch.setenv("PAMFN_CHECKPOINT", str(ckpt))
    monkeypatch.setenv("PAMFN_LIBRARY", str(tmp_path / "lib"))
    at = AppTest.from_file(str(Path(PAGE).parents[1] / "streamlit_app.py"), default_timeout=60).run()
    at.switch_page("views/compare.py").run()
    at.selectbox(key="compare_a").select("dataset:hoop_00").run()
    at.selectbox(key="compare_b").select("dataset:ball_02").run()
    at.switch_page("views/research.py").run()
    at.switch_page("views/compare.py").run()
    assert not at.exception, at.exception
    assert at.selectbox(key="compare_a").value == "dataset:hoop_00"
    assert at.selectbox(key="compare_b").value == "dataset:ball_02"


def test_nothing_to_compare(monkeypatch, tmp_path):
    at = page(monkeypatch, tmp_path / "no_data", tmp_path / "no_ckpt", tmp_path / "lib")
    assert not at.exception
    assert "Comparing needs two routines" in at.info[0].value
    assert "cannot be read" in at.error[0].value and "dataset.json" in at.error[0].value
