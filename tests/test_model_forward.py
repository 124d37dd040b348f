"""PAMFN forward: shapes, traces, decisions, gradients, validation, fast vs reference path."""

import copy

import pytest
import torch

from pamfn.errors import ConfigError, FeatureError
from pamfn.explanation import stage_spans
from pamfn.model import PAMFN, ModalityBranch, PAMFNConfig, PAMFNOutput, build_model, set_fast_fusionnets
from pamfn.model.fusion import decide, decision_mask
from pamfn.model.layers import halve_time

torch.set_num_threads(1)  # the CI machine has 2 shared cores; OpenMP spinning across busy cores is slow

DIMS = {"V": 12, "F": 10, "A": 8}


def small_cfg(**kw):
    return PAMFNConfig.preset("rg", **{"d": 16, "K": 5, "input_dims": DIMS, **kw})


def inputs(B, T, seed=0, dims=DIMS):
    g = torch.Generator().manual_seed(seed)
    return {m: torch.randn(B, T, d, generator=g) for m, d in dims.items()}


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_model(small_cfg()).eval()


@pytest.mark.parametrize("T", [1, 2, 3, 70, 131, 500])
def test_shapes_and_traces(model, T):
    out = model(inputs(2, T))
    assert isinstance(out, PAMFNOutput)
    assert out.score.shape == (2,) and ((out.score >= 0) & (out.score <= 1)).all()
    assert set(out.branch_scores) == {"V", "F", "A"} and all(s.shape == (2,) for s in out.branch_scores.values())
    steps = [len(start) for start, _ in stage_spans(T, 1.28)]
    assert [s.stage for s in out.stages] == [1, 2, 3]
    for trace, n in zip(out.stages, steps):
        assert trace.msfd_weights.shape == (2, n, 3)
        assert trace.policy_probs.shape == (2, n, 5)
        assert trace.fusion_count.shape == (2, n) and trace.fusion_count.dtype == torch.int64
        assert ((trace.fusion_count >= 1) & (trace.fusion_count <= 5)).all()
        assert trace.fusion_weights.shape == (2, n, 5, 3)
        assert trace.cmfd_attention.shape == (2, n, 5)
        torch.testing.assert_close(trace.msfd_weights.sum(-1), torch.ones(2, n))
        torch.testing.assert_close(trace.fusion_weights.sum(-1), torch.ones(2, n, 5))
        torch.testing.assert_close(trace.policy_probs.sum(-1), torch.ones(2, n))


def test_four_d_input_is_averaged(model):
    x = inputs(1, 9)
    x4 = {m: torch.stack([v + 1, v - 1], dim=2) for m, v in x.items()}
    torch.testing.assert_close(model(x4).score, model(x).score)


def test_branch_alone():
    branch = ModalityBranch(12, 16, 0.5).eval()
    score, feats = branch(torch.randn(3, 11, 12))
    assert score.shape == (3,)
    assert [tuple(f.shape) for f in feats] == [(3, 16, 11), (3, 16, 5), (3, 16, 2), (3, 16, 1)]


def test_ranked_mask_enables_first_count():
    K = 6
    index = torch.arange(K).view(1, K)
    one_hot = torch.nn.functional.one_hot(index, K).float()
    mask, enabled = decision_mask(index, one_hot, "ranked", -1e9)
    for j in range(K):
        assert enabled[0, j].tolist() == [k <= j for k in range(K)]
        assert mask[0, j].tolist() == [0.0 if k <= j else -1e9 for k in range(K)]
    _, enabled = decision_mask(index, one_hot, "unranked", -1e9)
    assert torch.equal(enabled[0], torch.eye(K, dtype=torch.bool))


def test_model_mask_matches_count_and_zeroes_attention(model):
    out = model(inputs(2, 40, seed=3))
    for trace in out.stages:
        assert torch.equal(trace.enabled.sum(-1), trace.fusion_count)
        ranks = torch.arange(5)
        assert torch.equal(trace.enabled, ranks < trace.fusion_count.unsqueeze(-1))
        assert (trace.cmfd_attention[~trace.enabled] == 0).all()
        assert (trace.cmfd_attention[trace.enabled] > 0).all()


def test_gradients_reach_policynet_and_tau():
    torch.manual_seed(1)
    m = build_model(small_cfg())
    m.set_phase2_mode()
    out = m(inputs(4, 24), policy="gumbel")
    ((out.score - 0.5) ** 2).mean().backward()
    assert m.tau.grad is not None and torch.isfinite(m.tau.grad) and m.tau.grad != 0
    for stage in m.stages:
        grad = stage.afm.policy_net.conv.weight.grad
        assert grad is not None and grad.abs().sum() > 0
    assert m.tau.item() == pytest.approx(10.0)
    # V and F are frozen (detached, no grad), A is fine-tuned.
    assert m.branches["V"].embedding[0].weight.grad is None
    assert m.branches["A"].embedding[0].weight.grad.abs().sum() > 0


def test_decide_straight_through():
    logits = torch.randn(2, 3, 4, requires_grad=True)
    tau = torch.tensor(10.0, requires_grad=True)
    index, one_hot = decide(logits, tau, "gumbel", torch.Generator().manual_seed(0))
    assert torch.equal(one_hot.detach(), torch.nn.functional.one_hot(index, 4).float())
    (one_hot * torch.arange(4.0)).sum().backward()
    assert logits.grad.abs().sum() > 0 and tau.grad != 0


def test_deterministic_repeats_and_sampling_varies(model):
    x = inputs(1, 60, seed=5)
    a, b = model(x, policy="argmax"), model(x, policy="argmax")
    assert torch.equal(a.score, b.score)
    assert all(torch.equal(s.fusion_count, t.fusion_count) for s, t in zip(a.stages, b.stages))
    counts = []
    for seed in range(4):
        s1 = model(x, policy="sample", generator=torch.Generator().manual_seed(seed))
        s2 = model(x, policy="sample", generator=torch.Generator().manual_seed(seed))
        assert torch.equal(s1.score, s2.score)
        counts.append(s1.stages[0].fusion_count)
    assert any(not torch.equal(counts[0], c) for c in counts[1:])


def test_auto_policy_is_argmax_in_eval(model):
    x = inputs(1, 30)
    assert torch.equal(model(x).score, model(x, policy="argmax").score)
    with pytest.raises(ValueError, match="policy"):
        model(x, policy="greedy")


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"V": torch.randn(1, 8, 11), "F": torch.randn(1, 8, 10), "A": torch.randn(1, 8, 8)}, r"modality V: expected feature dim 12, got 11"),
        ({"V": torch.randn(1, 8, 12), "F": torch.randn(1, 9, 10), "A": torch.randn(1, 8, 8)}, "same T"),
        ({"V": torch.full((1, 8, 12), float("nan")), "F": torch.randn(1, 8, 10), "A": torch.randn(1, 8, 8)}, "modality V: .*NaN"),
        ({"V": torch.randn(1, 8, 12), "F": torch.randn(1, 8, 10), "A": torch.full((1, 8, 8), float("inf"))}, "modality A: .*infinite"),
        ({"V": torch.randn(1, 8, 12), "F": torch.randn(1, 8, 10)}, r"lacks modalities \['A'\]"),
        ({"V": torch.randn(8, 12), "F": torch.randn(1, 8, 10), "A": torch.randn(1, 8, 8)}, "modality V: expected shape"),
        ({"V": torch.randn(1, 0, 12), "F": torch.randn(1, 0, 10), "A": torch.randn(1, 0, 8)}, "empty"),
    ],
)
def test_bad_input_raises_feature_error(model, bad, message):
    with pytest.raises(FeatureError, match=message):
        model(bad)


def test_fast_equals_reference_train_and_eval():
    torch.manual_seed(2)
    fast = build_model(small_cfg())
    ref = copy.deepcopy(fast)
    set_fast_fusionnets(ref, False)
    assert set(build_model(small_cfg(fast_fusionnets=False)).state_dict()) == set(fast.state_dict())
    x = inputs(3, 21, seed=7)
    for m in (fast, ref):
        m.set_phase2_mode()
    torch.manual_seed(9)
    a = fast(x, policy="argmax")
    torch.manual_seed(9)
    b = ref(x, policy="argmax")
    torch.testing.assert_close(a.score, b.score)
    a.score.sum().backward()
    b.score.sum().backward()
    for (name, p), q in zip(fast.named_parameters(), ref.parameters()):
        if p.grad is not None:
            torch.testing.assert_close(p.grad, q.grad, msg=name, atol=1e-5, rtol=1e-4)
    for (name, buf), other in zip(fast.named_buffers(), ref.buffers()):
        torch.testing.assert_close(buf, other, msg=name)
    fast.eval(), ref.eval()
    torch.testing.assert_close(fast(x).score, ref(x).score)


def test_phase2_mode_holds_frozen_branches_in_eval():
    m = build_model(small_cfg())
    m.set_phase2_mode()
    m.train()
    assert m.training and m.stages[0].training and m.branches["A"].training
    assert not m.branches["V"].training and not m.branches["F"].training
    assert not any(p.requires_grad for p in m.branches["V"].parameters())
    before = m.branches["V"].embedding[1].running_mean.clone()
    m(inputs(2, 12))
    assert torch.equal(before, m.branches["V"].embedding[1].running_mean)
    m.set_phase2_mode(False)
    assert m.branches["V"].training and all(p.requires_grad for p in m.branches["V"].parameters())


VARIANTS = (
    [{"fusionnets": f} for f in ("unranked", "free")]
    + [{"msfd": a, "cmfd": b} for a in ("attention", "none", "weighted") for b in ("attention", "none", "weighted") if (a, b) != ("none", "none")]
    + [{"fusion_stages": 1}, {"fusion_stages": 2}, {"training": "one_stage"}]
    + [{"msfd_heads": 2, "cmfd_heads": 4, "regressor_ratio": 1}, {"msfd_heads": 4, "msfd": "attention", "cmfd": "weighted"}]
    + [{"modalities": m} for m in (("V",), ("F",), ("A",), ("V", "F"), ("V", "A"), ("F", "A"))]
    + [{"model": "late_fusion", "fusion": f, "training": t} for f in ("avg", "cat", "weighted", "attention") for t in ("one_stage", "two_stage")]
)


def test_the_variants_cover_every_choice_of_the_registry():
    from pamfn.presets import VARIANTS as CHOICES

    for name, choices in CHOICES.items():
        covered = {getattr(PAMFNConfig(), name)} | {v[name] for v in VARIANTS if name in v}
        assert covered == set(choices), name


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: "-".join(f"{k}={v[k]}" for k in v))
def test_variant_forward_backward(variant):
    cfg = small_cfg(**variant)
    assert PAMFNConfig.from_dict(cfg.to_dict()) == cfg
    torch.manual_seed(0)
    m = build_model(cfg)
    m.set_phase2_mode()
    out = m(inputs(2, 5), policy="auto")
    assert out.score.shape == (2,)
    assert set(out.branch_scores) == set(cfg.modalities)
    loss = ((out.score - 0.5) ** 2).sum()
    loss.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in m.regressor.parameters())
    if isinstance(m, PAMFN):
        assert len(out.stages) == cfg.fusion_stages
        for trace in out.stages:
            assert (trace.msfd_weights is None) == (cfg.msfd == "none")
            assert (trace.cmfd_attention is None) == (cfg.cmfd == "none")
            free_or_none = cfg.fusionnets == "free" or cfg.cmfd == "none"
            assert (trace.fusion_count is None) == free_or_none
            if trace.msfd_weights is not None:
                absent = [i for i, mod in enumerate("VFA") if mod not in cfg.modalities]
                assert (trace.msfd_weights[..., absent] == 0).all()
                torch.testing.assert_close(trace.msfd_weights.sum(-1), torch.ones_like(trace.msfd_weights[..., 0]))
            if cfg.fusionnets == "unranked" and trace.enabled is not None:
                assert (trace.enabled.sum(-1) == 1).all()
    else:
        assert out.stages == []
    m.eval()
    assert m(inputs(1, 3)).score.shape == (1,)


def test_unimodal_ignores_other_modalities_and_validates_its_own():
    m = build_model(small_cfg(modalities=("V",))).eval()
    assert list(m.branches) == ["V"] and m.regressor is m.branches["V"].regressor
    m(inputs(1, 4))
    with pytest.raises(FeatureError, match="modality V"):
        m({"V": torch.randn(1, 4, 3)})


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"fusionnets": "sorted"}, "fusionnets"),
        ({"msfd": "none", "cmfd": "none"}, "both MSFD and CMFD"),
        ({"modalities": ()}, "at least one"),
        ({"fusion_stages": 4}, "fusion_stages"),
        ({"model": "late_fusion", "modalities": ("V",)}, "two modalities"),
        ({"d": 15}, "even d"),
        ({"mask_value": -5.0}, "mask_value"),
        ({"msfd_heads": 3}, "msfd_heads=3 must be a positive divisor"),
        ({"regressor_ratio": 0}, "regressor_ratio"),
    ],
)
def test_bad_config(overrides, message):
    with pytest.raises(ConfigError, match=message):
        small_cfg(**overrides)
    with pytest.raises(ConfigError, match="unknown preset"):
        PAMFNConfig.preset("diving")
    with pytest.raises(ConfigError, match="unknown model config fields"):
        PAMFNConfig.from_dict({"K": 3, "heads": 2})


@pytest.mark.parametrize("preset, expected, K, scale", [("rg", 22_712_189, 10, 25.0), ("fisv", 17_956_685, 6, 45.0)])
def test_parameter_counts(preset, expected, K, scale):
    cfg = PAMFNConfig.preset(preset)
    assert (cfg.K, cfg.d, cfg.label_scale, cfg.input_dims) == (K, 256, scale, {"V": 1024, "F": 1024, "A": 768})
    m = build_model(cfg)
    assert sum(p.numel() for p in m.parameters()) == expected
    assert sum(p.numel() for p in m.branches.parameters()) == 5_395_459
    assert sum(p.numel() for p in m.regressor.parameters()) == 98_817
    assert m.init_mixed.numel() == 768 and not m.init_mixed.requires_grad


def test_skipping_disabled_fusionnets_is_exact(model):
    afms = [stage.afm for stage in model.stages]
    skipped = 0
    for seed in range(6):
        x = inputs(1, 3, seed=seed)
        for afm in afms:
            afm.skip_disabled = False
        full = model(x)
        for afm in afms:
            afm.skip_disabled = True
        fast = model(x)
        assert torch.equal(full.score, fast.score)
        for a, b in zip(full.stages, fast.stages):
            assert torch.equal(a.cmfd_attention, b.cmfd_attention) and torch.equal(a.fusion_count, b.fusion_count)
        skipped += sum(int(t.fusion_count.max()) < 5 for t in fast.stages)
    assert skipped > 0  # some stage really ran fewer than K FusionNets


@pytest.mark.parametrize("fast", [True, False])
def test_fusionnets_prefix(model, fast):
    nets = model.stages[0].afm.fusion_nets
    nets.fast = fast
    prev = [torch.randn(2, 16, 9) for _ in range(3)]
    full, alpha = nets(prev, halve_time)
    part, alpha2 = nets(prev, halve_time, active=2)
    nets.fast = True
    torch.testing.assert_close(part[:, :, :2], full[:, :, :2])
    assert (part[:, :, 2:] == 0).all() and torch.equal(alpha, alpha2)
