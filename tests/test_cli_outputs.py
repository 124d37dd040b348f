"""Where the command line writes: never over its input, never out of its output folder,
and a system's refusal is one line, not a traceback."""

from __future__ import annotations

import json
import os
import shutil
import stat

import pandas as pd
import pytest

from pamfn.catalog import load_catalog
from pamfn.cli import main
from pamfn.errors import DatasetError
from pamfn.serving import CheckpointSet
from pamfn.synth.random_dataset import make_dataset
from tests.support.media import write_test_video


def test_extract_refuses_to_write_over_its_video_before_decoding(tmp_path, capsys):
    video = write_test_video(tmp_path / "clip.mp4", 2, (160, 120))
    before = video.read_bytes()
    assert main(["extract", str(video), "-o", str(video), "--quiet"]) == 2
    assert "would overwrite the input" in capsys.readouterr().err
    assert video.read_bytes() == before


def test_a_routine_id_that_is_a_path_is_refused(tmp_path):
    data, _ = make_dataset(tmp_path / "ds", per_action=1, media=False)
    labels = (data / "labels.csv").read_text().splitlines()
    first = labels[1].split(",")[0]
    (data / "labels.csv").write_text("\n".join([labels[0], labels[1].replace(first, "../../escaped", 1), *labels[2:]]))
    with pytest.raises(DatasetError, match=r"routine id '\.\./\.\./escaped' is not a plain file name"):
        load_catalog(data)


def test_a_system_error_is_one_line(tmp_path, capsys, monkeypatch):
    import errno

    from pamfn.routine import RoutineFeatures

    video = write_test_video(tmp_path / "clip.mp4", 2, (160, 120))

    def disk_full(self, path, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(RoutineFeatures, "save", disk_full)
    assert main(["extract", str(video), "-o", str(tmp_path / "out.npz"), "--quiet"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "PAMFN_DEBUG=1" in err[0]
    monkeypatch.setenv("PAMFN_DEBUG", "1")
    with pytest.raises(OSError):
        main(["extract", str(video), "-o", str(tmp_path / "out.npz"), "--quiet"])


def test_an_output_under_a_file_is_refused_before_the_work(tmp_path, capsys):
    video = write_test_video(tmp_path / "clip.mp4", 2, (160, 120))
    blocker = tmp_path / "file"
    blocker.write_text("a file, not a folder")
    assert main(["extract", str(video), "-o", str(blocker / "out.npz"), "--quiet"]) == 2
    assert f"{blocker}: cannot write the output there: it is not a folder" in capsys.readouterr().err
    assert blocker.read_text() == "a file, not a folder"


def test_report_refuses_to_write_over_its_features(tmp_path, capsys):
    from pamfn.routine import RoutineFeatures

    data, ckpts = make_dataset(tmp_path / "ds", per_action=1, media=False, actions=("ball",))
    features = next((data / "features").glob("*.npz"))
    before = features.read_bytes()
    assert main(["report", str(features), "--checkpoint", str(ckpts), "--action", "ball", "--no-occlusion",
                 "-o", str(features)]) == 2
    assert "would overwrite the input" in capsys.readouterr().err
    assert features.read_bytes() == before and RoutineFeatures.load(features).T > 0


@pytest.mark.parametrize(("device", "message"), [("gpu", "'gpu' is not a torch device"),
                                                 ("cuda", "CUDA is not available on this machine")])
def test_a_device_the_machine_lacks_is_named(tmp_path, capsys, device, message):
    import torch

    if device == "cuda" and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    data, ckpts = make_dataset(tmp_path / "ds", per_action=1, media=False, actions=("ball",))
    features = next((data / "features").glob("*.npz"))
    assert main(["explain", str(features), "--checkpoint", str(ckpts), "--action", "ball", "--device", device]) == 2
    assert message in capsys.readouterr().err


def test_extract_into_a_new_folder_named_with_a_slash(tmp_path):
    from pamfn.routine import RoutineFeatures

    video = write_test_video(tmp_path / "clip.mp4", 2, (160, 120))
    assert main(["extract", str(video), "-o", f"{tmp_path / 'new'}/", "--quiet"]) == 0
    assert (tmp_path / "new").is_dir() and RoutineFeatures.load(tmp_path / "new" / "clip.npz").T == 1


def test_model_info_on_a_checkpoint_set_names_its_members(capsys, tmp_path):
    _, ckpts = make_dataset(tmp_path / "ds", per_action=1, media=False)
    assert main(["model-info", "--checkpoint", str(ckpts)]) == 2
    err = capsys.readouterr().err
    assert "is a checkpoint set (index.json), not one checkpoint" in err and str(ckpts / "ball") in err


def refused_up_front(argv: list[str], capsys, *needles: str) -> str:
    """The one error line (exit 2) of a command refused before its work, holding ``needles``."""
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, err
    assert all(n in err for n in needles), err
    return err


def no_work(*a, **k):
    raise AssertionError("the command worked before refusing its output")


def test_report_refuses_to_write_over_its_checkpoint(tmp_path, capsys):
    data, ckpts = make_dataset(tmp_path / "ds", per_action=1, media=False, actions=("ball",))
    features = next((data / "features").glob("*.npz"))
    single = tmp_path / "single"
    shutil.copytree(ckpts / "ball", single)
    for checkpoint, output in ((single, single / "config.json"), (ckpts, ckpts / "index.json"),
                               (ckpts, ckpts / "ball" / "config.json")):
        before = output.read_bytes()
        refused_up_front(["report", str(features), "--checkpoint", str(checkpoint), "--action", "ball", "--no-occlusion",
                          "-o", str(output)], capsys, "would overwrite the input", str(output))
        assert output.read_bytes() == before
    assert CheckpointSet(ckpts).load("ball") and CheckpointSet(single).load("ball")
    elsewhere = tmp_path / "sets" / "rows"  # a set whose index points outside it, as train_sample_table.sh writes
    elsewhere.mkdir(parents=True)
    (elsewhere / "index.json").write_text(json.dumps({"checkpoints": {"ball": "../../single"}}))
    before = (single / "config.json").read_bytes()
    refused_up_front(["report", str(features), "--checkpoint", str(elsewhere), "--action", "ball", "--no-occlusion",
                      "-o", str(single / "config.json")], capsys, "would overwrite the input", "config.json")
    assert (single / "config.json").read_bytes() == before


@pytest.fixture
def explained(tmp_path, monkeypatch):
    """(argv of a batch explain with no --out yet, the data set, the checkpoint set); the
    batch's work fails the test, so only a refusal before it passes."""
    data, ckpts = make_dataset(tmp_path / "ds", per_action=1, media=False, actions=("ball",))
    monkeypatch.setattr("pamfn.batch_explain.explain_job", no_work)
    return ["explain", "--data", str(data), "--checkpoint", str(ckpts)], data, ckpts


def test_a_batch_is_never_written_into_the_data_set_or_checkpoint(explained, capsys):
    argv, data, ckpts = explained
    (data / "manifest.json").write_text('{"version": 2, "routines": {}}')
    before = {p: p.read_bytes() for p in [*data.rglob("*"), *ckpts.rglob("*")] if p.is_file()}
    for out, kind in ((data, "data set"), (data / "batch", "data set"), (ckpts, "checkpoint"), (ckpts / "ball", "checkpoint")):
        refused_up_front([*argv, "--out", str(out)], capsys, str(out), f"inside the {kind} folder")
    assert {p: p.read_bytes() for p in [*data.rglob("*"), *ckpts.rglob("*")] if p.is_file()} == before


def test_a_batch_goes_only_into_a_folder_of_its_own(explained, tmp_path, capsys):
    argv = explained[0]
    file = tmp_path / "file.txt"
    file.write_text("keep me")
    device = tmp_path / "device"
    os.mkfifo(device)  # stands for a device or pipe (never the real /dev/null)
    for out in (file, device, file / "batch"):
        refused_up_front([*argv, "--out", str(out)], capsys, str(out), "not a folder")
    others = tmp_path / "others"
    others.mkdir()
    (others / "notes.txt").write_text("mine")
    refused_up_front([*argv, "--out", str(others)], capsys, "notes.txt", "not a batch's")
    alien = tmp_path / "alien"
    alien.mkdir()
    (alien / "manifest.json").write_text('{"version": 2}')
    refused_up_front([*argv, "--out", str(alien)], capsys, "manifest.json is not a batch's")
    assert file.read_text() == "keep me" and (others / "notes.txt").read_text() == "mine"
    assert (alien / "manifest.json").read_text() == '{"version": 2}' and stat.S_ISFIFO(device.stat().st_mode)


def test_a_batch_is_written_again_over_an_earlier_batch(tmp_path, capsys):
    data, ckpts = make_dataset(tmp_path / "ds", per_action=1, media=False, actions=("ball",))
    argv = ["explain", "--data", str(data), "--checkpoint", str(ckpts), "--out", str(tmp_path / "batch")]
    assert main(argv) == 0
    (tmp_path / "batch" / "scores.parquet").write_bytes(b"")  # a damaged earlier batch is replaced too
    assert main(argv) == 0 and "1 routines explained" in capsys.readouterr().out
    assert set(pd.read_parquet(tmp_path / "batch" / "scores.parquet")["routine_id"]) == {"ball_00"}


def test_a_batch_into_the_cache_replaces_the_older_batches_of_its_data_set_and_checkpoint(tmp_path, capsys, monkeypatch):
    """A rewritten features file makes a new batch folder in the dashboard's cache; the older
    one of the same data set and checkpoint goes (about 24 KB a routine), another set's stays."""
    import re
    from pathlib import Path

    monkeypatch.setenv("PAMFN_CACHE", str(tmp_path / "cache"))
    data, ckpts = make_dataset(tmp_path / "ds", per_action=1, media=False, actions=("ball",))
    other, _ = make_dataset(tmp_path / "other", per_action=1, media=False, actions=("ball",))
    for folder in (data, other):
        assert main(["explain", "--data", str(folder), "--checkpoint", str(ckpts), "--json"]) == 0
    first, theirs = (json.loads(doc)["out"] for doc in re.findall(r"^\{.*?^\}", capsys.readouterr().out, re.M | re.S))
    features = data / "features" / "ball_00.npz"
    stamp = features.stat().st_mtime_ns + 10**9
    os.utime(features, ns=(stamp, stamp))  # the file rewritten
    assert main(["explain", "--data", str(data), "--checkpoint", str(ckpts), "--json"]) == 0
    second = json.loads(capsys.readouterr().out)
    assert second["out"] != first and second["removed"] == [first]
    assert sorted(p.name for p in (tmp_path / "cache").glob("batch-*")) == sorted([Path(second["out"]).name, Path(theirs).name])


def test_extract_refuses_a_folder_output_that_is_not_a_folder_before_decoding(tmp_path, capsys, monkeypatch):
    videos = tmp_path / "videos"
    videos.mkdir()
    write_test_video(videos / "clip.mp4", 2, (160, 120))
    monkeypatch.setattr("pamfn.features.batch.extract_videos", no_work)
    file = tmp_path / "feats.npz"
    file.write_text("keep me")
    device = tmp_path / "device"
    os.mkfifo(device)  # stands for /dev/null (never the real one)
    for out in (file, device, file / "sub"):
        refused_up_front(["extract", str(videos), "-o", str(out), "--quiet"], capsys, str(out), "not a folder")
    assert file.read_text() == "keep me" and stat.S_ISFIFO(device.stat().st_mode)


def test_extract_names_a_folder_without_videos(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no video here")
    refused_up_front(["extract", str(empty), "-o", str(tmp_path / "out"), "--quiet"], capsys, str(empty), "no videos")
    assert not (tmp_path / "out").exists()
