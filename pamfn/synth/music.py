"""Music synthesis with numpy: drums on the beats, bass, chords and a melody, in sections
of different energy; and the mixed soundtrack with the floor impacts and room noise."""

from __future__ import annotations

import functools

import numpy as np

from pamfn.synth.plan import MusicPlan, RoutinePlan, Section

MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)


def _hz(midi: float) -> float:
    return 440.0 * 2.0 ** ((midi - 69) / 12.0)


def _add(buf: np.ndarray, wave: np.ndarray, at_s: float, sr: int, gain: float) -> None:
    i = int(round(at_s * sr))
    if i >= buf.size or i + wave.size <= 0:
        return
    lo = max(0, -i)
    hi = min(wave.size, buf.size - i)
    buf[i + lo : i + hi] += gain * wave[lo:hi]


class _Kit:
    """Drum sounds of one routine (their noise comes from the routine's own stream)."""

    def __init__(self, sr: int, rng: np.random.Generator, timbre: float) -> None:
        t = np.arange(int(0.35 * sr)) / sr
        freq = 45 + (70 + 50 * timbre) * np.exp(-t / 0.04)
        self.kick = (np.sin(2 * np.pi * np.cumsum(freq) / sr) * np.exp(-t / 0.12)).astype(np.float32)
        t = np.arange(int(0.18 * sr)) / sr
        noise = np.diff(rng.standard_normal(t.size + 1))
        self.snare = (0.35 * noise * np.exp(-t / 0.06) + 0.5 * np.sin(2 * np.pi * 190 * t) * np.exp(-t / 0.04)).astype(
            np.float32
        )
        t = np.arange(int(0.06 * sr)) / sr
        hat = np.diff(rng.standard_normal(t.size + 2), n=2)
        self.hat = (0.12 * hat * np.exp(-t / (0.012 + 0.02 * timbre))).astype(np.float32)


@functools.lru_cache(maxsize=64)
def _tone(freq: float, dur: float, sr: int, harmonics: int, attack: float, release: float) -> np.ndarray:
    """A decaying harmonic tone (read-only: memoised, since chords and notes repeat)."""
    t = np.arange(int(dur * sr)) / sr
    wave = np.zeros_like(t)
    for h in range(1, harmonics + 1):
        wave += np.sin(2 * np.pi * freq * h * t) / h**1.3
    env = np.minimum(1.0, t / attack) * np.exp(-t / release)
    tone = (wave * env).astype(np.float32)
    tone.setflags(write=False)
    return tone


def _section_of_bar(sections: tuple[Section, ...], music: MusicPlan) -> list[Section]:
    bar_s = 4 * music.beat_s
    out = []
    for b in range(music.n_bars):
        t = music.start_s + (b + 0.5) * bar_s
        out.append(next((s for s in sections if s.start_s <= t < s.end_s), sections[-1]))
    return out


def synthesize_music(plan: RoutinePlan, sr: int, n_samples: int) -> np.ndarray:
    """The music alone (float32, mono, peak about 1), ``n_samples`` long."""
    music = plan.music
    rng = np.random.default_rng(list(plan.seed) + [7001])
    kit = _Kit(sr, rng, music.timbre)
    buf = np.zeros(n_samples, dtype=np.float32)
    beat = music.beat_s
    scale = MINOR if music.minor else MAJOR
    harm = 2 + int(4 * music.timbre)
    bars = _section_of_bar(plan.sections, music)
    melody_deg = 7
    for b, sec in enumerate(bars):
        e = sec.energy
        t_bar = music.start_s + 4 * b * beat
        first_of_section = b == 0 or bars[b - 1] is not sec
        last_of_section = b == music.n_bars - 1 or bars[b + 1] is not sec
        for k in range(4):
            t = t_bar + k * beat
            if sec.kind == "chorus" or k in (0, 2) or (sec.kind == "intro" and k == 0):
                _add(buf, kit.kick, t, sr, 0.5 + 0.5 * e)
            if k in (1, 3) and sec.kind in ("verse", "chorus"):
                _add(buf, kit.snare, t, sr, 0.3 + 0.5 * e)
            _add(buf, kit.hat, t, sr, 0.4 + 0.8 * e)
            if e >= 0.45:
                _add(buf, kit.hat, t + beat / 2, sr, 0.2 + 0.6 * e)
        if sec.kind == "transition" and last_of_section:
            for j in range(8):
                _add(buf, kit.snare, t_bar + 2 * beat + j * beat / 4, sr, 0.1 + 0.06 * j)
        if first_of_section and sec.kind == "chorus":
            _add(buf, kit.snare, t_bar, sr, 0.5)
            _add(buf, kit.hat, t_bar, sr, 2.5)
        degree = music.progression[b % len(music.progression)]
        root = music.key_midi + scale[degree % 7]
        for k in range(4):
            _add(
                buf,
                _tone(_hz(root), beat * 0.95, sr, harm + 1, 0.005, beat * 0.5),
                t_bar + k * beat,
                sr,
                0.35 + 0.3 * e,
            )
        for third in (0, 2, 4):
            deg = degree + third
            note = music.key_midi + 12 + scale[deg % 7] + 12 * (deg // 7)
            pad = _tone(_hz(note), 4 * beat, sr, harm, 0.25 * beat, 3 * beat)
            _add(buf, pad, t_bar, sr, 0.08 + 0.12 * e)
        if sec.kind in ("verse", "chorus"):
            step = beat / 2 if sec.kind == "chorus" else beat
            for j in range(int(round(4 * beat / step))):
                if rng.random() < 0.2:
                    continue
                melody_deg = int(np.clip(melody_deg + rng.integers(-2, 3), 3, 13))
                note = music.key_midi + 24 + scale[melody_deg % 7] + 12 * (melody_deg // 7)
                tone = _tone(_hz(note), step * 0.9, sr, harm, 0.01, step * 0.6)
                _add(buf, tone, t_bar + j * step, sr, 0.10 + 0.15 * e)
    end_i = int(music.end_s * sr)
    tail = np.exp(-np.arange(max(0, n_samples - end_i)) / (0.3 * sr))
    buf[end_i:] *= tail[: buf.size - end_i]
    peak = float(np.max(np.abs(buf))) or 1.0
    return buf / peak


def _thud(sr: int, rng: np.random.Generator, low: float) -> np.ndarray:
    t = np.arange(int(0.25 * sr)) / sr
    noise = np.cumsum(rng.standard_normal(t.size))
    noise -= np.linspace(noise[0], noise[-1], t.size)
    noise /= np.max(np.abs(noise)) or 1.0
    return ((0.6 * np.sin(2 * np.pi * low * t) + 0.4 * noise) * np.exp(-t / 0.05)).astype(np.float32)


def _envelope(n: int, sr: int, start_s: float, end_s: float, ramp_s: float = 0.3) -> np.ndarray:
    """0 outside [start_s, end_s], 1 inside, with linear ramps of ``ramp_s``."""
    t = np.arange(n, dtype=np.float32) / sr
    return np.clip(np.minimum(t - start_s, end_s - t) / ramp_s + 0.5, 0.0, 1.0)


def degrade_audio(plan: RoutinePlan, music: np.ndarray, noise_rng: np.random.Generator, sr: int) -> tuple[np.ndarray, np.ndarray]:
    """Version 2 audio degradations: (music with its drop-outs, crowd noise to add)."""
    crowd = np.zeros_like(music)
    for d in plan.degradations:
        if d.modality != "A":
            continue
        env = _envelope(music.size, sr, d.start_s, d.end_s)
        if d.kind == "dropout":
            music = music * (1.0 - 0.97 * d.strength * env)
        else:
            i0, i1 = np.flatnonzero(env)[[0, -1]]
            n = i1 - i0 + 1
            murmur = np.convolve(noise_rng.standard_normal(n).astype(np.float32), np.ones(24, np.float32) / 24, "same")
            swell = 0.6 + 0.4 * np.sin(2 * np.pi * np.arange(n) / sr / float(noise_rng.uniform(1.5, 3.0)))
            crowd[i0 : i1 + 1] += 0.35 * d.strength * env[i0 : i1 + 1] * swell * murmur / (np.std(murmur) or 1.0)
    return music, crowd


def mix_soundtrack(plan: RoutinePlan, music: np.ndarray, impacts: list[tuple[float, float]], sr: int) -> np.ndarray:
    """The soundtrack a camera would record: the music at the routine's volume, floor
    impacts (time, strength) of landings and dropped apparatus, and room noise (version 2:
    and the audio degradations, crowd noise or the music dropping out)."""
    rng = np.random.default_rng(list(plan.seed) + [7002])
    crowd = None
    if plan.degradations:
        music, crowd = degrade_audio(plan, music, np.random.default_rng(list(plan.seed) + [7003]), sr)
    mix = plan.music.gain * music
    for t, strength in impacts:
        _add(mix, _thud(sr, rng, float(rng.uniform(60, 110))), t, sr, 0.35 * strength)
    noise = rng.standard_normal(mix.size).astype(np.float32)
    noise = np.convolve(noise, np.ones(8, dtype=np.float32) / 8, mode="same")
    mix = mix + plan.music.room_noise * noise / (np.std(noise) or 1.0)
    if crowd is not None:
        mix = mix + crowd
    return np.clip(mix, -1.0, 1.0).astype(np.float32)
