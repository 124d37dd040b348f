"""Speed of the routine page in headless Chromium: time to the first interactive page
after the server is up, and time to switch routine once the model is loaded.

    python bench/bench_dashboard_page.py                      # bundled sample data + checkpoints
    python bench/bench_dashboard_page.py --data D --checkpoint C
    python bench/bench_dashboard_page.py --generated full     # generated, the bundled set's size
    python bench/bench_dashboard_page.py --generated small    # 6 routines, tiny model

The server is started with the README's command (``streamlit run app/streamlit_app.py``).
Figures: server start to health check; page load to the routines table, to the player
with its charts drawn, and to the end of the first script run; per switch, click to the
new routine's scores and charts, on a first visit (explanation computed) and a revisit
(cached).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.launch import BROWSER_ARGS, bundled_available, free_port, start_app, stop_app  # noqa: E402
from pamfn.synth.random_dataset import make_dataset  # noqa: E402

ROW_PX = 35
RUNNING = "[data-testid='stStatusWidget']"


def idle(page, timeout_ms: int = 60_000) -> None:
    """Wait until the script run finished (Streamlit's 'Running...' widget is gone)."""
    page.wait_for_function(f"!document.querySelector(\"{RUNNING}\")", timeout=timeout_ms)


def shown(page, routine_id: str, has_video: bool, timeout_ms: int = 60_000) -> None:
    """Wait until the routine's heading, scores and charts (player or static) are on the page."""
    page.wait_for_function(
        "(rid) => [...document.querySelectorAll(\"[data-testid='stMain'] h3\")].some(h => h.textContent.startsWith(rid + ' ·'))",
        arg=routine_id, timeout=timeout_ms)
    if has_video:
        page.wait_for_selector(f".pamfn-player[data-ready='1'][data-key^='{routine_id}|']", timeout=timeout_ms)
    else:
        page.wait_for_function(
            "(rid) => [...document.querySelectorAll('[data-testid=\"stAlertContentWarning\"]')]"
            ".some(w => w.textContent.includes(rid)) && document.querySelector('.js-plotly-plot')",
            arg=routine_id, timeout=timeout_ms)


def playback(page, seconds: float = 3.0) -> str:
    """Play the video (muted) and sample the playhead on every animation frame."""
    page.wait_for_function("(document.querySelector('.pamfn-player[data-ready=\"1\"] video') || {}).readyState >= 2",
                           timeout=60_000)
    samples = page.evaluate(
        """(ms) => new Promise((done) => {
            const v = document.querySelector('.pamfn-player video'), head = document.querySelector('.pamfn-playhead');
            const root = document.querySelector('.pamfn-player'), reports = Number(root.dataset.reports || 0);
            v.muted = true; v.play(); const out = [];
            const t0 = performance.now();
            function frame(t) {
                out.push([t, head.style.transform]);
                if (t - t0 < ms) requestAnimationFrame(frame);
                else { v.pause(); done({out, reports: Number(root.dataset.reports || 0) - reports}); }
            }
            requestAnimationFrame(frame);
        })""", seconds * 1000)
    times = [t for t, _ in samples["out"]]
    gaps = sorted(b - a for a, b in zip(times, times[1:]))
    moves = sum(1 for (_, a), (_, b) in zip(samples["out"], samples["out"][1:]) if a != b)
    return (f"playback {seconds:g} s: {len(times)} animation frames ({len(times) / seconds:.0f} fps), "
            f"frame gap median {statistics.median(gaps):.1f} ms, p95 {gaps[int(0.95 * (len(gaps) - 1))]:.1f} ms; "
            f"playhead moved on {moves} frames; time sent to Python while playing: {samples['reports']} time(s)")


def click_row(page, index: int) -> None:
    box = page.locator("[data-testid='stDataFrame']").first.bounding_box()
    page.mouse.click(box["x"] + 18, box["y"] + ROW_PX * (index + 1) + ROW_PX / 2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data")
    parser.add_argument("--checkpoint")
    parser.add_argument("--generated", choices=["small", "full"],
                        help="generated data: small (6 routines, d=16) or full (4 x 130 routines of 47-70 segments, "
                             "lite feature dims, d=256, K=10: the bundled set's size)")
    parser.add_argument("--switches", type=int, default=4, help="routines to switch to (each visited twice)")
    parser.add_argument("--cache", help="the dashboard's cache folder (PAMFN_CACHE); default: a fresh one, a cold start")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="bench_dashboard_"))
    data_dir = Path(args.data) if args.data else ROOT / "sample_data"
    if args.data or args.checkpoint:
        app_args = [*(["--data", args.data] if args.data else []), *(["--checkpoint", args.checkpoint] if args.checkpoint else [])]
        label = f"{args.data or 'sample_data'} + {args.checkpoint or 'assets/checkpoints'}"
    elif args.generated or not bundled_available():
        if args.generated == "full":
            from pamfn.features import LITE_DIMS

            data_dir, ckpts = make_dataset(tmp, per_action=130, segments=47, actions=("ball", "clubs", "hoop", "ribbon"),
                                           dims=dict(LITE_DIMS), d=256, K=10)
            label = "generated data set, 4 x 130 routines, lite dims, random PAMFN d=256 K=10"
        else:
            data_dir, ckpts = make_dataset(tmp)
            label = "generated test data set (6 routines, d=16, K=4)"
        app_args = ["--data", str(data_dir), "--checkpoint", str(ckpts)]
    else:
        app_args, label = [], "bundled sample_data + assets/checkpoints"
    port = free_port()
    proc, up_s = start_app(port, app_args, tmp / "streamlit.log", env={"PAMFN_CACHE": args.cache or str(tmp / "cache")})
    print(f"data: {label}")
    print("machine load average (1, 5, 15 min) at start: " + ", ".join(f"{x:.1f}" for x in os.getloadavg())
          + f" on {os.cpu_count()} CPUs")
    print(f"server up (health check answered): {up_s:.2f} s after launch")
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=BROWSER_ARGS)
            page = browser.new_page(viewport={"width": 1500, "height": 1300})
            order = _table_order(data_dir)
            t0 = time.perf_counter()
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_selector("h1", timeout=120_000)
            title_s = time.perf_counter() - t0
            page.wait_for_selector("[data-testid='stDataFrame']", timeout=120_000)
            table_s = time.perf_counter() - t0
            first = page.locator("[data-testid='stMain'] h3").first.text_content().split(" ·")[0]
            video = dict(order)[first]
            shown(page, first, video, 120_000)
            player_s = time.perf_counter() - t0
            idle(page)
            settled_s = time.perf_counter() - t0
            print(f"first page: title {title_s:.2f} s, routines table {table_s:.2f} s, scores + {'player' if video else 'charts'} "
                  f"{player_s:.2f} s, script run done {settled_s:.2f} s (from page request)")
            if video:
                print(playback(page))

            t = time.perf_counter()
            page.wait_for_function(
                "![...document.querySelectorAll('[data-testid=\"stCaptionContainer\"]')]"
                ".some(c => c.textContent.includes('Scoring the routines'))", timeout=600_000)
            print(f"background scoring of {len(order)} routines finished {time.perf_counter() - t0:.1f} s after the page "
                  f"request (waited {time.perf_counter() - t:.1f} s)")
            if sum(v for _, v in order) >= 2:  # switch between routines with a video: the heavier case
                page.get_by_text("Only routines with a video").click()
                idle(page)
                order = [(rid, v) for rid, v in order if v]
                print(f"switching among the {len(order)} routines with a video (sidebar filter)")
            picks = [i for i, (rid, _) in enumerate(order) if rid != first][: args.switches]
            home = next(i for i, (rid, _) in enumerate(order) if rid == first)
            timings: dict[str, list[float]] = {"first visit": [], "revisit": []}
            for visit in ("first visit", "revisit"):
                for i in [*picks, home]:  # each click selects another row; the last one returns home
                    rid, has_video = order[i]
                    t = time.perf_counter()
                    click_row(page, i)
                    shown(page, rid, has_video)
                    if i != home:
                        timings[visit].append(time.perf_counter() - t)
                    idle(page)
            for visit, values in timings.items() if picks else ():
                print(f"switch routine ({visit}, {len(values)}x): median {statistics.median(values):.2f} s, "
                      f"max {max(values):.2f} s  [{', '.join(f'{v:.2f}' for v in values)}]")
            browser.close()
    finally:
        stop_app(proc)
        shutil.rmtree(tmp, ignore_errors=True)
    print("machine load average at the end: " + ", ".join(f"{x:.1f}" for x in os.getloadavg()))
    return 0


def _table_order(data_dir: Path) -> list[tuple[str, bool]]:
    """(routine id, has a playable video) of the picker's rows, in the table's order
    (routines with a video first, then as in labels.csv)."""
    from pamfn.catalog import load_catalog

    routines = load_catalog(data_dir).routines
    rows = [(str(rid), bool(m) and Path(m).is_file()) for rid, m in routines["media_path"].items()]
    return [r for r in rows if r[1]] + [r for r in rows if not r[1]]


if __name__ == "__main__":
    raise SystemExit(main())
