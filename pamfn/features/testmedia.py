"""Synthetic media made with the bundled ffmpeg (ffmpeg's test patterns and tones), for
tests, benchmarks and demos."""

from __future__ import annotations

import subprocess
from pathlib import Path

from pamfn.features.media import ffmpeg_exe


def write_test_video(
    path: str | Path,
    seconds: float,
    size: tuple[int, int] = (320, 240),
    fps: float = 25.0,
    audio: bool = True,
    preset: str = "ultrafast",
    crf: int = 28,
    extra_output_args: tuple[str, ...] = (),
) -> Path:
    """A video of ffmpeg's moving ``testsrc2`` pattern, with (``audio=True``) a 440 Hz tone
    that beeps twice a second. The container follows the suffix: H.264 + AAC, or VP8 +
    Opus for ``.webm``."""
    path = Path(path)
    w, h = size
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-y",
           "-f", "lavfi", "-i", f"testsrc2=size={w}x{h}:rate={fps}"]
    if audio:
        cmd += ["-f", "lavfi", "-i", "aevalsrc=0.5*sin(2*PI*440*t)*lt(mod(t\\,0.5)\\,0.1):s=44100"]
    cmd += ["-t", f"{seconds}", "-pix_fmt", "yuv420p"]
    if path.suffix.lower() == ".webm":
        cmd += ["-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "500k"]
    else:
        cmd += ["-c:v", "libx264", "-preset", preset, "-crf", str(crf)]
    audio_codec = "libopus" if path.suffix.lower() == ".webm" else "aac"
    cmd += ["-c:a", audio_codec, "-shortest"] if audio else ["-an"]
    cmd += [*extra_output_args, str(path)]
    subprocess.run(cmd, check=True, capture_output=True)
    return path


def write_test_audio(path: str | Path, seconds: float) -> Path:
    """An audio-only file (a 440 Hz tone); the codec follows the suffix (e.g. .m4a, .wav)."""
    path = Path(path)
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-y", "-f", "lavfi",
                    "-i", "sine=frequency=440:sample_rate=44100", "-t", f"{seconds}", str(path)],
                   check=True, capture_output=True)
    return path
