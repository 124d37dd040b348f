"""The Ray engine against the local one on tiny generated data, with one local Ray
(2 CPUs) shared by the module: the same feature files bit for bit, a corrupt video in the
failures table, a killed worker retried with the same result and no partial file."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import psutil
import pytest

from pamfn.cli import main
from tests.support.media import write_test_video

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def engine():
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    from pamfn.engines.ray import RayEngine

    before = signal.getsignal(signal.SIGTERM)
    eng = RayEngine(num_cpus=2)
    # ray.init replaced it with an exit that skipped the command's cleanups and message
    assert signal.getsignal(signal.SIGTERM) is before
    yield eng
    ray.shutdown()


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("videos")
    write_test_video(src / "a.mp4", 3)
    (src / "sub").mkdir()
    write_test_video(src / "sub" / "b.mkv", 4, (200, 150), audio=False)
    write_test_video(src / "c.mov", 2)
    (src / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(4000))
    return src


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_extract_on_ray_writes_the_local_files_and_lists_the_corrupt_video(engine, videos, tmp_path, capsys):
    local, remote = tmp_path / "local", tmp_path / "ray"
    assert main(["extract", str(videos), "-o", str(local), "--quiet"]) == 1
    assert main(["extract", str(videos), "-o", str(remote), "--quiet", "--engine", "ray"]) == 1
    out = capsys.readouterr()
    assert "3 extracted, 0 cached, 1 failed" in out.out and "corrupt.mp4" in out.err
    got, want = _files(remote), _files(local)
    assert sorted(got) == ["a.npz", "c.npz", "failures.csv", "sub/b.npz"]
    assert got == want  # bit for bit, the failures table included
    assert "corrupt.mp4" in got["failures.csv"].decode() and "not a readable video" in got["failures.csv"].decode()
    assert main(["extract", str(videos), "-o", str(remote), "--quiet", "--engine", "ray"]) == 1
    assert "0 extracted, 3 cached, 1 failed" in capsys.readouterr().out


def test_the_local_engine_imports_no_ray(videos, tmp_path):
    import subprocess
    import sys

    code = ("import sys; from pamfn.cli import main; "
            f"main(['extract', {str(videos)!r}, '-o', {str(tmp_path)!r}, '--quiet']); "
            "assert 'ray' not in sys.modules, 'the local engine imported Ray'")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "a.npz").is_file()


def test_staged_extraction_decodes_in_tasks_and_extracts_in_workers(engine, videos, tmp_path):
    """The --device cuda path (CPU decode tasks feeding extractor actors), run on CPU."""
    from pamfn.commands.extract import output_paths, videos_in
    from pamfn.engines import Failure
    from pamfn.features.batch import ExtractJob, FeatureWorker, decode_job, extract_job
    from pamfn.features.pipeline import extractor_versions

    found = videos_in(videos)
    jobs = [ExtractJob(str(v), str(o), "lite", extractor_versions("lite")) for v, o in output_paths(found, videos, tmp_path).items()]
    staged = dict(engine.map_staged(decode_job, jobs, lambda: FeatureWorker("lite", "cpu"), workers=1))  # 1 CPU left to decode
    for i, job in enumerate(jobs):
        if job.video.endswith("corrupt.mp4"):
            assert isinstance(staged[i], Failure) and "corrupt.mp4" in staged[i].reason
        else:
            want = extract_job(job)
            assert staged[i].metadata() == want.metadata()
            assert all((staged[i].features[m] == want.features[m]).all() for m in want.features)


def _task_workers() -> list[psutil.Process]:
    """Worker processes of this test's Ray (children of the raylet this process started)
    now running one of our tasks."""
    raylets = {child.pid for child in psutil.Process().children()}
    out = []
    for proc in psutil.process_iter(["cmdline", "ppid"]):
        if proc.info["ppid"] in raylets and " ".join(proc.info["cmdline"] or []).startswith("ray::_task"):
            out.append(proc)
    return out


def test_a_killed_worker_is_retried_and_leaves_no_partial_file(engine, tmp_path, capsys):
    src = tmp_path / "long"
    src.mkdir()
    write_test_video(src / "long.mp4", 24, (320, 240))
    local, remote = tmp_path / "local", tmp_path / "ray"
    assert main(["extract", str(src), "-o", str(local), "--quiet"]) == 0
    result: dict[str, int] = {}
    run = threading.Thread(target=lambda: result.update(rc=main(["extract", str(src), "-o", str(remote), "--quiet",
                                                                    "--engine", "ray"])))
    run.start()
    deadline = time.monotonic() + 60
    while not (busy := _task_workers()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert busy, "no Ray worker ever ran the extraction task"
    time.sleep(0.3)  # into the video
    victim = busy[0]
    assert " ".join(victim.cmdline()).startswith("ray::_task"), "the task ended before the kill: use a longer video"
    victim.kill()  # mid-task: Ray runs the task again on another worker
    run.join(timeout=180)
    assert result == {"rc": 0}
    assert "1 extracted, 0 cached, 0 failed" in capsys.readouterr().out
    assert _files(remote) == _files(local)  # retried, same bits, nothing else in the folder


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    from tests.support.toy import write_toy_dataset

    return write_toy_dataset(tmp_path_factory.mktemp("toy") / "toy", actions=("ball", "hoop"), n_train=12, n_test=5)


def test_reproduce_on_ray_gives_the_local_table_and_reruns_only_a_failed_run(engine, toy, tmp_path, capsys):
    from tests.support.train_args import TINY

    def args(out):
        return ["reproduce", "IV", "--data", str(toy), "--out", str(out), "--rows", "V,ours-VFA", *TINY]

    local, remote = tmp_path / "local", tmp_path / "ray"
    assert main(args(local)) == 0
    (remote / "runs" / "pamfn").mkdir(parents=True)
    (remote / "runs" / "pamfn" / "hoop").write_text("in the way")  # this run cannot make its folder
    assert main([*args(remote), "--engine", "ray"]) == 2
    err = capsys.readouterr().err
    assert "1 run(s) failed" in err and "pamfn/hoop" in err
    failures = (remote / "failures.csv").read_text()
    assert "pamfn/hoop" in failures and "phase1" not in failures
    finished = {p: p.stat().st_mtime_ns for p in (remote / "runs").rglob("summary.json")}
    assert len(finished) == 3  # phase 1 of both actions and pamfn/ball ran
    (remote / "runs" / "pamfn" / "hoop").unlink()
    assert main([*args(remote), "--engine", "ray"]) == 0
    assert all(p.stat().st_mtime_ns == t for p, t in finished.items())  # reused, only the failed run trained
    assert not (remote / "failures.csv").exists()
    for name in ("table_IV.csv", "table_IV_intervals.csv", "table_IV_last_epoch.csv"):
        assert (remote / name).read_bytes() == (local / name).read_bytes(), name


@pytest.fixture(scope="module")
def trained(toy, tmp_path_factory):
    from tests.support.train_args import TINY

    out = tmp_path_factory.mktemp("runs") / "runs"
    assert main(["train", "--data", str(toy), "--action", "all", "--out", str(out), *TINY]) == 0
    return out


def test_evaluate_on_ray_gives_the_local_numbers(engine, toy, trained, capsys):
    import json

    args = ["evaluate", "--data", str(toy), "--checkpoint", str(trained), "--json", "--predictions", "--split", "train"]
    assert main(args) == 0
    local = json.loads(capsys.readouterr().out)
    assert main([*args, "--engine", "ray"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) == local
    assert "/24 [" in captured.err  # the bar counts the routines as the tasks come back
    assert len(local["actions"]["ball"]["predictions"]) == 12


def test_batch_explain_on_ray_matches_local_and_the_dashboard_reads_it(engine, toy, trained, tmp_path, monkeypatch):
    import pandas as pd

    args = ["explain", "--data", str(toy), "--checkpoint", str(trained), "--split", "test"]
    assert main([*args, "--out", str(tmp_path / "local")]) == 0
    monkeypatch.setenv("PAMFN_CACHE", str(tmp_path / "cache"))
    assert main([*args, "--engine", "ray"]) == 0  # into the dashboard's cache
    (remote,) = (tmp_path / "cache").glob("batch-*")
    assert remote.name.startswith("batch-swap-")  # a batch of another scan method is another folder, never shown
    local = tmp_path / "local"
    table = pd.read_parquet(remote / "scores.parquet")
    pd.testing.assert_frame_equal(table, pd.read_parquet(local / "scores.parquet"))
    assert len(table) == 10 and set(table["split"]) == {"test"} and table["branch_A"].notna().all()
    assert _files(remote / "explanations") == _files(local / "explanations") and len(_files(local / "explanations")) == 10

    from app import state
    from pamfn.batch_explain import read_routine

    def recompute(*a, **k):
        raise AssertionError("the dashboard recomputed what the batch saved")

    monkeypatch.setattr("pamfn.explain.explain_routine", recompute)
    monkeypatch.setattr("pamfn.occlusion.occlusion_scan", recompute)
    src = state.Source(str(toy.resolve()), str(trained.resolve()))
    rid = str(table["routine_id"][0])
    saved_expl, saved_scan = read_routine(remote, rid)
    assert state.explanation(src, rid).to_dict() == saved_expl.to_dict()
    pd.testing.assert_frame_equal(state.occlusion(src, rid), saved_scan)
    job = state.prediction_job(src)
    assert {r: job.scores[r] for r in table["routine_id"]} == dict(zip(table["routine_id"], table["predicted"]))
