"""An instructor presents notebooks with RISE on a 1280 × 720 screen: the slides fit it, no
"Click to add a cell." bar covers them, a heading is set in one typeface for Cyrillic and
Latin, and the server answers every stylesheet RISE asks for (no 404).

The fixes live in ``tools/``: ``rise.css`` (the slide stylesheet) and
``jupyter_server_config.py`` (serves it as ``rise.css`` next to every notebook), installed
into the environment by ``make venv`` / Binder's ``postBuild``; the slide structure (one
step per sub-slide) comes from ``tools/course.py``. Screenshots of the slides go to
``work_dir("screenshots")`` (``$MLOPS_COURSE_SCREENSHOTS`` to keep them elsewhere: the
test session's work directory is removed at its end).
"""

from __future__ import annotations

import base64
import os
import shutil
import sys
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
from traitlets.config import Config

from mlops_course.config import work_dir
from tests.browser.devtools import DevTools
from tests.conftest import REPO_ROOT, wait_until

SCREEN = {"width": 1280, "height": 720}
NOTEBOOKS = ["notebooks/00_course_map.ipynb", "notebooks/04_data_drift.ipynb"]
FIRST_SLIDES = 3  # title, goals, the first section: what the audience sees first
INSTALLED = {  # the repository's file -> where `make venv` and postBuild put it
    "tools/jupyter_server_config.py": "etc/jupyter/jupyter_server_config.py",
    "tools/rise.css": "etc/jupyter/mlops_course_rise.css",
}

# Leaf slides (a sub-slide, or a slide without sub-slides), in order: RISE gives them ids.
SLIDE_IDS = """Array.from(document.querySelectorAll('.reveal .slides section'))
  .filter(s => !s.querySelector('section')).map(s => s.id)"""
# The slide on screen: how tall its content is, against the room reveal.js gives it.
SHOWN = """(() => {
  const slide = document.querySelector('.reveal .slides section.present:not(.stack)');
  if (!slide) return null;
  const box = slide.getBoundingClientRect();
  const headings = Array.from(slide.querySelectorAll('h1, h2, h3')).map(h => ({
    text: h.textContent.replace('¶', '').trim(), font: getComputedStyle(h).fontFamily,
    transform: getComputedStyle(h).textTransform}));
  return {id: slide.id, content: slide.scrollHeight, room: slide.clientHeight,
          bottom: box.bottom, screen: window.innerHeight, headings};
})()"""
# JupyterLab's "Click to add a cell." button: in a slideshow it must not take any room.
STRAY_BARS = """Array.from(document.querySelectorAll('.jp-Notebook-footer'))
  .filter(e => e.getClientRects().length > 0).map(e => e.textContent)"""


def screenshot(browser: DevTools, name: str) -> Path:
    folder = Path(os.environ.get("MLOPS_COURSE_SCREENSHOTS") or work_dir("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    path.write_bytes(base64.b64decode(browser.call("Page.captureScreenshot")["data"]))
    return path


def still(browser: DevTools) -> dict | None:
    """The slide on screen once it stopped moving (reveal.js slides it in), else None."""
    first = browser.evaluate(SHOWN)
    time.sleep(0.3)
    return first if first == browser.evaluate(SHOWN) else None


def heading_fonts(browser: DevTools, slide_id: str) -> list[str]:
    """The typefaces Chromium actually drew the slide's first heading with."""
    root = browser.call("DOM.getDocument", depth=0)["root"]["nodeId"]
    selector = f"#{slide_id} h1, #{slide_id} h2, #{slide_id} h3"
    node = browser.call("DOM.querySelector", nodeId=root, selector=selector)["nodeId"]
    fonts = browser.call("CSS.getPlatformFontsForNode", nodeId=node)["fonts"]
    return sorted({font["familyName"] for font in fonts})


def network(browser: DevTools) -> list[dict]:
    return [e for e in browser.events if e.get("method") == "Network.requestWillBeSent"]


def server_log(tmp_path_factory: pytest.TempPathFactory, lab_url: str) -> str:
    """The log of the jupyter server behind ``lab_url`` (tests/browser/conftest.py)."""
    port = urlsplit(lab_url).port
    for log in tmp_path_factory.getbasetemp().glob("jupyter*/server.log"):
        if f"127.0.0.1:{port}/" in (text := log.read_text(errors="replace")):
            return text
    raise AssertionError(f"no server log for port {port}")


def test_installed_slide_files_match_the_repository() -> None:
    stale = [
        source
        for source, target in INSTALLED.items()
        if not (Path(sys.prefix) / target).is_file()
        or (Path(sys.prefix) / target).read_bytes() != (REPO_ROOT / source).read_bytes()
    ]
    assert not stale, f"{stale} not installed in {sys.prefix}: run `make venv`"


def test_server_answers_rise_stylesheets_only_where_the_folder_has_none(tmp_path: Path) -> None:
    # The installed layout: the config next to the stylesheet it serves.
    etc = tmp_path / "etc"
    etc.mkdir()
    shutil.copy(REPO_ROOT / "tools" / "rise.css", etc / "mlops_course_rise.css")
    config = Config()
    namespace = {"get_config": lambda: config, "__file__": str(etc / "jupyter_server_config.py")}
    exec((REPO_ROOT / "tools" / "jupyter_server_config.py").read_text(), namespace)
    handler_class = config.ContentsManager.files_handler_class
    root = tmp_path / "course"
    (root / "notebooks").mkdir(parents=True)
    (root / "notebooks" / "04_data_drift.ipynb").write_text("{}")
    handler = SimpleNamespace(root=str(root))

    def answer(path: str) -> str | None:
        return handler_class.rise_stylesheet(handler, path)

    assert answer("notebooks/rise.css") == (REPO_ROOT / "tools" / "rise.css").read_text()
    assert answer("notebooks/04_data_drift.css").startswith("/*")  # empty, but a stylesheet
    assert answer("notebooks/other.css") is None  # no such notebook: a true 404
    assert answer("notebooks/04_data_drift.ipynb") is None  # everything else: the files
    assert answer("../rise.css") is None  # nothing outside the root
    (root / "notebooks" / "rise.css").write_text(".mine {}")
    assert answer("notebooks/rise.css") is None  # an instructor's own stylesheet wins


@pytest.mark.parametrize("path", NOTEBOOKS)
def test_first_slides_fit_the_screen_in_one_typeface_without_404(
    path: str,
    browser: DevTools,
    lab_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    browser.call("Emulation.setDeviceMetricsOverride", **SCREEN, deviceScaleFactor=1, mobile=False)
    browser.call("DOM.enable")
    browser.call("CSS.enable")
    browser.call("Page.navigate", url=lab_url.replace("/lab/tree/", "/rise/").format(path=path))
    ids = wait_until(lambda: browser.evaluate(SLIDE_IDS), 120, f"slides of {path}")
    assert len(ids) >= FIRST_SLIDES

    name, computed = Path(path).stem, set()
    for slide_id in ids[:FIRST_SLIDES]:
        browser.evaluate(f"location.hash = '#/{slide_id}'")
        wait_until(
            lambda slide_id=slide_id: (browser.evaluate(SHOWN) or {}).get("id") == slide_id,
            30,
            f"{path}: slide {slide_id} shown",
        )
        browser.settle(quiet=1.0)  # fonts and figures in place
        shown = wait_until(lambda: still(browser), 30, f"{path}: slide {slide_id} at rest")
        shot = screenshot(browser, f"{name}-{slide_id}")
        where = f"{path}, slide {slide_id} (see {shot})"
        assert not browser.evaluate(STRAY_BARS), f"{where}: a 'Click to add a cell.' bar"
        assert shown["screen"] == SCREEN["height"]
        assert shown["content"] <= shown["room"] + 1, (
            f"{where}: {shown['content']} px of content in {shown['room']} px: split the "
            "section (a code cell with a table and a figure is a slide on its own)"
        )
        assert shown["bottom"] <= SCREEN["height"], f"{where}: ends below the screen"
        for heading in shown["headings"]:
            computed.add(heading["font"])
            assert heading["transform"] == "none", f"{where}: {heading} set in capitals"
        if shown["headings"]:
            fonts = heading_fonts(browser, slide_id)
            assert len(fonts) == 1, f"{where}: {shown['headings'][0]['text']!r} in {fonts}"
    assert len(computed) == 1, f"{path}: headings in several font families: {computed}"

    # RISE asked for the folder's rise.css and the notebook's own <name>.css: both answered.
    # Chromium reports a failed stylesheet's status only in responseReceivedExtraInfo.
    urls = {e["params"]["requestId"]: e["params"]["request"]["url"] for e in network(browser)}
    statuses = [
        (e["params"].get("statusCode") or e["params"].get("response", {}).get("status") or 0,
         urls.get(e["params"]["requestId"], e["params"].get("response", {}).get("url")))
        for e in browser.events
        if e.get("method") in ("Network.responseReceived", "Network.responseReceivedExtraInfo")
    ]  # fmt: skip
    failed = [status for status in statuses if status[0] >= 400]
    assert not failed, f"{path}: {failed}"
    stylesheets = [u for u in browser.requested_urls() if u.endswith(".css")]
    folder = Path(path).parent.as_posix()
    assert any(u.endswith(f"/files/{folder}/rise.css") for u in stylesheets), stylesheets
    assert any(u.endswith(f"/files/{folder}/{name}.css") for u in stylesheets), stylesheets
    token = lab_url.split("token=")[1]
    base = lab_url.split("/lab/tree/")[0]
    with urllib.request.urlopen(f"{base}/files/{folder}/rise.css?token={token}") as reply:
        assert reply.headers["Content-Type"].startswith("text/css")
        assert b"jp-Notebook-footer" in reply.read(), "rise.css is not the course's stylesheet"
    log = server_log(tmp_path_factory, lab_url).splitlines()
    not_found = [line for line in log if " 404 " in line]
    assert not not_found, "\n".join(not_found)
