"""The MLflow UI launcher: one command for `make mlflow-ui` and JupyterLab's Launcher."""

from __future__ import annotations

import sys

import pytest

from mlops_course.versioning import mlflow_ui
from mlops_course.versioning.tracking import setup_tracking, tracking_uri


def test_ui_command_points_mlflow_at_the_course_store(tmp_path):
    setup_tracking(home=tmp_path)
    command = mlflow_ui.ui_command(5123, tmp_path)
    assert command[:4] == [sys.executable, "-m", "mlflow", "ui"]
    assert command[command.index("--port") + 1] == "5123"
    assert command[command.index("--host") + 1] == "127.0.0.1"
    assert command[command.index("--backend-store-uri") + 1] == tracking_uri(tmp_path)


def test_a_named_home_without_a_database_is_refused_with_a_hint(tmp_path, capsys):
    with pytest.raises(mlflow_ui.MissingStoreError, match="сначала выполните ноутбук"):
        mlflow_ui.ui_command(5000, tmp_path)
    assert mlflow_ui.main(["--home", str(tmp_path)]) == 2
    assert "Нет базы MLflow" in capsys.readouterr().err


def test_proxy_entries_start_the_launcher_on_the_proxy_port_with_a_loopback_host():
    for server in (mlflow_ui.shared_store(), mlflow_ui.lifecycle_store()):
        assert server["command"][:3] == [sys.executable, "-m", "mlops_course.versioning.mlflow_ui"]
        assert server["command"][server["command"].index("--port") + 1] == "{port}"
        assert server["request_headers_override"] == {"Host": "127.0.0.1:{port}"}
        assert server["launcher_entry"]["title"].startswith("MLflow")
    lifecycle = mlflow_ui.lifecycle_store()["command"]
    assert lifecycle[-1] == "--create" and lifecycle[-2].endswith("lifecycle")
    assert "--home" not in mlflow_ui.shared_store()["command"]
