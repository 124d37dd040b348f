"""The torch device a server scores on."""

from __future__ import annotations

import functools
import os

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
