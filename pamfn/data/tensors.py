"""A split held on the training device once, with the paper's random crops.

Training takes ``crop`` consecutive segments at a random start (70 on RG, 130 on
Fis-V), zero-padded when the routine is shorter; testing uses every segment, one
routine at a time. Features live in one zero-padded tensor per modality on the device,
so a batch is a gather there: no per-step host-to-device copy of features.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch

from pamfn import MODALITIES
from pamfn.data.dataset import AQADataset, Sample
from pamfn.data.normalize import InputNorm


class SplitTensors:
    """Features (zero-padded), lengths and normalised labels of a list of samples."""

    def __init__(
        self,
        dataset: AQADataset,
        samples: Sequence[Sample],
        device: torch.device | str = "cpu",
        *,
        modalities: Sequence[str] = MODALITIES,
        min_length: int = 0,
        norm: InputNorm | None = None,
    ) -> None:
        """``norm`` standardises the features (before the zero padding) if given."""
        self.samples = list(samples)
        self.device = torch.device(device)
        self.modalities = tuple(modalities)
        self.label_scale = dataset.label_scale
        arrays = [dataset.features[s.features] for s in self.samples]
        lengths = np.array([a[self.modalities[0]].shape[0] for a in arrays], dtype=np.int64)
        width = max(int(lengths.max()), min_length)
        self.features: dict[str, torch.Tensor] = {}
        for m in self.modalities:
            padded = np.zeros((len(arrays), width, arrays[0][m].shape[1]), dtype=np.float32)
            for i, a in enumerate(arrays):
                padded[i, : a[m].shape[0]] = a[m] if norm is None else norm.apply(m, a[m])
            self.features[m] = torch.from_numpy(padded).to(self.device)
        self.lengths_cpu = torch.from_numpy(lengths)
        self.lengths = self.lengths_cpu.to(self.device)
        self.scores = np.array([s.score for s in self.samples], dtype=np.float64)
        self.labels = torch.tensor(self.scores / self.label_scale, dtype=torch.float32, device=self.device)

    def __len__(self) -> int:
        return len(self.samples)

    def batches(self, batch_size: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
        """Shuffled indices (host side, drawn from ``generator``) of each batch of one epoch.

        A trailing batch of a single routine is skipped: BatchNorm needs two samples.
        """
        chunks = torch.randperm(len(self), generator=generator).split(batch_size)
        if len(chunks) > 1 and len(chunks[-1]) == 1:
            chunks = chunks[:-1]
        yield from chunks

    def crops(self, index: torch.Tensor, crop: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """Random windows of ``crop`` consecutive segments, zero-padded past each routine's end.

        Starts are drawn on the host; the windows are slices of the device-resident
        tensors (zero beyond each routine, at least ``crop`` wide when built with
        ``min_length=crop``), so no feature crosses from host to device.
        """
        width = next(iter(self.features.values())).shape[1]
        if crop > width:
            raise ValueError(f"crop {crop} is wider than the stored sequences ({width}); build with min_length={crop}")
        room = (self.lengths_cpu[index] - crop).clamp(min=0) + 1
        starts = (torch.rand(len(index), generator=generator) * room).long()
        pairs = list(zip(index.tolist(), starts.tolist()))
        return {m: torch.stack([feats[i, t : t + crop] for i, t in pairs]) for m, feats in self.features.items()}

    def routine(self, i: int) -> dict[str, torch.Tensor]:
        """Every segment of routine ``i`` as a batch of one, (1, T, D) per modality."""
        t = int(self.lengths_cpu[i])
        return {m: feats[i : i + 1, :t] for m, feats in self.features.items()}
