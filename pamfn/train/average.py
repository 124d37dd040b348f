"""An exponential moving average of a model's weights over optimiser steps.

A recipe with ``ema_decay > 0`` evaluates, selects and saves the averaged weights instead
of the raw ones: a mean over the recent steps is smoother than any single step, so the
selected epoch depends less on one lucky evaluation. After ``n`` updates the average is
the weights of steps ``1..n`` weighted by ``decay ** (n - i)`` and normalised (the
accumulator starts at zero and is divided by ``1 - decay ** n``, as Adam corrects its
moments), so its horizon is about ``1 / (1 - decay)`` steps from the first epoch on and
the initial weights never enter it. Every floating-point entry of the state dict is
averaged (parameters and normalisation statistics), in float64 so that an entry that
never changes (a frozen branch) comes back exactly; integer entries (step counters)
follow the model.
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
        current = model.state_dict()
        self.dtypes = {k: v.dtype for k, v in current.items()}
        if state is None:
            state = {k: torch.zeros_like(v, dtype=torch.float64) if v.is_floating_point() else v for k, v in current.items()}
        self.state = {k: v.detach().clone().to(current[k].device) for k, v in state.items()}
        """The accumulator (zero-started, float64, not yet normalised); saved to resume."""

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        for key, value in model.state_dict().items():
            mine = self.state[key]
            if mine.is_floating_point():
                mine.mul_(self.decay).add_(value.detach().double(), alpha=1.0 - self.decay)
            else:
                mine.copy_(value)
        self.updates += 1

    def averaged(self) -> dict[str, torch.Tensor]:
        """The normalised average (needs at least one update)."""
        if self.updates == 0:
            raise ValueError("the weight average has no update yet")
        norm = 1.0 - self.decay**self.updates
        return {k: (v / norm).to(self.dtypes[k]) if v.is_floating_point() else v for k, v in self.state.items()}

    @contextmanager
    def swapped_in(self, model: nn.Module) -> Iterator[None]:
        """Run the block with the averaged weights loaded into ``model``; restore after."""
        raw = {k: v.detach().clone() for k, v in model.state_dict().items()}
        model.load_state_dict(self.averaged())
        try:
            yield
        finally:
            model.load_state_dict(raw)
