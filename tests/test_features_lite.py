"""The lite extractor: fixed dims, finite values, descriptors that respond to what they
describe, and one code path for frames in memory and for media files."""

from __future__ import annotations

import numpy as np
import pytest

from pamfn.features import LITE_DIMS, extract_file, extract_from_arrays
from pamfn.features.lite import AUDIO_RATE, BOX, LiteVideo, audio_features, working_size
from pamfn.features.media import decode_audio, iter_frames, probe
from tests.support.media import write_test_video


def moving_square(n: int, step: int, size=(120, 160), colour=(255, 40, 40)) -> list[np.ndarray]:
    """A square sliding right by ``step`` pixels per frame over a textured background."""
    rng = np.random.default_rng(1)
    bg = np.repeat(rng.integers(0, 80, size + (1,), dtype=np.uint8), 3, axis=2)
    frames = []
    for i in range(n):
        f = bg.copy()
        x = 10 + (i * step) % (size[1] - 50)
        f[40:80, x : x + 40] = colour
        frames.append(f)
    return frames


def test_dims_are_fixed_and_documented():
    assert LITE_DIMS == {"V": 83, "F": 97, "A": 160}
    assert BOX == 80 and working_size(1280, 720) == (BOX, 44) and working_size(240, 320) == (60, BOX)


def test_frames_in_memory_any_fps():
    frames = moving_square(300, 2)  # 10 s at 30 fps -> 250 frames at 25 fps -> T = 7
    feats = extract_from_arrays(frames, None, 22050, fps=30.0, routine_id="r")
    assert feats.T == 7 and feats.dims == LITE_DIMS and feats.duration_s == pytest.approx(10.0)
    assert feats.flags["silent_audio"] and feats.routine_id == "r"
    assert feats.extractors == {"V": "lite-rgb@2", "F": "lite-flow@2", "A": "lite-audio@2"}
    assert all(np.isfinite(a).all() for a in feats.features.values())


def test_motion_descriptors_follow_the_motion():
    video = LiteVideo()
    _, still = video.segment(np.stack(moving_square(32, 0)))
    video = LiteVideo()
    _, moving = video.segment(np.stack(moving_square(32, 3)))
    assert still[0] < 0.05 and moving[0] > 10 * max(still[0], 1e-3)  # mean magnitude
    assert moving[6] > 0 and abs(moving[7]) < moving[6]  # mean u rightwards, little vertical motion
    orient = moving[14:22]
    assert np.argmax(orient) in (3, 4)  # angle ~0 falls in the bins around 0 rad (bins over [-pi, pi))


def test_motion_is_measured_relative_to_the_camera():
    rng = np.random.default_rng(0)
    texture = rng.integers(0, 255, (60, 400, 3), dtype=np.uint8)
    texture = np.ascontiguousarray(np.repeat(np.repeat(texture, 2, 0), 2, 1)[:120])
    pan = np.stack([texture[:, 3 * i : 3 * i + 160] for i in range(33)])  # the camera pans, nothing moves
    _, f = LiteVideo().segment(pan)
    cam_u = f[12]
    assert abs(cam_u) > 1.0, "the camera motion is kept as a descriptor"
    assert f[0] < 0.15 * abs(cam_u), "motion relative to the camera is small"
    profile = f[22 + 16 : 22 + 16 + 32]
    assert profile.shape == (32,) and profile.max() < 0.15 * abs(cam_u)


def test_profiles_have_40ms_steps():
    frames = moving_square(64, 0)
    for i in range(40, 42):  # the square jumps away at frame 40 and back at frame 42
        frames[i] = moving_square(1, 0)[0]
        frames[i][40:80, 30:70] = (255, 255, 255)
    video = LiteVideo()
    video.segment(np.stack(frames[:32]))
    _, f = video.segment(np.stack(frames[32:]))
    profile = f[22 + 16 : 22 + 16 + 32]
    assert set(np.argsort(profile)[-2:]) == {8, 10}, "the pairs ending at frames 40 and 42 of the routine"


def test_beat_phase():
    from pamfn.features.lite import beat_phase

    phase = beat_phase(np.array([10, 30, 50]), 60)
    assert phase[:10].max() == 0 and phase[10] == 1.0 and phase[30] == 1.0 and phase[50] == 1.0
    assert phase[20] == pytest.approx(-1.0) and phase[51:].max() == 0


def test_appearance_descriptors_follow_the_colour():
    red, _ = LiteVideo().segment(np.stack(moving_square(32, 0, colour=(255, 0, 0))))
    blue, _ = LiteVideo().segment(np.stack(moving_square(32, 0, colour=(0, 0, 255))))
    assert np.argmax(red[:12]) == 0 and np.argmax(blue[:12]) == 8  # hue bins of 30 degrees
    assert red[12] > 0  # saturation mean


def test_audio_beats_and_silence():
    sr, seconds = AUDIO_RATE, 12.8
    t = np.arange(int(sr * seconds)) / sr
    clicks = (np.sin(2 * np.pi * 1000 * t) * (np.mod(t, 0.5) < 0.03)).astype(np.float32)  # 120 BPM
    a = audio_features(clicks, 10)
    assert a.shape == (10, LITE_DIMS["A"]) and np.isfinite(a).all()
    beat_rate, tempo = a[3:, 132], a[3:, 134] * 240
    assert np.median(beat_rate) == pytest.approx(2.0, abs=0.5)
    assert np.median(tempo) == pytest.approx(120, rel=0.1) or np.median(tempo) == pytest.approx(60, rel=0.1)
    silent = audio_features(np.zeros(int(sr * 2.56), np.float32), 2)
    assert np.isfinite(silent).all() and silent[:, 132].max() == 0  # no beats in silence
    assert a[:, :32].mean() > silent[:, :32].mean()  # louder log-mel


def test_segments_do_not_depend_on_video_length():
    frames = moving_square(32 * 6, 2)
    rng = np.random.default_rng(3)
    audio = (0.2 * rng.standard_normal(int(6 * 1.28 * AUDIO_RATE))).astype(np.float32)
    short = extract_from_arrays(frames[: 32 * 3], audio[: int(3 * 1.28 * AUDIO_RATE)], AUDIO_RATE)
    long = extract_from_arrays(frames, audio, AUDIO_RATE)
    for m in ("V", "F"):
        np.testing.assert_allclose(long.features[m][:3], short.features[m], rtol=1e-5, atol=1e-6)
    # log-mel, onset and spectral statistics are local: identical away from the cut (beats and tempo are not)
    local = np.r_[0:68, 88:112]
    np.testing.assert_allclose(long.features["A"][:2, local], short.features["A"][:2, local], rtol=1e-4, atol=1e-5)


def test_extraction_is_deterministic():
    frames = moving_square(70, 3)
    audio = np.sin(np.arange(3 * AUDIO_RATE) * 0.05).astype(np.float32)
    a, b = (extract_from_arrays(frames, audio, AUDIO_RATE) for _ in range(2))
    for m in ("V", "F", "A"):
        np.testing.assert_array_equal(a.features[m], b.features[m])


@pytest.mark.slow
def test_extract_file_and_extract_from_arrays_share_one_code_path(tmp_path):
    path = write_test_video(tmp_path / "v.mp4", 4, (320, 240), fps=25)
    info = probe(path)
    from_file = extract_file(path, progress=False)
    frames = iter_frames(path, working_size(info.width, info.height))
    in_memory = extract_from_arrays(frames, decode_audio(path, 44100), 44100)
    assert from_file.T == in_memory.T == 3
    for m in ("V", "F"):
        np.testing.assert_allclose(from_file.features[m], in_memory.features[m], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(from_file.features["A"], in_memory.features["A"], atol=0.05)
    assert from_file.media == "v.mp4" and len(from_file.media_sha256) == 64


@pytest.mark.parametrize(("frames", "audio", "message"), [
    (lambda: [np.zeros((1, 1, 3), np.uint8)] * 64, None, "frames are 1x1 pixels; PAMFN reads frames of at least 32"),
    (lambda: [np.zeros((48, 64), np.uint8)] * 64, None, r"frame 0 must be an HxWx3 uint8 RGB image, got uint8 of shape \(48, 64\)"),
    (lambda: [np.zeros((48, 64, 3), np.float32)] * 64, None, "frame 0 must be an HxWx3 uint8 RGB image, got float32"),
    (lambda: [np.zeros((48, 64, 3), np.uint8)] * 64, np.full(50_000, 1000, np.int16), r"got int16 \(for 16-bit PCM, divide by 32768\)"),
    (lambda: [np.zeros((48, 64, 3), np.uint8)] * 64, np.zeros((50_000, 2), np.float32), r"mono \(1-D\), got shape \(50000, 2\)"),
    (lambda: [np.zeros((48, 64, 3), np.uint8)] * 64, np.full(50_000, np.nan, np.float32), "NaN or infinite samples"),
], ids=["tiny", "grey", "float-frames", "int16-audio", "stereo", "nan-audio"])
def test_frames_and_audio_in_memory_get_the_checks_a_file_gets(frames, audio, message):
    from pamfn.errors import MediaError

    with pytest.raises(MediaError, match=message):
        extract_from_arrays(frames(), audio, 22050, routine_id="r")


@pytest.mark.parametrize(("fps", "message"), [
    (0, "the frame rate must be a number of frames per second above 0, got 0"),
    (float("nan"), "got nan"),
    (float("inf"), "got inf"),
    (1e-3, r"60 frames at 0.001 fps last 16.7 hours; PAMFN reads routines of at most 10000 segments \(3.6 hours\)"),
])
def test_a_frame_rate_that_is_no_rate_or_makes_hours_is_refused_at_once(fps, message):
    from pamfn.errors import MediaError

    with pytest.raises(MediaError, match=message):
        extract_from_arrays([np.zeros((48, 64, 3), np.uint8)] * 60, None, 22050, fps=fps, routine_id="r")


def test_audio_in_memory_is_clipped_as_a_decoded_file_is():
    frames = [np.full((48, 64, 3), i % 255, np.uint8) for i in range(64)]
    loud = np.sin(np.arange(3 * 22050) / 9.0).astype(np.float32) * 5.0  # far beyond full scale
    clipped = extract_from_arrays(frames, np.clip(loud, -1, 1), 22050)
    assert np.array_equal(extract_from_arrays(frames, loud, 22050).features["A"], clipped.features["A"])
