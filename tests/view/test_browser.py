"""End to end in a real headless browser (Debian's chromium + chromedriver, driven by selenium):
a real corpus built from ../shared/data/poses, the clip list filtered, a clip opened and played,
and the canvas checked, from a screenshot, to hold a drawn skeleton."""
from __future__ import annotations

import io
import os
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import shared

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
CHROMEDRIVER = shutil.which("chromedriver")
SCREENSHOTS = os.environ.get("SIGNVERSE_VIEW_SCREENSHOTS")   # a folder to keep the screenshots in

pytestmark = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="no headless browser: install Debian's chromium and chromium-driver "
           "(apt-get install -y chromium chromium-driver)")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    from signverse.io.transcode import convert_path
    src = shared("poses")
    out = tmp_path_factory.mktemp("view") / "corpus"
    report = convert_path(src, out, layout="dwpose")
    assert len(report.written) >= 10
    return out


@pytest.fixture(scope="module")
def server(corpus):
    import uvicorn

    from signverse.view import create_app, open_source
    from signverse.view.app import bind
    source = open_source(corpus)
    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(create_app(source), log_level="warning"))
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not srv.started and time.time() < deadline:
        time.sleep(0.05)
    assert srv.started
    yield f"http://127.0.0.1:{port}/"
    srv.should_exit = True
    thread.join(10)
    source.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    options = Options()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1500,950",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        options.add_argument(flag)
    # An explicit driver path: selenium never tries to download one.
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def wait(predicate, timeout=20.0, what="condition"):
    from selenium.common.exceptions import StaleElementReferenceException
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            value = predicate()
        except StaleElementReferenceException:   # the list re-rendered between find and read
            value = None
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def coloured_pixels(png: bytes) -> tuple[int, int, int]:
    """(saturated pixels, white pixels, all pixels) of a screenshot."""
    from PIL import Image
    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    saturation = rgb.max(-1) - rgb.min(-1)
    white = (rgb.min(-1) > 200).sum()
    return int((saturation > 120).sum()), int(white), rgb.shape[0] * rgb.shape[1]


def keep(name: str, png: bytes) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        Path(SCREENSHOTS, name).write_bytes(png)


def test_filter_open_play_and_see_a_skeleton(server, browser):
    from selenium.webdriver.common.by import By
    browser.get(server)
    rows = lambda: browser.find_elements(By.CSS_SELECTOR, "#clips tbody tr")
    wait(lambda: len(rows()) >= 10, what="the clip list")
    assert "of 15" in browser.find_element(By.ID, "range").text

    # Filter: text search narrows the list to the two HOUSE clips of one signer.
    search = browser.find_element(By.ID, "q")
    search.send_keys("colin-")
    wait(lambda: "of 4" in browser.find_element(By.ID, "range").text, what="the filtered list")
    ids = [r.get_attribute("data-clip-id") for r in rows()]
    assert ids and all(i.startswith("colin-") for i in ids)

    # Sort by frames, descending (two clicks on the header), and open the longest clip.
    header = browser.find_element(By.CSS_SELECTOR, "#clips th[data-sort=n_frames]")
    header.click()
    header.click()
    wait(lambda: rows()[0].get_attribute("data-clip-id") == "colin-HOUSE-needs-trim", what="the sort")
    rows()[0].click()
    canvas = browser.find_element(By.ID, "pose-canvas")
    wait(lambda: canvas.get_attribute("data-clip-id") == "colin-HOUSE-needs-trim", what="the clip to open")
    assert canvas.get_attribute("data-frame") == "0"

    # Play: the frame counter advances and the canvas shows a skeleton.
    browser.find_element(By.ID, "play").click()
    wait(lambda: int(canvas.get_attribute("data-frame") or 0) >= 10, what="playback to advance")
    label = browser.find_element(By.ID, "frame-label").text
    assert label.startswith("frame ") and "/ 172" in label
    time.sleep(0.3)
    png = canvas.screenshot_as_png
    keep("viewer-canvas.png", png)
    saturated, white, total = coloured_pixels(png)
    # Rainbow limbs and HSV-coloured hands are saturated; face dots white; the rest black.
    assert saturated > 0.002 * total, (saturated, total)
    assert white > 20, white
    assert saturated < 0.5 * total

    # Pause, step with the scrubber: frame and time labels follow.
    browser.find_element(By.ID, "play").click()
    browser.execute_script("const s = document.getElementById('scrub'); s.value = 5;"
                           "s.dispatchEvent(new Event('input'));")
    wait(lambda: canvas.get_attribute("data-frame") == "5", what="the scrubber")
    assert browser.find_element(By.ID, "frame-label").text.startswith("frame 6 / 172")
    keep("viewer.png", browser.get_screenshot_as_png())

    # Statistics tab.
    browser.find_element(By.ID, "tab-stats").click()
    totals = browser.find_element(By.ID, "stats-totals")
    wait(lambda: "15 clips" in totals.text, what="the statistics")
    keep("viewer-stats.png", browser.get_screenshot_as_png())
