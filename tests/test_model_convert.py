"""Converter from the released state_dict: every key mapped, exact round trip, same
predictions as a forward computed directly from the official tensors, safe loading."""

import json
import math
import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from pamfn.checkpoint import load_checkpoint
from pamfn.cli import main
from pamfn.convert_official import convert_official, official_to_ours, ours_to_official
from pamfn.errors import CheckpointError
from pamfn.model import PAMFNConfig, build_model

torch.set_num_threads(1)  # the CI machine has 2 shared cores

LISTINGS = Path(__file__).resolve().parents[1] / "pamfn" / "model" / "reference"
PRESETS = {"rg": ("official-state-dict-rg-k10.txt", 10), "fisv": ("official-state-dict-fisv-k6.txt", 6)}


def listing(preset):
    lines = (LISTINGS / PRESETS[preset][0]).read_text().splitlines()
    count = int(lines[2].split()[0])
    shapes = {}
    for line in lines[3:]:
        key, shape = line.split(" ", 1)
        shapes[key] = tuple(int(n) for n in re.findall(r"\d+", shape))
    assert len(shapes) == count
    return shapes


def fake_official(preset, seed=0):
    """Random tensors with the listing's names and shapes (weights scaled by fan-in)."""
    g = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in listing(preset).items():
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(1234)
        elif key.endswith("running_var"):
            state[key] = torch.rand(shape, generator=g) + 0.5
        elif key == "c":
            state[key] = torch.zeros(shape)
        elif key == "tau":
            state[key] = torch.tensor(7.5)
        elif len(shape) >= 2:
            state[key] = torch.randn(shape, generator=g) / math.sqrt(math.prod(shape[1:]))
        elif re.search(r"\.(1|2|4)\.weight$|norm\.weight$", key):
            state[key] = 1 + 0.1 * torch.randn(shape, generator=g)
        else:
            state[key] = 0.1 * torch.randn(shape, generator=g)
    return state


@pytest.fixture(scope="module", params=["rg", "fisv"])
def official(request):
    return request.param, fake_official(request.param)


def test_every_key_maps_and_round_trips(official):
    preset, state = official
    K = PRESETS[preset][1]
    ours, unknown, dropped = official_to_ours(state, K)
    assert unknown == []
    assert len(dropped) == 12 and all(".norm." in k for k in dropped)
    model = build_model(PAMFNConfig.preset(preset))
    expected = model.state_dict()
    assert set(ours) == set(expected)
    assert all(ours[k].shape == expected[k].shape for k in expected)
    back = ours_to_official(ours, K)
    assert set(back) == set(state)
    for key, value in state.items():
        if key in dropped:  # the six unused LayerNorms come back at their initial values
            assert torch.equal(back[key], torch.ones_like(value) if key.endswith("weight") else torch.zeros_like(value))
        else:
            assert torch.equal(back[key], value), key
    # ours -> official -> ours is exact too.
    again, _, _ = official_to_ours(back, K)
    assert all(torch.equal(again[k], ours[k]) for k in ours)


def official_forward(sd, x, K, d, heads=(1, 1)):
    """The released implementation's eval forward (deterministic argmax), from its own tensors.

    ``heads``: (MSFD, CMFD) attention heads; several heads split d into equal slices, the
    heads' outputs are concatenated and their weights averaged for the trace."""
    def conv(h, p, pad=0):
        return F.conv1d(h, sd[p + ".weight"], sd[p + ".bias"], padding=pad)

    def bn(h, p):
        return F.batch_norm(h, sd[p + ".running_mean"], sd[p + ".running_var"], sd[p + ".weight"], sd[p + ".bias"], False, 0.0, 1e-5)

    def halve(h):
        return F.avg_pool1d(h, 2, 2) if h.shape[-1] >= 2 else h

    def gpool(h):
        return h.mean(-1, keepdim=True)

    def attention(p, q, items, mask=None, h=1):
        lin = lambda t, i: F.linear(t, sd[f"{p}linear_layers.{i}.weight"], sd[f"{p}linear_layers.{i}.bias"])
        dh = d // h
        outs, ws = [], []
        for j in range(h):
            part = slice(j * dh, (j + 1) * dh)
            scores = -(lin(q, 0)[..., part].unsqueeze(2) * lin(items, 1)[..., part]).sum(-1) / math.sqrt(dh)
            if mask is not None:
                scores = scores + mask
            w = scores.softmax(-1)
            outs.append((w.unsqueeze(-1) * lin(items, 2)[..., part]).sum(2))
            ws.append(w)
        return torch.cat(outs, -1), torch.stack(ws).mean(0)

    feats, scores = {}, {}
    for o, m in zip("rfa", "VFA"):
        p = f"model_{o}."
        h = F.relu(bn(conv(x[m].transpose(1, 2), p + "embedding.0"), p + "embedding.1"))
        h = F.relu(bn(conv(h, p + "embedding.3"), p + "embedding.4"))
        fs = [h]
        for j in (1, 2, 3):
            def g(t, c, p=p, j=j):
                return F.gelu(bn(conv(t, f"{p}stage{j}.{c}.0", 1), f"{p}stage{j}.{c}.1"))

            h = h + g(g(h, "conv1"), "conv2")
            h = halve(h) if j < 3 else gpool(h)
            fs.append(h)
        feats[m] = fs
        scores[m] = torch.sigmoid(conv(h, p + "fc.1")).flatten()
    c = sd["c"].view(1, -1, 1).expand(x["V"].shape[0], -1, feats["V"][1].shape[-1])
    trace = []
    for i in (1, 2, 3):
        s = f"stage{i}."
        pool = gpool if i == 3 else halve
        h = F.relu(bn(conv(c, s + "conv.0", 1), s + "conv.1"))
        h = F.relu(bn(conv(h, s + "conv.3", 1), s + "conv.4"))
        c = h + F.relu(bn(conv(c, s + "short_cut.0"), s + "short_cut.1"))
        prev = [feats[m][i - 1] for m in "VFA"]
        cur = torch.stack([feats[m][i] for m in "VFA"], 2).transpose(1, 3)  # (B, T, 3, d)
        ms, ms_w = attention(s + "s_fusion.fusion_s.", conv(c, s + "s_fusion.proj.0").transpose(1, 2), cur, h=heads[0])
        logits = [conv(F.relu(bn(conv(f, f"{s}f_fusion.proj1.{n}.0"), f"{s}f_fusion.proj1.{n}.1")), f"{s}f_fusion.proj1.{n}.3") for n, f in enumerate(prev)]
        alpha = torch.stack(logits).softmax(0)  # (3, B, K, T)
        outs = []
        for k in range(K):
            mix = sum(alpha[n][:, k : k + 1] * prev[n] for n in range(3))
            y = F.relu(bn(conv(mix, f"{s}f_fusion.ffn.{k}.0", 1), f"{s}f_fusion.ffn.{k}.1"))
            y = F.relu(bn(conv(y, f"{s}f_fusion.ffn.{k}.3", 1), f"{s}f_fusion.ffn.{k}.4"))
            outs.append(pool(mix + y))
        choice = pool(conv(torch.cat(prev, 1), s + "f_fusion.policy.0")).argmax(1)  # (B, T_i)
        mask = torch.where(torch.arange(K).view(1, 1, K) <= choice.unsqueeze(-1), 0.0, -1e9)
        query = -conv(torch.cat([c, ms.transpose(1, 2)], 1), s + "f_fusion.proj2.0")
        cs, cs_w = attention(s + "f_fusion.fusion_f.", query.transpose(1, 2), torch.stack(outs, 1).permute(0, 3, 1, 2), mask, h=heads[1])
        c = torch.cat([c, ms.transpose(1, 2), cs.transpose(1, 2)], 1)
        c = halve(c) if i == 1 else gpool(c) if i == 2 else c
        trace.append((ms_w, choice + 1, cs_w))
    h = F.relu(bn(conv(c, "fc.1"), "fc.2"))
    return torch.sigmoid(conv(h, "fc.5")).flatten(), scores, trace


@pytest.fixture(scope="module")
def converted(official, tmp_path_factory):
    preset, state = official
    tmp = tmp_path_factory.mktemp(f"convert-{preset}")
    torch.save(state, tmp / "official.pth")
    return preset, state, load_checkpoint(convert_official(tmp / "official.pth", tmp / "ck", preset)), tmp / "official.pth"


@pytest.mark.slow
@pytest.mark.parametrize("T", [1, 5, 23])
def test_converted_model_predicts_like_official(converted, T):
    preset, state, ck, _ = converted
    assert ck.config.K == PRESETS[preset][1] and ck.config.label_scale == {"rg": 25.0, "fisv": 45.0}[preset]
    assert ck.meta["source"] == "official" and len(ck.meta["dropped_unused_keys"]) == 12
    assert ck.model.tau.item() == 7.5
    g = torch.Generator().manual_seed(T)
    x = {m: torch.randn(2, T, dim, generator=g) for m, dim in ck.config.input_dims.items()}
    with torch.inference_mode():
        ours = ck.model(x, policy="argmax")
        score, branch_scores, trace = official_forward(state, x, ck.config.K, ck.config.d)
    torch.testing.assert_close(ours.score, score, atol=1e-5, rtol=1e-4)
    assert 0.02 < float(score.min()) and float(score.max()) < 0.98  # not saturated: the comparison means something
    for m in "VFA":
        torch.testing.assert_close(ours.branch_scores[m], branch_scores[m], atol=1e-5, rtol=1e-4)
    for st, (ms_w, count, cs_w) in zip(ours.stages, trace):
        torch.testing.assert_close(st.msfd_weights, ms_w, atol=1e-5, rtol=1e-4)
        assert torch.equal(st.fusion_count, count)
        torch.testing.assert_close(st.cmfd_attention, cs_w, atol=1e-5, rtol=1e-4)


@pytest.mark.slow
def test_cli_convert_and_model_info(converted, tmp_path, capsys):
    preset, _, _, src = converted
    assert main(["convert-official", str(src), str(tmp_path / "out"), "--preset", preset, "--action", "ball"]) == 0
    assert "wrote" in capsys.readouterr().out
    assert load_checkpoint(tmp_path / "out").meta["action"] == "ball"
    assert main(["model-info", "--checkpoint", str(tmp_path / "out"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["parameters"] == {"rg": 22_712_189, "fisv": 17_956_685}[preset]


@pytest.mark.parametrize("preset, expected", [("rg", 22_712_189), ("fisv", 17_956_685)])
def test_model_info_cli(preset, expected, capsys):
    assert main(["model-info", "--preset", preset, "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["parameters"] == expected and info["d"] == 256 and info["K"] == PRESETS[preset][1]
    assert info["input_dims"] == {"V": 1024, "F": 1024, "A": 768}
    parts = info["parameters_by_part"]
    assert sum(parts["branches"].values()) == 5_395_459 and parts["regressor"] == 98_817
    assert sum(parts["branches"].values()) + sum(parts["stages"].values()) + parts["regressor"] + parts["other"] == expected


def test_unknown_and_missing_keys(tmp_path):
    state = fake_official("fisv")
    state["stage1.f_fusion.extra.weight"] = torch.zeros(3)
    del state["stage2.f_fusion.ffn.3.1.running_var"]
    del state["model_a.fc.1.bias"]
    torch.save(state, tmp_path / "bad.pth")
    with pytest.raises(CheckpointError) as err:
        convert_official(tmp_path / "bad.pth", tmp_path / "out", "fisv")
    message = str(err.value)
    assert "stage1.f_fusion.extra.weight" in message
    assert "stage2.f_fusion.ffn.3.1.running_var" in message and "model_a.fc.1.bias" in message
    assert not (tmp_path / "out").exists()


def test_wrong_shape_is_named(tmp_path):
    state = fake_official("fisv")
    state["fc.5.weight"] = torch.zeros(2, 128, 1)
    torch.save(state, tmp_path / "bad.pth")
    with pytest.raises(CheckpointError, match=r"fc.5.weight|regressor.5.weight"):
        convert_official(tmp_path / "bad.pth", tmp_path / "out", "fisv")


class Payload:
    """Stands for arbitrary pickled code."""


@pytest.mark.parametrize("obj", [{"weights": Payload()}, torch.nn.Linear(2, 2)])
def test_refuses_pickled_objects(tmp_path, obj):
    path = tmp_path / "module.pth"
    torch.save(obj, path)
    with pytest.raises(CheckpointError, match="refusing to load"):
        convert_official(path, tmp_path / "out", "rg")


def test_not_a_state_dict(tmp_path):
    (tmp_path / "junk.pth").write_bytes(b"\x00not a torch file")
    with pytest.raises(CheckpointError, match="junk.pth: not a PyTorch file") as info:
        convert_official(tmp_path / "junk.pth", tmp_path / "out", "rg")
    assert "pickle" not in str(info.value).split("(")[0]  # not mistaken for a file of pickled code
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(2)}, str(tmp_path / "ours.pth"))
    with pytest.raises(CheckpointError, match="a safetensors file, not the authors' released .pth"):
        convert_official(tmp_path / "ours.pth", tmp_path / "out", "rg")
    torch.save([torch.zeros(1)], tmp_path / "list.pth")
    with pytest.raises(CheckpointError, match="expected a state_dict"):
        convert_official(tmp_path / "list.pth", tmp_path / "out", "rg")
    with pytest.raises(CheckpointError, match="not found"):
        convert_official(tmp_path / "absent.pth", tmp_path / "out", "rg")


def fake_official_from_preset(preset, seed=0):
    """A released-layout state_dict of ``preset`` made here: our model with random weights
    (non-trivial BatchNorm statistics and tau) written in the official names."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)  # the model's own initialisation: the same whatever ran before
    state = build_model(PAMFNConfig.preset(preset)).state_dict()
    for key, value in state.items():
        if re.search(r"attention\.(query|key)\.weight$", key):
            state[key] = 4 * value  # sharper attention than at initialisation, so the heads visibly matter
        elif key.endswith("running_var"):
            state[key] = torch.rand(value.shape, generator=g) + 0.5
        elif key.endswith("running_mean") or (key.endswith("bias") and value.dim() == 1):
            state[key] = 0.1 * torch.randn(value.shape, generator=g)
    state["tau"] = torch.tensor(7.5)
    return ours_to_official(state, PAMFNConfig.preset(preset).K)


@pytest.fixture(scope="module", params=["rg_feats2", "fisv_feats2"])
def official_feats2(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(f"convert-{request.param}")
    state = fake_official_from_preset(request.param)
    torch.save(state, tmp / "official.pth")
    return request.param, state, tmp / "official.pth"


@pytest.mark.slow
def test_second_feature_set_converts_and_predicts_like_official(official_feats2, tmp_path):
    preset, state, src = official_feats2
    ck = load_checkpoint(convert_official(src, tmp_path / "ck", preset))
    heads = {"rg_feats2": (4, 2), "fisv_feats2": (2, 4)}[preset]
    assert (ck.config.K, ck.config.regressor_ratio) == ({"rg_feats2": 6, "fisv_feats2": 8}[preset], 1)
    assert (ck.config.msfd_heads, ck.config.cmfd_heads) == heads
    assert ck.meta["from_preset_unchecked"] == {"msfd_heads": heads[0], "cmfd_heads": heads[1],
                                                "label_scale": {"rg_feats2": 25.0, "fisv_feats2": 45.0}[preset]}
    assert ck.config.feature_extractors == {"V": "UMT", "F": "I3D", "A": "MAST"}
    x = {m: torch.randn(2, 13, dim, generator=torch.Generator().manual_seed(1)) for m, dim in ck.config.input_dims.items()}
    with torch.inference_mode():
        ours = ck.model(x, policy="argmax")
        score, _, trace = official_forward(state, x, ck.config.K, ck.config.d, heads)
        _, _, one_head = official_forward(state, x, ck.config.K, ck.config.d)
    torch.testing.assert_close(ours.score, score, atol=1e-5, rtol=1e-4)
    # the heads matter: a one-head reading of the same weights attends differently
    assert (one_head[0][0] - trace[0][0]).abs().max() > 5e-3
    for st, (ms_w, count, cs_w) in zip(ours.stages, trace):
        torch.testing.assert_close(st.msfd_weights, ms_w, atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(st.cmfd_attention, cs_w, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("made_as, given, right", [
    ("fisv", "rg", "fisv"),            # the silent 25/45 error of old: now refused
    ("rg", "fisv", "rg"),
    ("rg_feats2", "rg", "rg_feats2"),  # K=6, width d/1: not rg's K=10, d/2
    ("rg_feats2", "fisv", "rg_feats2"),  # same K as fisv, but the regressor width differs
    ("fisv_feats2", "rg_feats2", "fisv_feats2"),
])
def test_preset_contradicting_the_weights_is_refused_naming_the_right_one(made_as, given, right, tmp_path):
    state = fake_official(made_as) if made_as in PRESETS else fake_official_from_preset(made_as)
    torch.save(state, tmp_path / "in.pth")
    with pytest.raises(CheckpointError, match=rf"preset '{given}' expects .*use --preset {right}$"):
        convert_official(tmp_path / "in.pth", tmp_path / "out", given)
    assert not (tmp_path / "out").exists()
    assert main(["convert-official", str(tmp_path / "in.pth"), str(tmp_path / "out"), "--preset", given]) == 2


def test_sizes_no_preset_has_are_refused(tmp_path):
    state = fake_official_from_preset("rg")
    state = ours_to_official(official_to_ours(state, 10)[0], 10)
    for key in [k for k in state if k.startswith("stage") and ".policy." in k]:
        state[key] = state[key][:7]  # K=7 in the policy only: sizes read, then refused
    torch.save(state, tmp_path / "in.pth")
    with pytest.raises(CheckpointError, match="K=7 .*no preset has these sizes"):
        convert_official(tmp_path / "in.pth", tmp_path / "out", "rg")


def test_one_head_attention_is_the_papers_formula_bit_for_bit():
    from pamfn.model.layers import NegatedAttention

    torch.manual_seed(0)
    att = NegatedAttention(16, 0.0).eval()
    q, items = torch.randn(2, 5, 16), torch.randn(2, 5, 3, 16)
    mask = torch.zeros(2, 5, 3).index_fill_(2, torch.tensor([2]), -1e9)
    out, w = att(q, items, mask)
    scores = -torch.einsum("btd,btnd->btn", att.query(q), att.key(items)) * (1.0 / math.sqrt(16)) + mask
    expected_w = scores.softmax(dim=-1)
    assert torch.equal(w, expected_w)
    assert torch.equal(out, torch.einsum("btn,btnd->btd", expected_w, att.value(items)))
