"""Every notebook and solution also runs to the end with another seed (blueprint 5a).

nbval re-checks the committed seed-42 outputs one by one; this runs each notebook with the
seed papermill injects instead, as `make course SEED=7` does, which shows that no result is
hard-coded, and checks that the seed really reaches the computation: some output changes.
"""

import configparser
import re
import sys
from pathlib import Path

import nbformat
import pytest

from tests.conftest import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "tools"))
import course  # noqa: E402

OTHER_SEED = 7
EXECUTED = [target for target in course.targets() if target.executed]


def sanitizers() -> list[tuple[re.Pattern, str]]:
    """nbval's sanitizers (tests/sanitize.cfg): what differs between any two runs."""
    config = configparser.ConfigParser(interpolation=None)
    config.read(REPO_ROOT / "tests" / "sanitize.cfg", encoding="utf-8")
    return [(re.compile(config[s]["regex"]), config[s]["replace"]) for s in config.sections()]


SANITIZERS = sanitizers()


def outputs(nb: nbformat.NotebookNode) -> list[str]:
    """What nbval compares: text outputs of code cells (not PNG), sanitized, streams joined
    per cell (how a kernel splits them varies), without the cells nbval ignores (their
    outputs change on every run, so any two runs would differ)."""
    texts = []
    for cell in nb.cells:
        if cell.cell_type != "code" or "NBVAL_IGNORE_OUTPUT" in cell.source:
            continue
        if "injected-parameters" in cell.metadata.get("tags", []):
            continue
        streams: dict[str, str] = {}
        for output in cell.get("outputs", []):
            if output.output_type == "stream":
                streams[output.name] = streams.get(output.name, "") + output.text
                continue
            data = {k: v for k, v in output.get("data", {}).items() if not k.startswith("image/")}
            texts.append(str(data or output.get("ename", "")))
        texts.extend(f"{name}: {text}" for name, text in sorted(streams.items()))
    return [sanitize(text) for text in texts]


def sanitize(text: str) -> str:
    for pattern, replacement in SANITIZERS:
        text = pattern.sub(replacement, text)
    return text


def uses_seed(nb: nbformat.NotebookNode) -> bool:
    parameters = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    return any("seed =" in cell.source for cell in parameters)


@pytest.mark.slow
@pytest.mark.parametrize("target", EXECUTED, ids=lambda target: target.output.name)
def test_runs_to_the_end_with_another_seed(target: course.Target, work_home: Path) -> None:
    # work_home: a fresh work directory, so this run never meets nbval's run of the same
    # notebook (registries, service logs) in the session's shared one.
    committed = nbformat.read(target.output, as_version=4)
    rerun = course.execute(committed, target.output.parent, {"seed": OTHER_SEED})
    if uses_seed(committed):
        assert outputs(rerun) != outputs(committed), "the seed changes no output"
