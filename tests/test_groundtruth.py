"""Explanations checked against ground truth events (pamfn.groundtruth, bench_explanations)
on tiny generated events."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pamfn.errors import DatasetError
from pamfn.groundtruth import (
    degradation_summary,
    degradation_weights,
    edge_and_interior,
    fault_auc,
    label_windows,
    neutrality,
    read_events,
    read_results,
    result_tables,
    roc_auc,
    sentence_hits,
)

ROOT = Path(__file__).resolve().parents[1]


def write_events(path: Path, rows: list[tuple]) -> Path:
    pd.DataFrame(rows, columns=["routine_id", "kind", "start_s", "end_s", "detail"]).to_csv(path, index=False)
    return path


def windows_of(rid: str, n: int, impact: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"routine_id": rid, "start_s": np.arange(n) * 5.12, "end_s": np.arange(1, n + 1) * 5.12,
                         "impact": impact, "z": impact / 0.1, "noise": 0.1, "significant": np.abs(impact) > 0.4})


def test_read_events_and_bad_files(tmp_path):
    path = write_events(tmp_path / "events.csv", [("a", "drop", 3.0, 4.5, ""), ("a", "degradation", 10, 20, "modality=A;type=crowd")])
    events = read_events(path)
    assert events["start_s"].tolist() == [3.0, 10.0]
    with pytest.raises(DatasetError, match="no events file"):
        read_events(tmp_path / "missing.csv")
    (tmp_path / "bad.csv").write_text("routine_id,kind\na,drop\n")
    with pytest.raises(DatasetError, match="lacks columns"):
        read_events(tmp_path / "bad.csv")
    write_events(tmp_path / "times.csv", [("a", "drop", 5.0, 4.0, "")])
    with pytest.raises(DatasetError, match="start_s <= end_s"):
        read_events(tmp_path / "times.csv")
    write_events(tmp_path / "negative.csv", [("a", "drop", 3.0, 4.5, ""), ("a", "drop", -2.0, 1.0, "")])
    with pytest.raises(DatasetError, match=r"1 event\(s\) without a valid 0 <= start_s <= end_s, first at line 3"):
        read_events(tmp_path / "negative.csv")
    write_events(tmp_path / "kinds.csv", [("a", "banana", 1.0, 2.0, "")])
    with pytest.raises(DatasetError, match="line 2 has kind 'banana'; events are of the kinds leap, pivot"):
        read_events(tmp_path / "kinds.csv")


def test_roc_auc_matches_the_rank_definition():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    pos, neg = rng.normal(1, 1, 30), rng.normal(0, 1, 50)
    expected = roc_auc_score(np.r_[np.ones(30), np.zeros(50)], np.r_[pos, neg])
    assert roc_auc(pos, neg) == pytest.approx(expected)
    assert roc_auc([1.0], [1.0]) == 0.5 and np.isnan(roc_auc([], [1.0]))


def test_fault_windows_rank_above_clean_ones_when_impacts_point_at_them():
    impact = np.zeros(10)
    impact[2] = -1.0  # the drop at 11 s lowers the score
    windows = pd.concat([windows_of("a", 10, impact), windows_of("b", 10, np.linspace(-0.1, 0.1, 10))], ignore_index=True)
    events = pd.DataFrame([("a", "drop", 11.0, 12.0, ""), ("a", "tremor", 30.0, 36.0, ""), ("b", "degradation", 0.0, 6.0, "modality=V"),
                           ("b", "off_beat", 20.0, 30.0, "")], columns=["routine_id", "kind", "start_s", "end_s", "detail"])
    labelled = label_windows(windows, events)
    assert labelled["off_beat"].sum() == 3 and labelled["clean_local"].sum() == 20 - 1 - 3 - 2
    assert labelled.loc[labelled["routine_id"] == "a", "drop"].tolist() == [i == 2 for i in range(10)]
    assert labelled["tremor"].sum() == 3 and labelled["clean"].sum() == 20 - 1 - 3 - 2 - 3
    assert labelled.loc[(labelled.routine_id == "b"), "clean"].tolist()[:2] == [False, False]  # degraded: not clean
    auc = fault_auc(labelled).set_index("kind")
    assert auc.loc["drop", "auc"] == 1.0 and auc.loc["drop", "windows"] == 1
    assert np.isnan(auc.loc["loss_of_balance", "auc"])
    n = neutrality(windows)
    assert n["windows"] == 20 and n["routines"] == 2 and n["mean_impact"] == pytest.approx(-0.05)
    assert n["se"] == pytest.approx(np.std([-0.1, 0.0], ddof=1) / np.sqrt(2))


def test_degradation_weights_inside_against_outside():
    steps = pd.DataFrame({"routine_id": "a", "start_s": np.arange(8) * 5.12, "end_s": np.arange(1, 9) * 5.12,
                          "V": 0.4, "F": 0.3, "A": 0.3})
    steps.loc[2:3, "V"] = 0.1
    events = pd.DataFrame([("a", "degradation", 10.24, 20.48, "modality=V;type=dim"), ("a", "degradation", 30.0, 41.0, "modality=A")],
                          columns=["routine_id", "kind", "start_s", "end_s", "detail"])
    table = degradation_weights(steps, events)
    assert table["modality"].tolist() == ["V", "A"]
    assert table.loc[0, "inside"] == pytest.approx(0.1) and table.loc[0, "drop"] == pytest.approx(0.4 * 6 / 6 - 0.1)
    summary = degradation_summary(table).set_index("modality")
    assert summary.loc["V", "share_dropped"] == 1.0 and summary.loc["A", "share_dropped"] == 0.0
    assert summary.loc["all", "stretches"] == 2


def test_edge_and_interior_windows_are_averaged_per_routine():
    windows = pd.concat([windows_of("a", 4, np.array([-0.3, 0.1, 0.1, 0.1])),
                         windows_of("b", 3, np.array([0.2, -0.4, 0.2]))]).sample(frac=1.0, random_state=0)
    split = edge_and_interior(windows)
    assert split["edge_mean_impact"] == pytest.approx(np.mean([(-0.3 + 0.1) / 2, (0.2 + 0.2) / 2]))
    assert split["interior_mean_impact"] == pytest.approx(np.mean([0.1, -0.4]))
    assert split["interior_se"] == pytest.approx(np.std([0.1, -0.4], ddof=1) / np.sqrt(2))
    assert neutrality(windows)["edge_mean_impact"] == split["edge_mean_impact"]


def test_sentence_hits_against_chance():
    windows = windows_of("a", 10, np.zeros(10))
    events = pd.DataFrame([("a", "drop", 11.0, 12.0, "")], columns=["routine_id", "kind", "start_s", "end_s", "detail"])
    sentences = pd.DataFrame({"routine_id": ["a", "a"], "kind": ["moment", "modality"], "start_s": [10.24, 40.0],
                              "end_s": [15.36, 45.0]})
    hits = sentence_hits(sentences, windows, events).set_index("kind")
    assert hits.loc["moment", "hits"] == 1.0 and hits.loc["modality", "hits"] == 0.0
    assert hits.loc["all", "hits"] == 0.5 and hits.loc["all", "chance"] == pytest.approx(0.1)


def test_bench_on_a_tiny_data_set_and_the_research_view_shows_it(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from tests.support.app_data import make_dataset

    data, ckpt = make_dataset(tmp_path / "d", per_action=3, media=False)
    labels = pd.read_csv(data / "labels.csv")
    test_ids = labels.loc[labels["split"] == "test", "routine_id"].tolist()
    train_ids = labels.loc[labels["split"] == "train", "routine_id"].tolist()
    write_events(data / "events.csv", [(test_ids[0], "drop", 2.0, 3.0, ""), (test_ids[0], "degradation", 0.0, 6.0, "modality=A"),
                                       (test_ids[-1], "loss_of_balance", 5.0, 6.0, "severity=0.5"),
                                       *[(r, k, 2.0, 3.0, "") for r in train_ids for k in ("drop", "loss_of_balance")]])
    out = tmp_path / "runs" / "explanations-results.json"
    cmd = [sys.executable, str(ROOT / "bench" / "bench_explanations.py"), "--data", str(data), "--checkpoint", str(ckpt),
           "--draws", "4", "--probe", "--out", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    result = read_results(out)
    assert result["missing"] == [] and result["neutrality"]["routines"] == len(test_ids)
    tables = result_tables(result)
    assert set(tables) == {"neutrality", "fault_auc", "fault_auc_local", "fault_probe", "fault_probe_scores", "degradation",
                           "sentences"}
    assert set(tables["fault_probe_scores"]["trained_on"]) == {"score", "execution"}  # no number of drops here
    assert set(tables["fault_auc"]["kind"]) >= {"drop", "loss_of_balance"}
    assert tables["fault_auc"]["auc"].dtype == float  # no tremor here: NaN, not None
    assert json.loads(out.read_text())["command"].startswith("python bench/bench_explanations.py")

    monkeypatch.setenv("PAMFN_DATA", str(data))
    monkeypatch.setenv("PAMFN_CHECKPOINT", str(ckpt))
    monkeypatch.setenv("PAMFN_RESULTS", str(tmp_path / "runs"))
    at = AppTest.from_file(str(ROOT / "app" / "views" / "research.py"), default_timeout=60).run()
    assert not at.exception, at.exception
    shown = [d.value for d in at.dataframe if "ROC AUC" in getattr(d.value, "columns", [])]  # tables in words
    assert shown and set(shown[0]["fault"]) >= {"drop", "loss of balance"}
    assert any(m.label.startswith("Mean score impact") for m in at.metric)
    assert any("trained on" in getattr(d.value, "columns", []) for d in at.dataframe)  # the detector probe's table


def test_results_file_errors(tmp_path):
    (tmp_path / "r.json").write_text("{not json")
    with pytest.raises(DatasetError, match="not a readable results file"):
        read_results(tmp_path / "r.json")
    (tmp_path / "r.json").write_text("{}")
    with pytest.raises(DatasetError, match="no neutrality"):
        read_results(tmp_path / "r.json")
