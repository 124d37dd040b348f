"""A small random data set for the dashboard's tests and benchmarks: random features,
randomly initialised small checkpoints (d=16, K=4) in an index per action, and short mp4
files with sound. No trained weights: figures made on it say nothing about the model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from pamfn.atomic import write_bytes_atomic, write_text_atomic
from pamfn.features.segments import SEGMENT_SECONDS
from pamfn.features.testmedia import write_test_video
from pamfn.serving.checkpoints import write_index
from pamfn.synth.dataset import LABEL_COLUMNS, LABEL_SCALE

DIMS = {"V": 12, "F": 10, "A": 8}
ACTIONS = ("ball", "hoop")


def make_video(path: Path, seconds: float) -> Path:
    """An mp4 (H.264 + AAC) of ``seconds`` for the player: :func:`write_test_video` at 320x180,
    a keyframe a second and the index first (``+faststart``), in a folder made as needed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_test_video(path, seconds, size=(320, 180), extra_output_args=("-g", "25", "-movflags", "+faststart"))


def make_checkpoint(directory: Path, dims: dict[str, int] = DIMS, seed: int = 0, d: int = 16, K: int = 4,
                    label_scale: float = LABEL_SCALE) -> Path:
    """A randomly initialised PAMFN (by default d=16, K=4, on the RG score scale) saved with save_checkpoint."""
    import torch

    from pamfn.checkpoint import save_checkpoint
    from pamfn.model import PAMFNConfig, build_model

    torch.manual_seed(seed)
    cfg = PAMFNConfig(preset=None, K=K, d=d, input_dims=dict(dims), label_scale=label_scale)
    model = build_model(cfg).eval()
    return save_checkpoint(directory, model, cfg, {"note": "random weights for tests"})


def make_dataset(
    root: Path,
    per_action: int = 3,
    segments: int = 24,
    media: bool = True,
    actions: tuple[str, ...] = ACTIONS,
    dims: dict[str, int] = DIMS,
    d: int = 16,
    K: int = 4,
) -> tuple[Path, Path]:
    """Write a data set folder and a checkpoint set; return (data_dir, checkpoint_dir).

    Routine i of an action has ``segments + (4 i mod 24)`` segments. The first routine
    of each action has a video (when ``media``); the second names a media file that does
    not exist; the rest are features only.
    """
    from pamfn.routine import RoutineFeatures

    rng = np.random.default_rng(7)
    data, ckpts = root / "data", root / "checkpoints"
    rows = [",".join(LABEL_COLUMNS)]
    video, video_s = None, 0.0
    for action in actions:
        for i in range(per_action):
            rid = f"{action}_{i:03d}" if per_action > 99 else f"{action}_{i:02d}"
            T = segments + (4 * i) % 24
            feats = {m: rng.normal(size=(T, n)).astype(np.float32) for m, n in dims.items()}
            RoutineFeatures(feats, routine_id=rid, duration_s=T * SEGMENT_SECONDS).save(data / "features" / f"{rid}.npz")
            media_rel = ""
            if media and i == 0:
                seconds = T * SEGMENT_SECONDS
                if video is None or seconds > video_s:
                    video, video_s = make_video(data / "media" / f"{rid}.mp4", seconds), seconds
                else:
                    write_bytes_atomic(data / "media" / f"{rid}.mp4", video.read_bytes())
                media_rel = f"media/{rid}.mp4"
            elif i == 1:
                media_rel = f"media/{rid}_missing.mp4"
            score = float(rng.uniform(10, 22))
            rows.append(f"{rid},{action},{'test' if i == 0 else 'train'},{score:.2f},{score/3:.2f},{score/3:.2f},{score/3:.2f},features/{rid}.npz,{media_rel}")
    write_text_atomic(data / "labels.csv", "\n".join(rows) + "\n")
    write_text_atomic(data / "dataset.json", json.dumps({"label_scale": LABEL_SCALE, "actions": list(actions)}))
    for k, action in enumerate(actions):
        make_checkpoint(ckpts / action, dims=dims, seed=k, d=d, K=K)
    write_index(ckpts, {a: a for a in actions})
    return data, ckpts
