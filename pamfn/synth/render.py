"""Rendering: the performer as thick limbs in a coloured leotard, the apparatus, and the
carpet, seen by a camera that follows the performer. Frames are yielded one at a time.

Version 2 draws a performer with volume (shaded limbs and torso, a head with a bun of
hair), a soft shadow on the carpet and an arena behind (stands with spectators, boards),
and applies the picture's degradation stretches (lights dimming, an occluder, a shaking
or cutting camera)."""

from __future__ import annotations

from collections.abc import Iterator

import cv2
import numpy as np

from pamfn.synth.motion import FLOOR, HEAD_R, J, Motion
from pamfn.synth.plan import RoutinePlan, _hsv_rgb

_SHIFT = 4
_ONE = 1 << _SHIFT
FLOOR_HALF_M = 6.5
PANO_HALF_M = 9.0


def _colour(rgb: tuple[int, int, int], brightness: float, scale: float = 1.0) -> tuple[int, int, int]:
    return tuple(int(min(255, c * brightness * scale)) for c in rgb)  # type: ignore[return-value]


class Renderer:
    """Draws the frames of one routine at one size (the same scene at any size)."""

    def __init__(self, plan: RoutinePlan, motion: Motion, size: tuple[int, int], fps: float) -> None:
        self.plan, self.motion = plan, motion
        self.width, self.height = size
        look = plan.look
        self.scale = self.height / look.view_height_m
        self.floor_y = self.height * look.floor_frac
        self.view_w_m = self.width / self.scale
        self.v2 = plan.version >= 2
        self.cam_x = self._camera_track(fps)
        self.pano = self._panorama()
        b = look.brightness
        self.c_leotard = _colour(look.leotard_rgb, b)
        self.c_leotard_far = _colour(look.leotard_rgb, b, 0.75)
        self.c_skin = _colour(look.skin_rgb, b)
        self.c_skin_far = _colour(look.skin_rgb, b, 0.8)
        self.c_hair = _colour(look.hair_rgb, b)
        self.c_app = _colour(look.apparatus_rgb, b)
        if self.v2:
            self.shadow = _shadow_sprite(self.scale)
            self.degrade = _FrameDegradations(plan, fps, size)

    def _camera_track(self, fps: float) -> np.ndarray:
        x = self.motion.joints[:, J["pelvis"], 0].astype(np.float64)
        alpha = 1.0 / max(1.0, self.plan.look.camera_lag_s * fps)
        cam = np.empty_like(x)
        c = x[0]
        for i, xi in enumerate(x):
            c += alpha * (xi - c)
            cam[i] = c
        limit = PANO_HALF_M - self.view_w_m / 2
        return np.clip(cam + self.plan.look.camera_offset_m, -limit, limit)

    def _panorama(self) -> np.ndarray:
        look, s, b = self.plan.look, self.scale, self.plan.look.brightness
        width = int(np.ceil(2 * PANO_HALF_M * s)) + 2
        pano = np.empty((self.height, width, 3), dtype=np.uint8)
        horizon = int(self.floor_y - 0.9 * s)
        wall = np.array(_colour(look.wall_rgb, b), dtype=np.float64)
        shade = np.linspace(0.8, 1.05, max(horizon, 1))[:, None]
        pano[:horizon] = np.clip(shade * wall, 0, 255).astype(np.uint8)[:, None, :]
        pano[horizon:] = np.array(_colour(look.carpet_rgb, b), dtype=np.uint8)
        stripe = _colour(look.carpet_rgb, b, 1.15)
        for xm in np.arange(-FLOOR_HALF_M, FLOOR_HALF_M + 1e-6, look.carpet_stripes_m):
            xp = int((xm + PANO_HALF_M) * s)
            cv2.line(pano, (xp, horizon), (int(xp + (xm * 0.25) * s), self.height), stripe, 1, cv2.LINE_AA)
        for xm in (-FLOOR_HALF_M, FLOOR_HALF_M):
            xp = int((xm + PANO_HALF_M) * s)
            cv2.line(pano, (xp, horizon), (int(xp + xm * 0.25 * s), self.height), (235, 235, 235), 2, cv2.LINE_AA)
        cv2.line(pano, (0, horizon), (width, horizon), _colour(look.carpet_rgb, b, 0.7), 2)
        if self.v2:
            _arena(pano, horizon, s, np.random.default_rng(list(self.plan.seed) + [6001]), b)
        return pano

    def _px(self, p: np.ndarray, cam: float) -> tuple[int, int]:
        x = (p[0] - cam) * self.scale + self.width / 2
        y = self.floor_y - p[1] * self.scale
        return int(round(x * _ONE)), int(round(y * _ONE))

    def _limb(self, img: np.ndarray, a: tuple[int, int], b: tuple[int, int], width_m: float, colour) -> None:
        cv2.line(img, a, b, colour, max(1, int(round(width_m * self.scale))), cv2.LINE_AA, _SHIFT)

    def background_x(self, i: int) -> int:
        """Left column of frame ``i``'s crop of the panorama: the background moves in whole
        pixels while the performer, drawn with sub-pixel precision, moves smoothly."""
        x0 = int(round((float(self.cam_x[i]) - self.view_w_m / 2 + PANO_HALF_M) * self.scale))
        return min(max(0, x0), self.pano.shape[1] - self.width)

    def frame(self, i: int) -> np.ndarray:
        m, cam = self.motion, float(self.cam_x[i])
        x0 = self.background_x(i)
        img = self.pano[:, x0 : x0 + self.width].copy()
        P = {name: self._px(m.joints[i, j], cam) for name, j in J.items()}
        if self.v2:
            self._shadow(img, i, cam)
            self._performer(img, i, P)
            self._apparatus(img, i, cam, P)
            return self.degrade(img, i)
        far, near = ("l", "r") if np.cos(m.turn[i]) >= 0 else ("r", "l")
        for side, skin in ((far, self.c_skin_far), (near, self.c_skin)):
            self._limb(
                img,
                P[f"shoulder_{side}"],
                P[f"elbow_{side}"],
                0.075,
                self.c_leotard_far if side == far else self.c_leotard,
            )
            self._limb(img, P[f"elbow_{side}"], P[f"hand_{side}"], 0.065, skin)
            self._limb(img, P[f"hip_{side}"], P[f"knee_{side}"], 0.12, skin)
            self._limb(img, P[f"knee_{side}"], P[f"foot_{side}"], 0.09, skin)
            if side == far:
                torso = np.array([P["shoulder_r"], P["shoulder_l"], P["hip_l"], P["hip_r"]], dtype=np.int32)
                cv2.fillConvexPoly(img, torso, self.c_leotard, cv2.LINE_AA, _SHIFT)
                self._limb(img, P["neck"], P["pelvis"], 0.2, self.c_leotard)
                self._limb(img, P["neck"], P["head"], 0.06, self.c_skin)
                r = max(1, int(round(HEAD_R * self.scale * _ONE)))
                cv2.circle(img, P["head"], r, self.c_hair, -1, cv2.LINE_AA, _SHIFT)
                cv2.circle(img, P["head"], int(r * 0.8), self.c_skin, -1, cv2.LINE_AA, _SHIFT)
        self._apparatus(img, i, cam, P)
        return img

    def _shadow(self, img: np.ndarray, i: int, cam: float) -> None:
        """A soft shadow on the carpet under the performer, fainter when she is in the air."""
        joints = self.motion.joints[i]
        air = float(min(joints[J["foot_r"], 1], joints[J["foot_l"], 1]))
        cx = (float(joints[J["pelvis"], 0]) - cam) * self.scale + self.width / 2
        h, w = self.shadow.shape
        x0, y0 = int(round(cx - w / 2)), int(round(self.floor_y - h / 2))
        xa, ya, xb, yb = max(0, x0), max(0, y0), min(self.width, x0 + w), min(self.height, y0 + h)
        if xa >= xb or ya >= yb:
            return
        alpha = self.shadow[ya - y0 : yb - y0, xa - x0 : xb - x0, None] / (1.0 + 4.0 * max(0.0, air))
        img[ya:yb, xa:xb] = (img[ya:yb, xa:xb] * (1.0 - alpha)).astype(np.uint8)

    def _shaded(self, img: np.ndarray, a: tuple[int, int], b: tuple[int, int], width_m: float, colour) -> None:
        """A limb with volume: a dark rim, the colour, and a highlight along its upper side."""
        px = max(1, int(round(width_m * self.scale)))
        lift = int(round(0.2 * width_m * self.scale * _ONE))
        cv2.line(img, a, b, _scaled(colour, 0.6), px + max(1, px // 5), cv2.LINE_AA, _SHIFT)
        cv2.line(img, a, b, colour, px, cv2.LINE_AA, _SHIFT)
        if px >= 3:
            hi = (a[0] - lift, a[1] - lift), (b[0] - lift, b[1] - lift)
            cv2.line(img, hi[0], hi[1], _scaled(colour, 1.25), max(1, px // 3), cv2.LINE_AA, _SHIFT)

    def _performer(self, img: np.ndarray, i: int, P: dict[str, tuple[int, int]]) -> None:
        """Version 2: far limbs, torso and head, near limbs, each shaded."""
        m = self.motion
        facing = np.cos(m.turn[i])
        far, near = ("l", "r") if facing >= 0 else ("r", "l")
        for side in (far, near):
            dim = 0.8 if side == far else 1.0
            leo, skin = _scaled(self.c_leotard, dim), _scaled(self.c_skin, dim)
            self._shaded(img, P[f"hip_{side}"], P[f"knee_{side}"], 0.13, skin)
            self._shaded(img, P[f"knee_{side}"], P[f"foot_{side}"], 0.095, skin)
            self._shaded(img, P[f"shoulder_{side}"], P[f"elbow_{side}"], 0.08, leo)
            self._shaded(img, P[f"elbow_{side}"], P[f"hand_{side}"], 0.065, skin)
            if side == far:
                self._torso(img, P)
                self._head(img, P, facing)

    def _torso(self, img: np.ndarray, P: dict[str, tuple[int, int]]) -> None:
        pts = np.array([P["shoulder_r"], P["shoulder_l"], P["hip_l"], P["hip_r"]], dtype=np.float64)
        self._shaded(img, P["neck"], P["pelvis"], 0.24, self.c_leotard)
        cv2.fillConvexPoly(img, pts.astype(np.int32), self.c_leotard, cv2.LINE_AA, _SHIFT)
        centre = pts.mean(0)
        inner = centre + 0.55 * (pts - centre) - 0.03 * self.scale * _ONE
        cv2.fillConvexPoly(img, inner.astype(np.int32), _scaled(self.c_leotard, 1.18), cv2.LINE_AA, _SHIFT)

    def _head(self, img: np.ndarray, P: dict[str, tuple[int, int]], facing: float) -> None:
        self._shaded(img, P["neck"], P["head"], 0.06, self.c_skin)
        r = max(_ONE, int(round(HEAD_R * self.scale * _ONE)))
        hx, hy = P["head"]
        back = -1 if facing >= 0 else 1
        bun = (hx + back * int(0.9 * r), hy - int(0.6 * r))
        cv2.circle(img, bun, max(_ONE, int(0.5 * r)), self.c_hair, -1, cv2.LINE_AA, _SHIFT)
        cv2.circle(img, (hx, hy), r, self.c_hair, -1, cv2.LINE_AA, _SHIFT)
        face = (hx - back * int(0.15 * r), hy + int(0.12 * r))
        cv2.circle(img, face, int(0.82 * r), self.c_skin, -1, cv2.LINE_AA, _SHIFT)
        cv2.circle(img, (face[0] - int(0.25 * r), face[1] - int(0.25 * r)), max(1, int(0.3 * r)),
                   _scaled(self.c_skin, 1.12), -1, cv2.LINE_AA, _SHIFT)  # fmt: skip

    def _apparatus(self, img: np.ndarray, i: int, cam: float, P: dict[str, tuple[int, int]]) -> None:
        m, s, action = self.motion, self.scale, self.plan.action
        pos = m.apparatus[i]
        c = self._px(pos, cam)
        spin = float(m.spin[i])
        if action == "ball":
            cv2.circle(img, c, max(_ONE, int(0.1 * s * _ONE)), self.c_app, -1, cv2.LINE_AA, _SHIFT)
        elif action == "hoop":
            r = 0.42 * s * _ONE
            centre = (c[0], c[1] - int(r)) if m.apparatus_state[i] != FLOOR else c
            axes = (int(r), max(_ONE, int(r * (0.25 + 0.75 * abs(np.cos(spin))))))
            cv2.ellipse(img, centre, axes, 0, 0, 360, self.c_app, max(1, int(0.035 * s)), cv2.LINE_AA, _SHIFT)
        elif action == "clubs":
            for base, angle in ((c, spin), (P["hand_l"], np.pi + 0.3 * np.sin(spin))):
                tip = (int(base[0] + 0.42 * s * _ONE * np.sin(angle)), int(base[1] - 0.42 * s * _ONE * np.cos(angle)))
                cv2.line(img, base, tip, self.c_app, max(1, int(0.04 * s)), cv2.LINE_AA, _SHIFT)
                cv2.circle(img, tip, max(_ONE, int(0.05 * s * _ONE)), self.c_app, -1, cv2.LINE_AA, _SHIFT)
        else:
            lo = max(0, i - 12)
            trail = m.apparatus[lo : i + 1].astype(np.float64).copy()
            k = np.arange(trail.shape[0])[::-1]
            trail[:, 0] += 0.15 * np.sin(0.9 * k + spin) * (k / 12.0) + 0.05 * k
            trail[:, 1] += 0.45 + 0.1 * np.cos(0.7 * k + spin) * (k / 12.0) - 0.03 * k
            pts = np.array([self._px(p, cam) for p in trail], dtype=np.int32)
            cv2.line(img, c, tuple(pts[-1]), (200, 200, 200), max(1, int(0.02 * s)), cv2.LINE_AA, _SHIFT)
            cv2.polylines(img, [pts], False, self.c_app, max(1, int(0.05 * s)), cv2.LINE_AA, _SHIFT)


def _scaled(colour: tuple[int, int, int], factor: float) -> tuple[int, int, int]:
    return tuple(int(min(255, c * factor)) for c in colour)  # type: ignore[return-value]


def _shadow_sprite(scale: float) -> np.ndarray:
    """Opacity (h, w) of a soft elliptic shadow 1 m wide, at most 0.45."""
    w, h = max(3, int(1.0 * scale)) | 1, max(3, int(0.14 * scale)) | 1
    y, x = np.mgrid[0:h, 0:w]
    r2 = ((x - w // 2) / (w / 2)) ** 2 + ((y - h // 2) / (h / 2)) ** 2
    return (0.45 * np.exp(-2.5 * r2) * (r2 < 1.0)).astype(np.float32)


def _arena(pano: np.ndarray, horizon: int, s: float, rng: np.random.Generator, brightness: float) -> None:
    """Version 2 background: stands with spectators above a row of boards, lights on top."""
    width = pano.shape[1]
    board = max(1, int(0.35 * s))
    top = max(0, horizon - board)
    stands = pano[:top].astype(np.float32) * 0.45
    n = int(width * top / max(1.0, (0.33 * s) ** 2))
    if n and top > 2:
        xs, ys = rng.integers(0, width, n), rng.integers(int(0.15 * top), top, n)
        colours = rng.integers(60, 230, (n, 3)).astype(np.float32) * 0.5 * brightness
        r = max(1, int(0.07 * s))
        for x, y, c in zip(xs, ys, colours):
            cv2.circle(stands, (int(x), int(y)), r, tuple(float(v) for v in c), -1)
    pano[:top] = np.clip(stands, 0, 255).astype(np.uint8)
    hue = rng.random()
    for k, x in enumerate(range(0, width, max(2, int(2.5 * s)))):
        c = tuple(int(v) for v in np.clip(np.array(_hsv_rgb((hue + 0.13 * (k % 3)) % 1.0, 0.6, 0.75)) * brightness, 0, 255))
        cv2.rectangle(pano, (x, top), (x + max(2, int(2.5 * s)) - 1, horizon), c, -1)
    for x in range(int(1.5 * s), width, max(2, int(4 * s))):
        cv2.circle(pano, (x, max(1, int(0.05 * top))), max(1, int(0.12 * s)), (255, 250, 225), -1, cv2.LINE_AA)


class _FrameDegradations:
    """Version 2: the picture's degradation stretches, applied to finished frames. Each
    stretch's per-frame parameters are drawn up front, so any frame renders alone."""

    def __init__(self, plan: RoutinePlan, fps: float, size: tuple[int, int]) -> None:
        self.width, self.height = size
        rng = np.random.default_rng(list(plan.seed) + [6002])
        n = plan.n_frames
        t = np.arange(n) / fps
        self.dim = np.zeros(n, np.float32)
        self.occluder = np.full(n, np.nan, np.float32)
        self.shake = np.zeros((n, 3), np.float32)
        self.cut = np.zeros(n, np.int8)
        for d in plan.degradations:
            inside = (t >= d.start_s) & (t < d.end_s)
            k = int(inside.sum())
            if d.kind == "dim":
                ramp = np.clip(np.minimum(t - d.start_s, d.end_s - t) / 0.5, 0.0, 1.0)
                self.dim = np.maximum(self.dim, (0.85 * d.strength * ramp).astype(np.float32))
            elif d.kind == "occluder":
                u = (t[inside] - d.start_s) / max(d.end_s - d.start_s, 1e-6)
                self.occluder[inside] = 0.5 + 0.12 * np.sin(2 * np.pi * u * float(rng.uniform(0.5, 1.5)))
            elif d.kind == "shake":
                self.shake[inside] = rng.normal(0, 1, (k, 3)) * d.strength
            elif d.kind == "cut":
                shot, view = np.zeros(k, np.int8), 1
                j = 0
                while j < k:
                    run = int(fps * rng.uniform(0.3, 0.8))
                    shot[j : j + run] = view
                    view = 3 - view
                    j += run
                self.cut[inside] = shot

    def __call__(self, img: np.ndarray, i: int) -> np.ndarray:
        w, h = self.width, self.height
        if self.cut[i]:
            zoom = 1.6 if self.cut[i] == 1 else 1.25
            cw, ch = int(w / zoom), int(h / zoom)
            x0 = (w - cw) // 2 + (w // 10 if self.cut[i] == 1 else -w // 12)
            img = cv2.resize(img[(h - ch) // 2 : (h - ch) // 2 + ch, x0 : x0 + cw], (w, h), interpolation=cv2.INTER_LINEAR)
            if self.cut[i] == 2:
                img = np.ascontiguousarray(img[:, ::-1])
        if self.shake[i].any():
            dx, dy, rot = self.shake[i]
            m = cv2.getRotationMatrix2D((w / 2, h / 2), 3.0 * float(rot), 1.05)
            m[:, 2] += (0.05 * w * float(dx), 0.05 * h * float(dy))
            img = cv2.warpAffine(img, m, (w, h), borderMode=cv2.BORDER_REFLECT)
            img = cv2.blur(img, (max(1, w // 60) * 2 + 1, 1))
        if not np.isnan(self.occluder[i]):
            cx, half = int(self.occluder[i] * w), int(0.22 * w)
            cv2.rectangle(img, (cx - half, int(0.45 * h)), (cx + half, h), (28, 26, 30), -1, cv2.LINE_AA)
            cv2.circle(img, (cx, int(0.38 * h)), int(0.13 * w), (34, 30, 32), -1, cv2.LINE_AA)
        if self.dim[i] > 0:
            img = (img.astype(np.float32) * (1.0 - float(self.dim[i]))).astype(np.uint8)
        return img


def render_frames(plan: RoutinePlan, motion: Motion, size: tuple[int, int], fps: float) -> Iterator[np.ndarray]:
    """Yield the routine's frames, HxWx3 uint8 RGB, one new array per frame."""
    renderer = Renderer(plan, motion, size, fps)
    for i in range(plan.n_frames):
        yield renderer.frame(i)
