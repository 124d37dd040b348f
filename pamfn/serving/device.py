"""The torch device a server scores on."""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING

from pamfn.errors import ConfigError

if TYPE_CHECKING:
    import torch

THREADS_ENV = "PAMFN_TORCH_THREADS"


@functools.cache
def serving_device() -> str:
    """``"cuda"`` when a CUDA device is available, else ``"cpu"`` (imports torch, once).

    On CPU, torch runs single-threaded unless ``PAMFN_TORCH_THREADS`` says otherwise: a
    server scores one routine at a time, and on a busy machine several spinning threads
    per forward pass make it many times slower."""
    import torch

    torch.set_num_threads(max(1, int(os.environ.get(THREADS_ENV, "1"))))
    return "cuda" if torch.cuda.is_available() else "cpu"


def resolve_device(name: str = "auto") -> torch.device:
    """The torch device ``name`` names: ``auto`` picks CUDA when present, else the CPU;
    ConfigError for a name torch does not know or CUDA this machine lacks."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise ConfigError(f"device {name!r} is not a torch device (cpu, cuda, cuda:1, auto): {exc}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} requested but CUDA is not available on this machine (use cpu or auto)")
    return device
