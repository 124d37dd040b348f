"""The score formula: what a judge sees in the realised routine -> difficulty (D),
execution (E) and musicality (M) panel scores and a total on RG's 0-25 scale.

Written down in docs/sample-benchmark.md. Every input is a fact of the realised routine
(what the animation and the soundtrack actually contain), never a latent parameter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pamfn.synth.motion import J, Motion
from pamfn.synth.plan import Element, RoutinePlan

ELEMENT_VALUE = {"leap": 0.55, "pivot": 0.5, "balance": 0.45, "throw": 0.6}
D_PER_VALUE, D_MAX = 0.7, 8.0
E_MAX, E_TREMOR_PER_DEG, E_DROP = 10.0, 0.45, 1.0
E_STUMBLE_BASE, E_STUMBLE_PER_SEVERITY = 0.3, 0.5
M_MAX = 7.0
BEAT_SIGMA = 0.08
"""Width (in beats) of the window in which an accent counts as on the beat."""
BEAT_CHANCE = BEAT_SIGMA * math.sqrt(2 * math.pi)
"""Mean on-beat weight of accents placed at random in the beat."""
FOLLOW_FULL = 0.8
"""Correlation of movement and music energy that earns full marks."""
MUSIC_DB = (-25.8, -18.5)
"""Version 2: a bar's music level (RMS in dB of the music before the routine's volume) that
counts as energy 0 and as energy 1."""
MOVE_SPEED = (0.04, 0.95)
"""Version 2: mean speed of hands and feet in dance steps (m/s) that counts as movement energy 0 and 1."""
MATCH_SIGMA = 0.25
"""Version 2: energy difference (in [0, 1] units) at which a bar's match has fallen to exp(-1/2)."""
MATCH_CHANCE, MATCH_FULL = 0.5, 0.9
"""Version 2: the energy match of a performer whose energies are the music's in another
order (about 0.5) earns nothing, 0.9 earns full marks."""
JUDGE_NOISE = {"difficulty": 0.15, "execution": 0.2, "musicality": 0.25}
"""Standard deviation of the panels' disagreement, in points."""


@dataclass(frozen=True)
class Realised:
    """Facts of a realised routine a judge would note."""

    n_elements: int
    n_leaps: int
    n_pivots: int
    n_balances: int
    n_throws: int
    mean_amplitude: float
    element_value: float
    """Sum of credited element values (failed elements count half or nothing)."""
    tremor_deg: float
    n_stumbles: int
    stumble_severity: float
    """Sum of the severities of the losses of balance."""
    n_drops: int
    n_accents: int
    beat_sync: float
    """Accents on the beat, 0 (as if at random) to 1 (all on the beat)."""
    energy_corr: float
    """Pearson correlation, over bars, of movement energy and music loudness."""
    tempo_bpm: float
    duration_s: float
    energy_match: float = 0.0
    """Version 2: mean over bars of how well the movement's energy matches the music's, 0-1."""


@dataclass(frozen=True)
class Scores:
    difficulty: float
    execution: float
    musicality: float
    total: float
    noiseless_total: float


def beat_sync(accents_s: np.ndarray, weights: np.ndarray, beat_times: np.ndarray, beat_s: float) -> float:
    """Weighted share of accents on a beat, rescaled so random timing gives 0 and exact timing 1."""
    inside = (accents_s >= beat_times[0] - 0.5 * beat_s) & (accents_s <= beat_times[-1] + 0.5 * beat_s)
    if not inside.any():
        return 0.0
    phase = (accents_s[inside] - beat_times[0]) / beat_s
    dist = np.abs(phase - np.round(phase))
    on = np.exp(-0.5 * (dist / BEAT_SIGMA) ** 2)
    s = float(np.sum(on * weights[inside]) / np.sum(weights[inside]))
    return float(np.clip((s - BEAT_CHANCE) / (1 - BEAT_CHANCE), 0.0, 1.0))


def _speed(motion: Motion, fps: float) -> np.ndarray:
    """Mean speed of hands and feet over 0.4 s per frame (m/s; tremor barely counts)."""
    ends = [J["hand_r"], J["hand_l"], J["foot_r"], J["foot_l"]]
    lag = max(1, int(round(0.4 * fps)))
    p = motion.joints[:, ends].astype(np.float64)
    speed = np.zeros(p.shape[0])
    speed[lag:] = np.linalg.norm(p[lag:] - p[:-lag], axis=2).mean(1) * fps / lag
    return speed


def bar_bounds(plan: RoutinePlan, b: int, rate: float) -> tuple[int, int]:
    """Samples (or frames, at ``rate`` per second) ``[start, end)`` of the music's bar ``b``."""
    bar_s = 4 * plan.music.beat_s
    t0 = plan.music.start_s + b * bar_s
    return int(t0 * rate), int((t0 + bar_s) * rate)


def bar_loudness_db(music: np.ndarray, plan: RoutinePlan, sr: int) -> np.ndarray:
    """RMS level in dB of the music in each bar."""
    out = []
    for b in range(plan.music.n_bars):
        s0, s1 = bar_bounds(plan, b, sr)
        out.append(20 * np.log10(np.sqrt(np.mean(music[s0:s1].astype(np.float64) ** 2)) + 1e-6))
    return np.array(out)


def energy_correlation(motion: Motion, music: np.ndarray, plan: RoutinePlan, fps: float, sr: int) -> float:
    """Correlation over bars of the performer's movement energy (mean speed of hands and
    feet over 0.4 s, so tremor barely counts) and the music's loudness (RMS in dB)."""
    speed = _speed(motion, fps)
    move = [speed[slice(*bar_bounds(plan, b, fps))].mean() for b in range(plan.music.n_bars)]
    loud = bar_loudness_db(music, plan, sr)
    if len(move) < 3 or np.std(move) < 1e-9 or np.std(loud) < 1e-9:
        return 0.0
    return float(np.corrcoef(move, loud)[0, 1])


def bar_energies(motion: Motion, music: np.ndarray, plan: RoutinePlan, fps: float, sr: int) -> tuple[np.ndarray, ...]:
    """Version 2, per bar: the music's energy and the movement's energy in absolute terms
    (both in [0, 1], see MUSIC_DB and MOVE_SPEED), and the share of the bar in dance steps
    (elements, losses of balance and retrievals are judged elsewhere)."""
    speed, dancing = _speed(motion, fps), motion.dancing
    level = np.clip((bar_loudness_db(music, plan, sr) - MUSIC_DB[0]) / (MUSIC_DB[1] - MUSIC_DB[0]), 0.0, 1.0)
    move, share = [], []
    for b in range(plan.music.n_bars):
        f0, f1 = bar_bounds(plan, b, fps)
        mask = dancing[f0:f1]
        share.append(float(mask.mean()) if mask.size else 0.0)
        move.append(float(speed[f0:f1][mask].mean()) if mask.any() else 0.0)
    move_level = np.clip((np.array(move) - MOVE_SPEED[0]) / (MOVE_SPEED[1] - MOVE_SPEED[0]), 0.0, 1.0)
    return level, move_level, np.array(share)


def energy_match(motion: Motion, music: np.ndarray, plan: RoutinePlan, fps: float, sr: int) -> float:
    """Version 2: how well the movement's energy matches the music's, bar by bar in absolute
    terms (exp(-d^2 / (2 MATCH_SIGMA^2)) of the difference d), averaged over the bars
    weighted by their share of dance steps."""
    level, move, share = bar_energies(motion, music, plan, fps, sr)
    if share.sum() < 1e-9:
        return 0.0
    match = np.exp(-0.5 * ((move - level) / MATCH_SIGMA) ** 2)
    return float(np.sum(match * share) / share.sum())


def element_value(el: Element) -> float:
    """Credited value of an element: base(kind) * (0.5 + amplitude) * credit, the credit
    halved by a loss of balance after it and zero for a dropped throw."""
    credit = 0.0 if el.dropped else (0.5 if el.stumble > 0 else 1.0)
    return credit * ELEMENT_VALUE[el.kind] * (0.5 + el.amplitude)


def realise(plan: RoutinePlan, motion: Motion, music: np.ndarray, fps: float, sr: int) -> Realised:
    """The judge's notes on a routine, from its animation and its music."""
    els = plan.elements
    value = sum(element_value(el) for el in els)
    weights = np.where(np.isin(motion.accents_s, motion.element_accents_s), 2.0, 1.0)
    count = {k: sum(el.kind == k for el in els) for k in ELEMENT_VALUE}
    return Realised(
        n_elements=len(els),
        n_leaps=count["leap"],
        n_pivots=count["pivot"],
        n_balances=count["balance"],
        n_throws=count["throw"],
        mean_amplitude=float(np.mean([el.amplitude for el in els])) if els else 0.0,
        element_value=value,
        tremor_deg=motion.tremor_deg,
        n_stumbles=sum(el.stumble > 0 for el in els),
        stumble_severity=float(sum(el.stumble for el in els)),
        n_drops=sum(el.dropped for el in els),
        n_accents=int(motion.accents_s.size),
        beat_sync=beat_sync(motion.accents_s, weights, plan.music.beat_times(), plan.music.beat_s),
        energy_corr=energy_correlation(motion, music, plan, fps, sr),
        tempo_bpm=plan.music.tempo_bpm,
        duration_s=plan.n_frames / fps,
        energy_match=energy_match(motion, music, plan, fps, sr) if plan.version >= 2 else 0.0,
    )


def formula(r: Realised, version: int = 1) -> tuple[float, float, float]:
    """Noise-free (D, E, M) of a realised routine; musicality's energy half is the
    correlation over the routine (version 1) or the bar-by-bar match (version 2)."""
    d = min(D_MAX, D_PER_VALUE * r.element_value)
    e = E_MAX - E_TREMOR_PER_DEG * r.tremor_deg - E_DROP * r.n_drops
    e -= E_STUMBLE_BASE * r.n_stumbles + E_STUMBLE_PER_SEVERITY * r.stumble_severity
    if version >= 2:
        follow = float(np.clip((r.energy_match - MATCH_CHANCE) / (MATCH_FULL - MATCH_CHANCE), 0.0, 1.0))
    else:
        follow = float(np.clip(r.energy_corr / FOLLOW_FULL, 0.0, 1.0))
    m = M_MAX * (0.5 * r.beat_sync + 0.5 * follow)
    return d, float(np.clip(e, 0.0, E_MAX)), m


def score(r: Realised, rng: np.random.Generator, version: int = 1) -> Scores:
    """Panel scores: the formula plus each panel's disagreement, clipped to its range; the
    total is their sum, on RG's 0-25 scale."""
    d, e, m = formula(r, version)
    noisy = {
        "difficulty": float(np.clip(d + rng.normal(0, JUDGE_NOISE["difficulty"]), 0, D_MAX)),
        "execution": float(np.clip(e + rng.normal(0, JUDGE_NOISE["execution"]), 0, E_MAX)),
        "musicality": float(np.clip(m + rng.normal(0, JUDGE_NOISE["musicality"]), 0, M_MAX)),
    }
    total = float(np.clip(sum(noisy.values()), 0.0, D_MAX + E_MAX + M_MAX))
    return Scores(**noisy, total=total, noiseless_total=d + e + m)
