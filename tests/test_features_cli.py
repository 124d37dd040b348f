"""``python -m pamfn extract`` on generated videos: T = floor(duration * 25 / 32), finite
features, folder mode with a cache, atomic writes."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from pamfn.cli import main
from pamfn.features import LITE_DIMS, segment_count
from pamfn.features.media import probe
from pamfn.routine import RoutineFeatures
from tests.support.media import write_test_video


@pytest.mark.parametrize("size, fps, suffix", [((320, 240), 30, ".mp4"), ((640, 360), 25, ".mov"), ((200, 200), 50, ".mkv")])
def test_extract_sizes_and_frame_rates(tmp_path, size, fps, suffix):
    video = write_test_video(tmp_path / f"v{fps}{suffix}", 10, size, fps=fps)
    out = tmp_path / "out" / "v.npz"
    assert main(["extract", str(video), "-o", str(out), "--quiet"]) == 0
    feats = RoutineFeatures.load(out)
    duration = probe(video).duration_s
    assert feats.T == segment_count(duration) == int(np.floor(duration * 25 / 32)) == 7
    assert feats.dims == LITE_DIMS and feats.duration_s == pytest.approx(duration)
    assert all(np.isfinite(a).all() for a in feats.features.values())
    assert feats.media == video.name and feats.flags == ({} if fps == 25 else {"source_fps": fps})
    assert feats.segment_frames == 32 and feats.fps == 25.0


def test_python_m_pamfn_extract(tmp_path):
    video = write_test_video(tmp_path / "clip.webm", 3, (160, 120), audio=False)
    out = tmp_path / "clip.npz"
    proc = subprocess.run([sys.executable, "-m", "pamfn", "extract", str(video), "-o", str(out), "--quiet"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "T=2" in proc.stdout and "silent_audio" in proc.stdout
    assert RoutineFeatures.load(out).flags["silent_audio"]
    (tmp_path / "feats").mkdir()
    assert main(["extract", str(video), "-o", str(tmp_path / "feats"), "--quiet"]) == 0  # -o FOLDER: FOLDER/clip.npz
    assert RoutineFeatures.load(tmp_path / "feats" / "clip.npz").T == 2


def test_the_failures_table_never_holds_a_formula(tmp_path, capsys):
    """A video named like a spreadsheet formula is listed as text: opening failures.csv in a
    spreadsheet runs nothing (each cell starting with = + - @ gets a leading apostrophe)."""
    import pandas as pd

    src = tmp_path / "videos"
    src.mkdir()
    for name in ("=HYPERLINK(A1).mp4", "@SUM(1).mp4", "plain.mp4"):
        (src / name).write_text("not a video")
    assert main(["extract", str(src), "-o", str(tmp_path / "feats"), "--quiet"]) == 1
    capsys.readouterr()
    table = pd.read_csv(tmp_path / "feats" / "failures.csv", dtype=str)
    assert sorted(name.rsplit("/", 1)[-1] for name in table.file) == ["=HYPERLINK(A1).mp4", "@SUM(1).mp4", "plain.mp4"]
    assert sorted(table.reason.str[:5]) == ["'=HYP", "'@SUM", "plain"]  # each reason starts with the video's name
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in [*table.file, *table.reason])


def test_folder_mode_caches_by_content_and_version(tmp_path, capsys):
    src = tmp_path / "videos"
    (src / "day2").mkdir(parents=True)
    write_test_video(src / "a.mp4", 2)
    write_test_video(src / "day2" / "b.mkv", 3, audio=False)
    (src / "broken.mp4").write_text("not a video")
    out = tmp_path / "feats"
    assert main(["extract", str(src), "-o", str(out), "--quiet"]) == 1  # one failure
    captured = capsys.readouterr()
    assert "2 extracted, 0 cached, 1 failed" in captured.out and "broken.mp4" in captured.err
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == ["a.npz", "day2", "day2/b.npz", "failures.csv"]
    assert "broken.mp4" in (out / "failures.csv").read_text()
    stamp = (out / "a.npz").stat().st_mtime_ns
    main(["extract", str(src), "-o", str(out), "--quiet"])
    assert "0 extracted, 2 cached" in capsys.readouterr().out
    assert (out / "a.npz").stat().st_mtime_ns == stamp
    write_test_video(src / "a.mp4", 2, (200, 150))  # new content -> extracted again
    main(["extract", str(src), "-o", str(out), "--quiet"])
    assert "1 extracted, 1 cached" in capsys.readouterr().out


def test_folder_outputs_never_collide(tmp_path):
    from pamfn.commands.extract import output_paths

    root, out = tmp_path / "in", tmp_path / "out"
    videos = [root / "a.mp4", root / "a.mov", root / "b.mkv", root / "x" / "a.mp4"]
    assert output_paths(videos, root, out) == {
        videos[0]: out / "a.mp4.npz", videos[1]: out / "a.mov.npz", videos[2]: out / "b.npz", videos[3]: out / "x" / "a.npz",
    }


def test_interrupted_write_leaves_no_file(tmp_path, monkeypatch):
    video = write_test_video(tmp_path / "v.mp4", 2)
    out = tmp_path / "out" / "v.npz"

    def interrupted(fh, **arrays):
        fh.write(b"PK half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez_compressed", interrupted)
    assert main(["extract", str(video), "-o", str(out), "--quiet"]) == 130
    assert not out.exists() and list(out.parent.iterdir()) == []


def test_a_name_that_becomes_shared_leaves_one_copy_of_each_video(tmp_path, capsys):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    write_test_video(src / "ok.mp4", 2)
    assert main(["extract", str(src), "-o", str(out), "--quiet"]) == 0
    (out / "notes.npz").write_bytes(b"not ours")  # an unrelated file is never touched
    write_test_video(src / "ok.webm", 2)  # now "ok" is shared: outputs keep their suffixes
    capsys.readouterr()
    assert main(["extract", str(src), "-o", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["notes.npz", "ok.mp4.npz", "ok.webm.npz"]
    assert f"removed {out / 'ok.npz'}" in printed and "ok.mp4.npz" in printed


def test_a_folder_run_shows_each_videos_frames_as_it_goes(tmp_path, capsys):
    """Folder mode showed only "videos 0/N": a long video sat at 0 until it was done."""
    (tmp_path / "in").mkdir()
    for name in ("a", "b"):
        write_test_video(tmp_path / "in" / f"{name}.mp4", 3, (160, 120))
    assert main(["extract", str(tmp_path / "in"), "-o", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert "extract a.mp4" in err and "extract b.mp4" in err and "videos" in err
    assert main(["extract", str(tmp_path / "in"), "-o", str(tmp_path / "again"), "--quiet"]) == 0
    assert "extract a.mp4" not in capsys.readouterr().err
