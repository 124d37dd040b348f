"""Media decoding with the ffmpeg binary that ships inside the imageio-ffmpeg wheel.

Frames stream out of an ffmpeg pipe one at a time (memory does not grow with the
video's length); ffmpeg itself resamples to the target frame rate (by timestamp, so
variable frame rate is handled) and scales to the working size during decoding.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pamfn.errors import MediaError

_DURATION = re.compile(r"Duration:\s*(\d+):(\d+):(\d+(?:\.\d+)?)")
_VIDEO = re.compile(r"Stream #\S+.*?: Video: (.*)")
_AUDIO = re.compile(r"Stream #\S+.*?: Audio: (.*)")
_SIZE = re.compile(r"(?<![0-9a-fx])(\d{1,5})x(\d{1,5})(?![0-9a-fx])")
_FPS = re.compile(r"([\d.]+)(k?) (?:fps|tbr)")
_ROTATION = re.compile(r"rotation of (-?[\d.]+) degrees")


def ffmpeg_exe() -> str:
    """Path of the bundled ffmpeg binary."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


@dataclass(frozen=True)
class MediaInfo:
    """What ffmpeg reports about a media file's first video and audio streams. ``width`` and
    ``height`` are the displayed size (a phone video's rotation is applied)."""

    path: Path
    duration_s: float
    width: int
    height: int
    fps: float
    has_audio: bool


def check_readable(path: str | os.PathLike[str]) -> Path:
    """Return ``path`` as a Path, or raise MediaError if it is no readable, non-empty file."""
    path = Path(path)
    if not path.exists():
        raise MediaError(f"{path}: file not found")
    if not path.is_file():
        raise MediaError(f"{path}: not a file")
    if not os.access(path, os.R_OK):
        raise MediaError(f"{path}: file is not readable (permission denied)")
    if path.stat().st_size == 0:
        raise MediaError(f"{path}: file is empty (0 bytes)")
    return path


def probe(path: str | os.PathLike[str]) -> MediaInfo:
    """Read duration, size, frame rate and the presence of audio from the file's header."""
    path = check_readable(path)
    proc = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path)],
        capture_output=True, text=True, errors="replace", check=False,
    )
    log = proc.stderr
    video = next((m for m in _VIDEO.finditer(log) if "(attached pic)" not in m.group(1)), None)  # not cover art
    if video is None:
        if "Invalid data found" in log or "moov atom not found" in log or "Error opening input" in log:
            raise MediaError(f"{path.name}: not a readable video file (unknown format, truncated or corrupt)")
        if _AUDIO.search(log):
            raise MediaError(f"{path.name}: has no video stream (audio-only file)")
        raise MediaError(f"{path.name}: has no video stream")
    size = _SIZE.search(video.group(1))
    duration = _DURATION.search(log)
    if size is None:
        raise MediaError(f"{path.name}: cannot read the video's frame size")
    if duration is None:
        raise MediaError(f"{path.name}: cannot read the video's duration (corrupt or streaming-only file)")
    h, m, s = duration.groups()
    rate = _FPS.search(video.group(1))
    fps = float(rate.group(1)) * (1000.0 if rate.group(2) else 1.0) if rate else 0.0
    width, height = int(size.group(1)), int(size.group(2))
    rotation = _ROTATION.search(log[video.end():])
    if rotation and round(float(rotation.group(1))) % 180 == 90:  # ffmpeg autorotates: displayed size is swapped
        width, height = height, width
    return MediaInfo(
        path=path,
        duration_s=int(h) * 3600 + int(m) * 60 + float(s),
        width=width,
        height=height,
        fps=fps,
        has_audio=_AUDIO.search(log) is not None,
    )


def iter_frames(
    path: str | os.PathLike[str],
    size: tuple[int, int],
    fps: float = 25.0,
    start_s: float = 0.0,
    duration_s: float | None = None,
) -> Iterator[np.ndarray]:
    """Yield RGB uint8 frames of shape (h, w, 3) at ``fps``, scaled by ffmpeg to ``size``.

    Frame k is the source frame shown at time ``start_s + k / fps`` (a video stream that
    starts late repeats its first frame from time 0). ``start_s`` seeks
    before decoding, so a window deep inside a long video is cheap. Raises MediaError
    if ffmpeg fails (corrupt or truncated data).
    """
    path = check_readable(path)
    w, h = size
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error"]
    if start_s > 0:
        cmd += ["-ss", f"{start_s:.3f}"]
    cmd += ["-i", str(path)]
    if duration_s is not None:
        cmd += ["-t", f"{duration_s:.3f}"]
    cmd += ["-map", "0:V:0", "-an", "-vf", f"fps={fps}:start_time=0,scale={w}:{h}:flags=area",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    nbytes = w * h * 3
    with tempfile.TemporaryFile() as errlog:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errlog, stdin=subprocess.DEVNULL, bufsize=nbytes * 4)
        try:
            while True:
                buf = proc.stdout.read(nbytes)
                if len(buf) < nbytes:
                    break
                yield np.frombuffer(buf, dtype=np.uint8).reshape(h, w, 3)
            rc = proc.wait()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
        if rc != 0:
            errlog.seek(0)
            raise MediaError(f"{path.name}: decoding failed: {_ffmpeg_reason(errlog.read(), rc)}")


_FFMPEG_PREFIX = re.compile(r"^\[[^\]]*@ 0x[0-9a-f]+\]\s*")
_DAMAGE = ("moov atom not found", "Invalid data found", "partial file", "Invalid NAL", "error reading header",
           "corrupt", "Truncating packet", "End of file")


def _ffmpeg_reason(stderr: bytes, rc: int) -> str:
    """What went wrong, in words, from ffmpeg's error log: the file's damage when the log
    names it, else ffmpeg's first error line (without its ``[muxer @ 0x...]`` prefix)."""
    lines = [_FFMPEG_PREFIX.sub("", line).strip() for line in stderr.decode("utf-8", "replace").splitlines()]
    lines = [line for line in lines if line]
    damage = next((line for line in lines if any(d.lower() in line.lower() for d in _DAMAGE)), None)
    if damage is not None:
        return f"the file is truncated or corrupt (ffmpeg: {damage})"
    return f"ffmpeg: {lines[0]}" if lines else f"ffmpeg exit code {rc}"


def decode_audio(path: str | os.PathLike[str], sample_rate: int, duration_s: float | None = None) -> np.ndarray | None:
    """The first audio track as mono float32 in [-1, 1] at ``sample_rate`` (its first
    ``duration_s`` seconds, if given); None if there is none. Sample 0 is at time 0 of the
    file: a track that starts late is padded with silence, so audio and frames stay aligned."""
    path = check_readable(path)
    if not probe(path).has_audio:
        return None
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-i", str(path)]
    if duration_s is not None:
        cmd += ["-t", f"{duration_s:.3f}"]
    cmd += ["-map", "0:a:0", "-vn", "-ac", "1", "-ar", str(sample_rate), "-af", "aresample=async=1:first_pts=0",
            "-f", "f32le", "-"]
    proc = subprocess.run(cmd, capture_output=True, check=False)
    if proc.returncode != 0:
        raise MediaError(f"{path.name}: audio decoding failed: {_ffmpeg_reason(proc.stderr, proc.returncode)}")
    return np.clip(np.frombuffer(proc.stdout, dtype=np.float32), -1.0, 1.0)


def file_sha256(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """SHA-256 of the file's content, read in chunks."""
    digest = hashlib.sha256()
    with open(check_readable(path), "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()
