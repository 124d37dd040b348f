"""An exponential moving average of a model's weights over optimiser steps.

A recipe with ``ema_decay > 0`` evaluates, selects and saves the averaged weights instead
of the raw ones: a mean over the recent steps is smoother than any single step, so the
selected epoch depends less on one lucky evaluation. The decay ramps up as
``min(decay, (1 + n) / (10 + n))`` after ``n`` updates, so early epochs are not pinned
to the initial weights. Every floating-point entry of the state dict is averaged
(parameters and normalisation statistics; frozen entries stay what they are); integer
entries (step counters) follow the model.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


class WeightAverage:
    """The running average; ``update`` after each optimiser step."""

    def __init__(self, model: nn.Module, decay: float, *, updates: int = 0, state: dict[str, torch.Tensor] | None = None) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"ema decay must lie in (0, 1), got {decay}")
        self.decay = decay
        self.updates = updates
        source = state if state is not None else model.state_dict()
        self.state = {k: v.detach().clone().to(model.state_dict()[k].device) for k, v in source.items()}

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        rate = min(self.decay, (1.0 + self.updates) / (10.0 + self.updates))
        for key, value in model.state_dict().items():
            mine = self.state[key]
            if mine.is_floating_point():
                mine.mul_(rate).add_(value.detach(), alpha=1.0 - rate)
            else:
                mine.copy_(value)
        self.updates += 1

    @contextmanager
    def swapped_in(self, model: nn.Module) -> Iterator[None]:
        """Run the block with the averaged weights loaded into ``model``; restore after."""
        raw = {k: v.detach().clone() for k, v in model.state_dict().items()}
        model.load_state_dict(self.state)
        try:
            yield
        finally:
            model.load_state_dict(raw)
