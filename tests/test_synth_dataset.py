"""A generated set on disk: layout, labels, features, showcase videos, the bit-for-bit
check, and the bundled sample_data/ regenerating exactly."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from pamfn.atomic import atomic_path
from pamfn.cli import main
from pamfn.errors import DatasetError
from pamfn.routine import RoutineFeatures
from pamfn.synth import TINY, build_dataset, check_dataset
from pamfn.synth.config import ACTIONS
from pamfn.synth.dataset import DatasetCheck, in_processes

ROOT = Path(__file__).resolve().parents[1]
BUNDLED_DIR = ROOT / "sample_data"
CFG = replace(TINY, min_duration_s=6.0, max_duration_s=7.0, per_action_train=1, per_action_test=1)


@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    summary = build_dataset(out, CFG, workers=1, progress=False)
    assert summary["routines"] == 8
    return out


def _labels(path: Path) -> list[dict[str, str]]:
    with open(path / "labels.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def test_layout_and_labels(tiny_set):
    meta = json.loads((tiny_set / "dataset.json").read_text())
    assert meta["name"] == "PAMFN synthetic RG" and meta["label_scale"] == 25.0
    assert meta["actions"] == list(ACTIONS) and meta["extractor"] == "lite"
    assert meta["generator_seed"] == CFG.seed and meta["generator_version"]
    rows = _labels(tiny_set)
    assert len(rows) == 8
    for row in rows:
        assert row["split"] in ("train", "test")
        parts = [float(row[k]) for k in ("difficulty", "execution", "musicality")]
        assert 0.0 <= float(row["score"]) <= 25.0
        assert float(row["score"]) == pytest.approx(sum(parts), abs=2e-4)
        feats = RoutineFeatures.load(tiny_set / row["features"])
        assert feats.routine_id == row["routine_id"]
        assert feats.T == int(float(row["duration_s"]) * 25 // 32)
        with np.load(tiny_set / row["features"], allow_pickle=False) as raw:
            assert raw["V"].dtype == np.float16
        assert bool(row["media"]) == (row["split"] == "test")
        assert float(row["energy_match"]) > 0, "version 2 judges the energy bar by bar"


def test_showcase_videos_are_h264_aac(tiny_set):
    from pamfn.features.media import ffmpeg_exe

    videos = sorted((tiny_set / "media").glob("*.mp4"))
    assert len(videos) == 4
    cmd = [ffmpeg_exe(), "-hide_banner", "-i", str(videos[0])]
    log = subprocess.run(cmd, capture_output=True, text=True, check=False).stderr
    assert "Video: h264" in log and "yuv420p" in log
    assert "Audio: aac" in log
    head = videos[0].read_bytes()[:4096]
    assert head.find(b"moov") < head.find(b"mdat") or b"mdat" not in head, "faststart: moov before mdat"


def test_check_finds_identity_and_tampering(tiny_set, tmp_path):
    assert check_dataset(tiny_set, routine_ids=["hoop_001"], media=True) == DatasetCheck([], [])
    copy = tmp_path / "copy"
    subprocess.run(["cp", "-r", str(tiny_set), str(copy)], check=True)
    text = (copy / "labels.csv").read_text().replace("hoop_000,hoop,train,", "hoop_000,hoop,test,")
    (copy / "labels.csv").write_text(text)
    feats = RoutineFeatures.load(copy / "features" / "ball_000.npz")
    bumped = replace(feats, features={**feats.features, "A": feats.features["A"] + 0.5})
    bumped.save(copy / "features" / "ball_000.npz", dtype="float16")
    problems = check_dataset(copy, routine_ids=["hoop_000", "ball_000"]).problems
    assert any("hoop_000" in p and "split" in p for p in problems)
    assert any("ball_000" in p and "features" in p for p in problems)


def test_check_reads_numbers_saved_by_pandas_as_the_same(tiny_set, tmp_path):
    import pandas as pd

    copy = tmp_path / "copy"
    subprocess.run(["cp", "-r", str(tiny_set), str(copy)], check=True)
    pd.read_csv(copy / "labels.csv", dtype={"routine_id": str}).to_csv(copy / "labels.csv", index=False)  # 0.0000 -> 0.0
    assert (copy / "labels.csv").read_text() != (tiny_set / "labels.csv").read_text()
    assert check_dataset(copy, routine_ids=["hoop_001"]).problems == []


def test_check_reads_the_sets_own_events_and_survives_a_damaged_features_file(tiny_set, tmp_path):
    import pandas as pd

    copy = tmp_path / "copy"
    subprocess.run(["cp", "-r", str(tiny_set), str(copy)], check=True)
    events = pd.read_csv(copy / "events.csv", dtype=str)
    events.to_csv(copy / "events.csv", index=False)  # rewritten as a spreadsheet would: still the same events
    assert check_dataset(copy, routine_ids=["hoop_001"]).problems == []
    events[events.routine_id != "hoop_001"].to_csv(copy / "events.csv", index=False)
    differs = "hoop_001: its rows of events.csv differ from the regenerated events"
    assert check_dataset(copy, routine_ids=["hoop_001"]).problems == [differs]
    (copy / "features" / "ball_000.npz").write_bytes(b"PK\x03\x04 cut short")
    assert any(p.startswith("ball_000: features/ball_000.npz is unreadable")
               for p in check_dataset(copy, routine_ids=["ball_000"]).problems)
    (copy / "labels.csv").write_text("")
    with pytest.raises(DatasetError, match="labels.csv: has no routines to check"):
        check_dataset(copy)


def test_check_reads_the_manifest_for_routines_the_set_does_not_hold(tiny_set, tmp_path):
    """A shipped set holds only its test split: a training routine is checked against the
    hashes manifest.json records (label row, events, features); a tampered record is named."""
    copy = tmp_path / "copy"
    subprocess.run(["cp", "-r", str(tiny_set), str(copy)], check=True)
    rows = _labels(copy)
    gone = next(r["routine_id"] for r in rows if r["split"] == "train")
    kept = [r for r in rows if r["routine_id"] != gone]
    with open(copy / "labels.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(kept)
    (copy / "features" / f"{gone}.npz").unlink()
    assert check_dataset(copy, routine_ids=[gone]).problems == []
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["routines"][gone]["events"] = "0" * 64
    (copy / "manifest.json").write_text(json.dumps(manifest))
    assert check_dataset(copy, routine_ids=[gone]).problems == [f"{gone}: events differ from manifest.json"]
    del manifest["routines"][gone]
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DatasetError, match="neither in labels.csv nor in manifest.json"):
        check_dataset(copy, routine_ids=[gone])


def test_cli_check_and_bad_input(tiny_set, tmp_path, capsys):
    assert main(["synth-check", str(tiny_set), "--routine", "ball_000"]) == 0
    assert "identical" in capsys.readouterr().out
    assert main(["synth-check", str(tiny_set), "--routine", "rope_000"]) == 2
    assert "no routine 'rope_000'" in capsys.readouterr().err
    assert main(["synth-check", str(tmp_path)]) == 2
    assert "dataset.json" in capsys.readouterr().err
    assert main(["synth", str(tmp_path / "x"), "--tiny", "--per-action-test", "1", "--showcase", "2"]) == 2
    assert not (tmp_path / "x").exists()


def test_events_cover_every_routine(tiny_set):
    from pamfn.synth.events import EVENT_COLUMNS, EVENT_KINDS

    with open(tiny_set / "events.csv", newline="") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames) == EVENT_COLUMNS
        events = list(reader)
    labels = {r["routine_id"]: r for r in _labels(tiny_set)}
    assert {e["routine_id"] for e in events} == set(labels)
    for e in events:
        assert e["kind"] in EVENT_KINDS and 0 <= float(e["start_s"]) <= float(e["end_s"])
    for rid, row in labels.items():
        mine = [e for e in events if e["routine_id"] == rid]
        assert sum(e["kind"] in ("leap", "pivot", "balance", "throw") for e in mine) == int(row["n_elements"])
        assert sum(e["kind"] == "drop" for e in mine) == int(row["n_drops"])
        assert sum(e["kind"] == "loss_of_balance" for e in mine) == int(row["n_stumbles"])


def test_a_split_regenerates_to_the_manifest(tiny_set, tmp_path, capsys):
    copy = tmp_path / "copy"
    subprocess.run(["cp", "-r", str(tiny_set), str(copy)], check=True)
    full_labels, full_events = (copy / "labels.csv").read_text(), (copy / "events.csv").read_text()
    train = [r for r in _labels(copy) if r["split"] == "train"]
    for row in train:  # what a repository carries: the test split only
        (copy / row["features"]).unlink()
    kept = [line for line in full_labels.splitlines() if ",train," not in line]
    (copy / "labels.csv").write_text("\n".join(kept) + "\n")
    assert main(["synth", str(copy), "--tiny", "--split", "train"]) == 0
    assert (copy / "labels.csv").read_text() == full_labels and (copy / "events.csv").read_text() == full_events
    for row in train:
        assert (copy / row["features"]).is_file()
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["routines"]["ball_000"]["features"] = "0" * 64  # as if recorded on a CPU with other float kernels
    (copy / "manifest.json").write_text(json.dumps(manifest))
    capsys.readouterr()
    assert main(["synth", str(copy), "--tiny", "--split", "train"]) == 0
    assert "1 routine(s) match manifest.json within float rounding only" in capsys.readouterr().out
    f = manifest["routines"]["ball_000"]["fingerprint"]["F"]
    f["proj"][0] += 0.01 * f["l1"]  # a real change of the flow features
    (copy / "manifest.json").write_text(json.dumps(manifest))
    assert main(["synth", str(copy), "--tiny", "--split", "train"]) == 1
    assert "ball_000: features differ from manifest.json" in capsys.readouterr().out


def test_unknown_split_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["synth", str(tmp_path / "x"), "--tiny", "--split", "validation"])
    assert not (tmp_path / "x").exists()


@pytest.mark.slow
def test_bundled_subset_regenerates_bit_for_bit():
    """Bit for bit on a CPU like the recording machine's; elsewhere within float rounding."""
    if not (BUNDLED_DIR / "labels.csv").is_file():
        pytest.skip("sample_data/ has not been generated in this checkout")
    assert check_dataset(BUNDLED_DIR, count=1).problems == []


def test_bundled_events_and_manifest_cover_every_routine():
    if not (BUNDLED_DIR / "events.csv").is_file():
        pytest.skip("sample_data/ has no events.csv in this checkout")
    rows = _labels(BUNDLED_DIR)
    with open(BUNDLED_DIR / "events.csv", newline="") as fh:
        with_events = {e["routine_id"] for e in csv.DictReader(fh)}
    manifest = json.loads((BUNDLED_DIR / "manifest.json").read_text())["routines"]
    assert {r["routine_id"] for r in rows} <= with_events
    assert all(r["routine_id"] in manifest for r in rows)
    assert all((BUNDLED_DIR / r["features"]).is_file() for r in rows)


def _exit_on_two(x: int) -> int:
    if x == 2:
        os._exit(1)  # a worker dying as a segfault or the OOM killer would end it
    return x


def test_a_dying_worker_stops_the_build_with_a_clear_error():
    assert sorted(in_processes(_exit_on_two, [0, 1], workers=2)) == [0, 1]
    with pytest.raises(DatasetError, match="worker process died.*--resume"):
        list(in_processes(_exit_on_two, [0, 1, 2, 3], workers=2))


def _hold_a_temporary(job: tuple[str, int]) -> int:
    """Job 0 returns at once; the others sit inside an atomic write (a worker mid-routine)."""
    folder, i = job
    if i:
        with atomic_path(Path(folder) / f"{i}.txt") as tmp:
            tmp.write_text("half")
            time.sleep(120)
    return i


def _wait_for(condition, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_stopped_workers_leave_no_temporaries(tmp_path):
    """Ctrl-C or a SIGTERM of the build stops the workers mid-routine through their cleanups
    (they were terminated at once, leaving `.<name>.*.part` files in the set)."""
    results = in_processes(_hold_a_temporary, [(str(tmp_path), i) for i in range(3)], workers=2)
    assert next(results) == 0
    _wait_for(lambda: len(list(tmp_path.glob(".*.part.txt"))) == 2)
    results.close()  # the caller stops: what a KeyboardInterrupt in the loop does
    assert list(tmp_path.iterdir()) == []


ORPHANS = """
import sys
from pathlib import Path
from pamfn.synth.dataset import in_processes
from tests.test_synth_dataset import _hold_a_temporary
for i in in_processes(_hold_a_temporary, [(sys.argv[1], i) for i in range(3)], workers=2):
    print(i, flush=True)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a parent's death signal is Linux's")
def test_workers_stop_when_their_build_is_killed(tmp_path):
    """A build killed outright (SIGKILL: nothing of it runs) takes its workers with it;
    they were left running with parent 1."""
    import psutil

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
    build = subprocess.Popen([sys.executable, "-c", ORPHANS, str(tmp_path)], env=env, stdout=subprocess.PIPE, text=True)
    assert build.stdout.readline().strip() == "0"
    _wait_for(lambda: len(list(tmp_path.glob(".*.part.txt"))) == 2)
    workers = psutil.Process(build.pid).children()
    assert workers, "the build's workers are its children"
    build.kill()
    build.wait()
    _wait_for(lambda: not any(_alive(w) for w in workers))
    _wait_for(lambda: list(tmp_path.iterdir()) == [])  # and they stopped through their cleanups


def _alive(process) -> bool:
    import psutil

    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
