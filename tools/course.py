"""The course's notebook builder: the only writer of notebooks/, solutions/ and labs/.

Sources are jupytext ``py:percent`` files:

* ``course/notebooks/NAME.py`` -> ``notebooks/NAME.ipynb`` (executed, outputs kept);
* ``course/labs/NAME.py``      -> ``solutions/NAME.ipynb`` (executed, outputs kept)
                                  and ``labs/NAME.ipynb`` (solution regions replaced by a
                                  TODO and ``raise NotImplementedError``, no outputs).

Commands::

    python tools/course.py build [NAME ...]   # regenerate (and execute) notebooks
    python tools/course.py check              # generated files in sync with sources?
    python tools/course.py run [--seed N]     # execute everything into the work dir, timings
"""

from __future__ import annotations

import argparse
import copy
import fnmatch
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import jupytext
import nbformat
from nbformat import NotebookNode

from mlops_course.versioning.environment import python_minor

ROOT = Path(__file__).resolve().parents[1]
KERNEL = "python3"
CELL_TIMEOUT_S = 120
BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
SOLUTION_REGION = re.compile(
    rf"^(?P<indent>[ \t]*){BEGIN_SOLUTION}(?P<hint>[^\n]*)\n.*?^[ \t]*{END_SOLUTION}[^\n]*$",
    re.MULTILINE | re.DOTALL,
)
DEFAULT_TODO = "напишите здесь своё решение (см. задание выше)"
# What JupyterLab writes once ipykernel connects, except the Python version: only its minor
# part is recorded, as the Jupyter server's save hook does
# (see mlops_course.classroom.notebook_files).
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": KERNEL}
LANGUAGE_INFO = {
    "codemirror_mode": {"name": "ipython", "version": 3},
    "file_extension": ".py",
    "mimetype": "text/x-python",
    "name": "python",
    "nbconvert_exporter": "python",
    "pygments_lexer": "ipython3",
    "version": python_minor(),
}


@dataclass(frozen=True)
class Target:
    """One generated notebook: where it comes from and how it is made."""

    source: Path
    output: Path
    kind: str  # "notebook", "solution" or "lab"

    @property
    def executed(self) -> bool:
        return self.kind != "lab"


def targets(root: Path = ROOT) -> list[Target]:
    """Every generated notebook, in course order."""
    found = []
    for source in sorted((root / "course" / "notebooks").glob("*.py")):
        found.append(Target(source, root / "notebooks" / f"{source.stem}.ipynb", "notebook"))
    for source in sorted((root / "course" / "labs").glob("*.py")):
        found.append(Target(source, root / "solutions" / f"{source.stem}.ipynb", "solution"))
        found.append(Target(source, root / "labs" / f"{source.stem}.ipynb", "lab"))
    return found


# --- Turning a source into a notebook ------------------------------------------------


STUDENT_LABS = "my_labs"
"""The student's own, git-ignored copy of labs/ (made by `make lab` and Binder's postBuild)."""


def header_cell(target: Target, root: Path) -> NotebookNode:
    """The note above a generated notebook: true wherever the file is read.

    Notebooks and solutions are regenerated, so they are not to be edited. A lab is read in
    two places, labs/ (the blank, regenerated) and the student's copy my_labs/ (copied once,
    never overwritten), so its note says where to work and why.
    """
    source = target.source.relative_to(root).as_posix()
    name = target.output.name
    if target.kind == "lab":
        text = (
            f"> **Лабораторная работа.** Работайте в своей копии `{STUDENT_LABS}/{name}`: "
            f"её создаёт `make lab` (на Binder она уже есть). Папка `{STUDENT_LABS}/` не в "
            "git, поэтому `git pull` обновляет курс в любой момент, не трогая ваших ответов; "
            f"новые лабораторные `make lab` скопирует туда при следующем запуске. Файл "
            f"`labs/{name}` — чистая заготовка: её пересобирает `make notebooks` из `{source}`, "
            "правки в ней пропадут.\n>\n"
            "> Замените каждое `raise NotImplementedError(...)` (под `# TODO`) своим кодом и "
            "запускайте ячейку проверки после упражнения: она ответит ✓ или ✗ с подсказкой. "
            f"Решения: [`solutions/{name}`](../solutions/{name})."
        )
    else:
        text = (
            f"> **Сгенерировано** из `{source}` командой `make notebooks`. "
            "Не редактируйте этот файл: правьте исходник и пересоберите."
        )
    cell = nbformat.v4.new_markdown_cell(text)
    cell.metadata = {"slideshow": {"slide_type": "skip"}}
    return cell


def strip_solutions(text: str) -> str:
    """Replace every solution region with a Russian TODO and a friendly NotImplementedError."""

    def todo(match: re.Match) -> str:
        indent = match["indent"]
        hint = match["hint"].strip(" :-—") or DEFAULT_TODO
        return (
            f"{indent}# TODO: {hint}\n"
            f'{indent}raise NotImplementedError("Упражнение не выполнено: {hint}")'
        )

    return SOLUTION_REGION.sub(todo, text)


def default_slide_type(cell: NotebookNode) -> str:
    """Top-level sections start a slide, subsections a sub-slide; the rest follows."""
    first_line = cell.source.lstrip().split("\n", 1)[0] if cell.source else ""
    if cell.cell_type == "markdown" and re.match(r"^#{1,2} ", first_line):
        return "slide"
    if cell.cell_type == "markdown" and first_line.startswith("### "):
        return "subslide"
    return "-"


def slide_types(cells: list[NotebookNode]) -> list[str]:
    """RISE slide type of each cell: sections are slides, and a slide shows one step.

    ``##`` starts a slide and ``###`` a sub-slide (``default_slide_type``). A long section
    would not fit a 1280 × 720 screen (a code cell with its figure is already half of it),
    so within a (sub)slide a step is "the text, then one code cell with its output": a code
    cell after another code cell, or text after a code cell, continues the section on a new
    sub-slide (reveal.js's "down"). A source cell's own ``slideshow`` metadata is kept.
    """
    types, has_code, previous = [], False, None
    for cell in cells:
        kind = cell.metadata.get("slideshow", {}).get("slide_type") or default_slide_type(cell)
        if kind in ("skip", "notes"):  # not on the slide: does not change what is shown
            types.append(kind)
            continue
        if kind == "-" and (
            (cell.cell_type == "code" and has_code)
            or (cell.cell_type == "markdown" and previous == "code")
        ):
            kind = "subslide"
        if kind in ("slide", "subslide"):
            has_code = False
        has_code = has_code or cell.cell_type == "code"
        previous = cell.cell_type
        types.append(kind)
    return types


def render(target: Target, root: Path = ROOT) -> NotebookNode:
    """The notebook for ``target`` before execution: header, cleaned metadata, stable ids."""
    source_nb = jupytext.read(target.source, fmt="py:percent")
    cells = [header_cell(target, root)]
    for cell in source_nb.cells:
        cell = copy.deepcopy(cell)
        if target.kind == "lab":
            cell.source = strip_solutions(cell.source)
        else:
            cell.source = keep_solution_markers(cell.source)
        cells.append(cell)
    for cell, slide_type in zip(cells[1:], slide_types(cells[1:]), strict=True):
        cell.metadata.setdefault("slideshow", {"slide_type": slide_type})
    for index, cell in enumerate(cells):
        cell.id = f"{target.output.stem[:40]}-{index:02d}"
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata = {
        "kernelspec": dict(KERNELSPEC),
        "language_info": dict(LANGUAGE_INFO),
        "celltoolbar": "Slideshow",
    }
    return nb


def keep_solution_markers(text: str) -> str:
    """Solutions show the code between the markers without the marker lines themselves."""
    lines = [
        line
        for line in text.split("\n")
        if not line.strip().startswith((BEGIN_SOLUTION, END_SOLUTION))
    ]
    return "\n".join(lines)


def normalise(nb: NotebookNode) -> NotebookNode:
    """Drop volatile metadata (timings, papermill noise) so rebuilds diff cleanly."""
    nb.metadata.pop("papermill", None)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = dict(LANGUAGE_INFO)
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            for output in cell.outputs:
                output.get("metadata", {}).pop("papermill", None)
    return nb


# --- Executing ----------------------------------------------------------------------


def execute(nb: NotebookNode, cwd: Path, parameters: dict | None = None) -> NotebookNode:
    """Run a notebook with papermill (kernel python3, per-cell timeout) and return it."""
    import papermill

    with tempfile.TemporaryDirectory(prefix="mlops-course-build-") as tmp:
        source, result = Path(tmp) / "in.ipynb", Path(tmp) / "out.ipynb"
        nbformat.write(nb, source)
        papermill.execute_notebook(
            str(source),
            str(result),
            parameters=parameters or {},
            kernel_name=KERNEL,
            cwd=str(cwd),
            execution_timeout=CELL_TIMEOUT_S,
            progress_bar=False,
            log_output=False,
            request_save_on_cell_execute=False,
            # The kernel's own log (a "running over TCP without encryption" warning per
            # kernel, a KeyboardInterrupt note at shutdown) is noise in a terminal; cell
            # errors still reach the notebook and fail the build.
            extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
        )
        return nbformat.read(result, as_version=4)


def cell_durations(nb: NotebookNode) -> list[float]:
    """Seconds per executed code cell, from papermill's metadata."""
    return [
        float(cell.metadata.get("papermill", {}).get("duration") or 0.0)
        for cell in nb.cells
        if cell.cell_type == "code"
    ]


def build(target: Target, root: Path = ROOT) -> float:
    """Regenerate one notebook (executing it if needed); returns the seconds it took."""
    started = time.perf_counter()
    nb = render(target, root)
    if target.executed:
        nb = execute(nb, cwd=target.output.parent)
    target.output.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(normalise(nb), target.output)
    return time.perf_counter() - started


# --- Checking -----------------------------------------------------------------------


def skeleton(nb: NotebookNode) -> list[tuple]:
    """What must match the source: cell types, sources, tags and slide metadata."""
    return [
        (
            cell.cell_type,
            cell.source,
            tuple(cell.metadata.get("tags", ())),
            cell.metadata.get("slideshow", {}).get("slide_type"),
        )
        for cell in nb.cells
    ]


def check(root: Path = ROOT) -> list[str]:
    """Problems that make the generated notebooks differ from their sources."""
    problems = []
    expected = targets(root)
    for target in expected:
        name = target.output.relative_to(root).as_posix()
        source = target.source.relative_to(root).as_posix()
        if not target.output.exists():
            problems.append(f"{name}: missing; run `make notebooks` to generate it from {source}")
            continue
        committed = nbformat.read(target.output, as_version=4)
        if skeleton(committed) != skeleton(render(target, root)):
            problems.append(
                f"{name}: out of sync with {source} (edited by hand, or the source changed "
                "without a rebuild); run `make notebooks`"
            )
        if committed.metadata.get("language_info") != LANGUAGE_INFO:
            problems.append(
                f"{name}: language_info differs from the builder's; run `make notebooks`"
            )
        if target.kind == "lab" and any(
            cell.get("outputs") for cell in committed.cells if cell.cell_type == "code"
        ):
            problems.append(f"{name}: a lab must be shipped without outputs; run `make notebooks`")
        if target.executed and any(
            cell.cell_type == "code" and cell.source.strip() and cell.execution_count is None
            for cell in committed.cells
        ):
            problems.append(f"{name}: not executed; run `make notebooks`")
    known = {target.output for target in expected}
    for folder in ("notebooks", "solutions", "labs"):
        for orphan in sorted((root / folder).glob("*.ipynb")):
            if orphan not in known:
                problems.append(
                    f"{orphan.relative_to(root).as_posix()}: has no source in course/; "
                    "delete it or add the source"
                )
    return problems


# fnmatch's "*" also matches "/": "*mlruns/*" covers mlruns/ at any depth.
ARTEFACT_PATTERNS = [
    ".work/*",
    "*.db",
    "*.sqlite",
    "*mlruns/*",
    "*mlartifacts/*",
    ".dvc/cache/*",
    ".dvc/tmp/*",
    "*__pycache__/*",
    "*.pyc",
    "*.ipynb_checkpoints/*",
    "*.egg-info/*",
    ".venv/*",
    "data/*",  # DVC outputs; only data/README.md and data/.gitignore belong in git
]
TRACKED_IN_DATA = {"data/README.md", "data/.gitignore"}


def tracked_artefacts(root: Path = ROOT) -> list[str]:
    """Files in git that a run produces and that belong in the work directory instead."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=root, capture_output=True, text=True, check=False
    ).stdout.split("\0")
    return [
        path
        for path in listed
        if path
        and path not in TRACKED_IN_DATA
        and any(fnmatch.fnmatch(path, pattern) for pattern in ARTEFACT_PATTERNS)
    ]


# --- Running the whole course -------------------------------------------------------


def run_course(seed: int | None, names: list[str] | None = None, root: Path = ROOT) -> int:
    """Execute every notebook and solution into the work directory; print a timing table."""
    from mlops_course.config import work_dir

    out_dir = work_dir("course-run")
    parameters = {} if seed is None else {"seed": seed}
    rows, failed = [], []
    chosen = [t for t in targets(root) if t.executed and (not names or t.source.stem in names)]
    for target in chosen:
        name = target.output.relative_to(root).as_posix()
        started = time.perf_counter()
        try:
            nb = execute(
                nbformat.read(target.output, as_version=4), target.output.parent, parameters
            )
        except Exception as error:  # report every failing notebook, then fail the run
            failed.append(f"{name}: {type(error).__name__}: {str(error).strip()[:500]}")
            rows.append((name, time.perf_counter() - started, float("nan")))
            continue
        nbformat.write(nb, out_dir / target.output.name)
        rows.append((name, time.perf_counter() - started, max(cell_durations(nb), default=0.0)))
    width = max((len(row[0]) for row in rows), default=10)
    print(f"{'notebook':<{width}}  {'seconds':>8}  {'slowest cell, s':>15}")
    for name, seconds, slowest in rows:
        print(f"{name:<{width}}  {seconds:>8.1f}  {slowest:>15.2f}")
    print(f"{'total':<{width}}  {sum(row[1] for row in rows):>8.1f}")
    print(f"executed notebooks are in {out_dir}")
    for problem in failed:
        print(f"FAILED {problem}", file=sys.stderr)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    build_cmd = commands.add_parser("build", help="regenerate notebooks/, solutions/, labs/")
    build_cmd.add_argument("names", nargs="*", help="source stems to rebuild (default: all)")
    commands.add_parser("check", help="fail if generated notebooks are out of sync")
    run_cmd = commands.add_parser("run", help="execute the course into the work directory")
    run_cmd.add_argument("names", nargs="*", help="source stems to run (default: all)")
    run_cmd.add_argument("--seed", type=int, default=None, help="inject another seed")
    args = parser.parse_args(argv)
    unknown = sorted(set(getattr(args, "names", [])) - {t.source.stem for t in targets()})
    if unknown:
        known = ", ".join(sorted({t.source.stem for t in targets()}))
        parser.error(f"no source named {', '.join(unknown)}; known: {known}")

    if args.command == "check":
        problems = check() + [
            f"{path}: a run artefact is tracked by git; `git rm --cached` it"
            for path in tracked_artefacts()
        ]
        for problem in problems:
            print(f"✗ {problem}", file=sys.stderr)
        if not problems:
            print(f"✓ {len(targets())} generated notebooks are in sync with course/")
        return 1 if problems else 0
    if args.command == "run":
        return run_course(args.seed, args.names)
    chosen = [t for t in targets() if not args.names or t.source.stem in args.names]
    for target in chosen:
        seconds = build(target)
        print(f"built {target.output.relative_to(ROOT).as_posix()} in {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
