"""A student opens the course in JupyterLab: it renders offline, runs, and saves unchanged;
an instructor presents a notebook as slides (RISE), offline too."""

from __future__ import annotations

import json
import platform
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

from tests.browser.devtools import DevTools
from tests.conftest import wait_until

# JavaScript functions of a notebook path, run in the page. The panel is looked up by
# path: headless Chromium has no focus, so the shell's currentWidget stays empty.
FIND_PANEL = """const app = window.jupyterapp;  // undefined until JupyterLab has loaded
  const panel = app && Array.from(app.shell.widgets('main'))
    .find(w => w.context && w.context.path === path && w.content && w.sessionContext);"""

# State of the notebook: null until it is open.
NOTEBOOK_STATE = f"""(path) => {{
  {FIND_PANEL}
  if (!panel) return null;
  return {{cells: panel.content.widgets.length, kernel: panel.sessionContext.kernelDisplayStatus,
           dirty: panel.context.model.dirty}};
}}"""

# The Python version the open notebook's metadata holds, and a save as autosave does it.
PYTHON_VERSION = f"""(path) => {{
  {FIND_PANEL}
  return panel.context.model.getMetadata('language_info').version;
}}"""
SAVE = f"""(path) => {{
  {FIND_PANEL}
  return panel.context.save().then(() => true);
}}"""

# What every code cell holds after running: execution count and a summary of its outputs.
CODE_CELLS = f"""(path) => {{
  {FIND_PANEL}
  const cells = panel.content.model.cells, result = [];
  for (let i = 0; i < cells.length; i++) {{
    const cell = cells.get(i).toJSON();
    if (cell.cell_type !== 'code') continue;
    result.push({{count: cell.execution_count, outputs: cell.outputs.map(o => ({{
      type: o.output_type, name: o.name || null, ename: o.ename || null,
      evalue: o.evalue || null, traceback: (o.traceback || []).length}}))}});
  }}
  return result;
}}"""

# Run All acts on the notebook opened last, as the student's click on ⏩ would.
RUN_ALL = "window.jupyterapp.commands.execute('notebook:run-all-cells').then(() => true)"


def call(browser: DevTools, function: str, path: str):
    return browser.evaluate(f"({function})({json.dumps(path)})")


def open_notebook(browser: DevTools, lab_url: str, lab_root: Path, path: str) -> dict:
    """Navigate to a notebook and wait until it is rendered with an idle kernel."""
    expected_cells = len(json.loads((lab_root / path).read_text())["cells"])
    browser.call("Page.navigate", url=lab_url.format(path=path))

    def ready() -> dict | None:
        state = call(browser, NOTEBOOK_STATE, path)
        if state and state["kernel"] == "idle" and state["cells"] == expected_cells:
            return state
        return None

    def seen() -> dict | None:
        return call(browser, NOTEBOOK_STATE, path)

    return wait_until(ready, 120, f"{path} rendered with an idle kernel", seen)


def external_hosts(browser: DevTools, lab_url: str) -> set[str]:
    """Hosts other than the lab server that the page requested (must be none: offline)."""
    browser.settle()
    lab_host = urlsplit(lab_url).netloc
    hosts = {urlsplit(url).netloc for url in browser.requested_urls()}
    assert lab_host in hosts, "no request recorded: is the Network domain enabled?"
    return {host for host in hosts if host and host != lab_host}


def run_all(browser: DevTools, path: str) -> list[dict]:
    assert browser.evaluate(RUN_ALL) is True
    return call(browser, CODE_CELLS, path)


def test_course_map_opens_offline_runs_clean_and_saves_unchanged(
    browser: DevTools, lab_url: str, lab_root: Path
) -> None:
    path = "notebooks/00_course_map.ipynb"
    committed = (lab_root / path).read_bytes()

    state = open_notebook(browser, lab_url, lab_root, path)
    assert state["cells"] > 5
    time.sleep(3)  # time for JupyterLab to touch the file, if it were going to
    assert (lab_root / path).read_bytes() == committed, "opening rewrote the notebook"
    # The kernel's full Python version is now in the open notebook (so it may show as
    # modified); saving it, as autosave will, must still leave the file as committed.
    assert call(browser, PYTHON_VERSION, path) == platform.python_version()
    assert call(browser, SAVE, path) is True
    assert (lab_root / path).read_bytes() == committed, "saving an unedited notebook changed it"

    cells = run_all(browser, path)
    assert all(cell["count"] is not None for cell in cells), "a cell did not run"
    errors = [o for cell in cells for o in cell["outputs"] if o["type"] == "error"]
    assert not errors, f"errors in the browser: {errors}"
    stderr = [o for cell in cells for o in cell["outputs"] if o["name"] == "stderr"]
    assert not stderr, "warnings shown to the student"

    assert not external_hosts(browser, lab_url), "the page reached outside the machine"


def test_lab_stops_at_first_exercise_with_a_friendly_message(
    browser: DevTools, lab_url: str, lab_root: Path
) -> None:
    # The student's copy, made as `make lab` makes it.
    subprocess.run(["make", "-s", "-C", str(lab_root), "my-labs"], check=True, capture_output=True)
    path = "my_labs/lab01_data_validation.ipynb"
    open_notebook(browser, lab_url, lab_root, path)
    cells = run_all(browser, path)
    errors = [o for cell in cells for o in cell["outputs"] if o["type"] == "error"]
    assert len(errors) == 1, "Run All must stop at the first unsolved exercise"
    assert errors[0]["ename"] == "ExerciseNotDone"  # a NotImplementedError
    assert errors[0]["evalue"].startswith("Упражнение не выполнено")
    assert errors[0]["traceback"] == 1, "one line for the student, no traceback"


def test_instructor_presents_a_notebook_as_offline_slides(
    browser: DevTools, lab_url: str, lab_root: Path
) -> None:
    path = "notebooks/04_data_drift.ipynb"
    cells = json.loads((lab_root / path).read_text())["cells"]
    slides = sum(c["metadata"].get("slideshow", {}).get("slide_type") == "slide" for c in cells)
    browser.call("Page.navigate", url=lab_url.replace("/lab/tree/", "/rise/").format(path=path))

    def shown() -> int:
        return browser.evaluate("document.querySelectorAll('.reveal .slides > section').length")

    wait_until(lambda: shown() == slides, 120, f"{slides} slides of {path}", show=shown)
    assert slides >= 5  # every "##" section of the notebook is a slide
    assert not external_hosts(browser, lab_url), "the slides reached outside the machine"
