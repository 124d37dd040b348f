"""Datasets: our own format, the authors' released layout, and device-resident splits
with the paper's random crops."""

from pamfn.data.dataset import AQADataset, Sample, load_dataset, validation_split
from pamfn.data.normalize import InputNorm
from pamfn.data.official import import_official, load_official
from pamfn.data.tensors import SplitTensors

__all__ = ["AQADataset", "InputNorm", "Sample", "SplitTensors", "import_official", "load_dataset", "load_official", "validation_split"]
