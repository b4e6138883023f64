"""The package's two sides: the system side never imports the teaching side, and no
module imports itself round a circle.

The import graph is read with ``ast`` from the source files (nothing is imported), with
every import counted: at module level, inside functions and under ``TYPE_CHECKING``, since
a lazy import is still a dependency and a circle through it still ties the modules.
"""

import ast
from pathlib import Path

import pytest

import mlops_course

PACKAGE = "mlops_course"
TEACHING = f"{PACKAGE}.classroom"


def module_name(package_dir: Path, path: Path) -> str:
    parts = path.relative_to(package_dir.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(tree: ast.AST, module: str, is_package: bool, known: set[str]) -> set[str]:
    """Course modules ``tree`` imports (``from a import b`` counts ``a.b`` when it is a module)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import: resolve against this module's package
                anchor = module.split(".")[: len(module.split(".")) - node.level + is_package]
                base = ".".join(anchor + ([base] if base else []))
            # ``from a import b``: module ``a.b`` if there is one, else a name from ``a``.
            names = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                for alias in node.names
            ]
        else:
            continue
        found |= {name for name in names if name in known}
    return found - {module}


def import_graph(package_dir: Path) -> dict[str, set[str]]:
    paths = {module_name(package_dir, p): p for p in sorted(package_dir.rglob("*.py"))}
    known = set(paths)
    return {
        module: imported_modules(
            ast.parse(path.read_text(encoding="utf-8")), module, path.name == "__init__.py", known
        )
        for module, path in paths.items()
    }


def system_to_teaching(graph: dict[str, set[str]]) -> list[str]:
    def teaching(name: str) -> bool:
        return name == TEACHING or name.startswith(TEACHING + ".")

    return sorted(
        f"{module} -> {target}"
        for module, targets in graph.items()
        if not teaching(module)
        for target in targets
        if teaching(target)
    )


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every circle found by a depth-first search, each as the list of modules round it."""
    cycles, state = [], {}  # state: 1 = on the current path, 2 = done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                cycles.append(path[path.index(target) :] + [target])
            elif target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    return cycles


@pytest.fixture(scope="module")
def course_graph() -> dict[str, set[str]]:
    return import_graph(Path(mlops_course.__file__).parent)


def test_the_system_side_never_imports_the_teaching_side(course_graph):
    assert system_to_teaching(course_graph) == [], (
        "Модули системы импортируют учебную часть (classroom): перенесите общий код в систему."
    )


def test_the_package_has_no_import_circles(course_graph):
    assert import_cycles(course_graph) == []


def test_the_graph_sees_the_teaching_side_using_the_system(course_graph):
    # The checks above are only worth something if the graph finds real imports.
    assert "mlops_course.model.retraining" in course_graph["mlops_course.classroom.plots"]
    assert "mlops_course.monitoring.drift" in course_graph["mlops_course.monitoring.job"]


def write(package: Path, relative: str, source: str) -> None:
    path = package / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source)


@pytest.fixture
def toy_package(tmp_path: Path) -> Path:
    package = tmp_path / PACKAGE
    for relative in ("__init__.py", "model/__init__.py", "classroom/__init__.py"):
        write(package, relative, "")
    write(package, "model/train.py", "import numpy\n")
    write(package, "classroom/plots.py", "from mlops_course.model import train\n")
    return package


def test_a_lazy_import_from_system_to_teaching_is_caught(toy_package):
    assert system_to_teaching(import_graph(toy_package)) == []
    write(toy_package, "model/train.py", "def f():\n    from mlops_course.classroom import plots\n")
    assert system_to_teaching(import_graph(toy_package)) == [
        "mlops_course.model.train -> mlops_course.classroom.plots"
    ]


def test_a_relative_import_circle_is_caught(toy_package):
    write(toy_package, "model/evaluate.py", "from . import train\n")
    assert import_cycles(import_graph(toy_package)) == []
    write(toy_package, "model/train.py", "from .evaluate import score\n")
    assert import_cycles(import_graph(toy_package)) == [
        ["mlops_course.model.train", "mlops_course.model.evaluate", "mlops_course.model.train"]
    ]
