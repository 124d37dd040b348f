"""Keyframes and flow pictures of a time window, decoded by seeking to the window."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from pamfn.errors import MediaError
from pamfn.features.keyframes import FLOW_SPAN_S, flow_to_rgb, flow_visualization, keyframe_strip, keyframes
from pamfn.features.media import ffmpeg_exe, iter_frames
from tests.support.media import write_test_video


@pytest.fixture(scope="module")
def square_video(tmp_path_factory):
    """A white square sliding right at 100 px/s (4 px a frame) over black, 4 s at 25 fps."""
    path = tmp_path_factory.mktemp("kf") / "square.mp4"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi",
                    "-i", ("color=black:size=320x240:rate=25[bg];color=white:size=40x40:rate=25[fg];"
                           "[bg][fg]overlay=x='t*100':y=100:shortest=1"),
                    "-t", "4", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path)],
                   check=True, capture_output=True)
    return path


def test_keyframes_come_from_the_window(tmp_path):
    video = write_test_video(tmp_path / "v.mp4", 6, (320, 240))
    frames = keyframes(video, 4.0, 5.28, n=4, width=160)
    assert len(frames) == 4 and all(f.shape == (120, 160, 3) and f.dtype == np.uint8 for f in frames)
    everything = list(iter_frames(video, (160, 120)))
    for frame, index in zip(frames, [104, 112, 120, 128]):  # 4 s * 25 + centres of 4 parts of 32 frames
        assert np.abs(frame.astype(int) - everything[index]).mean() < 2.0
    with pytest.raises(MediaError, match="after the video's end"):
        keyframes(video, 7.0, 8.0)


def test_flow_picture_shows_direction_and_speed(square_video):
    picture = flow_visualization(square_video, 1.0, 2.28, width=320)
    assert picture.shape == (240, 320, 3) and picture.dtype == np.uint8
    bright = picture.max(axis=2) > 100
    assert 0.005 < bright.mean() < 0.3  # only the moving square lights up
    r, g, b = (picture[..., c][bright].mean() for c in range(3))
    assert r > g and r > b  # rightward motion is red (hue 0)
    assert flow_visualization(square_video, 0.0, 0.5, width=160).shape == (120, 160, 3)


def test_the_dashboards_strip_puts_each_flow_picture_under_its_keyframe(square_video):
    import cv2

    threads = cv2.getNumThreads()
    times, rgb, flow = keyframe_strip(square_video, 1.0, 3.0, n=4, width=160)
    assert times == pytest.approx([1.25, 1.75, 2.25, 2.75]) and len(rgb) == len(flow) == 4
    assert all(f.shape == (120, 160, 3) for f in rgb + flow)
    assert np.array_equal(flow[1], flow_visualization(square_video, 1.75 - FLOW_SPAN_S / 2, 1.75 + FLOW_SPAN_S / 2, width=160))
    assert cv2.getNumThreads() == threads  # one thread while decoding, the process's setting after


def test_flow_to_rgb_colour_wheel():
    flow = np.zeros((10, 40, 2), np.float32)
    flow[:, :20, 0] = 5.0  # right: red
    flow[:, 20:, 1] = 5.0  # down: hue 90 degrees in OpenCV's half-degree hue, yellow-green
    rgb = flow_to_rgb(flow)
    assert tuple(rgb[0, 0]) == (255, 0, 0)
    assert rgb[0, 30, 1] == 255 and rgb[0, 30, 2] == 0
    assert flow_to_rgb(np.zeros((4, 4, 2), np.float32)).max() == 0
