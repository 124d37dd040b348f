"""The routine page through Streamlit's testing API, on a small generated data set."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.support.app_data import DIMS, make_checkpoint, make_dataset

APP = str(Path(__file__).resolve().parents[1] / "app" / "streamlit_app.py")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> tuple[Path, Path]:
    return make_dataset(tmp_path_factory.mktemp("routine_app"))


def run_app(monkeypatch, data: Path, checkpoint: Path, **state) -> AppTest:
    monkeypatch.setenv("PAMFN_DATA", str(data))
    monkeypatch.setenv("PAMFN_CHECKPOINT", str(checkpoint))
    monkeypatch.setenv("PAMFN_CACHE", str(data.parent / "cache"))
    at = AppTest.from_file(APP, default_timeout=120)
    for key, value in state.items():
        at.session_state[key] = value
    return at.run()


def run_scored(monkeypatch, data: Path, checkpoint: Path, timeout_s: float = 300.0) -> AppTest:
    """Run once (which starts the background scoring), wait until the finished table is on
    disk, then open the page afresh: every routine has its predicted score."""
    run_app(monkeypatch, data, checkpoint)
    deadline = time.monotonic() + timeout_s
    while not list((data.parent / "cache").glob("predictions-*.json")):
        assert time.monotonic() < deadline, "the routines were not scored in time"
        time.sleep(0.2)
    return run_app(monkeypatch, data, checkpoint)


def texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [s.value for s in at.subheader] + [c.value for c in at.caption]
    return "\n".join(str(p) for p in parts)


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_page_loads_with_picker_scores_and_device(monkeypatch, dataset):
    at = run_scored(monkeypatch, *dataset)
    assert not at.exception, at.exception
    assert at.title[0].value == "Routine view"
    table = at.dataframe[0].value
    assert set(table["routine_id"]) == {"ball_00", "ball_01", "ball_02", "hoop_00", "hoop_01", "hoop_02"}
    assert (table["error"] - (table["predicted"] - table["score"])).abs().max() < 1e-9
    # the first routine with a video is shown; its scores match the library's explanation
    assert at.subheader[0].value.startswith("ball_00")
    from pamfn.checkpoint import load_checkpoint
    from pamfn.explain import explain_routine
    from pamfn.routine import RoutineFeatures

    data, ckpts = dataset
    expl = explain_routine(load_checkpoint(ckpts / "ball"), RoutineFeatures.load(data / "features" / "ball_00.npz"))
    assert metric(at, "PAMFN predicted") == f"{expl.score:.2f}"
    assert metric(at, "Judged") == f"{table.set_index('routine_id').loc['ball_00', 'score']:.2f}"
    assert metric(at, "Audio branch") == f"{expl.branch_scores['A']:.2f}"
    assert "Model runs on **CPU**" in "\n".join(c.value for c in at.sidebar.caption)
    assert "What moved the score" in texts(at)


def test_filters_pick_another_routine(monkeypatch, dataset):
    at = run_app(monkeypatch, *dataset)
    at.sidebar.multiselect(key="filter_action").set_value(["hoop"]).run()
    assert not at.exception
    assert set(at.dataframe[0].value["action"]) == {"hoop"}
    assert at.subheader[0].value.startswith("hoop_00")
    at.sidebar.text_input(key="filter_text").set_value("zzz").run()
    assert any("No routine matches" in i.value for i in at.info)


def select_row(at: AppTest, row: int) -> AppTest:
    """Select a row of the routines table as a click would."""
    from app.views.routine import picker_key

    at.session_state[picker_key(at.dataframe[0].value["routine_id"])] = {"selection": {"rows": [row], "columns": [], "cells": []}}
    return at.run()


def test_selecting_a_row_shows_that_routine(monkeypatch, dataset):
    at = run_app(monkeypatch, *dataset)
    assert at.dataframe[0].value["routine_id"].tolist()[:2] == ["ball_00", "hoop_00"], "routines with a video come first"
    select_row(at, 5)
    assert not at.exception
    assert at.subheader[0].value.startswith("hoop_02")
    assert any("features only" in w.value for w in at.warning)


def test_narrowing_the_filters_keeps_the_chosen_routine_or_falls_back(monkeypatch, dataset):
    at = select_row(run_app(monkeypatch, *dataset), 5)
    assert at.subheader[0].value.startswith("hoop_02")
    at.sidebar.multiselect(key="filter_action").set_value(["hoop"]).run()  # 3 rows: row 5 no longer exists
    assert not at.exception, at.exception
    assert at.subheader[0].value.startswith("hoop_02"), "still shown: the filters still list it"
    select_row(at, 0)
    assert at.subheader[0].value.startswith("hoop_00")
    at.sidebar.multiselect(key="filter_action").set_value(["ball"]).run()  # row 0 exists, but is another routine
    assert not at.exception, at.exception
    assert at.subheader[0].value.startswith("ball_00"), "the first row, not whatever row 0 now holds by chance"


def test_filters_and_routine_survive_a_visit_to_another_page(monkeypatch, dataset):
    at = run_app(monkeypatch, *dataset)
    at.sidebar.multiselect(key="filter_action").set_value(["hoop"]).run()
    at.sidebar.text_input(key="filter_text").set_value("hoop_0").run()
    select_row(at, 1)
    shown = at.subheader[0].value
    at.switch_page("views/compare.py").run()
    at.switch_page("views/routine.py").run()
    assert not at.exception, at.exception
    assert at.sidebar.multiselect(key="filter_action").value == ["hoop"]
    assert at.sidebar.text_input(key="filter_text").value == "hoop_0"
    assert at.subheader[0].value == shown


def test_filters_fit_another_data_set(monkeypatch, dataset, tmp_path):
    data, ckpts = dataset
    at = run_app(monkeypatch, data, ckpts)
    at.sidebar.multiselect(key="filter_action").set_value(["hoop"]).run()
    other = make_dataset(tmp_path / "other", actions=("ball",))[0]
    at.sidebar.text_input(key="pamfn_data_dir").set_value(str(other)).run()
    assert not at.exception, at.exception
    assert at.sidebar.multiselect(key="filter_action").value == ["ball"], "no hoop there: every apparatus it has"
    assert set(at.dataframe[0].value["action"]) == {"ball"}


def test_missing_media_keeps_the_view_without_player(monkeypatch, dataset):
    at = run_app(monkeypatch, *dataset, filter_text="ball_01")
    assert not at.exception
    assert at.subheader[0].value.startswith("ball_01")
    warning = " ".join(w.value for w in at.warning)
    assert "No player for **ball_01**" in warning and "media file is missing" in warning
    assert "ball_01_missing.mp4" in warning
    assert metric(at, "PAMFN predicted")  # scores still there
    assert "Keyframes need the routine's video." in texts(at)


def test_a_media_path_that_is_a_folder_or_a_broken_link_is_named_so(dataset, tmp_path):
    import shutil

    from pamfn.catalog import load_catalog

    data = tmp_path / "data"
    shutil.copytree(dataset[0], data)
    catalog = load_catalog(data)
    video = catalog.media_path("ball_00")
    video.unlink()
    video.mkdir()
    assert load_catalog(data).media_file("ball_00") == (None, f"its media file is a folder, not a media file: {video}")
    video.rmdir()
    video.symlink_to(video)  # a link to itself: a loop
    assert load_catalog(data).media_file("ball_00")[1] == f"its media file is a broken or looping link: {video}"
    video.unlink()
    assert load_catalog(data).media_file("ball_00")[1] == f"its media file is missing: {video}"


def test_mismatched_checkpoint_shows_a_clear_error(monkeypatch, dataset, tmp_path):
    data, _ = dataset
    wrong = make_checkpoint(tmp_path / "wrong", dims={m: d + 1 for m, d in DIMS.items()})
    at = run_app(monkeypatch, data, wrong)
    assert not at.exception
    message = " ".join(e.value for e in at.error)
    assert "feature dims do not match the checkpoint" in message and "expected V=13" in message
    assert at.title[0].value == "Routine view"  # the app stays up


def test_a_checkpoint_on_another_score_scale_is_named_not_shown_as_a_score(monkeypatch, dataset, tmp_path):
    import json
    import shutil

    data = tmp_path / "data"
    shutil.copytree(dataset[0], data)
    meta = json.loads((data / "dataset.json").read_text())
    (data / "dataset.json").write_text(json.dumps({**meta, "label_scale": meta["label_scale"] * 2}))
    at = run_app(monkeypatch, data, dataset[1])
    assert not at.exception, at.exception
    message = " ".join(e.value for e in at.error)
    assert "trained on scores out of 25, the data set's are out of 50" in message
    assert "PAMFN predicted" not in [m.label for m in at.metric]


def test_a_data_set_fixed_in_place_is_read_again_without_a_restart(monkeypatch, dataset, tmp_path):
    import shutil

    import pandas as pd

    from pamfn.routine import RoutineFeatures

    data = tmp_path / "data"
    shutil.copytree(dataset[0], data)
    at = run_app(monkeypatch, data, dataset[1])
    assert not at.exception and len(at.dataframe[0].value) == 6
    shown = data / "features" / "ball_00.npz"
    good = shown.read_bytes()
    wide = RoutineFeatures.load(shown)
    RoutineFeatures({m: x[:, :5] for m, x in wide.features.items()}, routine_id="ball_00").save(shown)  # other dims
    at.run()
    assert "feature dims do not match the checkpoint" in " ".join(e.value for e in at.error)
    shown.write_bytes(good)  # fixed in place
    labels = pd.read_csv(data / "labels.csv")
    labels[labels["action"] == "ball"].to_csv(data / "labels.csv", index=False)  # and the set trimmed
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert set(at.dataframe[0].value["routine_id"]) == {"ball_00", "ball_01", "ball_02"}
    assert at.subheader[0].value.startswith("ball_00")


def test_missing_data_folder_is_reported(monkeypatch, dataset, tmp_path):
    _, ckpts = dataset
    at = run_app(monkeypatch, tmp_path / "nowhere", ckpts)
    assert not at.exception
    assert any("dataset.json" in e.value for e in at.error)


def test_predictions_are_scored_in_the_background_and_kept_on_disk(dataset, tmp_path):
    from pamfn.catalog import load_catalog
    from pamfn.explain import explain_routine
    from pamfn.routine import RoutineFeatures
    from pamfn.serving import CheckpointSet
    from pamfn.serving.predictions import PredictionJob

    data, ckpts = dataset
    loaded, catalog = CheckpointSet(ckpts), load_catalog(data)
    cache = tmp_path / "predictions.json"
    job = PredictionJob(catalog, loaded, cache)
    assert not job.done and not job.wait(0.2), "nothing runs before start()"
    assert job.start().wait(60) and not job.errors
    table = job.table()
    expl = explain_routine(loaded.load("hoop"), RoutineFeatures.load(data / "features" / "hoop_02.npz"))
    assert table.loc["hoop_02", "predicted"] == pytest.approx(expl.score, abs=1e-4)
    assert cache.is_file()
    again = PredictionJob(catalog, loaded, cache)
    assert again.done and again.table()["predicted"].tolist() == table["predicted"].tolist()


def test_undecodable_media_keeps_the_view_without_player(monkeypatch, dataset, tmp_path):
    import shutil

    data, ckpts = dataset
    broken = tmp_path / "data"
    shutil.copytree(data, broken)
    (broken / "media" / "ball_00.mp4").write_bytes(b"not a video at all" * 100)
    at = run_app(monkeypatch, broken, ckpts, filter_text="ball_00")
    assert not at.exception
    warning = " ".join(w.value for w in at.warning)
    assert "No player for **ball_00**" in warning and "cannot be decoded" in warning
    assert metric(at, "PAMFN predicted")


def test_a_checkpoint_folder_without_an_action_is_reported(monkeypatch, dataset, tmp_path):
    import json
    import shutil

    data, ckpts = dataset
    partial = tmp_path / "ckpts"
    shutil.copytree(ckpts, partial)
    (partial / "index.json").write_text(json.dumps({"checkpoints": {"ball": "ball"}}))
    at = run_app(monkeypatch, data, partial, filter_text="hoop_00")
    assert not at.exception
    assert any("no checkpoint for action 'hoop'" in e.value for e in at.error)
    (partial / "index.json").write_text("{not json")
    at = run_app(monkeypatch, data, partial)
    assert not at.exception
    assert any("unreadable checkpoint index" in e.value for e in at.error)


def test_a_rewritten_checkpoint_is_used_without_a_restart(monkeypatch, dataset, tmp_path):
    import shutil

    from pamfn.checkpoint import load_checkpoint
    from pamfn.explain import explain_routine
    from pamfn.routine import RoutineFeatures

    data, ckpts = dataset
    copy = tmp_path / "ckpts"
    shutil.copytree(ckpts, copy)
    before = metric(run_app(monkeypatch, data, copy), "PAMFN predicted")
    make_checkpoint(copy / "ball", seed=11)
    after = metric(run_app(monkeypatch, data, copy), "PAMFN predicted")
    expl = explain_routine(load_checkpoint(copy / "ball"), RoutineFeatures.load(data / "features" / "ball_00.npz"))
    assert after == f"{expl.score:.2f}" and after != before


def test_a_highlight_detector_adds_its_track_on_the_time_axis(monkeypatch, dataset, tmp_path):
    import json

    import numpy as np
    import torch

    from pamfn.checkpoint import load_checkpoint, save_checkpoint
    from pamfn.highlight.predict import highlight_table
    from pamfn.model import PAMFNConfig, build_model
    from pamfn.routine import RoutineFeatures

    torch.manual_seed(1)
    cfg = PAMFNConfig(preset=None, K=3, d=16, input_dims=dict(DIMS), label_scale=25.0, task="highlight")
    save_checkpoint(tmp_path / "hl", build_model(cfg).eval(), cfg, {"action": "ball"})
    monkeypatch.setenv("PAMFN_HIGHLIGHT", str(tmp_path / "hl"))
    at = run_app(monkeypatch, *dataset, filter_text="ball_01")  # no video: the timeline is a plain chart
    assert not at.exception, at.exception
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    titles = [a.get("text", "") for a in spec["layout"].get("annotations", [])]
    assert "Highlight probability per segment" in titles
    bars = [t for t in spec["data"] if t.get("name") == "Highlight probability"]
    data, _ = dataset
    expected = highlight_table(load_checkpoint(tmp_path / "hl"), RoutineFeatures.load(data / "features" / "ball_01.npz"))
    y = bars[0]["y"]
    if isinstance(y, dict):  # plotly's typed-array encoding
        import base64

        y = np.frombuffer(base64.b64decode(y["bdata"]), dtype=np.dtype(y["dtype"]))
    np.testing.assert_allclose(np.asarray(y, float), expected["probability"].to_numpy(), rtol=1e-5)
    monkeypatch.setenv("PAMFN_HIGHLIGHT", str(tmp_path / "none"))  # no such folder: no track
    at = run_app(monkeypatch, *dataset, filter_text="ball_01")
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert "Highlight probability per segment" not in [a.get("text", "") for a in spec["layout"].get("annotations", [])]
    other = PAMFNConfig(preset=None, K=3, d=16, input_dims={"V": 3, "F": 3, "A": 3}, label_scale=25.0, task="highlight")
    save_checkpoint(tmp_path / "wrong", build_model(other).eval(), other, {"action": "ball"})
    monkeypatch.setenv("PAMFN_HIGHLIGHT", str(tmp_path / "wrong"))  # dims of another data set: said, the page stays up
    at = run_app(monkeypatch, *dataset, filter_text="ball_01")
    assert not at.exception and "No highlight track" in texts(at)
    assert metric(at, "PAMFN predicted")


def test_background_scoring_names_a_damaged_file_and_a_stopped_thread(dataset, tmp_path, monkeypatch):
    import shutil

    from pamfn.catalog import load_catalog
    from pamfn.serving import CheckpointSet
    from pamfn.serving.predictions import PredictionJob

    data, ckpts = dataset
    copy = tmp_path / "data"
    shutil.copytree(data, copy)
    damaged = copy / "features" / "hoop_01.npz"
    damaged.write_bytes(damaged.read_bytes()[:200])
    job = PredictionJob(load_catalog(copy), CheckpointSet(ckpts), tmp_path / "p.json")
    assert job.start().wait(60)
    assert set(job.errors) == {"hoop_01"} and "truncated or corrupt" in job.errors["hoop_01"]
    assert len(job.scores) == 5 and not (tmp_path / "p.json").exists()

    def broken(*args, **kwargs):
        raise RuntimeError("out of memory")

    monkeypatch.setattr("pamfn.serving.scorer.predict_scores", broken)
    job = PredictionJob(load_catalog(data), CheckpointSet(ckpts), tmp_path / "q.json")
    assert job.start().wait(60)
    assert len(job.errors) == 6 and all(e == "scoring stopped: RuntimeError: out of memory" for e in job.errors.values())


def test_damaged_cache_and_batch_files_do_not_stop_the_page(monkeypatch, tmp_path):
    """An empty predictions file and a batch whose table and routine file are cut short
    (a crash, a full disk): the page explains the routine live and the job replaces the file."""
    import json

    from pamfn.batch_explain import SCORES, batch_folder, explain_batch
    from pamfn.catalog import load_catalog
    from pamfn.checkpoint import load_checkpoint
    from pamfn.engines import make_engine
    from pamfn.explain import explain_routine
    from pamfn.routine import RoutineFeatures
    from pamfn.serving import CheckpointSet
    from pamfn.serving.predictions import fingerprint, predictions_file

    data, ckpts = (p.resolve() for p in make_dataset(tmp_path / "damaged", per_action=2))
    cache = data.parent / "cache"
    catalog, checkpoints = load_catalog(data), CheckpointSet(ckpts)
    predictions = predictions_file(cache, catalog, checkpoints, fingerprint(catalog, checkpoints))
    predictions.parent.mkdir()
    predictions.write_text("")
    batch = batch_folder(cache, fingerprint(catalog, checkpoints))
    explain_batch(catalog, checkpoints, batch, make_engine("local"))
    saved = (batch / "explanations" / "ball_00.json").read_bytes()
    (batch / "explanations" / "ball_00.json").write_bytes(saved[: len(saved) // 2])
    (batch / SCORES).write_bytes(b"")
    at = run_app(monkeypatch, data, ckpts)
    assert not at.exception, at.exception
    assert at.subheader[0].value.startswith("ball_00")
    expl = explain_routine(load_checkpoint(ckpts / "ball"), RoutineFeatures.load(data / "features" / "ball_00.npz"))
    assert metric(at, "PAMFN predicted") == f"{expl.score:.2f}"
    deadline = time.monotonic() + 300
    while not predictions.read_text():
        assert time.monotonic() < deadline, "the damaged predictions file was not replaced"
        time.sleep(0.2)
    assert set(json.loads(predictions.read_text())) == set(catalog.routines.index)


@pytest.mark.parametrize("typed", ["  {path}  ", '"{path}"', "'{path}' ", "{path}/"])
def test_a_pasted_folder_is_the_folder(tmp_path, typed):
    from app.source import Source

    assert Source.of(typed.format(path=tmp_path), str(tmp_path)).data_dir == str(tmp_path.resolve())


def test_published_media_that_only_the_static_folder_holds_is_swept(tmp_path):
    from app.components.player import sweep_published

    folder, source = tmp_path / "media", tmp_path / "routine.mp4"
    folder.mkdir()
    source.write_bytes(b"video")
    os.link(source, folder / "shown.mp4")  # its source still there: kept
    gone = tmp_path / "upload.mp4"
    gone.write_bytes(b"an upload swept since")
    os.link(gone, folder / "orphan.mp4")
    gone.unlink()
    (folder / "copy.mp4").write_bytes(b"a copy from another file system")
    (folder / ".half.mp4.123.part").write_bytes(b"cut")
    assert sweep_published(folder) == 3
    assert [p.name for p in folder.iterdir()] == ["shown.mp4"] and source.read_bytes() == b"video"
    assert sweep_published(tmp_path / "absent") == 0


def test_a_confirmation_kept_over_a_rerun_is_shown_once_as_success_or_warning():
    def page():
        import streamlit as st

        from app.components.feedback import confirm_and_rerun, show_confirmation

        show_confirmation()
        if st.button("score", key="go"):
            confirm_and_rerun("Scored 0 of 2 routines", icon=":material/warning:", warn=True)
        if st.button("done", key="ok"):
            confirm_and_rerun("Scored all 2 routines")

    at = AppTest.from_function(page).run()
    at.button(key="go").click().run()
    assert [w.value for w in at.warning] == ["Scored 0 of 2 routines"] and not at.success
    at.button(key="ok").click().run()
    assert [s.value for s in at.success] == ["Scored all 2 routines"] and not at.warning
    assert not at.run().success  # shown once
