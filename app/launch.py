"""Start the dashboard the way the README does (a Streamlit subprocess, headless, on a free
port, with given data and checkpoints), wait until it answers, stop it. Used by the e2e
tests and the dashboard benchmarks; imports no Streamlit itself."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--autoplay-policy=no-user-gesture-required"]


def bundled_available() -> bool:
    """Whether the bundled sample data and trained checkpoints are in the repository."""
    return (ROOT / "sample_data" / "labels.csv").is_file() and (ROOT / "assets" / "checkpoints" / "index.json").is_file()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_app(port: int, app_args: list[str], log_path: Path, timeout_s: float = 180.0, env: dict | None = None):
    """Start the dashboard with the README's command (headless, on ``port``, extra
    environment ``env``); return (process, seconds until the server answered its health check)."""
    import os
    import shutil
    import sys
    import time
    import urllib.request

    exe = shutil.which("streamlit")
    cmd = [exe] if exe else [sys.executable, "-m", "streamlit"]
    cmd += ["run", "app/streamlit_app.py", "--server.headless", "true",
           "--server.port", str(port), "--browser.gatherUsageStats", "false"]
    if app_args:
        cmd += ["--", *app_args]
    log = open(log_path, "wb")
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
    while time.perf_counter() - t0 < timeout_s:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}; see {log_path}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1) as r:
                if r.status == 200:
                    return proc, time.perf_counter() - t0
        except OSError:
            time.sleep(0.1)
    proc.terminate()
    raise RuntimeError(f"streamlit did not answer on port {port} within {timeout_s} s; see {log_path}")


def stop_app(proc) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
