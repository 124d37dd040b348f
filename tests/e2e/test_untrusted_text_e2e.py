"""End to end in headless Chromium: a data set made by someone else names its routine with
markdown (a phishing link and a remote image). The dashboard shows the name as written:
no link, no image, and the browser never contacts the address. Screenshot in test-artifacts/.
"""

from __future__ import annotations


import pandas as pd
import pytest

from tests.support.app_data import ARTIFACTS, chromium, free_port, make_dataset, start_app, stop_app, wait_settled

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
EVIL = "evil.example"
NAME = f"[Session expired: sign in again](https:{EVIL}) ![](https:{EVIL}?track) www.{EVIL} x@{EVIL}"


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("untrusted")
    data, ckpts = make_dataset(tmp, per_action=2, actions=("ball",))
    labels = pd.read_csv(data / "labels.csv", dtype=str, keep_default_na=False)
    labels.loc[labels.routine_id == "ball_00", "routine_id"] = NAME  # the routine with a video, shown first
    labels.to_csv(data / "labels.csv", index=False)
    port = free_port()
    proc, _ = start_app(port, ["--data", str(data), "--checkpoint", str(ckpts)], tmp / "streamlit.log")
    yield f"http://127.0.0.1:{port}/"
    stop_app(proc)


def test_a_routine_named_with_markdown_is_shown_as_written(app_url):
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        contacted: list[str] = []
        page.on("request", lambda r: contacted.append(r.url) if EVIL in r.url else None)
        page.goto(app_url)
        page.wait_for_selector(".pamfn-player[data-ready='1']", timeout=90_000)
        wait_settled(page)
        heading = page.locator("h3").filter(has_text="Session expired").first
        assert heading.inner_text().replace("\u2060", "").startswith(NAME)  # as written, but for invisible word joiners
        page.screenshot(path=str(ARTIFACTS / "untrusted_name.png"))
        links = page.eval_on_selector_all(f"a[href*='{EVIL}']", "els => els.map(e => e.outerHTML)")
        images = page.eval_on_selector_all(f"img[src*='{EVIL}']", "els => els.map(e => e.outerHTML)")
    assert links == [] and images == [] and contacted == [], (links, images, contacted)
