"""One reader of a data set: a Fis-V layout (every routine under TES and PCS), made by
``pamfn import-official`` from tiny files in the released format, loads for training and
opens in the dashboard's routine, research and compare views."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from pamfn.catalog import load_catalog
from pamfn.cli import main as cli
from pamfn.data.dataset import load_dataset
from pamfn.errors import DatasetError
from pamfn.presets import LABEL_SCALES
from tests.support.app_data import DIMS, make_checkpoint

VIEWS = Path(__file__).resolve().parents[1] / "app" / "views"
TRAIN, TEST = ["1_01", "1_02", "1_03"], ["2_01", "2_02"]


def released_fisv(root: Path) -> tuple[Path, Path]:
    """The authors' Fis-V release in miniature: FISV/{train,test}.txt (``name TES PCS``, no
    header) and the three pickled feature dicts, one (T, D) array per video."""
    labels, feats = root / "labels", root / "feats"
    (labels / "FISV").mkdir(parents=True)
    feats.mkdir()
    rng = np.random.default_rng(0)
    for split, names in (("train", TRAIN), ("test", TEST)):
        rows = [f"{n} {rng.uniform(20, 40):.2f} {rng.uniform(20, 40):.2f}" for n in names]
        (labels / "FISV" / f"{split}.txt").write_text("\n".join(rows) + "\n")
    for m, name in (("V", "rgb_VST"), ("F", "flow_I3D"), ("A", "audio_AST")):
        table = {n: rng.standard_normal((14, DIMS[m])).astype(np.float32) for n in TRAIN + TEST}
        np.save(feats / f"FISV_{name}.npy", table, allow_pickle=True)
    return feats, labels


@pytest.fixture(scope="module")
def fisv(tmp_path_factory):
    root = tmp_path_factory.mktemp("fisv")
    feats, labels = released_fisv(root)
    out = root / "FisV"
    assert cli(["import-official", str(feats), str(labels), str(out), "--dataset", "fisv", "--trust-pickle"]) == 0
    for seed, action in enumerate(("TES", "PCS")):
        make_checkpoint(root / "ckpts" / action, seed=seed, label_scale=LABEL_SCALES["fisv"])  # Fis-V's scores: 0-45
    (root / "ckpts" / "index.json").write_text(json.dumps({"checkpoints": {"TES": "TES", "PCS": "PCS"}}))
    return out, root / "ckpts"


def test_training_and_the_dashboard_read_the_same_rows(fisv):
    data, _ = fisv
    dataset = load_dataset(data)
    catalog = load_catalog(data)
    assert len(dataset.samples) == len(catalog.routines) == 2 * len(TRAIN + TEST)
    assert sorted(catalog.routines.index)[:2] == ["1_01 · PCS", "1_01 · TES"]
    assert [(s.routine_id, s.action, s.score) for s in dataset.samples] == list(
        zip(catalog.routines["video_id"], catalog.routines["action"], catalog.routines["score"]))
    assert catalog.routine("1_01 · TES")["features_path"] == catalog.routine("1_01 · PCS")["features_path"]


def test_one_rule_refuses_a_routine_twice_under_one_action(fisv, tmp_path):
    import shutil

    data, _ = fisv
    copy = shutil.copytree(data, tmp_path / "copy")
    labels = (copy / "labels.csv").read_text().splitlines()
    (copy / "labels.csv").write_text("\n".join(labels + [labels[1]]) + "\n")
    for read in (load_dataset, load_catalog):
        with pytest.raises(DatasetError, match="appears twice for action"):
            read(copy)


def run(monkeypatch, fisv, page: str) -> AppTest:
    data, ckpts = fisv
    monkeypatch.setenv("PAMFN_DATA", str(data))
    monkeypatch.setenv("PAMFN_CHECKPOINT", str(ckpts))
    at = AppTest.from_file(str(VIEWS / page), default_timeout=120).run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    return at


def test_routine_view_opens_a_fisv_routine(monkeypatch, fisv):
    at = run(monkeypatch, fisv, "routine.py")
    assert "PAMFN predicted" in [m.label for m in at.metric]
    assert any(h.value in ("1_01 · TES", "1_01 · PCS", "2_01 · TES", "2_01 · PCS") for h in at.subheader), [h.value for h in at.subheader]


def test_research_view_on_fisv(monkeypatch, fisv):
    at = run(monkeypatch, fisv, "research.py")
    rho = next(d.value for d in at.dataframe if "rho" in getattr(d.value, "columns", []))
    assert list(rho["action"]) == ["PCS", "TES", "Avg."] and list(rho["n"]) == [2, 2, 4]


def test_compare_view_on_fisv(monkeypatch, fisv):
    at = run(monkeypatch, fisv, "compare.py")
    assert len(at.get("plotly_chart")) >= 1
