"""The "Analyse a video" page through Streamlit's testing API: upload, extraction with a
progress bar, scoring, the routine view, the library; bad uploads refused cleanly."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from pamfn.routine_library import RoutineLibrary
from tests.support.app_data import make_checkpoint, make_video

PAGE = str(Path(__file__).resolve().parents[1] / "app" / "views" / "analyse.py")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A lite-sized random checkpoint (dims of the lite extractor) and a 4-s video."""
    from pamfn.features.lite import LiteExtractor

    root = tmp_path_factory.mktemp("analyse")
    ckpt = make_checkpoint(root / "ckpt", dims=dict(LiteExtractor.dims))
    (root / "data").mkdir()
    video = make_video(root / "clip.mp4", 4.0)
    return root, ckpt, video


@pytest.fixture(autouse=True)
def private_tmp(tmp_path, monkeypatch):
    """Upload folders go to this test's own temporary folder: other runs on the machine
    (parallel suites) create and sweep theirs in the system's."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))


def uploads() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("pamfn-upload-*")}


def page(monkeypatch, setup, library: Path) -> AppTest:
    root, ckpt, _ = setup
    monkeypatch.setenv("PAMFN_DATA", str(root / "data"))
    monkeypatch.setenv("PAMFN_CHECKPOINT", str(ckpt))
    monkeypatch.setenv("PAMFN_LIBRARY", str(library))
    return AppTest.from_file(PAGE, default_timeout=120).run()


def set_page(monkeypatch, setup, tmp_path: Path, spoil=None) -> AppTest:
    """The page on a checkpoint set of two lite-sized apparatus (ball, hoop), after ``spoil(set folder)``."""
    import json

    from pamfn.features.lite import LiteExtractor

    root, _, _ = setup
    ckpts = tmp_path / "set"
    for seed, action in enumerate(("ball", "hoop")):
        make_checkpoint(ckpts / action, dims=dict(LiteExtractor.dims), seed=seed + 1)
    (ckpts / "index.json").write_text(json.dumps({"checkpoints": {"ball": "ball", "hoop": "hoop"}}))
    if spoil is not None:
        spoil(ckpts)
    monkeypatch.setenv("PAMFN_DATA", str(root / "data"))
    monkeypatch.setenv("PAMFN_CHECKPOINT", str(ckpts))
    monkeypatch.setenv("PAMFN_LIBRARY", str(tmp_path / "lib"))
    return AppTest.from_file(PAGE, default_timeout=120).run()


def test_upload_is_extracted_scored_shown_and_saved(monkeypatch, setup, tmp_path):
    _, _, video = setup
    at = page(monkeypatch, setup, tmp_path / "lib")
    assert not at.exception
    assert "Nothing saved yet" in at.info[0].value
    at.number_input(key="analyse_judged").set_value(15.5)
    at.file_uploader(key="analyse_upload").upload("My Routine.mp4", video.read_bytes(), "video/mp4")
    at.run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    progress = at.get("progress")
    assert progress and progress[-1].value == 100
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Judged"] == "15.50"
    assert 0 <= float(metrics["PAMFN predicted"]) <= 25
    assert {"RGB branch", "Optical flow branch", "Audio branch"} <= set(metrics)
    assert any(d.label.startswith("Download the report") for d in at.get("download_button"))
    # keyframes of the uploaded video, as on the routine view
    captions = [c.value for c in at.caption]
    assert "Keyframes need the routine's video." not in captions
    assert any("RGB frames above" in c for c in captions)
    assert len(at.get("image")) >= 2
    assert any(c.startswith("No score-impact scan for this routine") for c in captions)  # 4 s: fewer than 3 windows

    at.number_input(key="analyse_judged").set_value(16.25).run()  # re-scored, not re-extracted
    assert not at.get("progress")
    assert {m.label: m.value for m in at.metric}["Judged"] == "16.25"
    at.number_input(key="analyse_judged").set_value(15.5).run()

    at.text_input(key="analyse_save_name").set_value("Athlete A, Nov")
    at.button[0].click()  # the form's submit button comes first
    at.run()
    assert not at.exception, at.exception
    assert not at.get("progress")  # saving does not extract again
    assert "Save to library" not in [b.label for b in at.button]
    # the confirmation survives the rerun, beside the row it confirms
    assert [s.value for s in at.success] == ["Saved **Athlete A, Nov** to the library"]
    assert list(at.dataframe[0].value["name"]) == ["Athlete A, Nov"]
    at.number_input(key="analyse_judged").set_value(15.5).run()
    assert not at.success  # shown once
    [entry] = RoutineLibrary(tmp_path / "lib").entries()
    assert entry.name == "Athlete A, Nov" and entry.metadata["upload_name"] == "My Routine.mp4"
    assert entry.media_path.read_bytes() == video.read_bytes()
    saved = entry.load_explanation()
    assert saved.judged_score == 15.5 and "occlusion" in saved.extra and saved.extra["occlusion_method"] == "swap"
    assert float(metrics["PAMFN predicted"]) == pytest.approx(saved.score, abs=0.005)

    # a restart: the library is read back from disk
    again = page(monkeypatch, setup, tmp_path / "lib")
    assert list(again.dataframe[0].value["name"]) == ["Athlete A, Nov"]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("notes.txt", b"just some text", "unsupported file type '.txt'"),
        ("fake.mp4", b"this is not a video at all" * 100, "not a readable video file"),
        ("empty.mov", b"", "file is empty"),
    ],
)
def test_bad_uploads_are_refused_and_leave_nothing(monkeypatch, setup, tmp_path, name, content, message):
    before = uploads()
    at = page(monkeypatch, setup, tmp_path / "lib")
    at.file_uploader(key="analyse_upload").upload(name, content, "application/octet-stream")
    at.run()
    assert not at.exception, at.exception
    assert at.error and f"{name} was refused" in at.error[0].value and message.lower() in at.error[0].value.lower()
    assert at.error[0].value.count(name) == 1, "the file is named once"
    assert uploads() <= before  # the temporary upload folder is gone
    assert RoutineLibrary(tmp_path / "lib").entries() == []
    assert not at.metric


def test_truncated_video_is_refused(monkeypatch, setup, tmp_path):
    _, _, video = setup
    data = video.read_bytes()
    at = page(monkeypatch, setup, tmp_path / "lib")
    at.file_uploader(key="analyse_upload").upload("cut.mp4", data[: len(data) // 3], "video/mp4")
    at.run()
    assert not at.exception, at.exception
    assert at.error and "cut.mp4 was refused" in at.error[0].value


def test_upload_limit_is_configurable(monkeypatch, setup, tmp_path):
    monkeypatch.setenv("PAMFN_MAX_UPLOAD_MB", "5")
    at = page(monkeypatch, setup, tmp_path / "lib")
    assert "up to 5 MB" in at.file_uploader(key="analyse_upload").label
    assert not at.warning


@pytest.mark.parametrize(("value", "problem"), [("1.5", "not a whole number of MB"), ("0", "not a whole number of MB"),
                                                ("lots", "not a whole number of MB"), ("99999", "above the server's limit")])
def test_a_bad_upload_limit_is_named_and_the_servers_applies(monkeypatch, setup, tmp_path, value, problem):
    import streamlit as st

    monkeypatch.setenv("PAMFN_MAX_UPLOAD_MB", value)
    at = page(monkeypatch, setup, tmp_path / "lib")
    assert not at.exception, at.exception
    assert at.warning and "PAMFN_MAX_UPLOAD_MB" in at.warning[0].value and problem in at.warning[0].value
    from app.components.upload import size_text

    assert f"up to {size_text(st.get_option('server.maxUploadSize'))}" in at.file_uploader(key="analyse_upload").label


def app(monkeypatch, setup, library: Path) -> AppTest:
    """The whole app (entry script and navigation), opened on this page."""
    root, ckpt, _ = setup
    monkeypatch.setenv("PAMFN_DATA", str(root / "data"))
    monkeypatch.setenv("PAMFN_CHECKPOINT", str(ckpt))
    monkeypatch.setenv("PAMFN_LIBRARY", str(library))
    at = AppTest.from_file(str(Path(PAGE).parents[1] / "streamlit_app.py"), default_timeout=120).run()
    return at.switch_page("views/analyse.py").run()


def test_an_unsaved_analysis_survives_a_visit_to_another_page(monkeypatch, setup, tmp_path):
    _, _, video = setup
    at = app(monkeypatch, setup, tmp_path / "lib")
    at.number_input(key="analyse_judged").set_value(15.5)
    at.file_uploader(key="analyse_upload").upload("clip.mp4", video.read_bytes(), "video/mp4")
    at.run()
    predicted = {m.label: m.value for m in at.metric}["PAMFN predicted"]
    folders = uploads()
    assert folders
    at.switch_page("views/compare.py").run()
    at.switch_page("views/analyse.py").run()
    assert not at.exception, at.exception
    assert at.file_uploader(key="analyse_upload").value is None  # Streamlit empties the uploader itself
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["PAMFN predicted"] == predicted and metrics["Judged"] == "15.50"
    assert at.number_input(key="analyse_judged").value == 15.5
    assert any("analysed earlier in this session and is not saved yet" in c.value for c in at.caption)
    assert uploads() == folders and not at.get("progress")  # not extracted again
    assert "Save to library" in [b.label for b in at.button]


def test_removing_the_file_forgets_its_unsaved_analysis(monkeypatch, setup, tmp_path):
    _, _, video = setup
    before = uploads()
    at = page(monkeypatch, setup, tmp_path / "lib")
    at.file_uploader(key="analyse_upload").upload("clip.mp4", video.read_bytes(), "video/mp4")
    at.run()
    assert at.metric
    at.file_uploader(key="analyse_upload").clear()
    at.run()
    assert not at.exception, at.exception
    assert not at.metric and uploads() <= before


def test_removing_a_library_entry_asks_first(monkeypatch, setup, tmp_path):
    _, _, video = setup
    at = page(monkeypatch, setup, tmp_path / "lib")
    at.file_uploader(key="analyse_upload").upload("clip.mp4", video.read_bytes(), "video/mp4")
    at.run()
    at.button[0].click().run()  # save
    at.session_state["analyse_library"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    assert any("These choices apply to the next upload" in c.value for c in at.caption)
    at.button(key="analyse_remove").click().run()
    assert not at.exception, at.exception
    assert any("for good?" in w.value for w in at.warning)
    assert len(RoutineLibrary(tmp_path / "lib").entries()) == 1, "nothing is removed before the confirmation"
    at.button(key="analyse_remove_no").click().run()
    assert len(RoutineLibrary(tmp_path / "lib").entries()) == 1 and not at.warning
    at.button(key="analyse_remove").click().run()
    at.button(key="analyse_remove_yes").click().run()
    assert not at.exception, at.exception
    assert RoutineLibrary(tmp_path / "lib").entries() == []
    assert [s.value for s in at.success] == ["Removed **clip** from the library"]
    assert not at.metric  # the entry shown was the one removed


def test_apparatus_picks_the_checkpoint_and_rescoring_needs_no_extraction(monkeypatch, setup, tmp_path):
    _, _, video = setup
    at = set_page(monkeypatch, setup, tmp_path)
    assert at.selectbox(key="analyse_action").options == ["Ball", "Hoop"]
    assert at.selectbox(key="analyse_action").value is None  # several apparatus: never a silent default
    assert at.file_uploader(key="analyse_upload").disabled
    assert any("Choose the apparatus first" in c.value for c in at.caption)
    at.selectbox(key="analyse_action").select("ball").run()
    assert not at.file_uploader(key="analyse_upload").disabled
    at.file_uploader(key="analyse_upload").upload("clip.mp4", video.read_bytes(), "video/mp4")
    at.run()
    ball = {m.label: m.value for m in at.metric}["PAMFN predicted"]
    assert any(h.value == "clip · Ball" for h in at.subheader)
    at.selectbox(key="analyse_action").select("hoop").run()
    assert not at.exception and not at.get("progress")
    assert any(h.value == "clip · Hoop" for h in at.subheader)
    assert {m.label: m.value for m in at.metric}["PAMFN predicted"] != ball


def test_progress_follows_the_decoded_frames(setup):
    """The progress bar's feed: a callback after every decoded frame, up to the whole video."""
    from pamfn.features.pipeline import extract_file

    _, _, video = setup
    seen: list[int] = []
    timings: dict[str, float] = {}
    feats = extract_file(video, progress=False, timings=timings, on_frame=seen.append)
    assert feats.T == 3 and seen == list(range(1, len(seen) + 1))
    assert len(seen) == pytest.approx(4.0 * 25, abs=2)
    assert timings["total"] > 0  # the extractor's timings as before


def test_a_checkpoint_that_does_not_fit_lite_features_is_reported_before_decoding(monkeypatch, setup, tmp_path):
    root, _, video = setup
    other = make_checkpoint(tmp_path / "other", dims={"V": 3, "F": 3, "A": 3})
    monkeypatch.setenv("PAMFN_DATA", str(root / "data"))
    monkeypatch.setenv("PAMFN_CHECKPOINT", str(other))
    monkeypatch.setenv("PAMFN_LIBRARY", str(tmp_path / "lib"))
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    at.file_uploader(key="analyse_upload").upload("clip.mp4", video.read_bytes(), "video/mp4")
    at.run()
    assert not at.exception
    assert "clip.mp4 could not be analysed" in at.error[0].value and "lite extractor makes" in at.error[0].value
    assert not at.get("progress")  # refused before any decoding


def test_a_saved_scan_of_an_earlier_method_is_not_shown():
    from dataclasses import replace
    from types import SimpleNamespace

    from app.views.analyse import from_entry
    from pamfn.occlusion import scan_to_dict
    from tests.support.explanations import make_explanation

    expl = make_explanation(T=20)
    scan = {"start_s": [0.0, 5.12, 10.24], "end_s": [5.12, 10.24, 15.36], "impact": [0.4, -0.1, -0.3], "se": [0.1] * 3,
            "noise": [0.1] * 3, "z": [4.0, -1.0, -3.0], "significant": [True, False, False], "threshold_z": [3.5] * 3,
            "draws": [2.0] * 3}

    def entry(extra):
        return SimpleNamespace(name="e", entry_id="e1", media_path=None, metadata={},
                               explanation=lambda: replace(expl, extra=extra),
                               load_features=lambda: None)

    assert from_entry(entry({"occlusion": scan})).occlusion.empty  # saved before the method was recorded
    shown = from_entry(entry({"occlusion": scan, "occlusion_method": "swap"})).occlusion
    assert list(shown["impact"]) == [0.4, -0.1, -0.3]
    assert scan_to_dict(shown)["impact"] == [0.4, -0.1, -0.3]


def test_an_upload_of_a_video_the_data_set_holds_is_named(monkeypatch, setup, tmp_path):
    import json
    import shutil

    root, ckpt, video = setup
    data = tmp_path / "data"
    (data / "media").mkdir(parents=True)
    shutil.copy(video, data / "media" / "known.mp4")
    (data / "dataset.json").write_text(json.dumps({"label_scale": 25.0, "actions": ["ball"]}))
    (data / "labels.csv").write_text("routine_id,action,split,score,features,media\n"
                                     "known,ball,test,10.0,features/known.npz,media/known.mp4\n")
    monkeypatch.setenv("PAMFN_DATA", str(data))
    monkeypatch.setenv("PAMFN_CHECKPOINT", str(ckpt))
    monkeypatch.setenv("PAMFN_LIBRARY", str(tmp_path / "lib"))
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    at.file_uploader(key="analyse_upload").upload("copy.mp4", video.read_bytes(), "video/mp4")
    at.run()
    assert not at.exception, at.exception
    assert any("the data set's routine **known**" in i.value for i in at.info)


@pytest.mark.parametrize(("name", "stored"), [("..mp4", "upload.mp4"), ("../../etc/x.MOV", "x.mov"),
                                              ("Ath lete (final).mp4", "Ath_lete_final.mp4")])
def test_an_upload_is_stored_under_a_plain_visible_name(tmp_path, name, stored):
    import io

    from app.components.upload import stream_to_disk

    class Upload(io.BytesIO):
        size = 5

    upload = Upload(b"bytes")
    upload.name = name
    target = stream_to_disk(upload, tmp_path)
    assert target == tmp_path / stored and target.read_bytes() == b"bytes"


def test_a_broken_member_of_the_set_leaves_the_other_apparatus_to_analyse(monkeypatch, setup, tmp_path):
    at = set_page(monkeypatch, setup, tmp_path, spoil=lambda ckpts: (ckpts / "hoop" / "model.safetensors").write_bytes(b"cut short"))
    assert not at.exception and not at.error
    assert at.selectbox(key="analyse_action").options == ["Ball"]  # offered alone, chosen by default
    warned = " ".join(w.value for w in at.warning)
    assert "No hoop checkpoint" in warned and "corrupt or truncated" in warned
    assert not at.file_uploader(key="analyse_upload").disabled
