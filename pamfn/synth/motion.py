"""Animation: the performer's joint trajectories and the apparatus path, frame by frame,
from a routine plan. Dance steps between elements, the elements themselves, and the
execution faults (tremor, losses of balance, dropped apparatus) are all made here, and
what actually happened is recorded for the score."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from pamfn.synth.plan import GRAVITY, Element, RoutinePlan

THIGH, SHIN, FOOT_H = 0.46, 0.46, 0.04
TRUNK, NECK, HEAD_R = 0.55, 0.07, 0.11
UPPER_ARM, FOREARM = 0.29, 0.27
HIP_W, SHOULDER_W = 0.1, 0.17
JOINTS = (
    "pelvis", "neck", "head", "hip_r", "knee_r", "foot_r", "hip_l", "knee_l", "foot_l",
    "shoulder_r", "elbow_r", "hand_r", "shoulder_l", "elbow_l", "hand_l",
)  # fmt: skip
J = {name: i for i, name in enumerate(JOINTS)}
ANGLES = ("arm_r", "arm_l", "elbow_r", "elbow_l", "leg_r", "leg_l", "knee_r", "knee_l", "lean")
HELD, FLIGHT, FLOOR = 0, 1, 2


@dataclass
class Motion:
    """What happens in a routine, frame by frame, in world metres (y up, floor at 0)."""

    joints: np.ndarray
    """(n_frames, 15, 2) joint positions, order :data:`JOINTS`."""
    apparatus: np.ndarray
    """(n_frames, 2) position of the (right-hand) apparatus."""
    apparatus_state: np.ndarray
    """(n_frames,) HELD, FLIGHT or FLOOR."""
    spin: np.ndarray
    """(n_frames,) rotation of the apparatus (radians)."""
    turn: np.ndarray
    """(n_frames,) rotation of the body about the vertical axis (radians)."""
    impacts: list[tuple[float, float]] = field(default_factory=list)
    """(time, strength) of landings and of apparatus hitting the floor, for the soundtrack."""
    accents_s: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """Times of the movement accents that are actually performed (steps and element hits)."""
    element_accents_s: np.ndarray = field(default_factory=lambda: np.zeros(0))
    tremor_deg: float = 0.0
    """Realised RMS of the tremor added to the joint angles, in degrees."""
    dancing: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    """(n_frames,) frames of dance steps (no element, loss of balance or retrieval)."""
    drops_s: list[tuple[float, float]] = field(default_factory=list)
    """(missed catch, apparatus picked up again) of every dropped throw."""


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def _rad(deg: float) -> float:
    return deg * math.pi / 180.0


def _pulse_kernel(dt: np.ndarray) -> np.ndarray:
    """A movement hit: fast rise starting at the accent, slower release (peak 1)."""
    k = np.where(dt >= 0, (1 - np.exp(-np.maximum(dt, 0) / 0.035)) * np.exp(-np.maximum(dt, 0) / 0.22), 0.0)
    return k / 0.72


def _energy_curve(plan: RoutinePlan, t: np.ndarray) -> np.ndarray:
    e = np.full(t.shape, 0.15)
    for s in plan.sections:
        e[(t >= s.start_s) & (t < s.end_s)] = s.move_energy
    width = 13
    padded = np.pad(e, width // 2, mode="edge")
    return np.convolve(padded, np.ones(width) / width, mode="valid")


def _band_noise(rng: np.random.Generator, n: int, fps: float, lo: float, hi: float) -> np.ndarray:
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / fps)
    spec[(f < lo) | (f > hi)] = 0
    x = np.fft.irfft(spec, n)
    return x / (np.std(x) or 1.0)


class _Animator:
    def __init__(self, plan: RoutinePlan, fps: float) -> None:
        self.plan, self.fps = plan, fps
        self.n = plan.n_frames
        self.t = np.arange(self.n) / fps
        self.dof = {name: np.zeros(self.n) for name in ANGLES}
        self.x = np.zeros(self.n)
        self.air = np.zeros(self.n)
        self.turn = np.zeros(self.n)
        self.busy = np.zeros(self.n, dtype=bool)
        """Frames where an element, a stumble or a retrieval replaces the dance steps."""
        self.balance = np.zeros(self.n)
        self.impacts: list[tuple[float, float]] = []

    def window(self, start: float, end: float, ramp: float = 0.15) -> tuple[slice, np.ndarray, np.ndarray]:
        i0 = max(0, int(math.floor(start * self.fps)))
        i1 = min(self.n, int(math.ceil(end * self.fps)) + 1)
        tau = self.t[i0:i1] - start
        w = _smoothstep(tau / ramp) * _smoothstep((end - self.t[i0:i1]) / ramp)
        return slice(i0, i1), tau, w

    def blend(self, name: str, sl: slice, w: np.ndarray, target: np.ndarray | float) -> None:
        arr = self.dof[name]
        arr[sl] = arr[sl] * (1 - w) + w * target

    # -- dance steps between elements -------------------------------------------------
    def steps(self) -> None:
        plan, t = self.plan, self.t
        e = _energy_curve(plan, t)
        k_r, k_l = np.zeros(self.n), np.zeros(self.n)
        span = int(1.2 * self.fps)
        for j, p in enumerate(plan.pulses_s):
            i0 = max(0, int(math.ceil(p * self.fps)))
            sl = slice(i0, min(self.n, i0 + span))
            amp = e[min(i0, self.n - 1)]
            (k_r if j % 2 == 0 else k_l)[sl] += amp * _pulse_kernel(t[sl] - p)
        ph = plan.travel_phase
        sway = np.sin(2 * np.pi * 0.23 * t + ph[0])
        d = self.dof
        d["arm_r"][:] = _rad(25) + _rad(25) * e + _rad(85) * k_r + _rad(25) * k_l + _rad(12) * e * sway
        d["arm_l"][:] = _rad(25) + _rad(25) * e + _rad(85) * k_l + _rad(25) * k_r - _rad(12) * e * sway
        d["elbow_r"][:] = _rad(15) + _rad(45) * k_r
        d["elbow_l"][:] = _rad(15) + _rad(45) * k_l
        d["leg_r"][:] = _rad(4) + _rad(30) * k_r
        d["leg_l"][:] = _rad(4) + _rad(30) * k_l
        d["knee_r"][:] = _rad(5) + _rad(25) * k_l + _rad(15) * k_r
        d["knee_l"][:] = _rad(5) + _rad(25) * k_r + _rad(15) * k_l
        d["lean"][:] = _rad(5) * e * np.sin(2 * np.pi * 0.17 * t + ph[1]) + _rad(5) * (k_r - k_l)
        self.turn[:] = _rad(35) * e * np.sin(2 * np.pi * 0.11 * t + ph[2])
        v = 1.1 * e * np.sin(2 * np.pi * t / 9.0 + ph[2])
        travel = np.cumsum(v) / self.fps
        self.x[:] = 3.5 * (2 / np.pi) * np.arcsin(np.sin(travel / 3.5 * np.pi / 2))

    # -- elements -----------------------------------------------------------------------
    def leap(self, el: Element) -> None:
        h = el.height_m
        flight = 2 * math.sqrt(2 * h / GRAVITY)
        sl, tau, w = self.window(el.start_s, el.end_s)
        u = np.clip((tau - 0.35) / flight, 0, 1)
        in_air = (tau >= 0.35) & (tau <= 0.35 + flight)
        crouch = np.exp(-(((tau - 0.25) / 0.12) ** 2)) + np.exp(-(((tau - 0.35 - flight - 0.08) / 0.12) ** 2))
        split = _rad(70 + 110 * el.amplitude) / 2 * np.sin(np.pi * u) ** 0.6
        self.air[sl] = np.where(in_air, 4 * h * u * (1 - u), 0.0)
        for side in ("r", "l"):
            self.blend(f"leg_{side}", sl, w, split)
            self.blend(f"knee_{side}", sl, w, _rad(50) * crouch)
            self.blend(f"arm_{side}", sl, w, _rad(60) + _rad(95) * np.sin(np.pi * u))
            self.blend(f"elbow_{side}", sl, w, _rad(10))
        direction = 1.0 if self.x[sl.start] < 0 else -1.0
        self.x[sl] += direction * (0.6 + 0.8 * el.amplitude) * (u - 0.5) * w
        self.impacts.append((el.accent_s, 0.25 + 0.35 * el.amplitude))

    def pivot(self, el: Element) -> None:
        sl, tau, w = self.window(el.start_s, el.end_s)
        dur = el.end_s - el.start_s
        theta = 2 * np.pi * el.turns * _smoothstep((tau - 0.2) / (dur - 0.4))
        self.turn[sl] = self.turn[sl] * (1 - w) + theta
        self.blend("leg_r", sl, w, _rad(45 + 45 * el.amplitude))
        self.blend("knee_r", sl, w, _rad(100 - 95 * el.amplitude))
        self.blend("leg_l", sl, w, 0.0)
        self.blend("knee_l", sl, w, 0.0)
        for side in ("r", "l"):
            self.blend(f"arm_{side}", sl, w, _rad(165))
            self.blend(f"elbow_{side}", sl, w, _rad(20))

    def balance_hold(self, el: Element) -> None:
        sl, tau, w = self.window(el.start_s, el.end_s)
        dur = el.end_s - el.start_s
        raise_ = _smoothstep(tau / 0.4) * _smoothstep((dur - tau) / 0.3)
        self.blend("leg_r", sl, w, _rad(60 + 100 * el.amplitude) * raise_)
        self.blend("knee_r", sl, w, 0.0)
        self.blend("leg_l", sl, w, 0.0)
        self.blend("knee_l", sl, w, 0.0)
        self.blend("lean", sl, w, -_rad(10 + 25 * el.amplitude) * raise_)
        for side in ("r", "l"):
            self.blend(f"arm_{side}", sl, w, _rad(95))
            self.blend(f"elbow_{side}", sl, w, _rad(5))
        self.balance[sl] = np.maximum(self.balance[sl], raise_)

    def throw(self, el: Element) -> None:
        sl, tau, w = self.window(el.start_s, el.end_s)
        rel, catch = 0.4, el.accent_s - el.start_s
        swing = np.exp(-(((tau - rel) / 0.18) ** 2)) + np.exp(-(((tau - catch) / 0.2) ** 2))
        self.blend("arm_r", sl, w, _rad(60) + _rad(110) * swing)
        self.blend("elbow_r", sl, w, _rad(10))
        self.blend("arm_l", sl, w, _rad(70))
        for side in ("r", "l"):
            self.blend(f"knee_{side}", sl, w, _rad(35) * np.exp(-(((tau - rel + 0.15) / 0.12) ** 2)))
            self.blend(f"leg_{side}", sl, w, _rad(6))
        if el.amplitude > 0.45:
            mid = _smoothstep((tau - rel - 0.1) / max(0.3, catch - rel - 0.4))
            self.turn[sl] = self.turn[sl] * (1 - w) + 2 * np.pi * mid

    def stumble(self, el: Element) -> None:
        s = el.stumble
        sl, tau, w = self.window(el.end_s, el.end_s + 1.0, ramp=0.1)
        decay = np.exp(-2.5 * tau)
        self.dof["lean"][sl] += w * _rad(32 * s) * np.sin(2 * np.pi * 1.6 * tau) * decay
        self.dof["arm_r"][sl] += w * _rad(75 * s) * np.abs(np.sin(2 * np.pi * 2.0 * tau)) * decay
        self.dof["arm_l"][sl] += w * _rad(75 * s) * np.abs(np.sin(2 * np.pi * 2.0 * tau + 1.0)) * decay
        self.dof["leg_l"][sl] += w * _rad(30 * s) * np.sin(np.pi * np.clip(tau / 0.6, 0, 1))
        self.dof["knee_r"][sl] += w * _rad(35 * s) * decay
        self.x[sl] += w * 0.35 * s * np.sin(np.pi * np.clip(tau, 0, 1))
        self.busy[sl] = True
        if self.plan.version >= 2:
            self.impacts.append((el.end_s + 0.3, 0.2 + 0.3 * s))  # the step out is heard

    def retrieve(self, rest_x: float, t0: float, t1: float) -> None:
        sl, tau, w = self.window(t0, t1, ramp=0.4)
        dur = t1 - t0
        target_x = rest_x - 0.25 * np.sign(rest_x - self.x[sl.start] or 1.0)
        self.x[sl] = self.x[sl] * (1 - w) + w * target_x
        bend = np.exp(-(((tau - (dur - 0.45)) / 0.3) ** 2))
        self.blend("lean", sl, w, _rad(60) * bend)
        for side in ("r", "l"):
            self.blend(f"knee_{side}", sl, w, _rad(55) * bend)
            self.blend(f"leg_{side}", sl, w, _rad(8))
        self.blend("arm_r", sl, w, _rad(20) - _rad(10) * bend)
        self.busy[sl] = True

    def tremor(self) -> float:
        rng = np.random.default_rng(list(self.plan.seed) + [5001])
        amp = self.plan.tremor_deg * (1.0 + 1.2 * self.balance)
        for st in self.plan.tremor_stretches:
            sl, _, w = self.window(st.start_s, st.end_s, ramp=0.4)
            amp[sl] *= 1.0 + (st.strength - 1.0) * w
        total = 0.0
        for name in ANGLES:
            jitter = _band_noise(rng, self.n, self.fps, 4.0, 11.0) * amp
            self.dof[name] += np.deg2rad(jitter)
            total += float(np.mean(jitter**2))
        return math.sqrt(total / len(ANGLES))

    # -- kinematics ----------------------------------------------------------------------
    def forward(self) -> np.ndarray:
        d, c = self.dof, np.cos(self.turn)
        lean = d["lean"]
        n = self.n
        P = np.zeros((n, len(JOINTS), 2))
        reach = [THIGH * np.cos(d[f"leg_{s}"]) + SHIN * np.cos(d[f"leg_{s}"] - d[f"knee_{s}"]) for s in "rl"]
        y = np.maximum(reach[0], reach[1]) + FOOT_H + self.air
        pel = np.stack([self.x, y], axis=1)
        P[:, J["pelvis"]] = pel
        for sign, s in ((1.0, "r"), (-1.0, "l")):
            phi, kappa = d[f"leg_{s}"], d[f"leg_{s}"] - d[f"knee_{s}"]
            hip = pel + np.stack([sign * HIP_W * c, np.zeros(n)], axis=1)
            knee = hip + THIGH * np.stack([sign * np.sin(phi) * c, -np.cos(phi)], axis=1)
            foot = knee + SHIN * np.stack([sign * np.sin(kappa) * c, -np.cos(kappa)], axis=1)
            P[:, J[f"hip_{s}"]], P[:, J[f"knee_{s}"]], P[:, J[f"foot_{s}"]] = hip, knee, foot

        def rot(vx: np.ndarray, vy: np.ndarray) -> np.ndarray:
            return np.stack([vx * np.cos(lean) + vy * np.sin(lean), -vx * np.sin(lean) + vy * np.cos(lean)], axis=1)

        zero, one = np.zeros(n), np.ones(n)
        neck = pel + TRUNK * rot(zero, one)
        P[:, J["neck"]] = neck
        P[:, J["head"]] = neck + (NECK + HEAD_R) * rot(zero, one)
        for sign, s in ((1.0, "r"), (-1.0, "l")):
            alpha, beta = d[f"arm_{s}"], d[f"arm_{s}"] + d[f"elbow_{s}"]
            sh = neck + rot(sign * SHOULDER_W * c, zero)
            el = sh + UPPER_ARM * rot(sign * np.sin(alpha) * c, -np.cos(alpha))
            hand = el + FOREARM * rot(sign * np.sin(beta) * c, -np.cos(beta))
            P[:, J[f"shoulder_{s}"]], P[:, J[f"elbow_{s}"]], P[:, J[f"hand_{s}"]] = sh, el, hand
        return P


def _throw_path(
    el: Element, t: np.ndarray, start: np.ndarray, end: np.ndarray, rng: np.random.Generator, radius: float
) -> tuple[np.ndarray, float, float, list[tuple[float, float]]]:
    """Apparatus position during a throw (and, if dropped, its fall, bounces and roll).

    Returns positions for ``t`` (times from release), the time it comes to rest after the
    release (0 if caught), its rest x, and floor impacts relative to the release."""
    h = el.height_m
    flight = 2 * math.sqrt(2 * h / GRAVITY)
    u = t / flight
    pos = np.stack(
        [start[0] + (end[0] - start[0]) * u, start[1] + (end[1] - start[1]) * u + 4 * h * u * (1 - u)], axis=1
    )
    if not el.dropped:
        return pos, 0.0, 0.0, []
    vx = (end[0] - start[0]) / flight + float(rng.choice([-1, 1]) * rng.uniform(0.5, 1.0))
    vy = ((end[1] - start[1]) - 4 * h) / flight
    y0 = end[1]
    fall = (vy + math.sqrt(vy * vy + 2 * GRAVITY * max(y0 - radius, 0.0))) / GRAVITY
    impacts, x_rest = [(flight + fall, 1.0)], float(end[0] + vx * fall)
    after = t - flight
    falling = (after > 0) & (after <= fall)
    pos[falling, 0] = end[0] + vx * after[falling]
    pos[falling, 1] = y0 + vy * after[falling] - 0.5 * GRAVITY * after[falling] ** 2
    t_floor = flight + fall
    bounce_v = 0.45 * math.sqrt(max(vy * vy + 2 * GRAVITY * (y0 - radius), 0.0)) if radius > 0.05 else 0.0
    roll = float(np.clip(vx * 0.5, -1.2, 1.2))
    x_floor = end[0] + vx * fall
    x_rest = float(np.clip(x_floor + roll, end[0] - 1.6, end[0] + 1.6))
    settle = 0.6 + 2 * bounce_v / GRAVITY
    on_floor = t > t_floor
    s = np.clip((t[on_floor] - t_floor) / settle, 0, 1)
    hop = np.zeros_like(s)
    if bounce_v > 0:
        tb = t[on_floor] - t_floor
        tb1 = 2 * bounce_v / GRAVITY
        first = tb < tb1
        hop[first] = bounce_v * tb[first] - 0.5 * GRAVITY * tb[first] ** 2
        impacts.append((t_floor + tb1, 0.45))
    pos[on_floor, 0] = x_floor + (x_rest - x_floor) * (1 - (1 - s) ** 2)
    pos[on_floor, 1] = radius + np.maximum(hop, 0)
    return pos, t_floor + settle, x_rest, impacts


def _drop_rng(plan: RoutinePlan, k: int) -> np.random.Generator:
    """The stream deciding how element ``k``'s dropped apparatus bounces away."""
    return np.random.default_rng(list(plan.seed) + [5002, k])


APPARATUS_RADIUS = {"ball": 0.1, "clubs": 0.04, "hoop": 0.04, "ribbon": 0.02}


def animate(plan: RoutinePlan, fps: float) -> Motion:
    """Joint and apparatus trajectories of a routine, with the faults it contains."""
    an = _Animator(plan, fps)
    an.steps()
    handlers = {"leap": an.leap, "pivot": an.pivot, "balance": an.balance_hold, "throw": an.throw}
    for el in plan.elements:
        handlers[el.kind](el)
        an.busy[an.window(el.start_s, el.end_s)[0]] = True
        if el.stumble > 0:
            an.stumble(el)
    radius = APPARATUS_RADIUS[plan.action]
    first = an.forward()
    drops = []
    for k, el in enumerate(plan.elements):
        if el.kind != "throw" or not el.dropped:
            continue
        rel = el.start_s + 0.4
        i_rel, i_catch = (min(an.n - 1, int(round(x * fps))) for x in (rel, el.accent_s))
        t_local = np.arange(0, el.end_s + 3.0 - rel, 1 / fps)
        _, rest_t, rest_x, _ = _throw_path(
            el, t_local, first[i_rel, J["hand_r"]], first[i_catch, J["hand_r"]], _drop_rng(plan, k), radius
        )
        t0 = el.accent_s + 0.3
        t1 = max(rel + rest_t + 0.5, t0 + 0.8 + abs(rest_x - first[i_catch, J["pelvis"], 0]) / 1.6 + 0.8)
        an.retrieve(rest_x, t0, t1)
        drops.append((el, t1 - 0.4))
    drop_times = [(el.accent_s, t) for el, t in drops]
    tremor = an.tremor()
    joints = an.forward()
    hand = joints[:, J["hand_r"]]
    forearm = hand - joints[:, J["elbow_r"]]
    app = hand + 0.5 * radius * forearm / (np.linalg.norm(forearm, axis=1, keepdims=True) + 1e-9)
    state = np.full(an.n, HELD, dtype=np.int8)
    spin = an.t * 2 * np.pi * 0.8
    pickups = {id(el): t for el, t in drops}
    for k, el in enumerate(plan.elements):
        if el.kind != "throw":
            continue
        rel = el.start_s + 0.4
        i_rel = min(an.n - 1, int(round(rel * fps)))
        i_catch = min(an.n - 1, int(round(el.accent_s * fps)))
        t_end = pickups.get(id(el), el.accent_s)
        i_end = min(an.n, int(round(t_end * fps)))
        idx = np.arange(i_rel, i_end)
        pos, rest_t, _, impacts = _throw_path(
            el, an.t[idx] - rel, hand[i_rel], hand[i_catch], _drop_rng(plan, k), radius
        )
        app[idx] = pos
        state[idx] = FLIGHT
        if el.dropped:
            state[idx[an.t[idx] - rel > rest_t - 0.6]] = FLOOR
            an.impacts.extend((rel + ti, s) for ti, s in impacts)
        spin[idx] = spin[i_rel] + (an.t[idx] - rel) * 2 * np.pi * (1.5 + el.amplitude)
    steps = np.array([p for p in plan.pulses_s if not an.busy[min(an.n - 1, int(round(p * fps)))]])
    el_acc = np.array([el.accent_s for el in plan.elements])
    accents = np.sort(np.concatenate([steps, el_acc])) if steps.size or el_acc.size else np.zeros(0)
    return Motion(
        joints=joints.astype(np.float32),
        apparatus=app.astype(np.float32),
        apparatus_state=state,
        spin=spin.astype(np.float32),
        turn=an.turn.astype(np.float32),
        impacts=sorted(an.impacts),
        accents_s=accents,
        element_accents_s=el_acc,
        tremor_deg=tremor,
        dancing=~an.busy,
        drops_s=drop_times,
    )
