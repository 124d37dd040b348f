"""The dashboard's test data set and launcher (pamfn.synth.random_dataset, app.launch),
and the browser wait of the e2e tests.

Not a test module: the routine page's AppTest and e2e test use it.
"""

from __future__ import annotations

from pathlib import Path

from app.launch import BROWSER_ARGS, ROOT, bundled_available, free_port, start_app, stop_app
from pamfn.synth.random_dataset import ACTIONS, DIMS, make_checkpoint, make_dataset, make_video

__all__ = ["ACTIONS", "BROWSER_ARGS", "DIMS", "ROOT", "bundled_available", "free_port", "make_checkpoint",
           "make_dataset", "make_video", "start_app", "stop_app", "wait_settled"]


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
