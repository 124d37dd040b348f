"""Decoding, segmenting and bad media: each bad input gets a clear MediaError (or a
documented result) and no output file is left behind."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pamfn.cli import main
from pamfn.errors import MediaError
from pamfn.features import LITE_DIMS, extract_file, segment_count
from pamfn.features.media import iter_frames, probe
from pamfn.features.segments import fit_audio, iter_segments, resample_frames
from pamfn.ood import warnings_for
from tests.support.media import write_test_audio, write_test_video


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("media")


def assert_refused(path: Path, out_dir: Path, match: str, capsys) -> None:
    """Both the API and the CLI refuse ``path`` with ``match``; the CLI leaves no file."""
    with pytest.raises(MediaError, match=match):
        extract_file(path, progress=False)
    out_dir.mkdir(exist_ok=True)
    assert main(["extract", str(path), "-o", str(out_dir / "out.npz"), "--quiet"]) == 2
    assert match.split("(")[0].split(".*")[0] in capsys.readouterr().err
    assert list(out_dir.iterdir()) == []


def test_segment_count_and_resampling():
    assert segment_count(10.0) == 7 and segment_count(1.28) == 1 and segment_count(1.27) == 0
    frames = [np.full((2, 2, 3), i, np.uint8) for i in range(30)]  # 1 s at 30 fps
    out = [int(f[0, 0, 0]) for f in resample_frames(frames, 30.0)]
    assert len(out) == 25 and out[:6] == [0, 1, 2, 3, 4, 6]  # source frame on screen at k / 25 s
    slow = [int(f[0, 0, 0]) for f in resample_frames(frames[:10], 10.0)]
    assert slow == [0, 0, 0, 1, 1, 2, 2, 2, 3, 3] + [4, 4, 4, 5, 5, 6, 6, 6, 7, 7, 8, 8, 8, 9, 9]
    segs = list(iter_segments(iter(frames), 8))
    assert [s.shape[0] for s in segs] == [8, 8, 8]  # the partial rest is dropped
    assert len(fit_audio(np.ones(10, np.float32), 100, 2)) == 256
    assert fit_audio(None, 100, 1).max() == 0.0


def test_probe_and_streaming_decode(media):
    path = write_test_video(media / "probe.mp4", 3, (320, 240), fps=30)
    info = probe(path)
    assert (info.width, info.height, info.fps, info.has_audio) == (320, 240, 30.0, True)
    assert info.duration_s == pytest.approx(3.0, abs=0.05)
    frames = iter_frames(path, (96, 72))
    first = next(frames)
    assert first.shape == (72, 96, 3) and first.dtype == np.uint8
    assert 1 + sum(1 for _ in frames) == 75
    window = list(iter_frames(path, (96, 72), start_s=1.0, duration_s=0.4))
    assert len(window) == 10


def test_rotated_phone_video_is_upright(media):
    import subprocess

    from pamfn.features.media import ffmpeg_exe

    landscape = write_test_video(media / "landscape.mp4", 2, (320, 240))
    rotated = media / "rotated.mp4"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-display_rotation", "90", "-i", str(landscape), "-c", "copy",
                    str(rotated)], check=True)
    info = probe(rotated)
    assert (info.width, info.height) == (240, 320)
    frame = next(iter_frames(rotated, (120, 160)))
    assert frame.shape == (160, 120, 3)
    upright = next(iter_frames(landscape, (160, 120)))
    assert np.abs(np.rot90(upright, 1).astype(int) - frame).mean() < 10  # as the phone showed it (other way: ~200)


def test_not_a_video(media, tmp_path, capsys):
    path = media / "notes.mp4"
    path.write_text("these are my notes, not a video\n" * 20)
    assert_refused(path, tmp_path / "o", "not a readable video file", capsys)


def test_zero_length(media, tmp_path, capsys):
    path = media / "empty.mp4"
    path.write_bytes(b"")
    assert_refused(path, tmp_path / "o", "file is empty", capsys)


@pytest.mark.parametrize("suffix, faststart", [(".mp4", False), (".mp4", True), (".mkv", False)])
def test_truncated(media, tmp_path, capsys, suffix, faststart):
    extra = ("-movflags", "+faststart") if faststart else ()
    full = write_test_video(media / f"full{int(faststart)}{suffix}", 10, extra_output_args=extra)
    path = media / f"truncated{int(faststart)}{suffix}"
    data = full.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert_refused(path, tmp_path / "o", "(truncated|not a readable video file)", capsys)


def test_video_shorter_than_its_audio_is_not_truncation(media):
    import subprocess

    from pamfn.features.media import ffmpeg_exe

    path = media / "long_song.mp4"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-t", "3", "-i", "testsrc2=size=160x120:rate=25",
                    "-f", "lavfi", "-t", "6", "-i", "sine", "-c:v", "libx264", "-preset", "ultrafast", str(path)],
                   check=True, timeout=60)
    feats = extract_file(path, progress=False)
    assert feats.T == 2 and probe(path).duration_s == pytest.approx(6.0, abs=0.1)  # segments of the 3 s of video
    # the routine is what is filmed: its length is the video's, and the sound running on is said
    assert feats.duration_s == pytest.approx(3.0) and feats.flags["video_ends_s"] == pytest.approx(3.0)
    assert feats.flags["media_s"] == pytest.approx(6.0, abs=0.1)
    said = warnings_for(False, 0.5, 25.0, feats.flags)
    assert said == ["The video ends at 0:03, while the file's sound runs to 0:06: only the first 0:03 of the routine "
                    "are scored."]


@pytest.mark.parametrize(("rate", "warned"), [(15, True), (30, False)])
def test_a_video_filmed_at_few_frames_per_second_is_said_to_score_otherwise(media, rate, warned):
    """Frames repeated up to 25 fps show no motion between the copies, which moves the score
    (a bundled routine re-encoded at 15 fps scored 3 points higher): the score says so."""
    path = write_test_video(media / f"rate{rate}.mp4", 3, fps=rate)
    feats = extract_file(path, progress=False)
    assert feats.flags == {"source_fps": rate}
    said = warnings_for(False, 0.5, 25.0, feats.flags)
    assert said == ([f"The video was filmed at {rate} frames per second; PAMFN reads 25, so frames are repeated and the "
                     "optical flow sees no motion between the copies: its score is not comparable with scores of videos "
                     "filmed at 23 fps or more."] if warned else [])
    assert extract_file(write_test_video(media / "rate25.mp4", 3), progress=False).flags == {}  # 25 fps records nothing


def test_late_audio_track_stays_aligned(media):
    import subprocess

    from pamfn.features.media import decode_audio, ffmpeg_exe

    base, late = media / "click.mp4", media / "late.mp4"
    run = [ffmpeg_exe(), "-v", "error", "-y"]
    subprocess.run([*run, "-f", "lavfi", "-t", "3", "-i", "testsrc2=size=160x120:rate=25", "-f", "lavfi", "-t", "3",
                    "-i", "aevalsrc=sin(2*PI*440*t)*lt(t\\,0.2):s=22050", "-c:v", "libx264", "-preset", "ultrafast",
                    str(base)], check=True, timeout=60)
    subprocess.run([*run, "-i", str(base), "-itsoffset", "0.6", "-i", str(base), "-map", "0:v", "-map", "1:a",
                    "-c", "copy", str(late)], check=True, timeout=60)
    audio = decode_audio(late, 22050)
    assert np.argmax(np.abs(audio) > 0.1) / 22050 == pytest.approx(0.6, abs=0.03)  # the click, 0.6 s in
    assert sum(1 for _ in iter_frames(late, (80, 60))) == 75  # the 3 s of video, from time 0


def test_audio_only(media, tmp_path, capsys):
    path = write_test_audio(media / "song.m4a", 3)
    assert_refused(path, tmp_path / "o", "no video stream", capsys)


def test_audio_with_cover_art_is_audio_only(media, tmp_path, capsys):
    import subprocess

    from pamfn.features.media import ffmpeg_exe

    cover, song = media / "cover.png", media / "song.mp3"
    run = [ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi"]
    subprocess.run([*run, "-i", "color=red:size=64x64", "-frames:v", "1", str(cover)], check=True)
    subprocess.run([*run, "-t", "3", "-i", "sine", "-i", str(cover), "-map", "0:a", "-map", "1:v", "-c:v", "png",
                    "-disposition:v", "attached_pic", str(song)], check=True, timeout=60)
    assert_refused(song, tmp_path / "o", "no video stream", capsys)


def test_missing_and_directory(media, tmp_path, capsys):
    assert_refused(media / "nope.mp4", tmp_path / "o", "file not found", capsys)
    with pytest.raises(MediaError, match="not a file"):
        extract_file(tmp_path, progress=False)


def test_unreadable(media, tmp_path, capsys, monkeypatch):
    path = write_test_video(media / "locked.mp4", 2)
    monkeypatch.setattr("pamfn.features.media.os.access", lambda *args: False)  # as if chmod 000 (we may be root)
    assert_refused(path, tmp_path / "o", "not readable", capsys)


def test_shorter_than_one_segment(media, tmp_path, capsys):
    path = write_test_video(media / "short.mp4", 1.0)
    assert_refused(path, tmp_path / "o", "shorter than one 1.28 s segment", capsys)


def test_longer_than_any_routine_is_refused_before_decoding(media, tmp_path, capsys, monkeypatch):
    """A small file whose header says 3.6 hours: refused from the header, before its audio
    (1.2 GB as float32 at 22 kHz) or any frame is decoded."""
    from dataclasses import replace

    import pamfn.features.pipeline as pipeline

    path = write_test_video(media / "long.mp4", 2)
    real = probe(path)
    monkeypatch.setattr(pipeline, "probe", lambda p: replace(real, duration_s=12_801.3))

    def never(*args, **kwargs):
        raise AssertionError("decoded a video that is refused")

    monkeypatch.setattr(pipeline, "decode_audio", never)
    monkeypatch.setattr(pipeline, "iter_frames", never)
    assert_refused(path, tmp_path / "o", r"video lasts 3.6 hours; PAMFN reads routines of at most 10000 segments", capsys)


def test_a_file_without_sound_never_says_its_sound_runs_on(media, monkeypatch):
    """A video-only file whose header runs 1.1 s past its frames (another stream, a rounding)
    is within the truncation check's slack; with no audio nothing runs on past the video."""
    from dataclasses import replace

    import pamfn.features.pipeline as pipeline

    path = write_test_video(media / "mute24.mp4", 24, (96, 72), audio=False)
    real = probe(path)
    monkeypatch.setattr(pipeline, "probe", lambda p: replace(real, duration_s=real.duration_s + 1.1))
    feats = extract_file(path, progress=False)
    assert feats.flags == {"silent_audio": True, "audio_track": False}


def test_a_header_that_understates_the_length_bounds_what_is_decoded(media, monkeypatch):
    """A file whose header says 2.6 s (and whose streams run 8 s) is decoded for 2.6 s and the
    header's one second of slack: a lying header cannot make decoding run on for hours."""
    from dataclasses import replace

    import pamfn.features.pipeline as pipeline

    path = write_test_video(media / "lying.mp4", 8)
    real = probe(path)
    monkeypatch.setattr(pipeline, "probe", lambda p: replace(real, duration_s=2.6))
    stream = pipeline.open_media(path)
    assert len(stream.audio) <= 3.6 * 22050 + 1
    assert sum(1 for _ in stream.frames) <= 3.6 * 25 + 1


@pytest.mark.parametrize("size", [(2, 2), (320, 16)])
def test_frames_too_small_to_show_a_performer(media, tmp_path, capsys, size):
    path = write_test_video(media / f"tiny{size[0]}x{size[1]}.mp4", 2, size)
    assert probe(path).width == size[0]  # ffmpeg's one-digit sizes are read too
    assert_refused(path, tmp_path / "o", f"video frames are {size[0]}x{size[1]} pixels", capsys)


def test_video_without_audio_gets_silence_and_flag(media):
    feats = extract_file(write_test_video(media / "mute.mp4", 3, audio=False), progress=False)
    assert feats.T == 2 and feats.dims == LITE_DIMS
    assert feats.flags == {"silent_audio": True, "audio_track": False}
    assert np.isfinite(feats.features["A"]).all()
    np.testing.assert_array_equal(feats.features["A"][0], feats.features["A"][1])  # silence is silence


def test_huge_resolution_is_scaled_while_decoding(media):
    feats = extract_file(write_test_video(media / "huge.mp4", 2, (4000, 3000)), progress=False)
    assert feats.T == 1 and all(np.isfinite(a).all() for a in feats.features.values())


def test_variable_frame_rate(media):
    # Frames at irregular times (30 fps base, every third frame delayed), kept as VFR in mkv.
    path = write_test_video(media / "vfr.mkv", 6, fps=30, audio=False,
                            extra_output_args=("-vf", "setpts='(N+0.5*mod(N,3))/30/TB'", "-fps_mode", "vfr"))
    info = probe(path)
    feats = extract_file(path, progress=False)
    assert feats.T == segment_count(info.duration_s) == 4


def test_ffmpeg_failures_are_worded_without_its_log_prefixes():
    from pamfn.features.media import _ffmpeg_reason

    log = (b"[mov,mp4,m4a,3gp,3g2,mj2 @ 0x55d0c8f0] moov atom not found\n"
           b"[out#0/rawvideo @ 0x55d0c9a0] Nothing was written into output file, because at least one of its streams "
           b"received no packets.\n")
    assert _ffmpeg_reason(log, 1) == "the file is truncated or corrupt (ffmpeg: moov atom not found)"
    assert _ffmpeg_reason(b"[out#0/rawvideo @ 0x7f] Nothing was written into output file\n", 1) == (
        "ffmpeg: Nothing was written into output file")
    assert _ffmpeg_reason(b"", 234) == "ffmpeg exit code 234"
