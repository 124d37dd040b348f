"""Bad input on the command line is refused with one line naming the problem and the value
(explain, report, evaluate, calibrate-ood, synth-check, model-info), and what a score is
worth is said in every output form."""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np
import pytest

from pamfn.checkpoint import save_checkpoint
from pamfn.cli import main
from pamfn.errors import CheckpointError
from pamfn.model import PAMFNConfig, build_model
from pamfn.ood import NO_AUDIO_SENTENCE, OOD_SENTENCE, SILENT_AUDIO_SENTENCE, from_meta
from pamfn.routine import RoutineFeatures
from pamfn.serving import CheckpointSet
from pamfn.synth.random_dataset import DIMS, make_dataset
from tests.support.toy import write_toy_dataset


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> tuple[Path, Path]:
    """(data set, checkpoint set for ball and hoop with training statistics), made once."""
    data, ckpts = make_dataset(tmp_path_factory.mktemp("served"), per_action=4, segments=12, media=False)
    assert main(["calibrate-ood", "--data", str(data), "--checkpoint", str(ckpts)]) == 0
    return data, ckpts


def trained_on(folder: Path, action: str | None) -> Path:
    """A small random checkpoint whose meta records ``action`` (or none)."""
    cfg = PAMFNConfig(K=2, d=8, input_dims=dict(DIMS))
    return save_checkpoint(folder, build_model(cfg).eval(), cfg, {"action": action} if action else {})


def refused(argv: list[str], capsys) -> str:
    """The one error line of a refused command."""
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err
    return err


def far_routine(path: Path, served: tuple[Path, Path], flags: dict) -> Path:
    """A routine far from the checkpoint's training routines, with the features ``flags``."""
    dist = from_meta(CheckpointSet(served[1]).load("ball").meta)
    feats = {m: (dist.mean[m] + 40 * dist.std[m]) * np.ones((12, 1), np.float32) for m in DIMS}
    return RoutineFeatures(feats, routine_id="far", flags=flags).save(path)


def test_explain_text_says_what_the_json_warns(served, tmp_path, capsys):
    features = far_routine(tmp_path / "far.npz", served, {"silent_audio": True, "audio_track": False})
    argv = ["explain", str(features), "--checkpoint", str(served[1]), "--action", "ball"]
    assert main([*argv, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["out_of_distribution"] is True and doc["feature_flags"]["audio_track"] is False
    assert OOD_SENTENCE in doc["warnings"] and NO_AUDIO_SENTENCE in doc["warnings"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert all(f"warning: {w}" in out for w in doc["warnings"])


def test_report_mentions_a_silent_video(served, tmp_path, capsys):
    features = far_routine(tmp_path / "quiet.npz", served, {"silent_audio": True})
    report = tmp_path / "report.html"
    argv = ["report", str(features), "--checkpoint", str(served[1]), "--action", "hoop", "--no-occlusion"]
    assert main([*argv, "--judged", "12.5", "-o", str(report)]) == 0
    text = report.read_text()
    assert html.escape(SILENT_AUDIO_SENTENCE) in text and html.escape(NO_AUDIO_SENTENCE) not in text
    for judged in ("nan", "inf", "999", "-5"):
        err = refused([*argv, "--judged", judged, "-o", str(tmp_path / "bad.html")], capsys)
        assert f"--judged {judged}" in err and "0 to 25" in err
    assert not (tmp_path / "bad.html").exists()


def test_explain_batch_prints_json(served, tmp_path, capsys):
    data, ckpts = served
    out = tmp_path / "batch"
    argv = ["explain", "--data", str(data), "--checkpoint", str(ckpts), "--split", "test", "--out", str(out), "--json"]
    assert main(argv) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["out"], doc["explained"], doc["failed"], doc["failures"]) == (str(out), 2, 0, None)
    assert sorted(r["routine_id"] for r in doc["routines"]) == ["ball_00", "hoop_00"]


def test_an_action_misspelt_for_a_set_is_named(served, capsys):
    features = next((served[0] / "features").glob("ball_*.npz"))
    err = refused(["explain", str(features), "--checkpoint", str(served[1]), "--action", "bal"], capsys)
    assert f"no checkpoint for action 'bal' in {served[1]}" in err and "['ball', 'hoop']" in err


def test_a_single_checkpoint_scores_only_the_action_it_was_trained_on(served, tmp_path, capsys):
    data = served[0]
    clubs, anything = trained_on(tmp_path / "clubs", "clubs"), trained_on(tmp_path / "any", None)
    features = str(next((data / "features").glob("ball_*.npz")))
    for argv in (["explain", features, "--checkpoint", str(clubs), "--action", "ball"],
                 ["evaluate", "--data", str(data), "--checkpoint", str(clubs), "--action", "ball"]):
        err = refused(argv, capsys)
        assert "trained on clubs, not 'ball'" in err
    assert main(["explain", features, "--checkpoint", str(clubs)]) == 0
    assert "(clubs)" in capsys.readouterr().out
    assert main(["explain", features, "--checkpoint", str(anything), "--action", "ball"]) == 0
    assert "(ball)" in capsys.readouterr().out
    pooled = CheckpointSet(trained_on(tmp_path / "pooled", "ball+hoop"))
    assert list(pooled.for_actions(None)) == ["ball", "hoop"] and list(pooled.for_actions(["hoop"])) == ["hoop"]
    with pytest.raises(CheckpointError, match="trained on ball\\+hoop, not 'clubs'"):
        pooled.resolve("clubs")


def test_evaluate_one_action_of_a_set_that_names_more(tmp_path, capsys):
    toy = write_toy_dataset(tmp_path / "toy", actions=("ball",), n_train=2, n_test=3)
    info = json.loads((toy / "dataset.json").read_text())
    (toy / "dataset.json").write_text(json.dumps({**info, "actions": ["ball", "hoop"]}))
    ckpt = trained_on(tmp_path / "ckpt", None)
    assert main(["evaluate", "--data", str(toy), "--checkpoint", str(ckpt), "--action", "ball", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["actions"]["ball"]["n"] == 3
    err = refused(["evaluate", "--data", str(toy), "--checkpoint", str(ckpt), "--action", "hoop"], capsys)
    assert "action 'hoop' has no routines" in err


def test_calibrate_ood_on_an_empty_train_split_says_how_to_make_it(tmp_path, capsys):
    toy = write_toy_dataset(tmp_path / "toy", actions=("ball",), n_train=0, n_test=3)
    info = json.loads((toy / "dataset.json").read_text())
    (toy / "dataset.json").write_text(json.dumps({**info, "generator_version": "synth-rg@2"}))
    ckpt = trained_on(tmp_path / "ckpt", "ball")
    err = refused(["calibrate-ood", "--data", str(toy), "--checkpoint", str(ckpt)], capsys)
    assert "'train' split of action 'ball' is empty" in err and f"pamfn synth {toy} --split train" in err


@pytest.mark.parametrize("count", ["0", "-2"])
def test_synth_check_refuses_a_count_below_one(tmp_path, capsys, count):
    err = refused(["synth-check", str(tmp_path), "--count", count], capsys)
    assert f"at least 1, got {count}" in err


def test_model_info_refuses_an_absurd_model_before_building_it(tmp_path, capsys):
    err = refused(["model-info", "--preset", "rg", "--K", "100000"], capsys)
    assert "K=100000" in err and "2,000,000,000 allowed" in err
    assert "d=100000" in refused(["model-info", "--preset", "rg", "--d", "100000"], capsys)
    assert main(["model-info", "--preset", "rg", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["parameters"] == 22_712_189
    folder = trained_on(tmp_path / "huge", None)
    config = folder / "config.json"
    config.write_text(config.read_text().replace('"K": 2', '"K": 100000000'))
    assert "K=100000000" in refused(["model-info", "--checkpoint", str(folder)], capsys)


def test_model_info_counts_a_huge_model_without_building_it(capsys, monkeypatch):
    """--d 2048 asks for 590 million parameters (2.4 GB): they are counted on the meta device."""
    import torch

    import pamfn.model

    built_on = []

    def spy(cfg):
        built_on.append(torch.empty(0).device.type)
        return build_model(cfg)

    monkeypatch.setattr(pamfn.model, "build_model", spy)
    assert main(["model-info", "--preset", "rg", "--d", "2048", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["parameters"] > 5e8 and built_on == ["meta"]
