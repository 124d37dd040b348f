"""``pamfn train``'s options: every value a run could not use is refused before any work,
with one line naming the option and what it needs, and leaves no run folder."""

from __future__ import annotations

import pytest

from pamfn.cli import main
from tests.support.toy import write_toy_dataset


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return write_toy_dataset(tmp_path_factory.mktemp("toy") / "toy", actions=("ball",), n_train=8, n_test=4)


@pytest.mark.parametrize(("option", "message"), [
    (["--set", "lr=0.1"], "--set lr=0.1: no such key; the keys of --set are preset, K, d,"),
    (["--set", "d=3.5"], "--set d=3.5: d needs a whole number"),
    (["--set", "feat_dropout=1.5"], "config field feat_dropout=1.5 must lie in [0, 1)"),
    (["--set", "tau_init=0"], "tau_init=0 (the Gumbel-softmax temperature) must be above 0"),
    (["--set", "modalities=VQ"], "config field modalities names ['Q']"),
    (["--modalities", "FX"], "config field modalities names ['X']"),
    (["--p1", "nosuch=3"], "--p1 nosuch=3: no such key; the keys of --p1 are optimizer, lr,"),
    (["--p1", "lr=abc"], "--p1 lr='abc': lr needs a number"),
    (["--p2", "epochs=2.5"], "--p2 epochs=2.5: epochs needs a whole number"),
    (["--p2", "clip=0"], "clip must be a number above 0, got 0"),
    (["--epochs1", "0"], "epochs must be a whole number of at least 1, got 0"),
    (["--batch-size", "-1"], "batch_size must be a whole number of at least 1, got -1"),
    (["--crop", "0"], "crop must be a whole number of at least 1, got 0"),
    (["--eval-every", "0"], "eval_every must be a whole number of at least 1, got 0"),
    (["--save-every", "0"], "save_every must be a whole number of at least 1, got 0"),
], ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_a_value_no_run_can_use_is_refused_before_the_work(toy, tmp_path, capsys, option, message):
    out = tmp_path / "run"
    assert main(["train", "--data", str(toy), "--action", "ball", "--out", str(out), "--quiet", *option]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize(("option", "message"), [
    (["--threads", "0"], "argument --threads: expected a whole number of at least 1, got '0'"),
    (["--epochs-scale", "nan"], "argument --epochs-scale: expected a number above 0, got 'nan'"),
])
def test_options_argparse_refuses(toy, tmp_path, capsys, option, message):
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--data", str(toy), "--action", "ball", "--out", str(tmp_path / "run"), *option])
    assert exit_.value.code == 2 and message in capsys.readouterr().err


def test_highlight_training_reads_the_same_checked_options(toy, tmp_path, capsys):
    args = ["train", "--task", "highlight", "--data", str(toy), "--action", "ball", "--out", str(tmp_path / "h"), "--quiet"]
    assert main([*args, "--p2", "nosuch=1"]) == 2
    assert "--p2 nosuch=1: no such key" in capsys.readouterr().err
    assert main([*args, "--crop", "0"]) == 2
    assert "crop must be a whole number of at least 1, got 0" in capsys.readouterr().err


def test_a_training_split_too_small_to_train_on_is_named(tmp_path, capsys):
    small = write_toy_dataset(tmp_path / "small", actions=("ball",), n_train=2, n_test=2)
    out = tmp_path / "run"
    assert main(["train", "--data", str(small), "--action", "ball", "--out", str(out), "--quiet", "--epochs1", "1"]) == 2
    err = capsys.readouterr().err
    assert "action 'ball' leaves 1 routine to train on (2 in its training split, 1 kept to select the epoch)" in err
    assert "Traceback" not in err and not out.exists()
