"""The weight average: the recurrence it follows, the swap it makes, what selection keeps."""

import pytest
import torch
from torch import nn

from pamfn.data import SplitTensors, load_dataset, validation_split
from pamfn.errors import ConfigError
from pamfn.model import PAMFNConfig, build_model
from pamfn.train import override_phase, train_preset
from pamfn.train.average import WeightAverage
from pamfn.train.loop import Stage, fit
from tests.support.toy import write_toy_dataset


def test_the_average_weights_each_step_by_its_decay_from_the_first_on():
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    average = WeightAverage(model, 0.9)
    seen = []
    for _ in range(20):
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn_like(p))
        model(torch.randn(4, 3))  # moves the batch-norm statistics and its step counter
        seen.append({k: v.clone() for k, v in model.state_dict().items()})
        average.update(model)
    w = torch.tensor([0.9 ** (19 - i) for i in range(20)], dtype=torch.float64)
    w = w / w.sum()
    got = average.averaged()
    for k, v in initial.items():
        if v.is_floating_point():
            expected = sum(float(w[i]) * seen[i][k] for i in range(20))
            assert torch.allclose(got[k], expected, atol=1e-5), k
    assert got["1.num_batches_tracked"].item() == 20
    one = WeightAverage(model, 0.99)
    one.update(model)
    assert all(torch.allclose(one.averaged()[k], v) for k, v in model.state_dict().items())  # never the initial weights


def test_an_entry_that_never_changes_comes_back_exactly():
    model = nn.Linear(64, 64)
    average = WeightAverage(model, 0.995)
    for _ in range(800):
        average.update(model)
    got = average.averaged()
    assert all(torch.equal(got[k], v) and got[k].dtype == v.dtype for k, v in model.state_dict().items())


def test_swapped_in_restores_the_raw_weights_even_after_an_error():
    model = nn.Linear(3, 2)
    raw = {k: v.clone() for k, v in model.state_dict().items()}
    average = WeightAverage(model, 0.5)
    average.update(model)
    average.state["weight"].fill_(3.5)  # normalised by 1 - 0.5: 7
    with pytest.raises(RuntimeError), average.swapped_in(model):
        assert torch.all(model.weight == 7.0)
        raise RuntimeError("boom")
    assert all(torch.equal(model.state_dict()[k], raw[k]) for k in raw)


@pytest.mark.parametrize("decay", [-0.1, 1.0])
def test_a_decay_outside_its_range_is_refused(decay):
    with pytest.raises(ConfigError, match="ema_decay must lie in"):
        override_phase(train_preset("rg").phase2, {"ema_decay": decay})


def test_fit_selects_and_returns_the_averaged_weights(tmp_path):
    data = load_dataset(write_toy_dataset(tmp_path / "toy", actions=("ball",), n_train=16, n_test=4))
    torch.manual_seed(0)
    cfg = PAMFNConfig.preset("rg", d=8, K=2, input_dims=data.dims, label_scale=data.label_scale, modalities=("V",))
    model = build_model(cfg)
    recipe = override_phase(train_preset("rg").phase2, {"epochs": 1, "batch_size": 4, "lr": 1e-2, "ema_decay": 0.5})
    stage = Stage("unimodal", model, lambda f: model(f).score, [{"params": list(model.parameters()), "lr_scale": 1.0}],
                  recipe, 1, model.train, model.eval)
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    train, val = validation_split(data.select("ball", "train"), 0.25, 0)
    result = fit(stage, SplitTensors(data, train, min_length=12), SplitTensors(data, val), crop=12, seed=0,
                 state_dir=tmp_path / "state", save_every=100, progress=False)
    raw = model.state_dict()
    moved = [k for k, v in raw.items() if v.is_floating_point() and not torch.equal(v, initial[k])]
    assert moved
    for k in moved:  # strictly between where the weights started and where they ended
        kept = result.best_state[k]
        assert not torch.equal(kept, raw[k]) and not torch.equal(kept, initial[k]), k


def test_a_run_made_before_the_average_existed_is_still_the_same_run():
    recipe = train_preset("rg")
    assert "ema_decay" not in recipe.phase2.to_dict()
    assert override_phase(recipe.phase2, {"ema_decay": 0.9}).to_dict()["ema_decay"] == 0.9
    assert type(recipe).from_dict(recipe.to_dict()) == recipe
