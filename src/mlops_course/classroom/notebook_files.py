"""Course notebooks stay unchanged in git when JupyterLab saves them.

When a notebook opens, JupyterLab copies the kernel's ``language_info`` into it, with the
full Python version ("3.11.9"). If that differs from what the file says, the notebook is
marked modified and autosave writes it back: a student who only read it finds it changed
in ``git status``, and in conflict at the next ``git pull``. Every student whose Python
3.11 is another patch release than the builder's would hit this.

So notebooks record only the minor version ("3.11", the one the course requires): the
builder writes it, and ``pre_save_hook`` (installed into the Jupyter server by ``make lab``
and Binder's ``postBuild``) writes it on every save. Saving a notebook that was only
opened then leaves the file byte for byte as it was.
"""

from __future__ import annotations

from typing import Any

from mlops_course.versioning.environment import python_minor


def pre_save_hook(model: dict[str, Any], **_: Any) -> None:
    """Jupyter server ``ContentsManager.pre_save_hook``: keep only the minor Python version."""
    if model.get("type") != "notebook" or not isinstance(model.get("content"), dict):
        return
    language_info = model["content"].get("metadata", {}).get("language_info")
    if isinstance(language_info, dict) and isinstance(language_info.get("version"), str):
        language_info["version"] = python_minor(language_info["version"])
