"""The train / evaluate / explain / reproduce / import-official commands end to end on tiny data."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from pamfn.cli import main
from pamfn.routine import RoutineFeatures
from tests.support.toy import write_toy_dataset
from tests.support.train_args import TINY


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return write_toy_dataset(tmp_path_factory.mktemp("cli") / "toy", actions=("ball", "hoop"), n_train=12, n_test=5)


@pytest.fixture(scope="module")
def trained(toy, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "runs"
    assert main(["train", "--data", str(toy), "--action", "all", "--out", str(out), *TINY]) == 0
    return out


def test_train_writes_run_folders_and_a_checkpoint_set(trained):
    assert json.loads((trained / "index.json").read_text()) == {"checkpoints": {"ball": "ball/checkpoint", "hoop": "hoop/checkpoint"}}
    for action in ("ball", "hoop"):
        run = trained / action
        for name in ("config.json", "metrics.csv", "summary.json", "checkpoint/model.safetensors", "checkpoint/config.json",
                     "last/model.safetensors", "branches/V/model.safetensors"):
            assert (run / name).is_file(), name
        metrics = pd.read_csv(run / "metrics.csv")
        assert set(metrics.stage) == {"phase1-V", "phase1-F", "phase1-A", "phase2"}
        assert {"train_loss", "val_rho", "val_mse", "lr"} <= set(metrics.columns)
        config = json.loads((run / "config.json").read_text())
        assert config["train"]["phase2"]["regressor_lr_scale"] == 0.1 and config["model"]["d"] == 8


def test_evaluate_matches_the_run_summary(trained, toy, capsys):
    assert main(["evaluate", "--data", str(toy), "--checkpoint", str(trained), "--json"]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert "scoring the test split" in captured.err and "/10 [" in captured.err  # the progress bar, on stderr
    for action in ("ball", "hoop"):
        summary = json.loads((trained / action / "summary.json").read_text())
        assert result["actions"][action]["rho"] == pytest.approx(summary["final"]["test_selected"]["rho"])
        assert result["actions"][action]["mse"] == pytest.approx(summary["final"]["test_selected"]["mse"])
    rhos = [result["actions"][a]["rho"] for a in ("ball", "hoop")]
    assert result["avg_rho_fisher_z"] == pytest.approx(np.tanh(np.mean(np.arctanh(rhos))))
    assert main(["evaluate", "--data", str(toy), "--checkpoint", str(trained / "ball" / "branches" / "A")]) == 0
    assert "avg (Fisher z)" in capsys.readouterr().out


def test_explain_prints_the_explanation(trained, toy, capsys, tmp_path):
    features = toy / "features" / "hoop_013.npz"
    assert main(["explain", str(features), "--checkpoint", str(trained), "--action", "hoop", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["routine_id"] == "hoop_013" and doc["action"] == "hoop" and 0 <= doc["score"] <= 25
    assert [s["stage"] for s in doc["stages"]] == [1, 2, 3]
    T = RoutineFeatures.load(features).T
    assert doc["stages"][0]["end_s"][-1] == pytest.approx((T // 2) * 2 * 1.28)
    assert np.allclose(np.sum(doc["stages"][1]["msfd_weights"], axis=1), 1.0)
    for stage, policy in zip(doc["stages"], doc["policy"], strict=True):  # Fig. 5's definition per stage
        probs = np.asarray(stage["policy_probs"])
        assert policy["expected_frequency"] == pytest.approx(probs.mean(axis=0), rel=1e-6)
        assert 0 <= policy["entropy"] <= 1 and sum(policy["argmax_frequency"]) == pytest.approx(1.0)
    assert main(["explain", str(features), "--checkpoint", str(trained), "--action", "hoop"]) == 0
    assert "expected FusionNet count" in capsys.readouterr().out
    assert main(["explain", str(features), "--checkpoint", str(trained), "--action", "hoop", "--occlusion", "--draws", "4",
                 "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    windows = doc["windows"]
    assert len(windows) == -(-T // 4) and windows[0]["start_s"] == 0 and windows[-1]["end_s"] == pytest.approx(T * 1.28)
    assert all(set(w) >= {"start_s", "end_s", "impact", "significant"} and isinstance(w["significant"], bool) for w in windows)
    assert all(s["support_start_s"][i] <= s["start_s"][i] for s in doc["stages"] for i in range(len(s["start_s"])))
    assert isinstance(doc["insights"], list)
    assert sum(w["impact"] for w in windows) == pytest.approx(0.0, abs=1e-4)  # swaps: a routine's impacts sum to zero
    short = RoutineFeatures({m: a[:8] for m, a in RoutineFeatures.load(features).features.items()}, routine_id="short")
    short.save(tmp_path / "short.npz")
    assert main(["explain", str(tmp_path / "short.npz"), "--checkpoint", str(trained), "--action", "hoop", "--occlusion",
                 "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["windows"] == [] and "fewer than 3 windows" in captured.err
    assert main(["explain", str(features), "--checkpoint", str(trained)]) == 2
    assert "choose --action" in capsys.readouterr().err


def test_bad_checkpoints_and_dims_are_clear_errors(trained, toy, tmp_path, capsys):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(trained / "ball" / "checkpoint", broken)
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    assert main(["evaluate", "--data", str(toy), "--checkpoint", str(broken)]) == 2
    assert "corrupt or truncated" in capsys.readouterr().err

    other = write_toy_dataset(tmp_path / "other", actions=("ball",), n_train=4, n_test=2, dims={"V": 5, "F": 10, "A": 8})
    assert main(["evaluate", "--data", str(other), "--checkpoint", str(trained)]) == 2
    assert "modality V has 5-dim features" in capsys.readouterr().err


def test_select_on_test_is_labelled_in_the_output(toy, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--data", str(toy), "--action", "ball", "--modalities", "V", "--select-on-test", "--out", str(out), *TINY]) == 0
    printed = capsys.readouterr().out
    assert "selected on TEST set" in printed and "optimistic" in printed
    assert "selected on TEST set" in json.loads((out / "summary.json").read_text())["selection"]


def test_reproduce_table_iv_end_to_end(toy, tmp_path, capsys):
    out = tmp_path / "t4"
    args = ["reproduce", "IV", "--data", str(toy), "--out", str(out), "--rows", "V,A,wf-VFA,ours-VFA", "--action", "ball", *TINY]
    assert main(args) == 0
    table = pd.read_csv(out / "table_IV.csv")
    assert list(table["row"]) == ["RGB", "Audio", "RGB+Flow+Audio", "RGB+Flow+Audio"]
    assert list(table["group"]) == ["Unimodality Methods", "Unimodality Methods", "Weighted Fusion", "Ours"]
    assert table["ball"].between(-1, 1).all() and np.allclose(table["Avg."], table["ball"])
    text = (out / "table_IV.md").read_text()
    assert "Published in the paper" in text and "0.819" in text
    summary = json.loads((out / "runs" / "phase1" / "ball" / "summary.json").read_text())
    assert table.loc[0, "ball"] == pytest.approx(summary["stages"]["phase1-V"]["test_selected"]["rho"])
    assert main(args) == 0  # finished runs are reused, not trained again
    pd.testing.assert_frame_equal(table, pd.read_csv(out / "table_IV.csv"))


def test_reproduce_fig5_writes_the_expected_frequencies(trained, toy, tmp_path, capsys):
    out = tmp_path / "fig5"
    assert main(["reproduce", "fig5", "--data", str(toy), "--checkpoint", str(trained), "--out", str(out), "--quiet"]) == 0
    table = pd.read_csv(out / "fig5.csv")
    assert set(table["method"]) == {"expected", "sampled", "argmax"}
    sums = table.groupby(["method", "action", "stage"])["frequency"].sum()
    assert np.allclose(sums, 1.0)
    assert set(pd.read_csv(out / "fig5_entropy.csv")["stage"]) == {1, 2, 3}
    assert "trivial solution" in (out / "fig5.html").read_text(encoding="utf-8")
    assert "expected frequency" in capsys.readouterr().out
    assert main(["reproduce", "fig5", "--data", str(toy), "--out", str(out)]) == 2
    assert "--checkpoint" in capsys.readouterr().err


def test_import_official_refuses_pickles_without_consent(tmp_path, capsys):
    (tmp_path / "feats").mkdir()
    (tmp_path / "labels" / "RG").mkdir(parents=True)
    for split, video in (("train", "Ball_1"), ("test", "Ball_2")):
        (tmp_path / "labels" / "RG" / f"{split}.txt").write_text(f"name d e total\n{video} 1 1 10\n")
    for key in ("rgb_VST", "flow_I3D", "audio_AST"):
        np.save(tmp_path / "feats" / f"RG_{key}.npy", {v: np.zeros((4, 3), np.float32) for v in ("Ball_1", "Ball_2")},
                allow_pickle=True)
    args = ["import-official", str(tmp_path / "feats"), str(tmp_path / "labels"), str(tmp_path / "out"), "--dataset", "rg"]
    assert main(args) == 2
    assert "--trust-pickle" in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_phase_two_alone_on_existing_branches(trained, toy, tmp_path):
    from safetensors.torch import load_file

    out = tmp_path / "p2"
    args = ["train", "--data", str(toy), "--action", "all", "--phase", "2", "--branches", str(trained), "--out", str(out), *TINY]
    assert main(args) == 0
    config = json.loads((out / "hoop" / "config.json").read_text())
    assert config["branches"] == str(trained / "hoop" / "branches")
    final = load_file(str(out / "hoop" / "checkpoint" / "model.safetensors"))
    branch = load_file(str(trained / "hoop" / "branches" / "F" / "model.safetensors"))
    assert all(torch.allclose(final[k], branch[k], atol=1e-5) for k in branch if k.startswith("branches.F."))
    assert main(["train", "--data", str(toy), "--action", "ball", "--phase", "2", "--out", str(tmp_path / "x"), *TINY]) == 2


def test_second_feature_set_preset_trains_with_its_recipe_and_heads(toy, tmp_path):
    out = tmp_path / "feats2"
    assert main(["train", "--data", str(toy), "--action", "ball", "--preset", "rg_feats2", "--out", str(out), *TINY]) == 0
    config = json.loads((out / "config.json").read_text())
    model, train = config["model"], config["train"]
    assert (model["preset"], model["msfd_heads"], model["cmfd_heads"], model["regressor_ratio"]) == ("rg_feats2", 4, 2, 1)
    assert (train["phase1"]["optimizer"], train["phase1"]["lr"], train["phase1"]["schedule"]) == ("adamw", 1e-3, "none")
    assert (train["phase2"]["lr"], train["phase2"]["regressor_lr_scale"], train["phase2"]["schedule"]) == (8e-4, 1.0, "none")
    assert json.loads((out / "checkpoint" / "config.json").read_text())["config"]["msfd_heads"] == 4


def test_reproduce_with_seeds_writes_means_and_intervals(toy, tmp_path, capsys):
    out = tmp_path / "t4s"
    args = ["reproduce", "IV", "--data", str(toy), "--out", str(out), "--rows", "V,ours-VFA", "--seeds", "2", *TINY]
    assert main(args) == 0
    assert "[" in capsys.readouterr().out
    assert (out / "runs" / "phase1" / "ball").is_dir() and (out / "runs" / "seed1" / "pamfn" / "hoop").is_dir()
    rhos = [json.loads((root / "pamfn" / "ball" / "summary.json").read_text())["final"]["test_selected"]["rho"]
            for root in (out / "runs", out / "runs" / "seed1")]
    table = pd.read_csv(out / "table_IV.csv")
    assert table.loc[1, "ball"] == pytest.approx(np.mean(rhos))  # the cell is the mean over seeds
    iv = pd.read_csv(out / "table_IV_intervals.csv")
    assert set(iv["column"]) == {"ball", "hoop", "Avg."} and (iv["seeds"] == 2).all()
    ours = iv[(iv["key"] == "ours-VFA") & (iv["column"] == "ball")].iloc[0]
    assert ours["lo"] <= ours["mean"] <= ours["hi"] and ours["paper"] == 0.757
    rgb = iv[iv["key"] == "V"]
    assert (rgb["diff_vs"] == "RGB+Flow+Audio").all() and rgb["diff_lo"].le(rgb["diff_hi"]).all()
    text = (out / "table_IV.md").read_text()
    assert "bootstrap over test routines and training seeds" in text and "mean over 2 seed(s) (0, 1)" in text
    # a run finished before summaries kept their predictions is scored again from its checkpoint
    path = out / "runs" / "seed1" / "pamfn" / "hoop" / "summary.json"
    summary = json.loads(path.read_text())
    del summary["final"]["test_selected"]["predictions"]
    path.write_text(json.dumps(summary))
    assert main(args) == 0
    again = pd.read_csv(out / "table_IV_intervals.csv")
    pd.testing.assert_frame_equal(again[["key", "column", "mean"]], iv[["key", "column", "mean"]], atol=1e-5)
    assert main([*args[:-len(TINY)], "--seeds", "0", *TINY]) == 2


def test_reproduce_fig6_trains_each_K_and_writes_the_figure(toy, tmp_path):
    out = tmp_path / "f6"
    assert main(["reproduce", "fig6", "--data", str(toy), "--out", str(out), "--K", "1,3", "--action", "ball", *TINY[:2], *TINY[4:]]) == 0
    assert sorted(p.name for p in (out / "runs").iterdir()) == ["K=1", "K=3", "phase1"]
    assert json.loads((out / "runs" / "K=3" / "ball" / "config.json").read_text())["model"]["K"] == 3
    iv = pd.read_csv(out / "table_fig6_intervals.csv")
    assert list(iv["key"].unique()) == ["K=1", "K=3"]
    html = (out / "fig6.html").read_text()
    assert "Number of FusionNets K" in html and "plotly" in html
    assert main(["reproduce", "IV", "--data", str(toy), "--out", str(tmp_path / "x"), "--K", "1,2"]) == 2
