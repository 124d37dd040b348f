"""Out of distribution (pamfn.ood): a checkpoint knows the features of its training routines;
every score says how far a routine lies from them and says so plainly when it is outside."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from pamfn.checkpoint import load_checkpoint
from pamfn.cli import main as cli
from pamfn.explain import explain_routine
from pamfn.errors import CheckpointError
from pamfn.explanation import Explanation
from pamfn.ood import OOD_SENTENCE, TrainingDistribution, clipped_end, from_meta, length_unlike
from pamfn.report import routine_report
from pamfn.routine import RoutineFeatures
from tests.support.app_data import ROOT, bundled_available, make_dataset

BUNDLED = ROOT / "assets" / "checkpoints"
needs_bundled = pytest.mark.skipif(not bundled_available(), reason="bundled sample data and checkpoints absent")


def test_distance_and_threshold_on_known_statistics():
    rng = np.random.default_rng(0)
    train = [{"V": rng.normal(5, 2, (20, 4)), "A": rng.normal(0, 1, (20, 3))} for _ in range(50)]
    dist = TrainingDistribution.fit(train)
    assert max(dist.distance(r) for r in train) <= dist.threshold
    assert dist.distance({"V": np.full((20, 4), 5.0), "A": np.zeros((20, 3))}) < 0.2  # at the mean
    shifted = {"V": train[0]["V"] + 8, "A": train[0]["A"]}
    assert dist.modality_distances(shifted)["V"] > dist.threshold > dist.modality_distances(shifted)["A"]
    back = TrainingDistribution.from_dict(json.loads(json.dumps(dist.to_dict())))
    assert back.threshold == dist.threshold and back.distance(shifted) == pytest.approx(dist.distance(shifted))
    assert clipped_end(0.0) == "bottom" and clipped_end(0.995) == "top" and clipped_end(0.5) is None


def test_the_training_routines_lengths_are_kept_and_judged_with_the_margin():
    rng = np.random.default_rng(0)
    train = [{"V": rng.normal(0, 1, (T, 4))} for T in (40, 52, 64)]
    dist = TrainingDistribution.fit(train)
    assert dist.segments == (40, 64)
    assert TrainingDistribution.from_dict(json.loads(json.dumps(dist.to_dict()))).segments == (40, 64)
    # 40 / 1.25 = 32 and 64 * 1.25 = 80 segments are the last lengths still alike
    assert [length_unlike(T, dist.segments) for T in (31, 32, 80, 81)] == ["short", None, None, "long"]
    assert length_unlike(5, None) is None  # calibrated before lengths were kept: nothing is claimed
    older = {k: v for k, v in dist.to_dict().items() if k != "segments"}
    assert TrainingDistribution.from_dict(older).segments is None
    for bad in ([64, 40], [0, 10], ["a", 3], [1]):
        with pytest.raises(CheckpointError, match="training_features"):
            TrainingDistribution.from_dict({**dist.to_dict(), "segments": bad})


@needs_bundled
def test_bundled_test_routines_are_inside():
    from pamfn.data.dataset import load_dataset

    dist = from_meta(load_checkpoint(BUNDLED / "hoop").meta)
    assert dist is not None and dist.n_routines == 255 and dist.quantile == 0.99  # hoop's training routines less validation
    data = load_dataset(ROOT / "sample_data")
    test = [dist.distance(data.features[s.features]) for s in data.samples if s.split == "test"]
    assert np.mean(np.array(test) <= dist.threshold) >= 0.95


def noise_clip(path: Path, seconds: float = 8.0) -> Path:
    """A clip that is no routine: moving random noise over a chord that slides in pitch."""
    import imageio_ffmpeg

    subprocess.run([
        imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-v", "error",
        "-f", "lavfi", "-i", f"nullsrc=size=320x240:rate=25:duration={seconds},geq=random(1)*255:128:128",
        "-f", "lavfi", "-i", f"aevalsrc=0.3*sin(2*PI*261*t)+0.3*sin(2*PI*392*t*(1+0.1*sin(t))):s=22050:d={seconds}",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(path),
    ], check=True)
    return path


@needs_bundled
def test_inputs_unlike_the_training_data_are_flagged(tmp_path, capsys):
    from pamfn.features.pipeline import extract_file

    ckpt = load_checkpoint(BUNDLED / "hoop")
    routine = RoutineFeatures.load(ROOT / "sample_data" / "features" / "hoop_303.npz")
    inside = explain_routine(ckpt, routine, action="hoop")
    assert inside.out_of_distribution is False and inside.ood_distance <= inside.ood_threshold
    dist = from_meta(ckpt.meta)
    rng = np.random.default_rng(1)
    shifted = {m: x + 4 * dist.std[m] for m, x in routine.features.items()}
    noise = {m: rng.standard_normal(x.shape).astype(np.float32) * 10 for m, x in routine.features.items()}
    clip = extract_file(noise_clip(tmp_path / "street.mp4"), progress=False)
    for feats in (shifted, noise, clip.features):
        e = explain_routine(ckpt, RoutineFeatures(features=feats), action="hoop")
        assert e.out_of_distribution is True and e.ood_distance > e.ood_threshold
        assert OOD_SENTENCE in e.warnings and OOD_SENTENCE.rstrip(".") in routine_report(e)
    clip.save(tmp_path / "street.npz")
    assert cli(["explain", str(tmp_path / "street.npz"), "--checkpoint", str(BUNDLED), "--action", "hoop", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["out_of_distribution"] is True and doc["ood_distance"] > doc["ood_threshold"] > 0
    assert OOD_SENTENCE in doc["warnings"]


@needs_bundled
def test_a_clip_much_shorter_or_longer_than_the_training_routines_says_so(tmp_path, capsys):
    ckpt = load_checkpoint(BUNDLED / "ball")
    assert from_meta(ckpt.meta).segments == (37, 58)  # the ball checkpoint's 255 training routines
    routine = RoutineFeatures.load(ROOT / "sample_data" / "features" / "ball_300.npz")
    assert explain_routine(ckpt, routine, action="ball").length_unlike is None
    clip = RoutineFeatures(features={m: x[:12] for m, x in routine.features.items()})
    e = explain_routine(ckpt, clip, action="ball")
    said = [w for w in e.warnings if "never checked" in w]
    assert e.length_unlike == "short" and e.out_of_distribution is False  # its features alone look ordinary
    assert said == ["This routine lasts 0:15; the checkpoint was trained on routines of 0:47 to 1:14: its score was "
                    "never checked on routines this short."]
    assert Explanation.from_json(e.to_json()).warnings == e.warnings and said[0] in routine_report(e)
    from dataclasses import replace

    cut_video = replace(clip, duration_s=600.0)  # its video ended after 12 segments, its sound ran on: 12 were scored
    assert [w for w in explain_routine(ckpt, cut_video, action="ball").warnings if "never checked" in w] == said
    tripled = RoutineFeatures(features={m: np.concatenate([x] * 3) for m, x in routine.features.items()})
    tripled.save(tmp_path / "tripled.npz")
    assert cli(["explain", str(tmp_path / "tripled.npz"), "--checkpoint", str(BUNDLED), "--action", "ball", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["length_unlike"] == "long" and doc["training_segments"] == [37, 58]
    assert any("never checked on routines this long" in w for w in doc["warnings"])


def test_calibrate_ood_stores_statistics_and_keeps_the_weights(tmp_path, capsys):
    data, ckpts = make_dataset(tmp_path, per_action=4, media=False)
    weights = {p: p.read_bytes() for p in ckpts.rglob("model.safetensors")}
    assert all(from_meta(load_checkpoint(p.parent).meta) is None for p in weights)
    assert cli(["calibrate-ood", "--data", str(data), "--checkpoint", str(ckpts)]) == 0
    said = capsys.readouterr()
    assert "test routines inside" in said.out and "only 3 training routines" in said.err
    for path, before in weights.items():
        assert path.read_bytes() == before
        dist = from_meta(load_checkpoint(path.parent).meta)
        assert dist.n_routines == 3 and dist.segments is not None  # per action: 3 training routines, 1 test
    assert cli(["evaluate", "--data", str(data), "--checkpoint", str(ckpts), "--json", "--predictions"]) == 0
    doc = json.loads(capsys.readouterr().out)
    for result in doc["actions"].values():
        assert result["ood_threshold"] > 0 and all("ood_distance" in p and "clipped" in p for p in result["predictions"])
        assert result["length_unlike"] == 0 and all(p["length_unlike"] is None for p in result["predictions"])


def test_a_checkpoint_without_statistics_says_so(tmp_path):
    data, ckpts = make_dataset(tmp_path, per_action=2, media=False)
    feats = RoutineFeatures.load(next((data / "features").glob("*.npz")))
    e = explain_routine(load_checkpoint(next(ckpts.rglob("model.safetensors")).parent), feats)
    assert e.out_of_distribution is None and e.ood_distance is None
    assert "unknown" in routine_report(e)
