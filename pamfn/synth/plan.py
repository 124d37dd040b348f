"""The plan of one routine, sampled from its seed: latent quality, music, elements,
faults, movement rhythm and the nuisance look of the scene.

Everything random about a routine is decided here, from independent streams of one
``numpy.random.SeedSequence``; animation, music and rendering are deterministic
functions of the plan.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pamfn.errors import DatasetError
from pamfn.synth.config import ACTIONS, SynthConfig

GRAVITY = 9.81
SECTION_ENERGY: dict[str, tuple[float, float]] = {
    "intro": (0.20, 0.35),
    "verse": (0.45, 0.65),
    "chorus": (0.80, 1.00),
    "transition": (0.30, 0.50),
}
ELEMENT_KINDS: tuple[str, str, str, str] = ("leap", "pivot", "balance", "throw")
THROW_WEIGHT = {"ball": 0.30, "clubs": 0.30, "hoop": 0.26, "ribbon": 0.22}
STUMBLE_RESERVE_S = 1.1
RETRIEVE_RESERVE_S = 3.2
MIN_GAP_S = 0.8
DEGRADATION_KINDS: dict[str, tuple[str, str]] = {"V": ("dim", "occluder"), "F": ("shake", "cut"), "A": ("crowd", "dropout")}
"""Version 2: what can spoil one modality's evidence for a while (never scored)."""
DEGRADATION_S = (3.0, 15.0)
DEGRADATION_P = 0.45
"""Chance that a routine has a degradation stretch of a given modality."""


@dataclass(frozen=True)
class Latents:
    """Latent quality of the performer, each in [0, 1] (higher is better)."""

    difficulty: float
    execution: float
    musicality: float


@dataclass(frozen=True)
class Section:
    kind: str
    start_s: float
    end_s: float
    energy: float
    """Planned loudness/density of the music in this section, in [0, 1]."""
    move_energy: float
    """Planned intensity of the performer's movement in this section, in [0, 1]."""
    follows_energy: bool
    in_sync: bool


@dataclass(frozen=True)
class MusicPlan:
    tempo_bpm: float
    start_s: float
    """Time of the first beat (the music starts here)."""
    n_bars: int
    key_midi: int
    minor: bool
    progression: tuple[int, ...]
    timbre: float
    gain: float
    room_noise: float

    @property
    def beat_s(self) -> float:
        return 60.0 / self.tempo_bpm

    @property
    def end_s(self) -> float:
        return self.start_s + 4 * self.n_bars * self.beat_s

    def beat_times(self) -> np.ndarray:
        return self.start_s + self.beat_s * np.arange(4 * self.n_bars)


@dataclass(frozen=True)
class Element:
    kind: str
    start_s: float
    accent_s: float
    """The moment the element is "hit": landing, catch, arrival in the balance, end of the turns."""
    end_s: float
    amplitude: float
    stumble: float = 0.0
    """Severity of a loss of balance right after the element (0: none)."""
    dropped: bool = False
    """For throws: the apparatus is not caught and falls to the floor."""

    @property
    def height_m(self) -> float:
        """Flight height of a leap (body) or a throw (apparatus above the hand)."""
        return 0.15 + 0.45 * self.amplitude if self.kind == "leap" else 1.5 + 4.0 * self.amplitude

    @property
    def turns(self) -> int:
        return 1 + int(self.amplitude * 3.999)


@dataclass(frozen=True)
class Look:
    """Nuisance appearance: does not change the score."""

    leotard_rgb: tuple[int, int, int]
    skin_rgb: tuple[int, int, int]
    hair_rgb: tuple[int, int, int]
    apparatus_rgb: tuple[int, int, int]
    carpet_rgb: tuple[int, int, int]
    wall_rgb: tuple[int, int, int]
    view_height_m: float
    floor_frac: float
    camera_offset_m: float
    camera_lag_s: float
    brightness: float
    carpet_stripes_m: float


@dataclass(frozen=True)
class Stretch:
    """A stretch of time with something going on: strong tremor (``modality`` empty) or a
    degradation of one modality's evidence (``modality`` V, F or A; version 2)."""

    kind: str
    modality: str
    start_s: float
    end_s: float
    strength: float


@dataclass(frozen=True)
class RoutinePlan:
    routine_id: str
    action: str
    seed: tuple[int, ...]
    duration_s: float
    n_frames: int
    latents: Latents
    music: MusicPlan
    sections: tuple[Section, ...]
    elements: tuple[Element, ...]
    pulses_s: np.ndarray
    """Times of the movement accents of the dance steps between elements."""
    tremor_deg: float
    """Planned standard deviation of the tremor added to the joint angles."""
    travel_phase: tuple[float, float, float]
    look: Look
    version: int = 1
    performer_tempo_bpm: float = 0.0
    """Version 2: the performer's own tempo when she is off the beat (one per routine)."""
    tremor_stretches: tuple[Stretch, ...] = ()
    """Version 2: stretches of stronger tremor (``strength``: factor on the tremor)."""
    degradations: tuple[Stretch, ...] = ()
    """Version 2: stretches where one modality's evidence degrades (never scored)."""


def _phi(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def _hsv_rgb(h: float, s: float, v: float) -> tuple[int, int, int]:
    i = int(h * 6) % 6
    f = h * 6 - int(h * 6)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    r, g, b = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i]
    return int(r * 255), int(g * 255), int(b * 255)


def sample_latents(rng: np.random.Generator) -> Latents:
    """Three qualities sharing a mild common "talent" factor (correlation about 0.25)."""
    g = rng.standard_normal()
    z = rng.standard_normal(3)
    d, q, m = (_phi(0.5 * g + math.sqrt(0.75) * zi) for zi in z)
    return Latents(difficulty=d, execution=q, musicality=m)


def sample_music(rng: np.random.Generator, cfg: SynthConfig, latents: Latents) -> tuple[MusicPlan, float]:
    """Tempo, key and style of the music; returns the plan and the routine duration.

    Version 2: the music's character (tempo and brightness) leans a little towards the
    performer's difficulty, as stronger gymnasts choose livelier music (a weak audio cue)."""
    if cfg.version >= 2:
        tempo = 90.0 + 50.0 * float(np.clip(0.3 * latents.difficulty + 0.7 * rng.random(), 0.0, 1.0))
    else:
        tempo = float(rng.uniform(90.0, 140.0))
    beat = 60.0 / tempo
    start = float(rng.uniform(0.6, 1.6))
    target = float(rng.uniform(cfg.min_duration_s, cfg.max_duration_s))
    n_bars = max(2, int((target - start - 1.0) / (4 * beat)))
    end_pose = float(rng.uniform(0.8, 1.4))
    progressions = [(0, 5, 3, 4), (0, 3, 4, 4), (0, 5, 1, 4), (0, 4, 5, 3), (5, 3, 0, 4)]
    music = MusicPlan(
        tempo_bpm=tempo,
        start_s=start,
        n_bars=n_bars,
        key_midi=int(rng.integers(38, 50)),
        minor=bool(rng.random() < 0.5),
        progression=progressions[int(rng.integers(len(progressions)))],
        timbre=float(rng.uniform(0.0, 1.0))
        if cfg.version < 2
        else float(np.clip(0.3 * latents.difficulty + 0.7 * rng.random(), 0.0, 1.0)),
        gain=float(rng.uniform(0.3, 0.85)),
        room_noise=float(rng.uniform(0.002, 0.02)),
    )
    duration = music.end_s + end_pose
    return music, duration


def _section_layout(rng: np.random.Generator, n_bars: int) -> list[tuple[str, int, int]]:
    """(kind, first bar, number of bars) tiling the music: intro, then verse/chorus with transitions."""
    cycle = ["verse", "transition", "chorus", "transition"]
    sizes = {"intro": (2, 4), "verse": (4, 8), "chorus": (4, 8), "transition": (1, 2)}
    layout, bar, kind, i = [], 0, "intro", 0
    while bar < n_bars:
        size = min(int(rng.choice(sizes[kind])), n_bars - bar)
        layout.append((kind, bar, size))
        bar += size
        kind = cycle[i % len(cycle)]
        i += 1
    return layout


def sample_sections(
    rng: np.random.Generator, music: MusicPlan, latents: Latents, version: int = 1
) -> tuple[Section, ...]:
    """Music energy per section, and whether the performer follows it and keeps the beat.

    A performer who does not follow the music's energy moves with an energy drawn from
    the same distribution, independently, so the movement alone looks equally varied
    (version 2: the energy of another section of the same music, so the movement's
    energies are the music's, in another order).
    """
    layout = _section_layout(rng, music.n_bars)
    kinds = [k for k, _, _ in layout]
    bar_s = 4 * music.beat_s
    m_energy = float(np.clip(latents.musicality + rng.normal(0, 0.12), 0, 1))
    m_beat = float(np.clip(latents.musicality + rng.normal(0, 0.12), 0, 1))
    sections = []
    energies = [float(rng.uniform(*SECTION_ENERGY[kind])) for kind, _, _ in layout] if version >= 2 else []
    for j, (kind, bar, size) in enumerate(layout):
        lo, hi = SECTION_ENERGY[kind]
        energy = energies[j] if version >= 2 else float(rng.uniform(lo, hi))
        follows = bool(rng.random() < m_energy)
        if follows:
            move = float(np.clip(energy + rng.normal(0, 0.05), 0.1, 1.0))
        elif version >= 2:
            move = float(np.clip(energies[int(rng.integers(len(energies)))] + rng.normal(0, 0.05), 0.1, 1.0))
        else:
            lo2, hi2 = SECTION_ENERGY[kinds[int(rng.integers(len(kinds)))]]
            move = float(rng.uniform(lo2, hi2))
        sections.append(
            Section(
                kind=kind,
                start_s=music.start_s + bar * bar_s,
                end_s=music.start_s + (bar + size) * bar_s,
                energy=energy,
                move_energy=move,
                follows_energy=follows,
                in_sync=bool(rng.random() < m_beat),
            )
        )
    return tuple(sections)


def section_at(sections: tuple[Section, ...], t: float) -> Section:
    for s in sections:
        if t < s.end_s:
            return s
    return sections[-1]


def sample_pulses(
    rng: np.random.Generator, music: MusicPlan, sections: tuple[Section, ...], m: float, own_bpm: float = 0.0
) -> np.ndarray:
    """Dance-step accents: on the music's beats in sections the performer keeps in sync,
    otherwise at the performer's own tempo and a random phase. The own tempo is ``own_bpm``
    (version 2: one per routine, close to the music's) or, if 0, drawn per section from the
    music's tempo range (version 1)."""
    out = []
    for s in sections:
        step = 1 if s.move_energy >= 0.45 else 2
        if s.in_sync:
            period = music.beat_s
            jitter = (0.015 + 0.05 * (1 - m)) * period
            t0 = s.start_s
        else:
            period = 60.0 / (own_bpm or float(rng.uniform(90.0, 140.0)))
            jitter = 0.02 * period
            t0 = s.start_s + float(rng.uniform(0, period))
        times = np.arange(t0, s.end_s, period * step)
        out.append(times + rng.normal(0, jitter, size=times.shape))
    pulses = np.concatenate(out) if out else np.zeros(0)
    return np.sort(pulses[(pulses > music.start_s - 0.2) & (pulses < music.end_s)])


def _element_timing(kind: str, a: float) -> tuple[float, float]:
    """(accent offset from start, duration) of an element of amplitude ``a``."""
    if kind == "leap":
        flight = 2 * math.sqrt(2 * (0.15 + 0.45 * a) / GRAVITY)
        return 0.35 + flight, 0.35 + flight + 0.35
    if kind == "pivot":
        dur = 0.4 + 0.55 * (1 + int(a * 3.999))
        return dur - 0.2, dur
    if kind == "balance":
        return 0.4, 1.4 + 1.6 * a
    flight = 2 * math.sqrt(2 * (1.5 + 4.0 * a) / GRAVITY)
    return 0.4 + flight, 0.4 + flight + 0.4


def sample_elements(
    rng: np.random.Generator, action: str, music: MusicPlan, sections: tuple[Section, ...], latents: Latents
) -> tuple[Element, ...]:
    """Elements spread through the routine; their count and amplitude follow the difficulty,
    their accents land on a beat in sections in sync, anywhere in the beat otherwise, and
    faults (a loss of balance after it, a drop of a throw) follow the execution quality."""
    d, q = latents.difficulty, latents.execution
    n = int(np.clip(round(6 + 10 * d + rng.normal(0, 1.0)), 4, 16))
    w = np.array([0.26, 0.24, 0.24, THROW_WEIGHT[action]])
    kinds = rng.choice(ELEMENT_KINDS, size=n, p=w / w.sum())
    amps = np.clip(0.75 * d + 0.25 * rng.random(n) + rng.normal(0, 0.1, n), 0.05, 1.0)
    timing = [_element_timing(str(k), float(a)) for k, a in zip(kinds, amps)]
    reserve = [t[1] + (RETRIEVE_RESERVE_S if k == "throw" else STUMBLE_RESERVE_S) for k, t in zip(kinds, timing)]
    lo, hi = music.start_s + 1.0, music.end_s - 1.0
    while n > 1 and sum(reserve[:n]) + MIN_GAP_S * (n + 1) > hi - lo:
        n -= 1
    slack = max(0.0, (hi - lo) - sum(reserve[:n]) - MIN_GAP_S * (n + 1))
    gaps = MIN_GAP_S + slack * rng.dirichlet(np.ones(n + 1))
    beat = music.beat_s
    elements, t = [], lo
    m_sync = float(np.clip(latents.musicality + rng.normal(0, 0.1), 0, 1))
    for i in range(n):
        kind, a = str(kinds[i]), float(amps[i])
        acc_off, dur = timing[i]
        t += gaps[i]
        accent = t + acc_off
        k = round((accent - music.start_s) / beat)
        if section_at(sections, accent).in_sync:
            target = music.start_s + k * beat + rng.normal(0, (0.01 + 0.05 * (1 - m_sync)) * beat)
        else:
            target = music.start_s + (k + rng.uniform(-0.5, 0.5)) * beat
        start = float(target - acc_off)
        risk = (1 - q) * (0.6 + 0.8 * a)
        dropped = kind == "throw" and rng.random() < min(0.85, 0.03 + 0.5 * risk)
        stumble = 0.0
        if kind != "throw" and rng.random() < min(0.8, 0.03 + 0.4 * risk):
            stumble = float(rng.uniform(0.3, 1.0))
        elements.append(Element(kind, start, start + acc_off, start + dur, a, stumble, bool(dropped)))
        t += reserve[i]
    return tuple(elements)


def sample_look(rng: np.random.Generator) -> Look:
    skins = [(241, 194, 167), (224, 172, 138), (198, 134, 96), (141, 85, 54), (255, 219, 187)]
    hairs = [(40, 25, 15), (90, 60, 30), (200, 160, 90), (20, 20, 20), (120, 50, 20)]
    carpets = [(40, 70, 160), (30, 110, 70), (150, 40, 50), (90, 50, 130), (40, 120, 140)]
    walls = [(200, 200, 205), (60, 60, 70), (120, 130, 150), (180, 170, 150), (30, 35, 50)]
    carpet = np.array(carpets[int(rng.integers(len(carpets)))]) * rng.uniform(0.8, 1.1)
    return Look(
        leotard_rgb=_hsv_rgb(float(rng.random()), float(rng.uniform(0.5, 1.0)), float(rng.uniform(0.6, 1.0))),
        skin_rgb=skins[int(rng.integers(len(skins)))],
        hair_rgb=hairs[int(rng.integers(len(hairs)))],
        apparatus_rgb=_hsv_rgb(float(rng.random()), float(rng.uniform(0.6, 1.0)), 1.0),
        carpet_rgb=tuple(int(c) for c in np.clip(carpet, 0, 255)),
        wall_rgb=walls[int(rng.integers(len(walls)))],
        view_height_m=float(rng.uniform(3.6, 5.2)),
        floor_frac=float(rng.uniform(0.78, 0.9)),
        camera_offset_m=float(rng.normal(0, 0.3)),
        camera_lag_s=float(rng.uniform(0.3, 1.0)),
        brightness=float(rng.uniform(0.85, 1.1)),
        carpet_stripes_m=float(rng.uniform(0.8, 2.0)),
    )


def performer_tempo(rng: np.random.Generator, music: MusicPlan) -> float:
    """Version 2: the performer's own tempo, 4-12% off the music's (one per routine), so an
    off-beat stretch shows the same pace as an on-beat one and only drifts against the beats."""
    return music.tempo_bpm * (1.0 + float(rng.choice([-1.0, 1.0])) * float(rng.uniform(0.04, 0.12)))


def sample_tremor_stretches(rng: np.random.Generator, duration: float, q: float) -> tuple[Stretch, ...]:
    """Version 2: 0-3 stretches (2-6 s) where the tremor grows 1.5-3x, more with poor execution."""
    n = int(min(3, rng.poisson(0.3 + 1.8 * (1 - q))))
    out = []
    for _ in range(n):
        length = float(min(rng.uniform(2.0, 6.0), 0.3 * duration))
        start = float(rng.uniform(0.5, max(0.6, duration - length - 0.5)))
        out.append(Stretch("tremor", "", start, start + length, float(rng.uniform(1.5, 3.0))))
    return tuple(sorted(out, key=lambda s: s.start_s))


def sample_degradations(rng: np.random.Generator, duration: float) -> tuple[Stretch, ...]:
    """Version 2: per modality, with probability DEGRADATION_P, one stretch of 3-15 s where
    its evidence degrades; stretches of different modalities never overlap, so the other
    modalities always carry the routine."""
    out: list[Stretch] = []
    for modality, kinds in DEGRADATION_KINDS.items():
        if rng.random() >= DEGRADATION_P:
            continue
        kind = str(kinds[int(rng.integers(len(kinds)))])
        length = float(min(rng.uniform(*DEGRADATION_S), 0.35 * duration))
        strength = float(rng.uniform(0.6, 1.0))
        for _ in range(10):
            start = float(rng.uniform(0.5, max(0.6, duration - length - 0.5)))
            if all(start >= o.end_s + 0.5 or start + length <= o.start_s - 0.5 for o in out):
                out.append(Stretch(kind, modality, start, start + length, strength))
                break
    return tuple(sorted(out, key=lambda s: s.start_s))


def routine_seed(master_seed: int, action: str, index: int) -> tuple[int, ...]:
    """The seed of routine ``index`` of ``action``: independent of how many routines are made."""
    return (int(master_seed), ACTIONS.index(action), int(index))


def plan_routine(routine_id: str, action: str, seed: tuple[int, ...], cfg: SynthConfig) -> RoutinePlan:
    """Sample everything random about one routine from its seed."""
    if action not in ACTIONS:
        raise DatasetError(f"{routine_id}: unknown apparatus {action!r}, expected one of {list(ACTIONS)}")
    v2 = cfg.version >= 2
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(list(seed)).spawn(9 if v2 else 7)]
    latents = sample_latents(streams[0])
    music, duration = sample_music(streams[1], cfg, latents)
    sections = sample_sections(streams[2], music, latents, cfg.version)
    own_bpm = performer_tempo(streams[7], music) if v2 else 0.0
    pulses = sample_pulses(streams[3], music, sections, latents.musicality, own_bpm)
    elements = sample_elements(streams[4], action, music, sections, latents)
    q = latents.execution
    tremor = float((0.3 + 3.2 * (1 - q) ** 1.5) * streams[5].uniform(0.7, 1.3))
    travel = tuple(float(x) for x in streams[5].uniform(0, 2 * math.pi, 3))
    return RoutinePlan(
        routine_id=routine_id,
        action=action,
        seed=tuple(seed),
        duration_s=duration,
        n_frames=int(round(duration * cfg.fps)),
        latents=latents,
        music=music,
        sections=sections,
        elements=elements,
        pulses_s=pulses,
        tremor_deg=tremor,
        travel_phase=travel,  # type: ignore[arg-type]
        look=sample_look(streams[6]),
        version=cfg.version,
        performer_tempo_bpm=own_bpm,
        tremor_stretches=sample_tremor_stretches(streams[7], duration, q) if v2 else (),
        degradations=sample_degradations(streams[8], duration) if v2 else (),
    )
