"""The PolicyNet's decisions as the paper defines them (Section III-D, Fig. 5).

At test time the released implementation draws each decision with the Gumbel-max trick,
a = argmax_k (log P_k + G_k) (eq. 9), so the chance that a step enables the first k
FusionNets is exactly its softmax probability P_k. Fig. 5's frequency of count k at a
stage is therefore, in expectation, the mean of P_k over every step of every routine:
:func:`expected_counts` computes it exactly from the probabilities. :func:`sampled_counts`
draws decisions the same way as a Monte-Carlo check, and :func:`argmax_counts` gives the
noiseless argmax (the deterministic mode), a different quantity shown only as a labelled
alternative. :func:`normalised_entropy` says how close each step's P is to uniform
(1 = a coin flip over K counts, 0 = one certain count).

Reading Fig. 5: the trivial solution the paper's ranked FusionNets avoid is a spike at
one count (the same decision everywhere, few FusionNets used). A spread of frequencies
is adaptive only when the single steps are confident (low entropy); near-uniform
probabilities at every step give a spread too, but then each decision is a random draw.
"""

from __future__ import annotations

import numpy as np

METHODS = ("expected", "sampled", "argmax")
METHOD_LABELS = {
    "expected": "expected (stochastic policy, exact from P)",
    "sampled": "sampled (Gumbel-max draws, Monte-Carlo check)",
    "argmax": "argmax of P (deterministic mode, without eq. 9's Gumbel noise)",
}


def _probs(probs: np.ndarray) -> np.ndarray:
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] < 1:
        raise ValueError(f"policy probabilities must be (steps, K), got shape {p.shape}")
    if not np.all(np.isfinite(p)) or np.any(p < 0):
        raise ValueError("policy probabilities must be finite and non-negative")
    return p


def expected_counts(probs: np.ndarray) -> np.ndarray:
    """(steps, K) probabilities -> (K,) expected number of steps at each count 1..K."""
    p = _probs(probs)
    return (p / p.sum(axis=1, keepdims=True)).sum(axis=0)


def sampled_counts(probs: np.ndarray, draws: int, rng: np.random.Generator) -> np.ndarray:
    """(steps, K) -> (draws, K): steps at each count in each of ``draws`` Gumbel-max draws
    of every step's decision (eq. 9 with log P)."""
    p = _probs(probs)
    steps, K = p.shape
    with np.errstate(divide="ignore"):
        logp = np.log(p)
    gumbel = rng.gumbel(size=(draws, steps, K))
    choice = np.argmax(logp[None] + gumbel, axis=-1)
    return np.stack([np.bincount(c, minlength=K) for c in choice]).astype(np.float64)


def argmax_counts(probs: np.ndarray) -> np.ndarray:
    """(steps, K) -> (K,) steps at each count under the noiseless argmax."""
    p = _probs(probs)
    return np.bincount(p.argmax(axis=1), minlength=p.shape[1]).astype(np.float64)


def normalised_entropy(probs: np.ndarray) -> np.ndarray:
    """(steps, K) -> (steps,) entropy of each step's P divided by log K (0..1)."""
    p = _probs(probs)
    p = p / p.sum(axis=1, keepdims=True)
    K = p.shape[1]
    if K == 1:
        return np.zeros(len(p))
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.where(p > 0, p * np.log(p), 0.0).sum(axis=1)
    return h / np.log(K)


def expected_count(probs: np.ndarray) -> np.ndarray:
    """(steps, K) -> (steps,) each step's expected FusionNet count sum_k k P_k."""
    p = _probs(probs)
    p = p / p.sum(axis=1, keepdims=True)
    return p @ np.arange(1, p.shape[1] + 1)


FIG5_CAPTION = (
    "How often the PolicyNet enables each number of ranked FusionNets, over every step of every routine, "
    "for the stochastic policy of the paper's eq. 9 (a Gumbel-max draw, which the authors' released code also makes "
    "at test time): the expected frequency, computed exactly from the "
    "PolicyNet's probabilities (a Gumbel-max draw picks count k with probability P_k). The dashed line is a "
    "uniform choice (1/K). A spike at one count would be the trivial solution (the same decision everywhere, "
    "only a few FusionNets used) that the paper's ranked FusionNets avoid. A spread over the counts is adaptive "
    "fusion only when single decisions are confident: the policy entropy beside each stage is 1 when every "
    "step's probabilities are uniform (each decision a random draw) and 0 when every step is certain."
)
"""How to read Fig. 5; the research view, the report and ``pamfn reproduce fig5`` use it."""


def stage_summary(probs: np.ndarray) -> dict[str, float | list[float]]:
    """One stage of one routine: expected and argmax frequency of each count 1..K, the mean
    normalised entropy and the mean expected count (what ``pamfn explain`` prints)."""
    p = _probs(probs)
    return {
        "expected_frequency": (expected_counts(p) / len(p)).tolist(),
        "argmax_frequency": (argmax_counts(p) / len(p)).tolist(),
        "entropy": float(normalised_entropy(p).mean()),
        "expected_count": float(expected_count(p).mean()),
    }
