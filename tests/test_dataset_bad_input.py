"""Bad labels are refused with a message naming the problem, and ``import-official`` on bad
input leaves nothing behind; what it makes gets the umask's modes."""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pamfn.cli import main as cli
from pamfn.data import import_official, load_dataset
from pamfn.data.dataset import read_labelled
from pamfn.errors import DatasetError
from tests.support.toy import write_toy_dataset


@pytest.fixture
def toy(tmp_path):
    return write_toy_dataset(tmp_path / "toy", actions=("ball", "hoop"), n_train=4, n_test=2)


def _set_score(root, rid, value, column="score"):
    table = pd.read_csv(root / "labels.csv", dtype={"routine_id": str, column: object})
    table.loc[table.routine_id == rid, column] = value
    table.to_csv(root / "labels.csv", index=False)


@pytest.mark.parametrize(("field", "message"), [
    ({"label_scale": True}, "label_scale must be a positive number (the top of the score scale), got True"),
    ({"label_scale": float("inf")}, "label_scale must be a positive number (the top of the score scale), got inf"),
    ({"label_scale": 0}, "got 0"),
    ({"actions": "ball"}, "actions must be a list of action names, got 'ball'"),
    ({"actions": []}, "actions must be a list of action names, got []"),
    ({"labels": 5}, "labels must name a .csv or .parquet file in the folder, got 5"),
    ({"labels": "../elsewhere.csv"}, "got '../elsewhere.csv'"),
    ({"labels": "labels.txt"}, "got 'labels.txt'"),
], ids=["scale-bool", "scale-inf", "scale-0", "actions-word", "actions-empty", "labels-number", "labels-outside",
        "labels-txt"])
def test_a_dataset_json_field_of_the_wrong_kind_is_named(toy, field, message):
    meta = json.loads((toy / "dataset.json").read_text())
    (toy / "dataset.json").write_text(json.dumps({**meta, **field}))
    with pytest.raises(DatasetError, match=r"dataset\.json: .*" + re.escape(message)):
        load_dataset(toy)


@pytest.mark.parametrize("command", ["evaluate", "calibrate-ood"])
def test_a_non_numeric_score_is_named_on_the_command_line(toy, tmp_path, capsys, command):
    _set_score(toy, "hoop_001", "abc")
    rc = cli([command, "--data", str(toy), "--checkpoint", str(tmp_path / "no-checkpoint"), "--action", "hoop"])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "labels.csv" in err and "hoop_001" in err and "non-numeric score 'abc'" in err


@pytest.mark.parametrize("value", ["99", "-5", "25.01"])
def test_a_score_outside_the_label_scale_is_refused(toy, value):
    _set_score(toy, "ball_002", value)
    with pytest.raises(DatasetError, match=rf"labels.csv: routine ball_002 \(ball\) has score {value}, outside 0..25 "
                                           r"\(dataset.json label_scale\)"):
        load_dataset(toy)


def test_a_score_outside_the_label_scale_is_named_on_the_command_line(toy, tmp_path, capsys):
    _set_score(toy, "ball_002", "99")
    assert cli(["evaluate", "--data", str(toy), "--checkpoint", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err
    assert "ball_002" in err and "score 99, outside 0..25" in err and "Traceback" not in err


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_a_score_that_is_not_finite_is_refused(toy, value):
    _set_score(toy, "ball_002", value)
    with pytest.raises(DatasetError, match="routine ball_002 .* no finite score"):
        load_dataset(toy)


def test_the_ends_of_the_label_scale_are_scores(toy):
    _set_score(toy, "ball_000", "0")
    _set_score(toy, "ball_001", "25")
    scores = {s.routine_id: s.score for s in load_dataset(toy).samples}
    assert scores["ball_000"] == 0 and scores["ball_001"] == 25


def test_declared_sub_scores_are_checked_against_their_range(toy):
    table = pd.read_csv(toy / "labels.csv", dtype={"routine_id": str})
    table["difficulty"] = 4.0
    table.to_csv(toy / "labels.csv", index=False)
    assert read_labelled(toy).samples[0].extra == {"difficulty": 4.0}  # undeclared: any range
    meta = json.loads((toy / "dataset.json").read_text())
    (toy / "dataset.json").write_text(json.dumps({**meta, "sub_scores": {"difficulty": 8.0}}))
    assert read_labelled(toy).samples[0].extra == {"difficulty": 4.0}
    _set_score(toy, "hoop_003", "9.5", column="difficulty")
    with pytest.raises(DatasetError, match=r"hoop_003 \(hoop\) has difficulty 9.5, outside 0..8 \(dataset.json sub_scores\)"):
        read_labelled(toy)
    (toy / "dataset.json").write_text(json.dumps({**meta, "sub_scores": {"difficulty": "eight"}}))
    with pytest.raises(DatasetError, match="dataset.json: sub_scores"):
        read_labelled(toy)


def test_the_bundled_sample_loads():
    sample = Path(__file__).resolve().parents[1] / "sample_data"
    if not (sample / "labels.csv").is_file():
        pytest.skip("no bundled sample")
    labelled = read_labelled(sample)
    assert all(0 <= s.score <= labelled.label_scale for s in labelled.samples)


# --- import-official ---------------------------------------------------------------------------------


def released_rg(root, train=("Ball_001 8 7 15.5", "Hoop_002 8 7 12"), test=("Ball_003 8 7 20",), dims=None):
    """The released RG layout in miniature: RG/{train,test}.txt (header, total in column 3)
    and three pickled feature dicts (one (T, D) array per video; ``dims`` per video or all 4)."""
    labels, feats = root / "labels", root / "feats"
    (labels / "RG").mkdir(parents=True)
    feats.mkdir()
    for split, rows in (("train", train), ("test", test)):
        (labels / "RG" / f"{split}.txt").write_text("\n".join(["name d e total", *rows]) + "\n")
    rng = np.random.default_rng(0)
    names = ["Ball_001", "Hoop_002", "Ball_003"]
    for key in ("rgb_VST", "flow_I3D", "audio_AST"):
        table = {n: rng.standard_normal((6, (dims or {}).get(n, 4))).astype(np.float32) for n in names}
        np.save(feats / f"RG_{key}.npy", table, allow_pickle=True)
    return feats, labels


def _import_cli(feats, labels, out, capsys):
    rc = cli(["import-official", str(feats), str(labels), str(out), "--dataset", "rg", "--trust-pickle"])
    return rc, capsys.readouterr().err


def _nothing_left(out):
    return not out.exists() and not [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}")]


@pytest.mark.parametrize(
    ("train", "message"),
    [
        (("Ball_001 8 7 15.5", "Ball_001 8 7 12"), r"train.txt, line 3: video Ball_001 is listed twice for 'ball' \(also train.txt, line 2\)"),
        (("Ball_001 8 7 15.5", "Hoop_002 8 7 nan"), r"train.txt, line 3: Hoop_002 has no finite score in column 3 \(nan\)"),
        (("Ball_001 8 7 15.5", "Hoop_002 8 7 26"), r"train.txt, line 3: Hoop_002 has score 26 in column 3, outside 0..25"),
        (("Ball_001 8 7 15.5", "../Hoop_002 8 7 12"), r"train.txt, line 3: video name '../Hoop_002' is not a plain file name"),
    ],
)
def test_import_official_refuses_bad_labels_and_leaves_nothing(tmp_path, capsys, train, message):
    feats, labels = released_rg(tmp_path, train=train)
    out = tmp_path / "out"
    for _ in range(2):  # a rerun says the same, not "already exists"
        rc, err = _import_cli(feats, labels, out, capsys)
        assert rc == 2 and re.search(message, err), err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
        assert _nothing_left(out)


def test_import_official_refuses_a_video_in_both_splits(tmp_path):
    feats, labels = released_rg(tmp_path, test=("Ball_001 8 7 20",))
    with pytest.raises(DatasetError, match=r"test.txt, line 2: video Ball_001 is listed twice .*train.txt, line 2"):
        import_official(feats, labels, tmp_path / "out", "rg", trust_pickle=True)
    assert _nothing_left(tmp_path / "out")


def test_import_official_validates_the_set_before_renaming_it(tmp_path, capsys):
    feats, labels = released_rg(tmp_path, dims={"Hoop_002": 5})  # one video's features differ in size
    out = tmp_path / "made" / "for" / "out"
    rc, err = _import_cli(feats, labels, out, capsys)
    assert rc == 2 and "differ" in err and f"{out} not written" in err and ".part" not in err, err
    assert not (tmp_path / "made").exists(), "the parents it made go too"


def test_import_official_names_a_label_file_that_is_not_utf8(tmp_path, capsys):
    feats, labels = released_rg(tmp_path)
    (labels / "RG" / "train.txt").write_bytes(b"name d e total\n\xff\xfe Ball_001 8 7 15.5\n")
    rc, err = _import_cli(feats, labels, tmp_path / "out", capsys)
    assert rc == 2 and "train.txt: not a UTF-8 text label file" in err and "Traceback" not in err, err
    assert _nothing_left(tmp_path / "out")


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_import_official_output_gets_the_umask_modes(tmp_path):
    feats, labels = released_rg(tmp_path)
    out = import_official(feats, labels, tmp_path / "out", "rg", trust_pickle=True)
    mask = _umask()
    folders = [out, *(p for p in out.rglob("*") if p.is_dir())]
    files = [p for p in out.rglob("*") if p.is_file()]
    assert len(files) == 5  # labels.csv, dataset.json, three features files
    assert {oct(stat.S_IMODE(p.stat().st_mode)) for p in folders} == {oct(0o777 & ~mask)}
    assert {oct(stat.S_IMODE(p.stat().st_mode)) for p in files} == {oct(0o666 & ~mask)}


def test_import_official_reports_an_empty_split_without_failing(tmp_path, capsys):
    feats, labels = released_rg(tmp_path)  # no hoop routine in the test split
    rc = cli(["import-official", str(feats), str(labels), str(tmp_path / "out"), "--dataset", "rg", "--trust-pickle"])
    assert rc == 0 and "ball: 1/1, hoop: 1/0" in capsys.readouterr().out


@pytest.mark.parametrize("column", ["routine_id", "action", "split"])
def test_a_blank_id_action_or_split_names_its_line(toy, column):
    table = pd.read_csv(toy / "labels.csv", dtype=str)
    table.loc[2, column] = None  # the CSV's line 4
    table.to_csv(toy / "labels.csv", index=False)
    with pytest.raises(DatasetError, match=rf"labels.csv: line 4 has no {column}"):
        load_dataset(toy)


def test_a_features_path_naming_a_folder_says_so(toy):
    table = pd.read_csv(toy / "labels.csv", dtype=str)
    (toy / table.loc[0, "features"]).unlink()
    table.loc[0, "features"] = "features"
    table.to_csv(toy / "labels.csv", index=False)
    with pytest.raises(DatasetError, match=r"labels without features, .*features is a folder, not a features file"):
        load_dataset(toy)


@pytest.mark.parametrize(("column", "value", "message"), [
    ("features", "/etc/hostname", "is absolute"),
    ("features", "../elsewhere/ball_000.npz", "leads outside the data set folder"),
    ("features", "features/../../ball_000.npz", "leads outside the data set folder"),
    ("media", "/etc/hostname", "is absolute"),
    ("media", "../video.mp4", "leads outside the data set folder"),
], ids=["features-absolute", "features-parent", "features-climbing", "media-absolute", "media-parent"])
def test_a_path_outside_the_data_set_folder_is_refused(toy, column, value, message):
    table = pd.read_csv(toy / "labels.csv", dtype=str)
    table.loc[1, column] = value
    table.to_csv(toy / "labels.csv", index=False)
    rid = table.loc[1, "routine_id"]
    with pytest.raises(DatasetError, match=rf"labels.csv: routine {rid}'s {column} path .*{message}"):
        read_labelled(toy)


def test_a_path_inside_the_folder_may_pass_through_dots(toy):
    table = pd.read_csv(toy / "labels.csv", dtype=str)
    table.loc[0, "features"] = "features/./../" + table.loc[0, "features"]
    table.to_csv(toy / "labels.csv", index=False)
    assert load_dataset(toy).samples


def test_two_routines_sharing_one_features_file_are_refused(toy):
    table = pd.read_csv(toy / "labels.csv", dtype=str)
    table.loc[1, "features"] = table.loc[0, "features"]
    table.to_csv(toy / "labels.csv", index=False)
    first, second = table.loc[0, "routine_id"], table.loc[1, "routine_id"]
    with pytest.raises(DatasetError, match=rf"routines {first} and {second} share the features file"):
        read_labelled(toy)
