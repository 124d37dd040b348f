"""Highlight detection (Section IV-G): labels, the generated task, mAP, the model variant
without pooling, and the commands end to end on a tiny generated data set."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from pamfn.cli import main
from pamfn.data import load_dataset
from pamfn.errors import ConfigError, DatasetError
from pamfn.highlight.labels import labels_from_events, read_highlight_labels
from pamfn.highlight.metrics import average_precision, mean_average_precision, summarize_map
from pamfn.model import PAMFNConfig, build_model
from tests.support.toy import write_toy_highlights
from tests.support.train_args import TINY


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return write_toy_highlights(tmp_path_factory.mktemp("hl") / "toy", n_train=10, n_test=4)


def test_average_precision_by_hand():
    assert average_precision([0.9, 0.8, 0.1], [1, 1, 0]) == 1.0
    # ranks: 0.9 (neg), 0.8 (pos: precision 1/2), 0.1 (pos: precision 2/3)
    assert average_precision([0.9, 0.8, 0.1], [0, 1, 1]) == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert np.isnan(average_precision([0.3, 0.2], [0, 0]))
    assert mean_average_precision({"a": 1.0, "b": float("nan"), "c": 0.5}) == 0.75
    assert summarize_map({"ball": 0.6, "hoop": 0.8})["avg"] == pytest.approx(0.7)


def test_reader_accepts_a_good_table_and_names_each_bad_row(toy, tmp_path):
    data = load_dataset(toy)
    table = pd.read_csv(toy / "highlights.csv")
    labels = read_highlight_labels(toy / "highlights.csv", data)
    first = table["video"].iloc[0]
    assert len(labels) == len(data.samples) and labels[first].tolist() == table[table["video"] == first]["label"].tolist()
    table.to_parquet(tmp_path / "h.parquet")
    assert read_highlight_labels(tmp_path / "h.parquet", data)[first].tolist() == labels[first].tolist()
    cases = {
        "missing": (table.drop(columns="label"), "missing \\['label'\\]"),
        "label": (table.assign(label=table["label"].where(table.index != 3, 2)), "row 5: label 2 is not 0 or 1"),
        "text": (table.assign(segment=table["segment"].astype(object).where(table.index != 0, "x")), "row 2: segment 'x' is not an integer"),
        "video": (table.assign(video=table["video"].where(table.index != 0, "nobody")), "video 'nobody' is not a routine"),
        "past": (table.assign(segment=table["segment"].where(table.index != 0, 999)), "names segment 999"),
        "short": (table.drop(index=1), "the table labels"),
    }
    for name, (bad, message) in cases.items():
        bad.to_csv(tmp_path / f"{name}.csv", index=False)
        with pytest.raises(DatasetError, match=message):
            read_highlight_labels(tmp_path / f"{name}.csv", data)
    with pytest.raises(DatasetError, match="not found"):
        read_highlight_labels(tmp_path / "absent.csv", data)


def test_generated_task_marks_segments_an_element_covers_half_of(toy):
    data = load_dataset(toy)
    rid = data.samples[0].routine_id
    step = data.segment_seconds[data.samples[0].features]
    events = pd.DataFrame([
        {"routine_id": rid, "kind": "leap", "start_s": 2 * step, "end_s": 3.5 * step, "detail": ""},  # seg 2 full, seg 3 half
        {"routine_id": rid, "kind": "drop", "start_s": 6 * step, "end_s": 8 * step, "detail": ""},  # a fault, not an element
        {"routine_id": rid, "kind": "throw", "start_s": 9.7 * step, "end_s": 10.2 * step, "detail": ""},  # < half of each
    ])
    table = labels_from_events(events, data)
    mine = table[table["video"] == rid]["label"].to_numpy()
    assert np.flatnonzero(mine).tolist() == [2, 3]
    assert set(table["video"]) == {s.routine_id for s in data.samples}


def test_events_that_mark_no_segment_are_no_highlight_task(toy, tmp_path):
    import shutil

    from pamfn.highlight.labels import default_labels

    data_dir = tmp_path / "data"
    shutil.copytree(toy, data_dir)
    (data_dir / "highlights.csv").unlink()
    pd.DataFrame([{"routine_id": "somebody_else", "kind": "leap", "start_s": 1.0, "end_s": 3.0, "detail": ""}]).to_csv(
        data_dir / "events.csv", index=False)
    with pytest.raises(DatasetError, match="no element \\(leap, pivot, balance, throw\\) covers any segment"):
        default_labels(load_dataset(data_dir), None)


def test_highlight_model_keeps_every_segment():
    dims = {"V": 6, "F": 5, "A": 4}
    for T in (1, 7):
        x = {m: torch.randn(2, T, d) for m, d in dims.items()}
        for modalities in (("V", "F", "A"), ("A",)):
            cfg = PAMFNConfig.preset("rg", d=8, K=3, input_dims=dims, task="highlight", modalities=modalities)
            out = build_model(cfg).eval()(x)
            assert out.score.shape == (2, T) and all(s.shape == (2, T) for s in out.branch_scores.values())
            assert all(t.msfd_weights.shape[1] == T for t in out.stages)
        assert build_model(PAMFNConfig.preset("rg", d=8, K=3, input_dims=dims)).eval()(x).score.shape == (2,)
    with pytest.raises(ConfigError, match="not for late fusion"):
        PAMFNConfig.preset("rg", d=8, input_dims=dims, task="highlight", model="late_fusion")
    with pytest.raises(ConfigError, match="task"):
        PAMFNConfig.preset("rg", d=8, input_dims=dims, task="detect")


@pytest.mark.slow
def test_train_evaluate_and_table_ix_end_to_end(toy, tmp_path, capsys):
    out = tmp_path / "hl"
    assert main(["train", "--task", "highlight", "--data", str(toy), "--action", "all", "--out", str(out), *TINY]) == 0
    summary = json.loads((out / "ball" / "summary.json").read_text())
    assert set(summary["results"]) == {"V", "F", "A", "PAMFN"} and "validation split" in summary["selection"]
    assert json.loads((out / "index.json").read_text())["checkpoints"] == {"ball": "ball/checkpoint", "hoop": "hoop/checkpoint"}
    capsys.readouterr()
    assert main(["evaluate", "--task", "highlight", "--data", str(toy), "--checkpoint", str(out), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)["map"]
    assert printed["ball"]["PAMFN"] == pytest.approx(summary["results"]["PAMFN"]["test_map"])
    assert printed["ball"]["A"] == pytest.approx(summary["results"]["A"]["test_map"])
    assert main(["evaluate", "--task", "highlight", "--data", str(toy), "--checkpoint", str(out)]) == 0
    text = capsys.readouterr().out
    assert "| RGB+Flow+Audio (PAMFN) |" in text and "| Audio branch |" in text and "Average" in text
    # a score checkpoint is not a highlight detector
    assert main(["train", "--data", str(toy), "--action", "ball", "--modalities", "V", "--out", str(tmp_path / "score"), *TINY]) == 0
    assert main(["evaluate", "--task", "highlight", "--data", str(toy), "--checkpoint", str(tmp_path / "score" / "checkpoint")]) == 2
    assert "not a highlight detector" in capsys.readouterr().err
    table9 = tmp_path / "t9"
    assert main(["reproduce", "IX", "--data", str(toy), "--out", str(table9), "--action", "ball", *TINY]) == 0
    assert list(pd.read_csv(table9 / "table_IX.csv")["model"]) == ["RGB+Flow+Audio (PAMFN)", "RGB branch", "Flow branch", "Audio branch"]
    assert "0.747" in (table9 / "table_IX.md").read_text()


def test_no_labels_is_a_clear_error(tmp_path, capsys):
    from tests.support.toy import write_toy_dataset

    plain = write_toy_dataset(tmp_path / "plain", n_train=4, n_test=2)
    assert main(["train", "--task", "highlight", "--data", str(plain), "--action", "ball", "--out", str(tmp_path / "o"), *TINY]) == 2
    assert "no highlight labels" in capsys.readouterr().err
