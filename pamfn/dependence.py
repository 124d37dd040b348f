"""Which stretch of a routine each step of a stage depends on, measured on the checkpoint.

A stage-i step sits over 2^i segments, but its MSFD weights and its PolicyNet decision
see much more: the branches' and the mixed branch's convolutions widen the receptive
field stage after stage. Drawing or wording a step with its own 2^i segments would
claim a precision the model does not have.

Measurement (perturbation): every segment j in turn is swapped, in all modalities, for
a segment from elsewhere in the same routine, and the routine is run again (one batched
forward of T copies). A routine longer than ``PROBES`` segments perturbs ``PROBES``
segments evenly spread over it instead of all, so the cost grows with T, not T². The change of each step's MSFD weights and PolicyNet probabilities
(sum of absolute changes) is that step's dependence on segment j. Pooled over the steps
of a stage by the offset of j from the step's first segment, it gives the stage's
dependence profile; the **support** is the shortest run of offsets around the step's own
segments that holds ``mass`` (default 90%) of the profile. Each step's support stretch is
then its own window widened by that run, clipped to the routine. The last stage (one
step over the whole routine) depends on all of it.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from pamfn.errors import ConfigError
from pamfn.routine import RoutineFeatures

MASS = 0.9
PROBES = 64
"""Most segments perturbed in one routine (evenly spread over a longer one)."""


@dataclass(frozen=True)
class Support:
    """A stage's dependence: segments before the step's first segment (``before``) and
    after its last (``after``) that hold ``mass`` of the influence, and the profile."""

    stage: int
    before: int
    after: int
    mass: float
    offsets: np.ndarray
    profile: np.ndarray


def probed_segments(T: int, most: int = PROBES) -> np.ndarray:
    """The segments to perturb: all of them, or ``most`` evenly spread over the routine."""
    return np.arange(T) if T <= most else np.unique(np.linspace(0, T - 1, most).round().astype(int))


def _influence(model, features: RoutineFeatures, seed: int, device: str, batch_size: int, probes: int,
               on_batch: Callable[[int, int], None] | None = None) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """The perturbed segments and, per stage, ``(perturbed segments, steps)``: the summed
    absolute change of MSFD weights and policy probabilities. ``on_batch(done, total)``
    after each batch."""
    from pamfn.serving.scorer import model_modalities, run_model

    modalities = model_modalities(model)
    T = features.T
    x = {m: np.asarray(features.features[m], np.float32) for m in modalities}
    rng = np.random.default_rng([seed, zlib.crc32(features.routine_id.encode())])
    donors = np.array([rng.choice(np.delete(np.arange(T), j)) if T > 1 else j for j in range(T)])

    def traces(batch: dict[str, np.ndarray]) -> dict[int, np.ndarray]:
        out = run_model(model, {m: torch.as_tensor(a, device=device) for m, a in batch.items()})
        found = {}
        for t in out.stages:
            parts = [p.float().cpu().numpy() for p in (t.msfd_weights, t.policy_probs) if p is not None]
            if parts and parts[0].shape[1] > 1:
                found[t.stage] = np.concatenate(parts, axis=-1)
        return found

    probed = probed_segments(T, probes)
    base = {s: v[0] for s, v in traces({m: a[None] for m, a in x.items()}).items()}
    change = {s: np.empty((len(probed), v.shape[0])) for s, v in base.items()}
    for first in range(0, len(probed), batch_size):
        rows = np.arange(first, min(first + batch_size, len(probed)))
        batch = {m: np.repeat(a[None], len(rows), axis=0) for m, a in x.items()}
        for i, j in enumerate(probed[rows]):
            for m in modalities:
                batch[m][i, j] = x[m][donors[j]]
        for s, v in traces(batch).items():
            change[s][rows] = np.abs(v - base[s][None]).sum(axis=-1)
        if on_batch is not None:
            on_batch(int(rows[-1]) + 1, len(probed))
    return probed, change


def _run_holding(profile: np.ndarray, own: slice, mass: float) -> tuple[int, int]:
    """Shortest run of indices containing ``own`` that holds ``mass`` of ``profile``'s sum,
    grown one index at a time towards the larger neighbour."""
    total = profile.sum()
    lo, hi = own.start, own.stop
    if total <= 0:
        return lo, hi
    while profile[lo:hi].sum() < mass * total and (lo > 0 or hi < len(profile)):
        left = profile[lo - 1] if lo > 0 else -1.0
        right = profile[hi] if hi < len(profile) else -1.0
        if left >= right:
            lo -= 1
        else:
            hi += 1
    return lo, hi


def measure_support(model, features: RoutineFeatures, mass: float = MASS, seed: int = 0, device: str = "cpu",
                    batch_size: int = 64, probes: int = PROBES,
                    on_batch: Callable[[int, int], None] | None = None) -> dict[int, Support]:
    """The support of every stage with more than one step, measured on ``features`` by
    perturbing at most ``probes`` segments (``on_batch(done, total)`` after each batch)."""
    if not 0 < mass <= 1:
        raise ConfigError(f"the support's mass must be in (0, 1], got {mass}")
    T = features.T
    out = {}
    probed, influence = _influence(model, features, seed, device, batch_size, probes, on_batch)
    for stage, change in influence.items():
        width = 2**stage
        steps = change.shape[1]
        offsets = np.arange(-T, T + 1)
        profile = np.zeros(len(offsets))
        for step in range(steps):
            rel = probed - step * width
            np.add.at(profile, rel + T, change[:, step])
        lo, hi = _run_holding(profile, slice(T, T + width), mass)
        out[stage] = Support(stage, before=T - lo, after=hi - (T + width), mass=mass, offsets=offsets, profile=profile)
    return out
