"""Tests of the quiet pytest runner used in notebook 02."""

from pathlib import Path

from mlops_course.automation.ci import ERROR, FAILED, PASSED, SKIPPED, pytest_outcomes, run_pytest


def test_run_pytest_reports_pass_and_fail_quietly(tmp_path, capfd):
    passing = tmp_path / "test_devops_passing.py"
    passing.write_text("def test_ok():\n    assert 1 + 1 == 2\n")
    failing = tmp_path / "test_devops_failing.py"
    failing.write_text("def test_broken():\n    assert 1 + 1 == 3\n")
    assert run_pytest(passing) == 0
    assert run_pytest(failing) == 1
    assert capfd.readouterr().out == ""  # the report is swallowed


def test_run_pytest_sees_an_edited_test_file(tmp_path):
    # A student fixes the test and re-runs the cell: the verdict must follow the file.
    path = tmp_path / "test_devops_edited.py"
    path.write_text("def test_sum():\n    assert 1 + 1 == 3\n")
    assert run_pytest(path) == 1
    path.write_text("def test_sum():\n    assert 1 + 1 == 2\n")
    assert run_pytest(path) == 0


def test_run_pytest_sees_edited_code_under_test(tmp_path):
    (tmp_path / "devops_code_under_test.py").write_text("def answer():\n    return 3\n")
    path = tmp_path / "test_devops_code.py"
    path.write_text(
        "from devops_code_under_test import answer\n\n"
        "def test_answer():\n    assert answer() == 2\n"
    )
    assert run_pytest(path) == 1
    (tmp_path / "devops_code_under_test.py").write_text("def answer():\n    return 2\n")
    assert run_pytest(path) == 0


def test_run_pytest_leaves_no_cache_next_to_the_tests(tmp_path, monkeypatch):
    # A notebook kernel may well write bytecode; the run must not, even then.
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)
    (tmp_path / "devops_clean_helper.py").write_text("VALUE = 2\n")
    path = tmp_path / "test_devops_clean.py"
    path.write_text(
        "from devops_clean_helper import VALUE\n\ndef test_broken():\n    assert VALUE == 3\n"
    )
    assert run_pytest(path) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "devops_clean_helper.py",
        "test_devops_clean.py",
    ]


def test_the_test_session_removes_its_work_directory(tmp_path, monkeypatch):
    # The suite's own conftest in a small pytest session: its work directory must not
    # outlive the session (they used to pile up in /tmp, one per run and worker).
    conftest = Path(__file__).resolve().parents[1] / "conftest.py"
    (tmp_path / "conftest.py").write_text(conftest.read_text())
    seen = tmp_path / "seen_home.txt"
    path = tmp_path / "test_devops_home.py"
    path.write_text(
        "import os, pathlib\n\n"
        "def test_writes_into_the_work_directory():\n"
        "    home = pathlib.Path(os.environ['MLOPS_COURSE_HOME'])\n"
        "    (home / 'artefact.txt').write_text('x')\n"
        f"    pathlib.Path({str(seen)!r}).write_text(str(home))\n"
    )
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # even a leak would stay in tmp_path
    assert run_pytest(path) == 0
    home = Path(seen.read_text())
    assert home.parent == tmp_path and home.name.startswith("mlops-course-test-")
    assert not home.exists()


def test_pytest_outcomes_names_each_test_and_its_verdict(tmp_path):
    (tmp_path / "devops_prices.py").write_text("def price(n):\n    return 60 * n\n")
    path = tmp_path / "test_devops_prices.py"
    path.write_text(
        "import pytest\nfrom devops_prices import price\n\n"
        "def test_one():\n    assert price(1) == 60\n\n"
        "def test_two():\n    assert price(2) == 100\n\n"
        "def test_broken_fixture(missing_fixture):\n    pass\n\n"
        "@pytest.mark.skip\ndef test_later():\n    pass\n"
    )
    assert pytest_outcomes(path) == {
        "test_one": PASSED,
        "test_two": FAILED,
        "test_broken_fixture": ERROR,
        "test_later": SKIPPED,
    }
    assert sorted(p.name for p in tmp_path.iterdir()) == ["devops_prices.py", path.name]


def test_pytest_outcomes_of_a_file_that_does_not_import_is_one_error(tmp_path):
    path = tmp_path / "test_devops_no_module.py"
    path.write_text("from no_such_module_here import x\n\ndef test_x():\n    assert x\n")
    assert pytest_outcomes(path) == {"test_devops_no_module": ERROR}
