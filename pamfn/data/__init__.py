"""Datasets: our own format, the authors' released layout, and device-resident splits
with the paper's random crops.

Names are imported lazily (PEP 562) so that reading a dataset's tables, as the dashboard's
catalog does, does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "AQADataset": "pamfn.data.dataset",
    "Sample": "pamfn.data.dataset",
    "load_dataset": "pamfn.data.dataset",
    "validation_split": "pamfn.data.dataset",
    "read_dataset_info": "pamfn.data.dataset",
    "read_labels": "pamfn.data.dataset",
    "InputNorm": "pamfn.data.normalize",
    "import_official": "pamfn.data.official",
    "load_official": "pamfn.data.official",
    "SplitTensors": "pamfn.data.tensors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'pamfn.data' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
