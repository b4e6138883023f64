"""Links to what a notebook made (reports, databases, logs), one click away in JupyterLab.

A notebook runs with its own folder as the working directory, and JupyterLab resolves a
relative link in a cell's output against the notebook's path. So a link relative to the
working directory opens the file in JupyterLab, locally and on Binder alike. The work
directory ``.work/`` is hidden, so the Jupyter server is configured to serve hidden files
(``ContentsManager.allow_hidden`` in ``tools/jupyter_server_config.json``).
"""

from __future__ import annotations

import os
from pathlib import Path

from IPython.display import Markdown

from mlops_course.config import display_path, repo_root


def relative_href(path: str | Path, start: str | Path | None = None) -> str | None:
    """``path`` relative to ``start`` (default: the working directory), as a URL path;
    ``None`` when the file is outside the course checkout (a link could not be opened)."""
    path, root = Path(path).resolve(), repo_root()
    if root is None or not path.is_relative_to(root):
        return None
    return Path(os.path.relpath(path, Path(start or Path.cwd()).resolve())).as_posix()


def file_link(path: str | Path, label: str = "открыть") -> Markdown:
    """``label: <work>/reports/x.html`` as a clickable Markdown link (plain text if none)."""
    href = relative_href(path)
    shown = f"`{display_path(path)}`"
    return Markdown(f"{label}: [{shown}]({href})" if href else f"{label}: {shown}")
