"""Tests of the course's "hidden technical debt" map: boxes, line counts and the figure."""

from pathlib import Path

import matplotlib
import pandas as pd
import pytest

from mlops_course.classroom.system_map import (
    ML_BOX,
    OTHER_BOX,
    box_of,
    count_lines,
    lines_by_box,
    plot_system_map,
)

matplotlib.use("Agg")


def write_module(package: Path, relative: str, n_lines: int) -> None:
    path = package / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    # blank lines in between must not be counted
    path.write_text("\n\n".join(f"x_{i} = {i}" for i in range(n_lines)) + "\n\n")


@pytest.fixture
def package(tmp_path: Path) -> Path:
    for relative, n_lines in {
        "model/train.py": 7,
        "model/evaluate.py": 5,
        "scenario/generator.py": 11,
        "serving/app.py": 4,
        "serving/__init__.py": 1,
        "something_new.py": 3,
        "classroom/plots.py": 20,
        "classroom/lifecycle.py": 25,
        "classroom/notebook_files.py": 6,
        "classroom/quizzes/q00.py": 50,
        "classroom/lab_checks/lab01.py": 40,
        "classroom/checks.py": 30,
    }.items():
        write_module(tmp_path, relative, n_lines)
    (tmp_path / "notes.txt").write_text("not python\n")
    return tmp_path


def test_box_of_sorts_modules_into_boxes():
    assert box_of("model/train.py") == ML_BOX
    assert box_of("model/evaluate.py") == ML_BOX
    assert box_of("serving/app.py") == "Сервинг"
    assert box_of("something_new.py") == OTHER_BOX
    assert box_of("classroom/quizzes/q00_course_map.py") is None
    assert box_of("classroom/lab_checks/lab01.py") is None


@pytest.mark.parametrize(
    "helper", ["classroom/plots.py", "classroom/lifecycle.py", "classroom/notebook_files.py"]
)
def test_notebook_helpers_are_teaching_material(helper):
    # notebook 02: "помощники ноутбуков в систему не входят и не считаются"
    assert box_of(helper) is None


def test_count_lines_skips_blank_lines_and_other_files(package):
    lines = count_lines(package)
    assert lines["model/train.py"] == 7
    assert lines["serving/app.py"] == 4
    assert "notes.txt" not in lines.index


def test_ml_box_counts_train_and_evaluate_and_excludes_teaching(package):
    boxes = lines_by_box(package)
    assert boxes[ML_BOX] == 7 + 5
    assert boxes["Сервинг"] == 4 + 1
    assert boxes[OTHER_BOX] == 3
    # quizzes, lab checks, checks.py and notebook helpers are not part of the ML system
    assert boxes.sum() == 7 + 5 + 11 + 5 + 3
    assert list(boxes) == sorted(boxes, reverse=True)


def test_real_package_ml_box_is_train_plus_evaluate():
    import mlops_course

    package = Path(mlops_course.__file__).parent
    lines = count_lines(package)
    boxes = lines_by_box(package)
    assert boxes[ML_BOX] == lines["model/train.py"] + lines["model/evaluate.py"]
    assert boxes.sum() < lines.sum()  # teaching material was left out


def test_plot_draws_one_square_per_box_and_black_ml_code():
    boxes = pd.Series({"Сервинг": 400, ML_BOX: 100, "Проверка данных": 25}, name="строк")
    fig = plot_system_map(boxes, columns=2)
    ax = fig.axes[0]
    assert len(ax.patches) == 3
    black = [p for p in ax.patches if p.get_facecolor()[:3] == (0.0, 0.0, 0.0)]
    assert len(black) == 1 and black[0].get_width() == pytest.approx(10.0)
    assert any(f"{ML_BOX}: 100" in t.get_text() for t in ax.texts)
    matplotlib.pyplot.close(fig)
