"""Work stopped by a signal, or done twice at once: a SIGTERM stops a command through its
cleanups like Ctrl-C; a run folder or batch folder is written by one process at a time;
what a killed process left is removed by the next run that holds the folder."""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pamfn.cli import main
from pamfn.locks import exclusive_lock
from tests.support.toy import write_toy_dataset
from tests.support.train_args import TINY

ROOT = Path(__file__).resolve().parents[1]
UMASK = os.umask(0o022)
os.umask(UMASK)  # reading the umask means setting it


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return write_toy_dataset(tmp_path_factory.mktemp("stop") / "toy", actions=("ball",), n_train=10, n_test=4)


TEMPORARY = re.compile(r"\..+\.[a-z0-9_]+\.(part(\.\w+)?|old)")
"""A hidden temporary of an atomic write (``pamfn.atomic.temporary_of``), of any name."""


def _temporaries(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob(".*") if TEMPORARY.fullmatch(p.name))


def _train(toy: Path, out: Path, *extra: str) -> list[str]:
    return ["train", "--data", str(toy), "--action", "ball", "--out", str(out), *TINY, *extra]


@pytest.mark.slow
def test_a_sigterm_stops_training_like_ctrl_c_and_the_same_command_resumes(toy, tmp_path):
    """`kill`, `timeout` or a scheduler used to end the process on the spot: no message,
    exit -15, and the temporaries of the write in progress left in the run folder."""
    out = tmp_path / "run"
    args = _train(toy, out, "--epochs1", "400", "--save-every", "1")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
    run = subprocess.Popen([sys.executable, "-m", "pamfn", *args], env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (out / "state").is_dir():
        assert time.monotonic() < deadline and run.poll() is None, "training never saved a state"
        time.sleep(0.05)
    run.send_signal(signal.SIGTERM)
    _, err = run.communicate(timeout=60)
    assert run.returncode == 128 + signal.SIGTERM, err
    assert err.strip().splitlines()[-1] == ("interrupted by SIGTERM: the same command again resumes from the last "
                                            "saved epoch"), err
    assert "Traceback" not in err and _temporaries(out) == []
    assert not (out / "summary.json").exists()
    assert main(args) == 0 and (out / "summary.json").is_file()


def test_a_second_training_into_one_run_folder_is_refused(toy, tmp_path, capsys):
    """Two runs into one folder used to race: one crashed with a traceback, and the finished
    folder's metrics.csv could come out short."""
    out = tmp_path / "run"
    out.mkdir()
    with exclusive_lock(out):  # another process training there
        assert main(_train(toy, out)) == 2
    err = capsys.readouterr().err
    assert "another process is training into this run folder" in err and len(err.strip().splitlines()) == 1
    assert list(out.iterdir()) == [], "nothing written"
    assert main(_train(toy, out)) == 0


def test_what_a_killed_run_left_is_removed_when_the_run_goes_on(toy, tmp_path, capsys):
    out = tmp_path / "run"
    (out / "branches" / ".V.q2q0gmt_.part").mkdir(parents=True)
    (out / ".checkpoint.6ttbavkx.part").mkdir()
    (out / ".metrics.csv.9eacxnfc.part.csv").write_text("epoch\n")
    mine = [out / ".notes", out / ".bashrc.old", out / "exp" / ".metrics.csv.abc123.part.csv"]
    for path in mine:  # not temporaries of this run's writes (the last: another run's, in a folder below)
        path.parent.mkdir(exist_ok=True)
        path.write_text("mine")
    assert main(_train(toy, out)) == 0
    assert _temporaries(out) == [str(mine[-1].relative_to(out))] and all(p.read_text() == "mine" for p in mine)
    assert main(_train(toy, out)) == 0
    assert "holds a finished run: not trained again" in capsys.readouterr().err


def test_lock_is_held_by_one_process_at_a_time(tmp_path):
    with exclusive_lock(tmp_path, wait=False) as first, exclusive_lock(tmp_path, wait=False) as second:
        assert first and not second
    with exclusive_lock(tmp_path, wait=False) as again:
        assert again, "released with its block"


def test_an_interrupted_batch_leaves_the_earlier_one_whole(tmp_path):
    """`explain --data` wrote straight into the folder: a rerun stopped half way mixed two
    checkpoints' explanations under the earlier manifest, and a smaller batch kept the
    earlier one's other files."""
    from pamfn.batch_explain import MANIFEST, explain_batch
    from pamfn.engines import make_engine
    from pamfn.errors import OutputError
    from pamfn.serving import CheckpointSet
    from tests.test_serving import make_catalog, make_set

    ckpts = CheckpointSet(make_set(tmp_path / "set", ("ball",)))
    catalog = make_catalog(tmp_path / "data", [("ball", 20)] * 10)
    batch = tmp_path / "batch"
    explain_batch(catalog, ckpts, batch, make_engine("local"))
    before = {p.relative_to(batch): p.read_bytes() for p in batch.rglob("*") if p.is_file()}

    def stop(done: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        explain_batch(catalog, ckpts, batch, make_engine("local"), on_done=stop)
    assert {p.relative_to(batch): p.read_bytes() for p in batch.rglob("*") if p.is_file()} == before
    with exclusive_lock(batch), pytest.raises(OutputError, match="another process is writing a batch there"):
        explain_batch(catalog, ckpts, batch, make_engine("local"))
    (batch / ".explanations.x1y2z3.part").mkdir()  # what a killed run leaves
    smaller = make_catalog(tmp_path / "fewer", [("ball", 20)] * 3)
    explain_batch(smaller, ckpts, batch, make_engine("local"))
    assert sorted(p.name for p in (batch / "explanations").iterdir()) == ["r0.json", "r1.json", "r2.json"]
    assert json.loads((batch / MANIFEST).read_text())["routines"] == 3 and _temporaries(batch) == []
    assert stat.S_IMODE((batch / "explanations").stat().st_mode) == 0o777 & ~UMASK, "the umask's mode, not mkdtemp's"


def test_progress_bars_name_the_run_they_belong_to(toy, tmp_path, capsys):
    """Bars said only "phase1-V" or "phase2": with several actions or a reproduce table, not
    which run was training."""
    assert main([a for a in _train(toy, tmp_path / "run") if a != "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "ball phase1-V" in err and "ball phase2" in err


def test_a_signal_the_process_ignores_stays_ignored(monkeypatch):
    """`nohup pamfn train ... &` ignores SIGHUP, so a closed terminal does not stop it."""
    from pamfn.cli import Stopped, _stopped_by_signals

    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        with _stopped_by_signals():
            os.kill(os.getpid(), signal.SIGHUP)  # ignored
            with pytest.raises(Stopped, match="SIGTERM"):
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(5)  # the handler runs at the next bytecode
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, previous)


def test_a_sigterm_a_library_turns_into_ctrl_c_is_still_named(monkeypatch, capsys):
    """Ray's waits catch the SIGTERM's exception and raise a plain KeyboardInterrupt: the
    command said "interrupted" and exited 130, as if Ctrl-C had been pressed."""
    from pamfn.cli import Stopped
    from pamfn.commands import model_info

    def run(args) -> int:
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
        except Stopped:
            raise KeyboardInterrupt from None
        return 0

    monkeypatch.setattr(model_info, "run", run)
    assert main(["model-info", "--preset", "rg"]) == 128 + signal.SIGTERM
    assert capsys.readouterr().err.strip() == "interrupted by SIGTERM"
