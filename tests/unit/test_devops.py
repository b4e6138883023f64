"""Tests of the quiet pytest runner used in notebook 02."""

import os

from mlops_course.devops import run_pytest


def test_run_pytest_reports_pass_and_fail(tmp_path):
    passing = tmp_path / "test_devops_passing.py"
    passing.write_text("def test_ok():\n    assert 1 + 1 == 2\n")
    failing = tmp_path / "test_devops_failing.py"
    failing.write_text("def test_broken():\n    assert 1 + 1 == 3\n")
    assert run_pytest(passing) == 0
    assert run_pytest(failing) == 1


def test_run_pytest_restores_environment(tmp_path, capsys):
    path = tmp_path / "test_devops_env.py"
    path.write_text("def test_ok():\n    pass\n")
    before = os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    run_pytest(path)
    assert os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD") == before
    assert capsys.readouterr().out == ""  # the report is swallowed
