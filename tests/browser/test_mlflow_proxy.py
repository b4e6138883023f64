"""A student opens MLflow from JupyterLab's Launcher: the UI over the course's own store,
served under ``/mlflow/`` by jupyter-server-proxy (on Binder there is no other way in)."""

from __future__ import annotations

import base64
import json
import urllib.request
from urllib.parse import urlsplit

from mlops_course.config import work_dir
from mlops_course.versioning.tracking import EXPERIMENT, setup_tracking
from tests.browser.devtools import DevTools
from tests.conftest import wait_until

# MLflow starts on the first request to its path; on a busy 2-core machine that takes a while.
START_TIMEOUT = 150


def proxied(lab_url: str, path: str) -> str:
    parts = urlsplit(lab_url)
    token = parts.query.split("token=")[1]
    return f"{parts.scheme}://{parts.netloc}/{path}{'&' if '?' in path else '?'}token={token}"


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=START_TIMEOUT) as reply:
        return json.load(reply)


def test_mlflow_ui_opens_through_the_lab_proxy_over_the_course_store(
    lab_url: str, browser: DevTools
) -> None:
    setup_tracking()  # the shared store of this test session's work directory
    api = proxied(lab_url, "mlflow/ajax-api/2.0/mlflow/experiments/search?max_results=10")
    experiments = get_json(api)["experiments"]
    assert EXPERIMENT in {e["name"] for e in experiments}, experiments

    browser.call("Page.navigate", url=proxied(lab_url, "mlflow/"))

    def rendered() -> bool:
        text = browser.evaluate("document.body ? document.body.innerText : ''") or ""
        return EXPERIMENT in text

    wait_until(rendered, 90, "the MLflow UI listing the course's experiment")
    shot = browser.call("Page.captureScreenshot", format="png")["data"]
    path = work_dir("screenshots") / "mlflow_proxy.png"
    path.write_bytes(base64.b64decode(shot))
    browser.settle()
    hosts = {urlsplit(url).netloc for url in browser.requested_urls()}
    assert hosts - {urlsplit(lab_url).netloc, ""} == set(), "the UI must not leave loopback"
