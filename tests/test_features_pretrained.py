"""The pretrained family's architectures with random weights on tiny inputs, and the
loading path with weights files written here (nothing is downloaded)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pamfn.cli import main
from pamfn.errors import CheckpointError, WeightsNotFoundError
from pamfn.features import extract_file, extract_from_arrays
from pamfn.features.pretrained import PretrainedExtractor, load_i3d_flow, load_swin3d
from pamfn.features.pretrained.i3d import InceptionI3d
from pamfn.features.pretrained.swin3d import (
    SWIN3D_B,
    SWIN3D_T,
    ShiftedWindowAttention3d,
    Swin3dConfig,
    SwinTransformer3d,
)
from tests.support.media import write_test_video

pytestmark = pytest.mark.filterwarnings("ignore:At least one mel filter has all zero values")

TINY_SWIN = Swin3dConfig(embed_dim=8, depths=(2, 2), num_heads=(1, 2), window_size=(4, 3, 3), num_classes=7)


@pytest.fixture(autouse=True)
def no_weights(tmp_path, monkeypatch):
    """Every test starts with an empty weights folder and no per-model variables."""
    monkeypatch.setenv("PAMFN_WEIGHTS_DIR", str(tmp_path / "weights"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    for var in ("PAMFN_SWIN3D_WEIGHTS", "PAMFN_I3D_FLOW_WEIGHTS", "PAMFN_AST_DIR"):
        monkeypatch.delenv(var, raising=False)


def test_swin3d_matches_torchvision_layout():
    with torch.device("meta"):
        base, tiny = SwinTransformer3d(SWIN3D_B), SwinTransformer3d(SWIN3D_T)
    assert sum(p.numel() for p in base.parameters()) == 88_048_984  # torchvision's swin3d_b
    assert sum(p.numel() for p in tiny.parameters()) == 28_158_070  # torchvision's swin3d_t
    keys = base.state_dict().keys()
    for key in ("patch_embed.proj.weight", "features.0.1.attn.relative_position_bias_table",
                "features.0.1.attn.relative_position_index", "features.1.reduction.weight", "features.1.norm.weight",
                "features.4.17.mlp.3.bias", "features.6.1.norm2.weight", "norm.weight", "head.weight"):
        assert key in keys
    assert SWIN3D_B.num_features == 1024


def naive_window_attention(attn: ShiftedWindowAttention3d, x: torch.Tensor) -> torch.Tensor:
    """Reference: global attention over all tokens, allowed only between tokens that share a
    (shifted) window and a region, with the relative position bias of their window offsets."""
    b, t, h, w, c = x.shape
    win, shift = attn.window_size, attn.shift_size
    coords = torch.stack(torch.meshgrid(torch.arange(t), torch.arange(h), torch.arange(w), indexing="ij"), -1).view(-1, 3)
    sizes = torch.tensor([t, h, w])
    rolled = (coords - torch.tensor(shift)) % sizes  # position after the cyclic shift
    window_id = rolled // torch.tensor(win)
    offset = rolled % torch.tensor(win)
    region = torch.zeros(len(coords), 3, dtype=torch.long)
    for i in range(3):
        if shift[i]:
            region[:, i] = (rolled[:, i] >= sizes[i] - win[i]).long() + (rolled[:, i] >= sizes[i] - shift[i]).long()
    same_window = (window_id[:, None] == window_id[None]).all(-1)
    same_region = (region[:, None] == region[None]).all(-1)
    rel = offset[:, None] - offset[None] + torch.tensor(win) - 1
    index = rel[..., 0] * (2 * win[1] - 1) * (2 * win[2] - 1) + rel[..., 1] * (2 * win[2] - 1) + rel[..., 2]
    heads = attn.num_heads
    tokens = x.reshape(b, -1, c)
    q, k, v = attn.qkv(tokens).reshape(b, -1, 3, heads, c // heads).permute(2, 0, 3, 1, 4)
    scores = (q * (c // heads) ** -0.5) @ k.transpose(-2, -1)
    scores = scores + attn.relative_position_bias_table[index].permute(2, 0, 1)[None]
    scores = scores.masked_fill(~same_window, float("-inf")) + torch.where(same_region, 0.0, -100.0)
    out = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, -1, c)
    return attn.proj(out).view(b, t, h, w, c)


@pytest.mark.parametrize("shift", [(0, 0, 0), (1, 1, 2), (2, 0, 1)])
def test_shifted_window_attention_against_a_naive_reference(shift):
    torch.manual_seed(0)
    attn = ShiftedWindowAttention3d(8, (2, 3, 4), shift, num_heads=2)
    x = torch.randn(2, 4, 6, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(attn(x), naive_window_attention(attn, x), atol=1e-5, rtol=1e-4)


def test_full_size_shapes_on_the_meta_device():
    with torch.device("meta"):
        swin, i3d = SwinTransformer3d(SWIN3D_B), InceptionI3d(in_channels=2)
        assert swin.embed(torch.empty(1, 3, 32, 224, 224)).shape == (1, 1024)
        assert i3d.trunk(torch.empty(1, 2, 32, 224, 224)).shape == (1, 1024, 4, 7, 7)  # T/8, 7x7 as in I3D


def test_tiny_swin_and_i3d_forward_shapes():
    torch.manual_seed(0)
    swin = SwinTransformer3d(TINY_SWIN).eval()
    i3d = InceptionI3d(in_channels=2).eval()
    with torch.no_grad():
        assert swin.embed(torch.randn(2, 3, 8, 30, 26)).shape == (2, 16)
        assert swin(torch.randn(1, 3, 5, 24, 24)).shape == (1, 7)  # padding of odd sizes
        assert i3d.embed(torch.randn(1, 2, 8, 32, 32)).shape == (1, 1024)
        assert i3d(torch.randn(1, 2, 8, 32, 32)).shape == (1, 400)
    assert "Mixed_4f.b1b.bn.running_var" in i3d.state_dict() and "logits.conv3d.bias" in i3d.state_dict()


def write_weights(folder, swin_state=None):
    """Random weights in the layouts the loaders read: tiny Swin (.pth), I3D flow in the
    converted flow_imagenet.pt layout (no BatchNorm batch counters), tiny AST folder."""
    from transformers import ASTConfig, ASTFeatureExtractor, ASTModel

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(1)
    swin = SwinTransformer3d(TINY_SWIN)
    torch.save(swin_state if swin_state is not None else swin.state_dict(), folder / "swin3d_b.pth")
    i3d = InceptionI3d(in_channels=2)
    torch.save({k: v for k, v in i3d.state_dict().items() if "num_batches_tracked" not in k}, folder / "flow_imagenet.pt")
    config = ASTConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64, max_length=128)
    ASTModel(config).save_pretrained(folder / "ast")
    ASTFeatureExtractor(max_length=128).save_pretrained(folder / "ast")
    return swin, i3d


def test_missing_weights_say_where_to_put_them(tmp_path, capsys):
    with pytest.raises(WeightsNotFoundError) as info:
        PretrainedExtractor()
    message = str(info.value)
    assert str(tmp_path / "weights" / "swin3d_b.pth") in message and "$PAMFN_SWIN3D_WEIGHTS" in message
    assert str(tmp_path / "weights" / "i3d_flow.pt") in message and "$PAMFN_AST_DIR" in message
    video = write_test_video(tmp_path / "v.mp4", 2)
    assert main(["extract", str(video), "-o", str(tmp_path / "out" / "v.npz"), "--extractor", "pretrained",
                 "--quiet"]) == 2
    assert "swin3d_b.pth" in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_loading_path_end_to_end(tmp_path):
    swin, i3d = write_weights(tmp_path / "weights")
    loaded = load_swin3d(TINY_SWIN)
    torch.testing.assert_close(loaded.state_dict()["features.2.1.norm1.weight"], swin.state_dict()["features.2.1.norm1.weight"])
    torch.testing.assert_close(load_i3d_flow().state_dict()["Mixed_5c.b2b.conv3d.weight"],
                               i3d.state_dict()["Mixed_5c.b2b.conv3d.weight"])
    ext = PretrainedExtractor("cpu", swin_config=TINY_SWIN, crop=32)
    rng = np.random.default_rng(0)
    frames = (rng.random((70, 48, 64, 3)) * 255).astype(np.uint8)  # 70 frames at 25 fps -> T = 2
    audio = (0.1 * rng.standard_normal(16000 * 3)).astype(np.float32)
    feats = extract_from_arrays(frames, audio, 16000, extractor=ext)
    assert feats.T == 2 and feats.dims == {"V": 16, "F": 1024, "A": 32}
    assert feats.extractors["V"].startswith("vst-swin3d_b@1+swin3d_b.pth")
    assert all(np.isfinite(a).all() for a in feats.features.values())
    assert not np.allclose(feats.features["A"][0], feats.features["A"][1])
    from_file = extract_file(write_test_video(tmp_path / "v.mp4", 3, (96, 64)), extractor=ext, progress=False)
    assert from_file.T == 2 and from_file.dims == feats.dims and from_file.media == "v.mp4"


def test_original_video_swin_checkpoint_names_load(tmp_path):
    torch.manual_seed(2)
    swin = SwinTransformer3d(TINY_SWIN)
    renamed = {}
    for key, value in swin.state_dict().items():
        parts = key.split(".")
        if parts[0] == "features":
            stage = int(parts[1])
            parts = (["layers", str(stage // 2), "blocks", *parts[2:]] if stage % 2 == 0
                     else ["layers", str(stage // 2), "downsample", *parts[2:]])
        if parts[0] != "head":
            renamed["backbone." + ".".join(parts).replace("mlp.0", "mlp.fc1").replace("mlp.3", "mlp.fc2")] = value
    write_weights(tmp_path / "weights", swin_state={"state_dict": renamed})
    clip = torch.randn(1, 3, 4, 24, 24)
    with torch.no_grad():
        torch.testing.assert_close(load_swin3d(TINY_SWIN).embed(clip), swin.eval().embed(clip))


def test_unavailable_device_is_refused(monkeypatch):
    from pamfn.errors import PamfnError

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(PamfnError, match="CUDA is not available"):
        PretrainedExtractor("cuda")
    with pytest.raises(PamfnError, match="unknown device"):
        PretrainedExtractor("toaster")


def test_corrupt_or_mismatched_weights(tmp_path, monkeypatch):
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a checkpoint")
    monkeypatch.setenv("PAMFN_SWIN3D_WEIGHTS", str(bad))
    with pytest.raises(CheckpointError, match="not a readable weights file"):
        load_swin3d(TINY_SWIN)
    torch.save({"some.other.weight": torch.zeros(3)}, bad)
    with pytest.raises(CheckpointError, match="does not fit SwinTransformer3d"):
        load_swin3d(TINY_SWIN)
    monkeypatch.setenv("PAMFN_SWIN3D_WEIGHTS", str(tmp_path / "nowhere.pth"))
    with pytest.raises(WeightsNotFoundError, match="PAMFN_SWIN3D_WEIGHTS points to"):
        load_swin3d(TINY_SWIN)
