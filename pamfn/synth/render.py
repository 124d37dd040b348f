"""Rendering: the performer as thick limbs in a coloured leotard, the apparatus, and the
carpet, seen by a camera that follows the performer. Frames are yielded one at a time."""

from __future__ import annotations

from collections.abc import Iterator

import cv2
import numpy as np

from pamfn.synth.motion import FLOOR, HEAD_R, J, Motion
from pamfn.synth.plan import RoutinePlan

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
        self.cam_x = self._camera_track(fps)
        self.pano = self._panorama()
        b = look.brightness
        self.c_leotard = _colour(look.leotard_rgb, b)
        self.c_leotard_far = _colour(look.leotard_rgb, b, 0.75)
        self.c_skin = _colour(look.skin_rgb, b)
        self.c_skin_far = _colour(look.skin_rgb, b, 0.8)
        self.c_hair = _colour(look.hair_rgb, b)
        self.c_app = _colour(look.apparatus_rgb, b)

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
        return pano

    def _px(self, p: np.ndarray, cam: float) -> tuple[int, int]:
        x = (p[0] - cam) * self.scale + self.width / 2
        y = self.floor_y - p[1] * self.scale
        return int(round(x * _ONE)), int(round(y * _ONE))

    def _limb(self, img: np.ndarray, a: tuple[int, int], b: tuple[int, int], width_m: float, colour) -> None:
        cv2.line(img, a, b, colour, max(1, int(round(width_m * self.scale))), cv2.LINE_AA, _SHIFT)

    def frame(self, i: int) -> np.ndarray:
        m, cam = self.motion, float(self.cam_x[i])
        x0 = int(round((cam - self.view_w_m / 2 + PANO_HALF_M) * self.scale))
        x0 = min(max(0, x0), self.pano.shape[1] - self.width)
        img = self.pano[:, x0 : x0 + self.width].copy()
        P = {name: self._px(m.joints[i, j], cam) for name, j in J.items()}
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


def render_frames(plan: RoutinePlan, motion: Motion, size: tuple[int, int], fps: float) -> Iterator[np.ndarray]:
    """Yield the routine's frames, HxWx3 uint8 RGB, one new array per frame."""
    renderer = Renderer(plan, motion, size, fps)
    for i in range(plan.n_frames):
        yield renderer.frame(i)
