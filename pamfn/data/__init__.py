"""Datasets: our own format, the authors' released layout, and device-resident splits
with the paper's random crops.

Names are imported lazily (PEP 562) so that reading a dataset's tables, as the dashboard's
catalog does, does not import torch.
"""

from __future__ import annotations

from pamfn.lazy import lazy_exports

__all__, __getattr__ = lazy_exports(__name__, {
    "pamfn.data.dataset": ("AQADataset", "Sample", "load_dataset", "validation_split", "read_dataset_info", "read_labels"),
    "pamfn.data.normalize": ("InputNorm",),
    "pamfn.data.official": ("import_official", "load_official"),
    "pamfn.data.tensors": ("SplitTensors",),
})
