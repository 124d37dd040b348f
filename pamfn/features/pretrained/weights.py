"""Where the pretrained extractors' weights live, and safe loading of weight files.

Nothing is ever downloaded. The user puts the files once into ``$PAMFN_WEIGHTS_DIR``
(default ``~/.cache/pamfn/weights``) or points a per-model variable at them:

- RGB, Video Swin-B: ``$PAMFN_SWIN3D_WEIGHTS`` or ``<dir>/swin3d_b.pth`` (torchvision's
  ``swin3d_b-*.pth``, a Video-Swin-Transformer checkpoint, or ``.safetensors``)
- Optical flow, I3D: ``$PAMFN_I3D_FLOW_WEIGHTS`` or ``<dir>/i3d_flow.pt`` (the converted
  Kinetics flow weights known as ``flow_imagenet.pt``, or ``.safetensors``)
- Audio, AST: ``$PAMFN_AST_DIR`` or ``<dir>/ast/`` (a ``save_pretrained`` folder), else the
  Hugging Face hub cache of ``MIT/ast-finetuned-audioset-10-10-0.4593``, read offline.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from pamfn.errors import CheckpointError, WeightsNotFoundError

AST_HUB_ID = "MIT/ast-finetuned-audioset-10-10-0.4593"
_FILES = {
    "swin3d": ("PAMFN_SWIN3D_WEIGHTS", ("swin3d_b.pth", "swin3d_b.safetensors"), "Video Swin-B (RGB)"),
    "i3d_flow": ("PAMFN_I3D_FLOW_WEIGHTS", ("i3d_flow.pt", "flow_imagenet.pt", "i3d_flow.safetensors"),
                 "I3D flow (optical flow)"),
}


def weights_dir() -> Path:
    """``$PAMFN_WEIGHTS_DIR``, default ``~/.cache/pamfn/weights``."""
    return Path(os.environ.get("PAMFN_WEIGHTS_DIR") or Path.home() / ".cache" / "pamfn" / "weights").expanduser()


def weights_file(model: str) -> Path:
    """The weights file of ``model`` ("swin3d" or "i3d_flow"); WeightsNotFoundError saying where to put it."""
    env, names, title = _FILES[model]
    if os.environ.get(env):
        path = Path(os.environ[env]).expanduser()
        if path.is_file():
            return path
        raise WeightsNotFoundError(f"{title} weights: ${env} points to {path}, which is not a file")
    for name in names:
        if (weights_dir() / name).is_file():
            return weights_dir() / name
    raise WeightsNotFoundError(
        f"{title} weights not found: put the file at {weights_dir() / names[0]} "
        f"(or set ${env} to its path, or $PAMFN_WEIGHTS_DIR to the folder holding it); see docs/features.md"
    )


def ast_source() -> str:
    """A local AST folder, or the hub id when its snapshot is in the local hub cache."""
    if os.environ.get("PAMFN_AST_DIR"):
        path = Path(os.environ["PAMFN_AST_DIR"]).expanduser()
        if (path / "config.json").is_file():
            return str(path)
        raise WeightsNotFoundError(f"AST weights: $PAMFN_AST_DIR points to {path}, which holds no config.json")
    if (weights_dir() / "ast" / "config.json").is_file():
        return str(weights_dir() / "ast")
    from huggingface_hub import try_to_load_from_cache

    if isinstance(try_to_load_from_cache(AST_HUB_ID, "config.json"), str):
        return AST_HUB_ID
    raise WeightsNotFoundError(
        f"AST (audio) weights not found: save {AST_HUB_ID} with save_pretrained() into {weights_dir() / 'ast'} "
        f"(or set $PAMFN_AST_DIR), or have it in the Hugging Face hub cache; see docs/features.md"
    )


def load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Tensors of a ``.safetensors`` file or a torch checkpoint, loaded with ``weights_only``
    (no code runs); a nested ``state_dict`` / ``model`` entry is unwrapped."""
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"{path}: not a readable weights file ({type(exc).__name__}: {exc})") from exc
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path}: holds no state dict of tensors")
    return state


def load_into(model: torch.nn.Module, state: dict[str, torch.Tensor], path: Path) -> torch.nn.Module:
    """Load ``state`` strictly (BatchNorm batch counters may be absent); CheckpointError naming the mismatch."""
    own = model.state_dict()
    missing = [k for k in own if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in own]
    wrong = [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or wrong:
        raise CheckpointError(
            f"{path}: does not fit {type(model).__name__}: {len(missing)} missing (e.g. {missing[:3]}), "
            f"{len(unexpected)} unexpected (e.g. {unexpected[:3]}), {len(wrong)} with other shapes (e.g. {wrong[:3]})"
        )
    model.load_state_dict(state, strict=False)
    return model
