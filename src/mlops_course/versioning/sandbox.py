"""A throwaway copy of the course's DVC pipeline with a git repository of its own.

DVC's experiments, diffs and checkouts need a git repository with commits, and trying
them must never touch the student's checkout. ``create`` copies what the pipeline needs
(``dvc.yaml``, ``dvc.lock``, ``params.yaml``, the DVC config and the package code under
``src/``) into a folder, runs ``git init`` there and makes the first commit, like a fresh
clone. Notebook 06 works in such copies; ``tests/pipeline`` reproduces the pipeline in one.

Commits of a copy are deterministic: author, committer and dates are fixed, and global
git configuration (signing, hooks) is ignored, so the same files give the same commit id.
DVC keeps its site state in the copy's own folder (``DVC_SITE_CACHE_DIR``), never in
``/var/tmp/dvc``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from mlops_course.config import OFFLINE_ENV, repo_root

PIPELINE_FILES = (
    "dvc.yaml",
    "dvc.lock",
    "params.yaml",
    ".dvcignore",
    ".dvc/config",
    ".dvc/.gitignore",
    ".gitignore",
    "data/.gitignore",
    "data/README.md",
)
"""Files of the checkout a pipeline copy needs besides ``src/`` (the ones that exist)."""

MARKER = "mlops-course-sandbox"
"""A file in the copy's ``.git/``: ``create`` only ever deletes a folder that has it."""

# Fixed identity and dates: a commit of the same files always gets the same id.
GIT_ENV = {
    "GIT_AUTHOR_NAME": "MLOps course",
    "GIT_AUTHOR_EMAIL": "course@example.invalid",
    "GIT_COMMITTER_NAME": "MLOps course",
    "GIT_COMMITTER_EMAIL": "course@example.invalid",
    "GIT_AUTHOR_DATE": "2025-01-01T00:00:00+00:00",
    "GIT_COMMITTER_DATE": "2025-01-01T00:00:00+00:00",
    "GIT_CONFIG_GLOBAL": os.devnull,  # the student's signing, hooks, aliases stay out
    "GIT_CONFIG_NOSYSTEM": "1",
}


@dataclass(frozen=True)
class Sandbox:
    """A pipeline copy at ``root``; commands run there with the course's Python first on PATH."""

    root: Path
    site_cache: Path

    def env(self) -> dict[str, str]:
        path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
        return {
            **os.environ,
            **OFFLINE_ENV,
            **GIT_ENV,
            "PATH": path,  # `python` and `dvc` of this environment, as in the stage commands
            "DVC_SITE_CACHE_DIR": str(self.site_cache),
        }

    def run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run ``command`` in the copy; with ``check`` a failure raises with its stderr."""
        result = subprocess.run(
            list(command), cwd=self.root, env=self.env(), capture_output=True, text=True
        )
        if check and result.returncode != 0:
            raise SandboxCommandError(command, result)
        return result

    def dvc(self, *args: str, check: bool = True) -> str:
        """``dvc <args>`` in the copy; its standard output."""
        return self.run("dvc", *args, check=check).stdout

    def git(self, *args: str) -> str:
        """``git <args>`` in the copy; its standard output, stripped."""
        return self.run("git", *args).stdout.strip()

    def path(self, relative: str | Path) -> Path:
        return self.root / relative

    # --- Commits ---------------------------------------------------------------------

    def commit(self, message: str) -> str:
        """Commit everything, including the pipeline's metrics and plots; return the id.

        Outputs with ``cache: false`` (metrics, plot data) are meant to live in git, so
        ``dvc metrics diff`` and ``git checkout`` of an old commit find them; the course's
        ``data/.gitignore`` ignores all of ``data/``, so they are added with ``-f``.
        """
        self.git("add", "-A")
        present = [name for name in self.uncached_outputs() if self.path(name).exists()]
        if present:
            self.git("add", "-f", *present)
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.head()

    def head(self) -> str:
        return self.git("rev-parse", "HEAD")

    # --- What the pipeline declares and records ------------------------------------

    def stages(self) -> dict[str, Any]:
        return yaml.safe_load(self.path("dvc.yaml").read_text())["stages"]

    def uncached_outputs(self) -> list[str]:
        """Metrics and plot files of ``dvc.yaml`` with ``cache: false``."""
        found = []
        for stage in self.stages().values():
            for kind in ("outs", "metrics", "plots"):
                for entry in stage.get(kind, []):
                    if isinstance(entry, dict):
                        found += [
                            name for name, opts in entry.items() if not opts.get("cache", True)
                        ]
        return found

    def params(self) -> dict[str, Any]:
        return yaml.safe_load(self.path("params.yaml").read_text())

    def set_params(self, updates: Mapping[str, Any]) -> dict[str, Any]:
        """Change ``params.yaml``: ``{"train.model": "hgb"}``; returns the new params."""
        params = self.params()
        before = yaml.safe_dump(params)
        for dotted, value in updates.items():
            *parents, leaf = dotted.split(".")
            node = params
            for key in parents:
                node = node[key]
            if leaf not in node:
                raise KeyError(f"В params.yaml нет параметра {dotted!r}.")
            node[leaf] = value
        if yaml.safe_dump(params) == before:
            return params  # nothing changed: keep the file (and its comments) as it is
        self.path("params.yaml").write_text(
            yaml.safe_dump(params, sort_keys=False, allow_unicode=True)
        )
        return params

    def lock_hashes(self) -> dict[str, str]:
        """``{output path: md5}`` of every output recorded in the copy's ``dvc.lock``."""
        return lock_outputs(self.path("dvc.lock").read_text())

    def workspace_hashes(self) -> dict[str, str | None]:
        """``{output path: md5 of the file in the workspace}`` for every ``dvc.lock`` output
        (None when the file is missing): equal to ``lock_hashes`` when the data is in place."""
        return {
            name: hashlib.md5(self.path(name).read_bytes()).hexdigest()
            if self.path(name).is_file()
            else None
            for name in self.lock_hashes()
        }

    def metrics(self, name: str = "data/metrics/metrics.json") -> dict[str, Any]:
        return json.loads(self.path(name).read_text())

    def experiments(self, params: list[str], metrics: list[str]) -> pd.DataFrame:
        """The baseline commit and its experiments (``dvc exp show --json``), one row each.

        ``params`` are dotted names in ``params.yaml`` (``"train.model"``), ``metrics``
        dotted names in ``metrics.json`` (``"current.cost_per_order"``). No revisions or
        times: the table is the same on every run.
        """
        rows = []
        for entry in json.loads(self.dvc("exp", "show", "--json")):
            if entry["rev"] == "workspace":
                continue
            revisions = [entry] + [
                rev for group in entry.get("experiments") or [] for rev in group["revs"]
            ]
            for rev in revisions:
                data = rev["data"]
                values = data["params"]["params.yaml"]["data"]
                scores = data["metrics"]["data/metrics/metrics.json"]["data"]
                row = {"эксперимент": rev["name"] or "baseline"}
                row |= {name: _dotted(values, name) for name in params}
                row |= {name: _dotted(scores, name) for name in metrics}
                rows.append(row)
        table = pd.DataFrame(rows).set_index("эксперимент")
        # The baseline first, then the experiments by name (exp show orders them by time).
        return table.iloc[[0, *sorted(range(1, len(table)), key=lambda i: table.index[i])]]


def lock_outputs(lock_text: str) -> dict[str, str]:
    """``{output path: md5}`` of every output in a ``dvc.lock`` (its text, e.g. from
    ``git show <commit>:dvc.lock``)."""
    lock = yaml.safe_load(lock_text)
    return {
        out["path"]: out["md5"]
        for stage in lock["stages"].values()
        for out in stage.get("outs", [])
    }


def _dotted(tree: Mapping[str, Any], name: str) -> Any:
    for key in name.split("."):
        tree = tree[key]
    return tree


_STAGE_LINE = re.compile(
    r"^(?:Running stage '(?P<ran>[^']+)'|Stage '(?P<skipped>[^']+)' didn't change)"
)


def stage_report(output: str) -> dict[str, list[str]]:
    """Which stages a ``dvc repro`` / ``dvc exp run`` ran and which it skipped (unchanged)."""
    report: dict[str, list[str]] = {"ran": [], "skipped": []}
    for line in output.splitlines():
        if match := _STAGE_LINE.match(line.strip()):
            kind = "ran" if match["ran"] else "skipped"
            report[kind].append(match[kind])
    return report


class SandboxCommandError(RuntimeError):
    """A command failed in a pipeline copy; the message carries its stderr."""

    def __init__(self, command: tuple[str, ...], result: subprocess.CompletedProcess) -> None:
        output = (result.stderr or result.stdout).strip()
        super().__init__(
            f"`{' '.join(command)}` завершилась с кодом {result.returncode}:\n{output}"
        )
        self.result = result


def create(
    root: str | Path,
    *,
    source: str | Path | None = None,
    site_cache: str | Path | None = None,
    params: Mapping[str, Any] | None = None,
    message: str = "A copy of the course pipeline",
) -> Sandbox:
    """Copy the pipeline of ``source`` (default: this checkout) to ``root`` and commit it.

    ``root`` must be new, empty or an earlier copy (it is then replaced). ``params``
    (``{"data.seed": 7}``) change ``params.yaml`` before the first commit. DVC's site
    state goes to ``site_cache`` (default: ``<root>/.dvc/tmp/site``, git-ignored there).
    """
    source = Path(source or repo_root() or Path.cwd()).resolve()
    root = Path(root).resolve()
    if not (source / "dvc.yaml").is_file():
        raise FileNotFoundError(f"В {source} нет dvc.yaml: это не папка курса.")
    if source == root or source.is_relative_to(root):
        raise ValueError("Копия не может лежать в корне курса или выше него.")
    _clear(root)
    for name in PIPELINE_FILES:
        if (source / name).is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / name, root / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
    shutil.copytree(source / "src", root / "src", ignore=ignore)
    box = Sandbox(root, Path(site_cache).resolve() if site_cache else root / ".dvc/tmp/site")
    box.run("git", "init", "-q", "-b", "main")
    (root / ".git" / MARKER).write_text("made by mlops_course.versioning.sandbox.create\n")
    if params:
        box.set_params(params)
    box.commit(message)
    return box


def _clear(root: Path) -> None:
    if root.exists() and any(root.iterdir()):
        if not (root / ".git" / MARKER).is_file():
            raise FileExistsError(f"{root} не пуста и не копия пайплайна: не удаляю.")
        shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True)
