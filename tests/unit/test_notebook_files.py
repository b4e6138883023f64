"""Saving a course notebook from JupyterLab records only the minor Python version."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from jupyter_server.services.contents.filemanager import FileContentsManager
from traitlets.config import Config

from mlops_course.classroom.notebook_files import pre_save_hook
from mlops_course.versioning.environment import python_minor
from tests.conftest import REPO_ROOT

SERVER_CONFIG = REPO_ROOT / "tools" / "jupyter_server_config.json"


def notebook_model(version: object) -> dict:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")])
    nb.metadata = {"language_info": {"name": "python", "version": version}}
    return {"type": "notebook", "format": "json", "content": json.loads(nbformat.writes(nb))}


@pytest.mark.parametrize(
    ("version", "minor"), [("3.11.9", "3.11"), ("3.11.10", "3.11"), ("3.11", "3.11")]
)
def test_python_minor_drops_the_patch_release(version: str, minor: str) -> None:
    assert python_minor(version) == minor


def test_python_minor_defaults_to_the_running_interpreter() -> None:
    import sys

    assert python_minor() == f"{sys.version_info.major}.{sys.version_info.minor}"


def test_hook_keeps_only_the_minor_version_of_a_notebook() -> None:
    model = notebook_model("3.11.9")
    pre_save_hook(model=model, path="x.ipynb", contents_manager=None)
    assert model["content"]["metadata"]["language_info"] == {"name": "python", "version": "3.11"}


@pytest.mark.parametrize(
    "model",
    [
        {"type": "file", "format": "text", "content": '{"version": "3.11.9"}'},
        {"type": "notebook", "content": {"metadata": {}}},  # no language_info yet
        notebook_model(None),  # a kernel that reports no version
    ],
)
def test_hook_leaves_everything_else_alone(model: dict) -> None:
    before = json.dumps(model)
    pre_save_hook(model=model, path="x", contents_manager=None)
    assert json.dumps(model) == before


def test_server_config_installs_the_hook(tmp_path: Path) -> None:
    """The JSON that `make lab` installs makes the Jupyter server save "3.11", not "3.11.9"."""
    config = Config(json.loads(SERVER_CONFIG.read_text()))
    manager = FileContentsManager(root_dir=str(tmp_path), config=config)
    manager.save(notebook_model("3.11.9"), "lesson.ipynb")
    saved = nbformat.read(tmp_path / "lesson.ipynb", as_version=4)
    assert saved.metadata.language_info.version == "3.11"


def test_makefile_installs_the_server_config_where_jupyter_reads_it() -> None:
    # Only jupyter_server_config.json (not the .d folder, which holds extension switches)
    # is read for settings like the pre-save hook.
    assert (
        "tools/jupyter_server_config.json $(VENV)/etc/jupyter/jupyter_server_config.json"
        in (REPO_ROOT / "Makefile").read_text()
    )


def test_binder_merges_the_hook_into_an_existing_server_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    post_build = (REPO_ROOT / "postBuild").read_text()
    script = post_build.split("<<'PY'\n", 1)[1].split("\nPY\n", 1)[0]
    existing = tmp_path / "etc" / "jupyter" / "jupyter_server_config.json"
    existing.parent.mkdir(parents=True)
    existing.write_text(json.dumps({"ServerApp": {"ip": "0.0.0.0"}}))
    monkeypatch.setattr("sys.prefix", str(tmp_path))
    monkeypatch.chdir(REPO_ROOT)

    exec(script, {"__name__": "__main__"})

    merged = json.loads(existing.read_text())
    assert merged["ServerApp"] == {"ip": "0.0.0.0"}, "Binder's own settings were lost"
    assert merged["ContentsManager"] == json.loads(SERVER_CONFIG.read_text())["ContentsManager"]
