"""Showcase videos: rendered frames and the soundtrack into an H.264 + AAC mp4 that plays
in a browser (yuv420p, faststart), encoded reproducibly by the bundled ffmpeg binary."""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from pamfn.atomic import atomic_path
from pamfn.errors import MediaError


def encode_mp4(
    path: str | Path, frames: Iterable[np.ndarray], size: tuple[int, int], fps: float, audio: np.ndarray, sr: int
) -> Path:
    """Write ``frames`` (HxWx3 uint8 RGB of ``size`` = (width, height)) and mono float32
    ``audio`` to ``path`` atomically; raises MediaError if ffmpeg fails."""
    import soundfile as sf

    from pamfn.features.media import ffmpeg_exe

    path = Path(path)
    width, height = size
    with tempfile.TemporaryDirectory(prefix="pamfn-synth-") as tmp, atomic_path(path) as out:
        wav = Path(tmp) / "audio.wav"
        sf.write(wav, audio, sr, subtype="PCM_16")
        cmd = [
            ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-y",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", f"{fps:g}", "-i", "-",
            "-i", str(wav),
            "-map", "0:v:0", "-map", "1:a:0", "-map_metadata", "-1",
            "-c:v", "libx264", "-preset", "medium", "-crf", "26", "-pix_fmt", "yuv420p", "-threads", "1",
            "-c:a", "aac", "-b:a", "96k", "-ac", "1",
            "-movflags", "+faststart", "-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact",
            "-shortest", "-f", "mp4", str(out),
        ]  # fmt: skip
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdin is not None
        try:
            for frame in frames:
                if frame.shape != (height, width, 3) or frame.dtype != np.uint8:
                    raise MediaError(
                        f"{path.name}: frame of shape {frame.shape} {frame.dtype}, expected {(height, width, 3)} uint8"
                    )
                proc.stdin.write(np.ascontiguousarray(frame).tobytes())
            proc.stdin.close()
        except BrokenPipeError:
            proc.wait()
            raise MediaError(f"{path.name}: ffmpeg stopped: {proc.stderr.read().decode(errors='replace')[-500:]}") from None
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        err = proc.stderr.read().decode(errors="replace")
        if proc.wait() != 0:
            raise MediaError(f"{path.name}: ffmpeg failed: {err[-500:]}")
    return path
