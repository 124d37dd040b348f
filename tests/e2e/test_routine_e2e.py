"""End to end in headless Chromium: start the dashboard with the README's command, open
a routine, play the video and watch the playhead move over the charts, press a chart
and watch the video seek, follow an explanation to its moment. Screenshots go to
test-artifacts/.

Runs on the bundled sample data and checkpoints when they are in the repository, else
on a small generated data set (``-- --data ... --checkpoint ...``).
"""

from __future__ import annotations

import re

import pytest

from tests.support.app_data import (
    ARTIFACTS,
    bundled_available,
    chromium,
    free_port,
    make_dataset,
    start_app,
    stop_app,
    wait_settled,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
VIDEO = ".pamfn-player video"


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("e2e")
    if bundled_available():
        args: list[str] = []
    else:
        data, ckpts = make_dataset(tmp)
        args = ["--data", str(data), "--checkpoint", str(ckpts)]
    port = free_port()
    proc, _ = start_app(port, args, tmp / "streamlit.log")
    yield f"http://127.0.0.1:{port}/"
    stop_app(proc)


@pytest.fixture(scope="module")
def page(app_url):
    with chromium() as browser:
        pg = browser.new_page(viewport={"width": 1500, "height": 1300})
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.goto(app_url)
        pg.wait_for_selector(".pamfn-player[data-ready='1']", timeout=90_000)
        pg.errors = errors
        yield pg


def video_time(pg) -> float:
    return float(pg.evaluate(f"document.querySelector('{VIDEO}').currentTime"))


def playhead_x(pg) -> float:
    transform = pg.evaluate("document.querySelector('.pamfn-playhead').style.transform")
    return float(re.search(r"translateX\(([-\d.]+)px\)", transform).group(1))


def test_playing_moves_the_playhead(page):
    page.screenshot(path=str(ARTIFACTS / "routine_opened.png"))
    x0 = playhead_x(page)
    reports = page.evaluate("Number(document.querySelector('.pamfn-player').dataset.reports || 0)")
    page.evaluate(f"document.querySelector('{VIDEO}').muted = true; document.querySelector('{VIDEO}').play()")
    page.wait_for_function(f"document.querySelector('{VIDEO}').currentTime > 1.5", timeout=20_000)
    x1, t1 = playhead_x(page), video_time(page)
    page.wait_for_function(f"document.querySelector('{VIDEO}').currentTime > {t1 + 0.4}", timeout=20_000)
    x2 = playhead_x(page)
    page.screenshot(path=str(ARTIFACTS / "routine_playing.png"))
    during = page.evaluate("Number(document.querySelector('.pamfn-player').dataset.reports || 0)")
    page.evaluate(f"document.querySelector('{VIDEO}').pause()")
    assert x0 < x1 < x2, (x0, x1, x2)
    assert during == reports, "playing must not send the time to Python (no round-trip per frame)"
    assert not page.errors, page.errors


def test_pressing_a_chart_seeks_the_video(page):
    before = video_time(page)
    box = page.locator(".pamfn-chart").bounding_box()
    x = box["x"] + box["width"] * 0.75
    expected = page.evaluate(
        """(clientX) => { const gd = document.querySelector('.pamfn-chart'); const xa = gd._fullLayout.xaxis;
           return xa.p2l(clientX - gd.getBoundingClientRect().left - xa._offset); }""", x)
    reports = page.evaluate("Number(document.querySelector('.pamfn-player').dataset.reports || 0)")
    page.mouse.click(x, box["y"] + box["height"] * 0.5)
    page.wait_for_function(f"Math.abs(document.querySelector('{VIDEO}').currentTime - {expected}) < 0.3", timeout=30_000)
    # the pause/seek time goes back to Python; once that rerun is over, the player must not be reset
    page.wait_for_function(f"Number(document.querySelector('.pamfn-player').dataset.reports || 0) > {reports}", timeout=30_000)
    wait_settled(page)
    after = video_time(page)
    assert abs(after - expected) < 0.3 and abs(after - before) > 1.0, (before, expected, after)
    head = playhead_x(page)
    assert abs(head - (x - box["x"])) < 3, (head, x - box["x"])
    page.screenshot(path=str(ARTIFACTS / "routine_seeked.png"))


def test_an_explanation_jumps_to_its_moment(page):
    if not bundled_available():
        pytest.skip("a generated data set's random checkpoint has no stretch beyond its noise to jump to")
    # ribbon_310 (a showcase routine with a video) has a stretch whose pull on a modality's MSFD
    # weight clearly exceeds its noise with the bundled checkpoint (at 0:05; `pamfn explain --occlusion`)
    page.get_by_label("Routine id contains").fill("ribbon_310")
    page.keyboard.press("Enter")
    page.get_by_text("ribbon_310 · Ribbon").wait_for(timeout=60_000)
    page.get_by_text("made the model lean on").first.wait_for(timeout=90_000)
    page.wait_for_selector(".pamfn-player[data-ready='1']", timeout=90_000)
    button = page.locator("[data-testid='stButton'] button").filter(has_text=re.compile(r"^\D*\d+:\d\d\s*$")).first
    label = re.search(r"(\d+):(\d\d)", button.inner_text())
    start = 60 * int(label.group(1)) + int(label.group(2))
    button.click()
    page.wait_for_function(f"Math.abs(document.querySelector('{VIDEO}').currentTime - {start}) <= 0.6", timeout=30_000)
    caption = page.locator("[data-testid='stCaptionContainer']", has_text="RGB frames above")
    caption.filter(has_text=f"{label.group(0)}–").first.wait_for(timeout=60_000)  # the keyframes follow
    wait_settled(page)
    page.set_viewport_size({"width": 1500, "height": 2300})
    wait_settled(page)
    page.screenshot(path=str(ARTIFACTS / "routine_full.png"))
    assert not page.errors, page.errors
    assert page.locator("[data-testid='stException']").count() == 0, "a Python exception is shown on the page"
    assert page.locator("[data-testid='stImage']").count() >= 2, "the keyframes of the chosen moment are shown"
