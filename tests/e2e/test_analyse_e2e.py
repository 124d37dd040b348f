"""End to end in headless Chromium: upload a small generated video on "Analyse a video",
wait for the extraction progress to finish and see the routine view (synced player,
scores, explanations); upload a file that is not a video and see it refused. Also opens
the research and compare views. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import os
import re

import pytest

from tests.support.app_data import (
    ARTIFACTS,
    bundled_available,
    chromium,
    free_port,
    make_dataset,
    make_video,
    start_app,
    stop_app,
    wait_settled,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
UPLOAD_INPUT = "[data-testid='stFileUploaderDropzoneInput']"
DROPZONE = "[data-testid='stFileUploaderDropzone']"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """The dashboard on the bundled data, or on a generated data set whose features and
    checkpoints have the lite extractor's dimensions (so uploads can be scored too); its
    routine library in a temporary folder."""
    tmp = tmp_path_factory.mktemp("analyse_e2e")
    if bundled_available():
        args: list[str] = []
    else:
        from pamfn.features.lite import LiteExtractor

        data, ckpts = make_dataset(tmp, per_action=3, media=True, dims=dict(LiteExtractor.dims))
        args = ["--data", str(data), "--checkpoint", str(ckpts)]
    saved = os.environ.get("PAMFN_LIBRARY")
    os.environ["PAMFN_LIBRARY"] = str(tmp / "library")
    port = free_port()
    try:
        proc, _ = start_app(port, args, tmp / "streamlit.log")
    finally:
        os.environ.pop("PAMFN_LIBRARY") if saved is None else os.environ.__setitem__("PAMFN_LIBRARY", saved)
    yield f"http://127.0.0.1:{port}/", tmp
    stop_app(proc)


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


LINKS = {"analyse": "Analyse a video", "research": "Research", "compare": "Compare"}


def open_page(browser, url: str, name: str):
    """Open the app and follow its navigation to the page ``name``."""
    pg = browser.new_page(viewport={"width": 1500, "height": 1300})
    pg.errors = []
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    pg.goto(url)
    # the app's own navigation (st.navigation), the views live in app/views/, so Streamlit's automatic pages mode never applies
    pg.get_by_role("link", name=LINKS[name], exact=True).click(timeout=60_000)
    pg.wait_for_url(f"**/{name}", timeout=120_000)  # the page leaves once the running script yields
    return pg


def choose_apparatus(pg, name: str = "Ball") -> None:
    """Pick the apparatus, which the page asks for before it takes a file (several served)."""
    pg.wait_for_selector(UPLOAD_INPUT, state="attached", timeout=60_000)
    if pg.locator(f"{DROPZONE}[aria-disabled='true']").count() == 0:
        return  # one checkpoint serves every upload: nothing to choose
    pg.locator("[data-testid='stSelectbox']").filter(has_text="Apparatus").click()
    pg.get_by_role("option", name=name, exact=True).click()
    pg.wait_for_selector(f"{DROPZONE}[aria-disabled='false']", timeout=60_000)


def no_exception(pg) -> None:
    assert pg.locator("[data-testid='stException']").count() == 0, pg.locator("[data-testid='stException']").first.inner_text()
    assert not pg.errors, pg.errors


def test_upload_a_video_and_see_the_routine_view(app, browser):
    url, tmp = app
    clip = make_video(tmp / "athlete_routine.mp4", 4.0)
    pg = open_page(browser, url, "analyse")
    choose_apparatus(pg)
    pg.locator(UPLOAD_INPUT).set_input_files(str(clip))
    pg.wait_for_selector("[data-testid='stProgress']", timeout=60_000)
    pg.get_by_text(re.compile(r"Extracted \d+ segments")).wait_for(timeout=120_000)
    pg.wait_for_selector(".pamfn-player[data-ready='1']", timeout=120_000)
    pg.get_by_text("PAMFN predicted").wait_for(timeout=30_000)
    pg.get_by_text("What moved the score").wait_for()
    if bundled_available():  # a test pattern with a beeping tone is no routine: the bundled checkpoint says so
        pg.get_by_text("unlike anything this checkpoint was trained on").wait_for(timeout=60_000)
    # keyframes of the upload: RGB frames above their optical flow
    pg.locator("[data-testid='stCaptionContainer']", has_text="RGB frames above").wait_for(timeout=120_000)
    pg.wait_for_function("document.querySelectorAll('[data-testid=\"stImage\"] img').length >= 2", timeout=120_000)
    assert pg.get_by_text("Keyframes need the routine's video").count() == 0
    pg.set_viewport_size({"width": 1500, "height": 2100})
    wait_settled(pg)
    pg.screenshot(path=str(ARTIFACTS / "analyse_routine_view.png"), full_page=True)
    no_exception(pg)

    pg.get_by_role("button", name=re.compile("Save to library")).click()
    # the confirmation outlives the rerun, and the row it confirms is in the library's table
    confirmation(pg, "Saved athlete_routine to the library")
    library_row(pg, "athlete_routine").wait_for(state="attached", timeout=60_000)
    assert len(list((tmp / "library").iterdir())) == 1
    pg.screenshot(path=str(ARTIFACTS / "analyse_saved.png"))
    no_exception(pg)

    # the library's table: select the entry (first row), open it, then remove it
    select_first_row(pg)
    pg.get_by_test_id("stButton").get_by_role("button", name="Open").click(timeout=60_000)
    confirmation(pg, "Opened athlete_routine from the library")
    pg.wait_for_selector(".pamfn-player[data-ready='1']", timeout=120_000)
    pg.screenshot(path=str(ARTIFACTS / "analyse_library_opened.png"))
    no_exception(pg)
    wait_settled(pg)  # a click during the opening's rerun can be lost on a loaded machine
    if not pg.get_by_role("button", name=re.compile("Remove from library")).is_visible():
        select_first_row(pg)
        wait_settled(pg)
    pg.get_by_role("button", name=re.compile("Remove from library")).click(timeout=60_000)
    pg.get_by_text("from the library for good?").wait_for(timeout=60_000)  # removal asks first
    assert list((tmp / "library").iterdir()), "nothing is removed before the confirmation"
    pg.get_by_role("button", name="Remove", exact=True).click(timeout=60_000)
    confirmation(pg, "Removed athlete_routine from the library")
    pg.get_by_text("Nothing saved yet").wait_for(timeout=60_000)
    assert library_row(pg, "athlete_routine").count() == 0
    assert list((tmp / "library").iterdir()) == []
    expect = pytest.importorskip("playwright.sync_api").expect
    expect(pg.locator(".pamfn-player")).to_have_count(0, timeout=60_000)  # once the run that removed it has ended
    no_exception(pg)
    pg.close()


def confirmation(pg, text: str) -> None:
    """Wait for the success message (kept across the rerun) that reads ``text``."""
    pg.locator("[data-testid='stAlertContentSuccess']", has_text=text).wait_for(timeout=60_000)


def library_row(pg, name: str):
    """The library table's cell holding ``name`` (the grid keeps its cells in an accessible table)."""
    return pg.locator("[data-testid='stDataFrame'] td", has_text=name)


def select_first_row(pg) -> None:
    grid = pg.locator("[data-testid='stDataFrame']").first
    grid.wait_for(timeout=60_000)
    box = grid.bounding_box()
    pg.mouse.click(box["x"] + 18, box["y"] + 35 * 1.5)
    pg.get_by_role("button", name=re.compile("Remove from library")).wait_for(timeout=60_000)


def test_a_non_video_upload_is_refused(app, browser):
    url, tmp = app
    notes = tmp / "notes.txt"
    notes.write_text("judging notes, not a video\n" * 50)
    fake = tmp / "fake_video.mp4"
    fake.write_bytes(b"\x00\x01 definitely not an mp4 " * 500)
    pg = open_page(browser, url, "analyse")
    choose_apparatus(pg)
    pg.locator(UPLOAD_INPUT).set_input_files(str(notes))
    pg.get_by_text("notes.txt was refused").wait_for(timeout=60_000)
    assert "Unsupported file type '.txt'" in pg.locator("[data-testid='stAlert']").first.inner_text()
    pg.screenshot(path=str(ARTIFACTS / "analyse_refused_txt.png"))
    pg.locator(UPLOAD_INPUT).set_input_files(str(fake))
    pg.get_by_text("fake_video.mp4 was refused").wait_for(timeout=60_000)
    assert "Not a readable video file" in pg.locator("[data-testid='stAlert']").first.inner_text()
    pg.screenshot(path=str(ARTIFACTS / "analyse_refused_mp4.png"))
    assert pg.locator(".pamfn-player").count() == 0
    no_exception(pg)
    pg.close()


def test_research_and_compare_views_render(app, browser):
    pg = open_page(browser, app[0], "research")
    for name in ("research", "compare"):
        if name != "research":
            pg.set_viewport_size({"width": 1500, "height": 1300})
            pg.get_by_role("link", name=LINKS[name], exact=True).click()
            pg.wait_for_url(f"**/{name}", timeout=120_000)  # the page leaves once the running script yields
        pg.wait_for_selector("[data-testid='stMain'] .js-plotly-plot", timeout=90_000)
        pg.set_viewport_size({"width": 1500, "height": 2000})
        wait_settled(pg)
        pg.screenshot(path=str(ARTIFACTS / f"{name}_view.png"), full_page=True)
        no_exception(pg)
        with pg.expect_download(timeout=60_000) as download:
            pg.get_by_role("button", name=re.compile("Download as HTML")).first.click()
        saved = ARTIFACTS / download.value.suggested_filename
        download.value.save_as(saved)
        doc = saved.read_text(encoding="utf-8")
        assert saved.suffix == ".html" and "plotly.js v" in doc and not re.search(r"<script[^>]+src=", doc)
    pg.close()
