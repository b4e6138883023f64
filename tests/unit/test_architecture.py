"""Notebook 11's readers and rules: the architecture map, Prefect/Airflow files read with
ast, the Dockerfile and workflows as tables, the HPA's rule and the process check."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import matplotlib
import pytest

from mlops_course.classroom import architecture
from tests.conftest import REPO_ROOT

matplotlib.use("Agg")


def test_every_box_of_the_slide_has_a_tool_and_an_override_changes_only_that_tool():
    table = architecture.architecture_table()
    assert list(dict.fromkeys(table["блок"])) == architecture.BOXES
    tools = set(table["инструмент"].str.split().str[0])
    assert {"Git", "DVC", "MLflow", "Prefect", "Airflow", "FastAPI", "Docker", "Kubernetes",
            "Prometheus", "Evidently", "GitHub"} == tools  # fmt: skip
    changed = architecture.architecture_table({"Prometheus": architecture.REPLACED})
    differs = changed["как показан"] != table["как показан"]
    assert changed.loc[differs, "инструмент"].tolist() == ["Prometheus"]


def test_the_map_draws_one_card_per_tool_coloured_by_how_it_was_shown():
    table = architecture.architecture_table({"Prometheus": architecture.REPLACED})
    fig = architecture.plot_architecture(table)
    cards = [patch for patch in fig.axes[0].patches if patch.get_width() == 0.9]
    assert len(cards) == len(table)
    grey = matplotlib.colors.to_rgb(architecture.STATUS_COLORS[architecture.REPLACED])
    assert sum(card.get_facecolor()[:3] == pytest.approx(grey) for card in cards) == 1
    matplotlib.pyplot.close(fig)


def test_the_paths_the_map_names_exist_in_the_course():
    for path in ("dvc.yaml", "deploy/Dockerfile", "deploy/airflow/continuous_training_dag.py",
                 "src/mlops_course/orchestration/ct_flow.py", "deploy/prometheus.yml"):  # fmt: skip
        assert (REPO_ROOT / path).is_file(), path


def test_decorated_functions_reads_prefect_and_airflow_styles(tmp_path):
    source = tmp_path / "pipeline.py"
    source.write_text(
        textwrap.dedent(
            """
            @flow(name="my-flow")
            def run():
                @task
                def inner():
                    pass

            @task(name="load", retries=2)
            def load_data():
                pass

            @task.short_circuit()
            def check():
                pass

            @staticmethod
            def untouched():
                pass
            """
        )
    )
    found = architecture.decorated_functions(source, ["task", "flow"])
    assert found.to_dict("list") == {
        "function": ["run", "inner", "load_data", "check"],  # the order of the file
        "decorator": ["flow", "task", "task", "task.short_circuit"],
        "name": ["my-flow", "inner", "load", "check"],
    }


def test_the_course_flow_and_dag_have_the_same_steps():
    prefect = architecture.decorated_functions(
        REPO_ROOT / "src/mlops_course/orchestration/ct_flow.py", ["task"]
    )
    airflow = architecture.decorated_functions(
        REPO_ROOT / "deploy/airflow/continuous_training_dag.py", ["task"]
    )
    assert prefect["name"].tolist() == airflow["name"].tolist()
    assert len(prefect) >= 5


def test_dockerfile_instructions_join_continuations_and_keep_the_comment_above():
    text = textwrap.dedent(
        """\
        # The image.
        # Build it from the root.

        # Slim base.
        FROM python:3.11-slim
        ENV A=1 \\
            B=2
        # Never root.
        RUN useradd app \\
            && mkdir /data
        USER app
        """
    )
    table = architecture.dockerfile_instructions(text)
    assert table["instruction"].tolist() == ["FROM", "ENV", "RUN", "USER"]
    assert table["arguments"].tolist() == [
        "python:3.11-slim", "A=1 B=2", "useradd app && mkdir /data", "app",
    ]  # fmt: skip
    # the header comment is separated by a blank line: it explains the file, not FROM
    assert table["comment"].tolist() == ["Slim base.", "", "Never root.", ""]


def test_the_course_dockerfile_ends_with_the_service_cli():
    table = architecture.dockerfile_instructions((REPO_ROOT / "deploy/Dockerfile").read_text())
    assert table["instruction"].iloc[0] == "FROM"
    assert table["arguments"].iloc[-1] == '["python", "-m", "mlops_course.serving"]'


def test_workflow_steps_and_triggers(tmp_path):
    workflow = tmp_path / "w.yml"
    workflow.write_text(
        textwrap.dedent(
            """
            on:
              push:
              workflow_dispatch:
            jobs:
              build:
                steps:
                  - uses: actions/checkout@v4
                  - name: Test
                    run: |
                      make check
                      make test
            """
        )
    )
    assert architecture.workflow_triggers(workflow) == ["push", "workflow_dispatch"]
    steps = architecture.workflow_steps(workflow)
    assert steps.to_dict("list") == {
        "job": ["build", "build"],
        "number": [1, 2],
        "step": ["actions/checkout@v4", "Test"],
        "runs": ["uses: actions/checkout@v4", "make check make test"],
    }
    (tmp_path / "one.yml").write_text("on: push\njobs: {}\n")
    assert architecture.workflow_triggers(tmp_path / "one.yml") == ["push"]


@pytest.mark.parametrize(
    ("current", "utilisation", "expected"),
    [
        (2, 140, 4),  # ceil(2 × 140 / 70)
        (2, 100, 3),  # ceil(2.86)
        (2, 75, 2),  # ratio 1.07: within the 10 % tolerance, no change
        (4, 60, 4),  # ratio 0.86: outside the tolerance, ceil(3.43) = 4
        (4, 30, 2),  # ceil(1.71) = 2
        (2, 10, 2),  # ceil(0.29) = 1, but minReplicas is 2
        (2, 1000, 10),  # ceil(28.6), but maxReplicas is 10
    ],
)
def test_hpa_desired_replicas(current, utilisation, expected):
    got = architecture.hpa_desired_replicas(
        current, utilisation, 70, min_replicas=2, max_replicas=10
    )
    assert got == expected


def test_still_running_sees_a_live_process_and_not_an_exited_one():
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait()
    try:
        assert architecture.still_running([live.pid, done.pid, live.pid]) == [live.pid]
    finally:
        live.kill()
        live.wait()
    assert architecture.still_running([live.pid]) == []
