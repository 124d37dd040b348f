"""The ``pretrained`` extractor family, the paper's: Video Swin-B on RGB clips (1024-d),
I3D on optical flow (1024-d) and the Audio Spectrogram Transformer on audio (768-d), one
feature per 32-frame segment. Weights come from local files only (see ``weights``)."""

from __future__ import annotations

import cv2
import numpy as np
import torch

from pamfn.errors import PamfnError, WeightsNotFoundError
from pamfn.features.pretrained.ast import AST_RATE, ASTEmbedder
from pamfn.features.pretrained.i3d import InceptionI3d
from pamfn.features.pretrained.swin3d import SWIN3D_B, Swin3dConfig, SwinTransformer3d, from_video_swin_keys
from pamfn.features.pretrained.weights import ast_source, load_into, load_state_dict, weights_file

VERSION = 1
CROP = 224
_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
_STD = np.array([0.229, 0.224, 0.225], np.float32)
FLOW_BOUND = 20.0
"""Flow is clipped to +-20 pixels and scaled to [-1, 1], the usual I3D flow input."""


def pretrained_versions() -> dict[str, str]:
    """Per-modality versions: code version plus the identity (name, size) of the weights in use."""
    def ident(path) -> str:
        return f"{path.name}:{path.stat().st_size}"

    return {"V": f"vst-swin3d_b@{VERSION}+{ident(weights_file('swin3d'))}",
            "F": f"i3d-flow@{VERSION}+{ident(weights_file('i3d_flow'))}",
            "A": f"ast@{VERSION}+{ast_source()}"}


def check_device(device: str) -> None:
    """PamfnError naming the problem if ``device`` is no usable torch device here."""
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError) as exc:
        raise PamfnError(f"unknown device {device!r} (use cpu or cuda)") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise PamfnError(f"device {device!r} requested but CUDA is not available here; use --device cpu")


def _flow_method() -> str:
    """TV-L1 (as I3D's flow weights were trained on) when opencv-contrib provides it, else Farneback."""
    return "tvl1" if hasattr(cv2, "optflow") and hasattr(cv2.optflow, "DualTVL1OpticalFlow_create") else "farneback"


def load_swin3d(config: Swin3dConfig = SWIN3D_B) -> SwinTransformer3d:
    """Video Swin from its located weights file (torchvision or original Video-Swin names)."""
    path = weights_file("swin3d")
    state = from_video_swin_keys(load_state_dict(path))
    model = SwinTransformer3d(config)
    if "head.weight" in state:
        model.head = torch.nn.Linear(config.num_features, state["head.weight"].shape[0])
    else:
        state = {**state, "head.weight": model.head.weight.detach(), "head.bias": model.head.bias.detach()}
    return load_into(model, state, path).eval()


def load_i3d_flow() -> InceptionI3d:
    """I3D flow tower from its located weights file (``flow_imagenet.pt`` names)."""
    path = weights_file("i3d_flow")
    state = load_state_dict(path)
    classes = state["logits.conv3d.weight"].shape[0] if "logits.conv3d.weight" in state else 400
    return load_into(InceptionI3d(in_channels=2, num_classes=classes), state, path).eval()


def crop_size(width: int, height: int, crop: int = CROP) -> tuple[int, int]:
    """Decoded frame size (even) with the frame's aspect ratio and shorter side ``crop``."""
    scale = crop / min(width, height)
    return max(crop, 2 * round(width * scale / 2)), max(crop, 2 * round(height * scale / 2))


class PretrainedExtractor:
    """Swin / I3D / AST behind the common extractor interface (see pamfn.features.pipeline).

    Frames are decoded with the shorter side at ``crop`` pixels and centre-cropped to a
    square; RGB is normalised with ImageNet statistics. Flow between consecutive frames
    (TV-L1 if available, else Farneback) is clipped to +-20 px and scaled to [-1, 1].
    """

    name = "pretrained"
    sample_rate = AST_RATE

    def __init__(self, device: str = "cpu", swin_config: Swin3dConfig = SWIN3D_B, crop: int = CROP) -> None:
        check_device(device)
        problems = []
        for check in (lambda: weights_file("swin3d"), lambda: weights_file("i3d_flow"), ast_source):
            try:
                check()
            except WeightsNotFoundError as exc:
                problems.append(str(exc))
        if problems:
            raise WeightsNotFoundError("the pretrained extractor needs weights that are not here:\n  - "
                                       + "\n  - ".join(problems))
        self.versions = pretrained_versions()
        self.device, self.crop = torch.device(device), crop
        self.swin = load_swin3d(swin_config).to(self.device)
        self.i3d = load_i3d_flow().to(self.device)
        self.ast = ASTEmbedder(ast_source(), device)
        self.dims = {"V": swin_config.num_features, "F": 1024, "A": self.ast.dim}
        self.flow_method = _flow_method()
        self._tvl1 = cv2.optflow.DualTVL1OpticalFlow_create() if self.flow_method == "tvl1" else None
        self.start()

    @staticmethod
    def family_versions() -> dict[str, str]:
        return pretrained_versions()

    def start(self) -> None:
        """Begin a new routine: forget the previous frame, reset the timings."""
        self._prev: np.ndarray | None = None
        self.timings = {"flow": 0.0, "appearance": 0.0}

    decoded_size = staticmethod(crop_size)
    """Frame size to decode a ``width x height`` video at (default crop), without an instance."""

    def frame_size(self, width: int, height: int) -> tuple[int, int]:
        return crop_size(width, height, self.crop)

    def _square(self, frame: np.ndarray) -> np.ndarray:
        h, w = frame.shape[:2]
        if min(h, w) != self.crop:
            frame = cv2.resize(frame, self.frame_size(w, h), interpolation=cv2.INTER_AREA)
            h, w = frame.shape[:2]
        top, left = (h - self.crop) // 2, (w - self.crop) // 2
        return frame[top : top + self.crop, left : left + self.crop]

    def _flow(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        if self._tvl1 is not None:
            return self._tvl1.calc(a, b, None)
        return cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, 15, 3, 5, 1.2, 0)

    @torch.inference_mode()
    def segment(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        import time

        squares = np.stack([self._square(f) for f in frames])
        t0 = time.perf_counter()
        rgb = (squares.astype(np.float32) / 255.0 - _MEAN) / _STD
        clip = torch.from_numpy(rgb).permute(3, 0, 1, 2)[None].to(self.device)
        v = self.swin.embed(clip)[0].float().cpu().numpy()
        t1 = time.perf_counter()
        flows = []
        for frame in squares:
            grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
            prev = grey if self._prev is None else self._prev
            flows.append(np.clip(self._flow(prev, grey), -FLOW_BOUND, FLOW_BOUND) / FLOW_BOUND)
            self._prev = grey
        flow = torch.from_numpy(np.stack(flows)).permute(3, 0, 1, 2)[None].to(self.device)
        f = self.i3d.embed(flow)[0].float().cpu().numpy()
        self.timings["appearance"] += t1 - t0
        self.timings["flow"] += time.perf_counter() - t1
        return v, f

    def audio(self, audio: np.ndarray, T: int) -> np.ndarray:
        return self.ast.segments(audio, T)
