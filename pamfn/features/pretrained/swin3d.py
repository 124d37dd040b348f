"""Video Swin Transformer (Liu et al., 2022), a compact implementation whose parameter
names match torchvision's ``swin3d_*`` models, so their checkpoint files load as they are.
``SwinTransformer3d.features`` of a (B, 3, T, H, W) clip is the pooled representation
(1024-d for Swin-B), the RGB feature of the paper."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass(frozen=True)
class Swin3dConfig:
    patch_size: tuple[int, int, int] = (2, 4, 4)
    embed_dim: int = 128
    depths: tuple[int, ...] = (2, 2, 18, 2)
    num_heads: tuple[int, ...] = (4, 8, 16, 32)
    window_size: tuple[int, int, int] = (8, 7, 7)
    mlp_ratio: float = 4.0
    num_classes: int = 400

    @property
    def num_features(self) -> int:
        return self.embed_dim * 2 ** (len(self.depths) - 1)


SWIN3D_B = Swin3dConfig()
"""torchvision's swin3d_b: 88,048,984 parameters with its 400-class head, 1024-d features."""
SWIN3D_T = Swin3dConfig(embed_dim=96, depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24))


def _pad_to(x: Tensor, multiples: tuple[int, int, int]) -> Tensor:
    """Zero-pad (B, T, H, W, C) at the end of T, H, W to multiples of ``multiples``."""
    pads = [(-x.shape[1 + i]) % multiples[i] for i in range(3)]
    return F.pad(x, (0, 0, 0, pads[2], 0, pads[1], 0, pads[0]))


def _shift_mask(size: tuple[int, int, int], window: tuple[int, int, int], shift: tuple[int, int, int],
                device: torch.device) -> Tensor:
    """Additive mask (nW, V, V) that keeps shifted-window attention inside contiguous regions."""
    labels = torch.zeros(size, device=device)
    region = 0
    bounds = [((0, -window[i]), (-window[i], -shift[i]), (-shift[i], None)) for i in range(3)]
    for d0, d1 in bounds[0]:
        for h0, h1 in bounds[1]:
            for w0, w1 in bounds[2]:
                labels[d0:d1, h0:h1, w0:w1] = region
                region += 1
    windows = _partition(labels[None, ..., None], window).squeeze(-1)
    diff = windows[:, None, :] - windows[:, :, None]
    return torch.zeros_like(diff).masked_fill(diff != 0, -100.0)


def _partition(x: Tensor, window: tuple[int, int, int]) -> Tensor:
    """(B, T, H, W, C) -> (B * nW, Wt * Wh * Ww, C)."""
    b, t, h, w, c = x.shape
    x = x.view(b, t // window[0], window[0], h // window[1], window[1], w // window[2], window[2], c)
    return x.permute(0, 1, 3, 5, 2, 4, 6, 7).reshape(-1, window[0] * window[1] * window[2], c)


def _merge(windows: Tensor, window: tuple[int, int, int], size: tuple[int, int, int], batch: int) -> Tensor:
    """Inverse of :func:`_partition`."""
    t, h, w = size
    x = windows.view(batch, t // window[0], h // window[1], w // window[2], *window, -1)
    return x.permute(0, 1, 4, 2, 5, 3, 6, 7).reshape(batch, t, h, w, -1)


class ShiftedWindowAttention3d(nn.Module):
    """Multi-head self-attention inside (shifted) 3-D windows with a relative position bias."""

    def __init__(self, dim: int, window_size: tuple[int, int, int], shift_size: tuple[int, int, int],
                 num_heads: int) -> None:
        super().__init__()
        self.window_size, self.shift_size, self.num_heads = window_size, shift_size, num_heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)
        wt, wh, ww = window_size
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * wt - 1) * (2 * wh - 1) * (2 * ww - 1), num_heads))
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        grid = torch.stack(torch.meshgrid(*[torch.arange(s) for s in window_size], indexing="ij")).flatten(1)
        rel = (grid[:, :, None] - grid[:, None, :]).permute(1, 2, 0)
        rel = rel + torch.tensor([wt - 1, wh - 1, ww - 1])
        index = rel[..., 0] * (2 * wh - 1) * (2 * ww - 1) + rel[..., 1] * (2 * ww - 1) + rel[..., 2]
        self.register_buffer("relative_position_index", index)

    def forward(self, x: Tensor) -> Tensor:
        b, t, h, w, c = x.shape
        window = tuple(min(s, ws) for s, ws in zip((t, h, w), self.window_size))
        shift = tuple(0 if s <= ws else sh for s, ws, sh in zip((t, h, w), self.window_size, self.shift_size))
        x = _pad_to(x, window)
        padded = tuple(x.shape[1:4])
        if any(shift):
            x = torch.roll(x, shifts=tuple(-s for s in shift), dims=(1, 2, 3))
        win = _partition(x, window)
        n, v, _ = win.shape
        heads = self.num_heads
        q, k, val = self.qkv(win).reshape(n, v, 3, heads, c // heads).permute(2, 0, 3, 1, 4)
        attn = (q * (c // heads) ** -0.5) @ k.transpose(-2, -1)
        index = self.relative_position_index[:v, :v].flatten()
        attn = attn + self.relative_position_bias_table[index].view(v, v, heads).permute(2, 0, 1)[None]
        if any(shift):
            mask = _shift_mask(padded, window, shift, x.device)
            attn = (attn.view(b, -1, heads, v, v) + mask[None, :, None]).view(n, heads, v, v)
        out = (attn.softmax(-1) @ val).transpose(1, 2).reshape(n, v, c)
        x = _merge(self.proj(out), window, padded, b)
        if any(shift):
            x = torch.roll(x, shifts=shift, dims=(1, 2, 3))
        return x[:, :t, :h, :w].contiguous()


class SwinTransformerBlock3d(nn.Module):
    """x + W-MSA(LN(x)), then x + MLP(LN(x)). The MLP is Sequential(Linear, GELU, Dropout,
    Linear, Dropout) so its parameters are named ``mlp.0`` and ``mlp.3`` as in torchvision."""

    def __init__(self, dim: int, num_heads: int, window_size: tuple[int, int, int],
                 shift_size: tuple[int, int, int], mlp_ratio: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = ShiftedWindowAttention3d(dim, window_size, shift_size, num_heads)
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(0.0), nn.Linear(hidden, dim), nn.Dropout(0.0))

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PatchMerging(nn.Module):
    """Halve H and W by concatenating 2x2 neighbours (4C), LayerNorm, linear map to 2C."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)
        self.norm = nn.LayerNorm(4 * dim)

    def forward(self, x: Tensor) -> Tensor:
        h, w = x.shape[-3], x.shape[-2]
        x = F.pad(x, (0, 0, 0, w % 2, 0, h % 2))
        x = torch.cat([x[..., 0::2, 0::2, :], x[..., 1::2, 0::2, :], x[..., 0::2, 1::2, :], x[..., 1::2, 1::2, :]], -1)
        return self.reduction(self.norm(x))


class PatchEmbed3d(nn.Module):
    """Non-overlapping 3-D patches -> tokens (B, T', H', W', C), LayerNorm."""

    def __init__(self, patch_size: tuple[int, int, int], embed_dim: int) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.proj = nn.Conv3d(3, embed_dim, kernel_size=patch_size, stride=patch_size)
        self.norm = nn.LayerNorm(embed_dim)

    def forward(self, x: Tensor) -> Tensor:
        t, h, w = x.shape[2:]
        p = self.patch_size
        x = F.pad(x, (0, (-w) % p[2], 0, (-h) % p[1], 0, (-t) % p[0]))
        return self.norm(self.proj(x).permute(0, 2, 3, 4, 1))


class SwinTransformer3d(nn.Module):
    """Patch embedding, stages of (shifted) window blocks with patch merging between them,
    LayerNorm, global average pooling, linear head."""

    def __init__(self, config: Swin3dConfig = SWIN3D_B) -> None:
        super().__init__()
        self.config = config
        self.patch_embed = PatchEmbed3d(config.patch_size, config.embed_dim)
        self.pos_drop = nn.Dropout(0.0)
        layers: list[nn.Module] = []
        for i, (depth, heads) in enumerate(zip(config.depths, config.num_heads)):
            dim = config.embed_dim * 2**i
            blocks = [SwinTransformerBlock3d(dim, heads, config.window_size,
                                             (0, 0, 0) if j % 2 == 0 else tuple(w // 2 for w in config.window_size),
                                             config.mlp_ratio) for j in range(depth)]
            layers.append(nn.Sequential(*blocks))
            if i < len(config.depths) - 1:
                layers.append(PatchMerging(dim))
        self.features = nn.Sequential(*layers)
        self.norm = nn.LayerNorm(config.num_features)
        self.avgpool = nn.AdaptiveAvgPool3d(1)
        self.head = nn.Linear(config.num_features, config.num_classes)

    def embed(self, clip: Tensor) -> Tensor:
        """(B, 3, T, H, W) normalised clip -> (B, num_features) pooled representation."""
        x = self.features(self.pos_drop(self.patch_embed(clip)))
        x = self.norm(x).permute(0, 4, 1, 2, 3)
        return self.avgpool(x).flatten(1)

    def forward(self, clip: Tensor) -> Tensor:
        return self.head(self.embed(clip))


def from_video_swin_keys(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """Rename a checkpoint of the original Video-Swin-Transformer code (``backbone.layers.i.
    blocks.j...``, ``mlp.fc1``) into torchvision's names; other checkpoints pass unchanged."""
    if not any(k.startswith("backbone.") for k in state):
        return state
    out = {}
    for key, value in state.items():
        if not key.startswith("backbone."):
            continue
        parts = key[len("backbone."):].split(".")
        if parts[0] == "layers":
            stage = int(parts[1])
            if parts[2] == "blocks":
                parts = ["features", str(2 * stage), parts[3], *parts[4:]]
            else:  # downsample
                parts = ["features", str(2 * stage + 1), *parts[3:]]
        name = ".".join(parts).replace("mlp.fc1", "mlp.0").replace("mlp.fc2", "mlp.3")
        out[name] = value
    return out
