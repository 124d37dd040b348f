"""The dashboard's test data set and launcher (pamfn.synth.random_dataset, app.launch),
and the browser and its wait of the e2e tests.

Not a test module: the routine page's AppTest and e2e test use it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.launch import BROWSER_ARGS, ROOT, bundled_available, free_port, start_app, stop_app
from pamfn.synth.random_dataset import ACTIONS, DIMS, make_checkpoint, make_dataset, make_video

__all__ = ["ACTIONS", "ARTIFACTS", "BROWSER_ARGS", "DIMS", "ROOT", "bundled_available", "chromium", "free_port",
           "make_checkpoint", "make_dataset", "make_video", "start_app", "stop_app", "wait_settled"]

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"
"""Where the e2e tests put their screenshots (git-ignored)."""


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """Debian's headless Chromium through Playwright (the test is skipped where either is
    missing), with ``ARTIFACTS`` made for its screenshots."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed (bash scripts/test.sh installs it)")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=BROWSER_ARGS)
        try:
            yield browser
        finally:
            browser.close()


SETTLED_JS = """() => !document.querySelector('[data-testid="stStatusWidget"]')
    && !document.querySelector('[data-testid="stSpinner"]')
    && Array.from(document.images).every(img => img.complete)"""


def wait_settled(pg, timeout_ms: float = 120_000) -> None:
    """Wait (a condition, not a fixed time) until the app is idle: no script running, no
    spinner, every image loaded; generous for a loaded machine."""
    pg.wait_for_function(SETTLED_JS, timeout=timeout_ms)


if __name__ == "__main__":
    import sys

    print(make_dataset(Path(sys.argv[1])))
