"""Where the command line writes: never over its input, never out of its output folder,
and a system's refusal is one line, not a traceback."""

from __future__ import annotations

import pytest

from pamfn.catalog import load_catalog
from pamfn.cli import main
from pamfn.errors import DatasetError
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
    video = write_test_video(tmp_path / "clip.mp4", 2, (160, 120))
    blocker = tmp_path / "file"
    blocker.write_text("a file, not a folder")
    assert main(["extract", str(video), "-o", str(blocker / "out.npz"), "--quiet"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "PAMFN_DEBUG=1" in err[0]
    monkeypatch.setenv("PAMFN_DEBUG", "1")
    with pytest.raises(OSError):
        main(["extract", str(video), "-o", str(blocker / "out.npz"), "--quiet"])


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
