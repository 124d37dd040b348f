"""Many users at once: eight headless Chromium sessions walk through the dashboard together.

    python bench/bench_dashboard_load.py                 # bundled sample data + checkpoints
    python bench/bench_dashboard_load.py --generated     # small generated data set
    python bench/bench_dashboard_load.py --sessions 8 --rounds 2
    python bench/bench_dashboard_load.py --data DIR --checkpoint DIR

The server is ``streamlit run app/streamlit_app.py`` started in a process that counts
every ``pamfn.checkpoint.load_checkpoint`` call (a log line per load), so the figures say
how often the model was loaded. One browser, one context per session; every session
opens the routine page, switches to another routine and opens the research view, then
closes. The walk is bounded (every wait has a timeout) and stops by itself.

Printed figures: errors (page errors, Python exceptions shown on a page, timeouts),
checkpoint loads against the number of checkpoints, the server's resident memory
before, at peak during and after each round, and per-step page times (median, max).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LOAD_MARK = "PAMFN-BENCH load_checkpoint"
STEP_TIMEOUT_MS = 180_000
ROW_PX = 35
RUNNING = "[data-testid='stStatusWidget']"


def serve(streamlit_args: list[str]) -> None:
    """Run the dashboard in this process, logging each checkpoint load."""
    from pamfn import checkpoint

    original = checkpoint.load_checkpoint

    def counted(directory, *args, **kwargs):
        print(f"{LOAD_MARK} {directory}", flush=True)
        return original(directory, *args, **kwargs)

    checkpoint.load_checkpoint = counted
    from streamlit.web import cli

    sys.argv = ["streamlit", "run", str(ROOT / "app" / "streamlit_app.py"), *streamlit_args]
    cli.main()


def launch(port: int, app_args: list[str], log: Path, timeout_s: float = 90.0) -> subprocess.Popen:
    """Start :func:`serve` in a child process and wait for Streamlit's health check."""
    cmd = [sys.executable, __file__, "--serve", "--server.headless", "true", "--server.port", str(port),
           "--browser.gatherUsageStats", "false", *(["--", *app_args] if app_args else [])]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=open(log, "wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}; see {log}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1):
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"the server did not answer within {timeout_s} s; see {log}")


class RssSampler(threading.Thread):
    """Samples the server's resident memory (MB) every ``every_s`` seconds."""

    def __init__(self, pid: int, every_s: float = 0.25) -> None:
        import psutil

        super().__init__(daemon=True)
        self.process, self.every_s = psutil.Process(pid), every_s
        self.samples: list[float] = []
        self.stop = threading.Event()

    def rss_mb(self) -> float:
        return self.process.memory_info().rss / 2**20

    def run(self) -> None:
        while not self.stop.is_set():
            self.samples.append(self.rss_mb())
            time.sleep(self.every_s)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its children (e.g. ffmpeg)."""
    import psutil

    total = 0.0
    proc = psutil.Process(pid)
    for p in [proc, *proc.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            continue
    return total


def browser_cpu_seconds() -> float:
    """CPU seconds of this process's Chromium children (the browser of the round, while it lives)."""
    return cpu_seconds(os.getpid())


async def wait_idle(page) -> None:
    await page.wait_for_function(f"!document.querySelector(\"{RUNNING}\")", timeout=STEP_TIMEOUT_MS)


async def routine_shown(page, other_than: str | None) -> str:
    """Wait for a routine heading (any, or one other than ``other_than``) with its player or
    charts; return the routine's id."""
    await page.wait_for_function(
        """(old) => [...document.querySelectorAll("[data-testid='stMain'] h3")]
                   .some(h => h.textContent.includes(' · ') && (old === null || !h.textContent.startsWith(old + ' ·')))""",
        arg=other_than, timeout=STEP_TIMEOUT_MS)
    await page.wait_for_selector(".pamfn-player[data-ready='1'], .js-plotly-plot", timeout=STEP_TIMEOUT_MS)
    heading = page.locator("[data-testid='stMain'] h3").filter(has_text=" · ").first
    return (await heading.text_content()).split(" · ")[0]


async def session(browser, url: str, index: int, rows: list[str], out: dict) -> None:
    """One user's bounded walk: routine page, another row of the picker, the research view."""
    context = await browser.new_context(viewport={"width": 1400, "height": 1200})
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    times: dict[str, float] = {}
    try:
        t = time.perf_counter()
        await page.goto(url)
        first = await routine_shown(page, None)
        times["open routine page"] = time.perf_counter() - t
        await wait_idle(page)

        row = 1 + index % min(max(len(rows) - 1, 1), 6)  # another visible row of the picker
        box = await page.locator("[data-testid='stDataFrame']").first.bounding_box()
        t = time.perf_counter()
        await page.mouse.click(box["x"] + 18, box["y"] + ROW_PX * (row + 1) + ROW_PX / 2)
        await routine_shown(page, first)
        times["switch routine"] = time.perf_counter() - t
        await wait_idle(page)

        t = time.perf_counter()
        await page.get_by_role("link", name="Research", exact=True).click(timeout=STEP_TIMEOUT_MS)
        await page.wait_for_function("document.querySelectorAll('[data-testid=\"stMain\"] .js-plotly-plot').length >= 1",
                                     timeout=STEP_TIMEOUT_MS)
        times["open research view"] = time.perf_counter() - t
        await wait_idle(page)
        shown = await page.locator("[data-testid='stException']").count()
        if shown:
            errors.append(f"{shown} Python exception(s) shown on the page")
    except Exception as exc:  # a timeout or a vanished element is an error of this session
        errors.append(f"{type(exc).__name__}: {str(exc).splitlines()[0]}")
    finally:
        await context.close()
    out[index] = {"times": times, "errors": errors}


async def one_round(url: str, sessions: int, rows: list[str]) -> tuple[dict, float]:
    """Run the sessions together; return their results and the browser's CPU seconds."""
    from playwright.async_api import async_playwright

    results: dict[int, dict] = {}
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path="/usr/bin/chromium",
                                          args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        before = browser_cpu_seconds()
        await asyncio.gather(*(session(browser, url, i, rows, results) for i in range(sessions)))
        used = browser_cpu_seconds() - before
        await browser.close()
    return results, used


def main() -> int:
    if "--serve" in sys.argv:
        serve([a for a in sys.argv[1:] if a != "--serve"])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2, help="walks of all sessions, one after the other")
    parser.add_argument("--generated", action="store_true", help="use a small generated data set")
    parser.add_argument("--data", type=Path, help="a data set folder (default: the bundled sample)")
    parser.add_argument("--checkpoint", type=Path, help="a checkpoint folder or set (default: the bundled ones)")
    args = parser.parse_args()

    from app.launch import bundled_available, free_port
    from pamfn.catalog import load_catalog
    from pamfn.synth.random_dataset import make_dataset

    tmp = Path(tempfile.mkdtemp(prefix="bench_load_"))
    if args.data or args.checkpoint:
        data, ckpts = args.data or ROOT / "sample_data", args.checkpoint or ROOT / "assets" / "checkpoints"
        app_args, label = ["--data", str(data), "--checkpoint", str(ckpts)], f"{data} + {ckpts}"
    elif args.generated or not bundled_available():
        data, ckpts = make_dataset(tmp, per_action=4)
        app_args, label = ["--data", str(data), "--checkpoint", str(ckpts)], "generated data set (d=16, K=4)"
    else:
        data, ckpts = ROOT / "sample_data", ROOT / "assets" / "checkpoints"
        app_args, label = [], "bundled sample_data + assets/checkpoints"
    rows = [str(r) for r in load_catalog(data).routines.index]
    index = ckpts / "index.json"
    n_checkpoints = len(json.loads(index.read_text())["checkpoints"]) if index.is_file() else 1
    port, log = free_port(), tmp / "server.log"
    print(f"data: {label}; {len(rows)} routines, {n_checkpoints} checkpoint(s); "
          f"{args.sessions} sessions x {args.rounds} rounds; {os.cpu_count()} CPUs")
    t0 = time.perf_counter()
    proc = launch(port, app_args, log)
    print(f"server up in {time.perf_counter() - t0:.1f} s (pid {proc.pid}); log {log}")
    sampler = RssSampler(proc.pid)
    rss_before = sampler.rss_mb()
    sampler.start()
    all_errors: list[str] = []
    step_times: dict[str, list[float]] = {}
    try:
        for r in range(1, args.rounds + 1):
            start = len(sampler.samples)
            t, server_cpu = time.perf_counter(), cpu_seconds(proc.pid)
            results, browser_cpu = asyncio.run(one_round(f"http://127.0.0.1:{port}/", args.sessions, rows))
            wall, server_cpu = time.perf_counter() - t, cpu_seconds(proc.pid) - server_cpu
            time.sleep(3.0)
            peak = max(sampler.samples[start:], default=sampler.rss_mb())
            errors = [f"session {i}: {e}" for i, res in sorted(results.items()) for e in res["errors"]]
            all_errors += errors
            for res in results.values():
                for step, value in res["times"].items():
                    step_times.setdefault(step, []).append(value)
            print(f"round {r}: {wall:.1f} s wall, {len(errors)} error(s); server RSS peak {peak:.0f} MB, "
                  f"after {sampler.rss_mb():.0f} MB; CPU seconds: server {server_cpu:.0f}, browser {browser_cpu:.0f}; "
                  f"machine load average {os.getloadavg()[0]:.1f}")
    finally:
        sampler.stop.set()
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
    loads = [line for line in log.read_text(errors="replace").splitlines() if line.startswith(LOAD_MARK)]
    print(f"server RSS before the sessions: {rss_before:.0f} MB")
    print(f"checkpoint loads: {len(loads)} for {n_checkpoints} checkpoint(s) "
          f"({'each loaded once' if len(loads) == n_checkpoints else 'NOT loaded once'})")
    for step, values in step_times.items():
        print(f"{step}: median {statistics.median(values):.2f} s, max {max(values):.2f} s over {len(values)} visits")
    print(f"errors: {len(all_errors)}")
    for e in all_errors:
        print(f"  {e}")
    return 1 if all_errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
