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
from pamfn.ood import OOD_SENTENCE, TrainingDistribution, clipped_end, from_meta
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


def test_calibrate_ood_stores_statistics_and_keeps_the_weights(tmp_path, capsys):
    data, ckpts = make_dataset(tmp_path, per_action=4, media=False)
    weights = {p: p.read_bytes() for p in ckpts.rglob("model.safetensors")}
    assert all(from_meta(load_checkpoint(p.parent).meta) is None for p in weights)
    assert cli(["calibrate-ood", "--data", str(data), "--checkpoint", str(ckpts)]) == 0
    assert "test routines inside" in capsys.readouterr().out
    for path, before in weights.items():
        assert path.read_bytes() == before
        assert from_meta(load_checkpoint(path.parent).meta).n_routines == 3  # per action: 3 training routines, 1 test
    assert cli(["evaluate", "--data", str(data), "--checkpoint", str(ckpts), "--json", "--predictions"]) == 0
    doc = json.loads(capsys.readouterr().out)
    for result in doc["actions"].values():
        assert result["ood_threshold"] > 0 and all("ood_distance" in p and "clipped" in p for p in result["predictions"])


def test_a_checkpoint_without_statistics_says_so(tmp_path):
    data, ckpts = make_dataset(tmp_path, per_action=2, media=False)
    feats = RoutineFeatures.load(next((data / "features").glob("*.npz")))
    e = explain_routine(load_checkpoint(next(ckpts.rglob("model.safetensors")).parent), feats)
    assert e.out_of_distribution is None and e.ood_distance is None
    assert "unknown" in routine_report(e)
