"""`.github/workflows/continuous-training.yml` is known to work, not only to parse.

The workflow is read with pyyaml; every command of its ``run:`` steps must exist (make
targets in the Makefile, files, ``python -m`` modules with the named subcommands); then
its steps run in order, as a GitHub runner runs them, in a temporary copy of the course.
What a runner provides is replaced by its local equivalent:

==========================  ==================================================================
on GitHub                   here
==========================  ==================================================================
actions/checkout            a copy of the working tree (tracked and untracked files that git
                            does not ignore: uncommitted edits count) with a git repository
                            of its own and one commit (``versioning.sandbox``'s identity)
actions/setup-python        ``python``, ``python3.11`` linking the interpreter the course's
                            .venv was made from, first on PATH; the .venv's own ``bin`` is
                            *not* on PATH, so a step calling a bare ``dvc`` fails as there
actions/cache               a miss, as on a new runner; its path must exist at the end, or
                            the cache would save nothing
run: make venv              runs as written and installs nothing: the copy's ``.venv`` links
                            every entry of the installed .venv and has a stamp of its own,
                            newer than the copied lock (checked first with ``make -q venv``,
                            which runs no recipe: no network, nothing written to the venv)
the editable install        ``PYTHONPATH=<copy>/src``: the steps run the copy's code, not the
                            code the venv has installed from the checkout
secrets.*                   empty, as in a fork: the registry is the copy's ``.work/`` store
actions/upload-artifact     its paths must exist after the run; a hidden one (``.work/``)
                            needs ``include-hidden-files: true``, as in upload-artifact v4
runner's environment        CI, GITHUB_ACTIONS, GITHUB_WORKSPACE (the copy),
                            GITHUB_EVENT_NAME=workflow_dispatch, GITHUB_STEP_SUMMARY (a file),
                            RUNNER_TEMP; DVC's site cache in the test's temporary folder
run: shell                  ``bash --noprofile --norc -eo pipefail`` (GitHub's default), in
                            the copy's root
==========================  ==================================================================

After the run the registry must hold the new model as champion, traced to the copy's commit
and to the md5 ``dvc.lock`` records; a second run of the gate on the same model must stop
the workflow (exit 1). Nothing is written to the checkout: everything stays in ``tmp_path``.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import re
import resource
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops_course.versioning import sandbox
from tests.conftest import REPO_ROOT

WORKFLOW = REPO_ROOT / ".github" / "workflows" / "continuous-training.yml"
PYTHON = ".venv/bin/python"  # the interpreter `make venv` makes (VENV := .venv)
SHELL = ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c"]
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
STEP_TIMEOUT_S = 300


def load_workflow() -> dict[str, Any]:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    # pyyaml reads YAML 1.1, where the key `on` is the boolean True.
    workflow["on"] = workflow.pop(True, workflow.get("on"))
    return workflow


def the_job(workflow: dict[str, Any]) -> dict[str, Any]:
    (job,) = workflow["jobs"].values()
    return job


def run_steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for step in job["steps"] if "run" in step]


def commands(script: str) -> list[list[str]]:
    """The commands of a ``run:`` script, one a line (continuations joined, comments dropped)."""
    lines = script.replace("\\\n", " ").splitlines()
    found = [words for line in lines if (words := shlex.split(line, comments=True))]
    for words in found:
        operators = {"&&", "||", "|", ";"} & set(words)
        assert not operators, f"one command a line, so that each is checked: {words}"
    return found


def make_targets(makefile: Path) -> set[str]:
    return set(re.findall(r"^([A-Za-z][\w-]*)\s*:(?!=)", makefile.read_text(), re.MULTILINE))


def subcommands(help_text: str) -> set[str]:
    """``{gate,register,promote}`` in an argparse usage line -> the names."""
    return {name for group in re.findall(r"\{([\w,-]+)\}", help_text) for name in group.split(",")}


def check_command(words: list[str], root: Path) -> None:
    """Fail unless ``words`` names something that exists in the checkout at ``root``."""
    program, *args = words
    if program == "make":
        targets = [arg for arg in args if not arg.startswith("-") and "=" not in arg]
        missing = set(targets) - make_targets(root / "Makefile")
        assert targets and not missing, f"no such make target: {missing or words}"
        return
    assert program == PYTHON and args[:1] == ["-m"], f"the test does not know {words}: teach it"
    assert (root / program).is_file(), f"{program} is missing: is the venv installed?"
    module, *rest = args[1:]
    if module == "pytest":
        paths = [arg for arg in rest if "/" in arg or arg.endswith(".py")]
        assert paths and all((root / path).exists() for path in paths), words
        return
    usage = subprocess.run(
        [str(root / program), "-m", module, "--help"],
        cwd=root, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert usage.returncode == 0, f"`python -m {module}` does not start:\n{usage.stderr}"
    wanted = [arg for arg in rest if not arg.startswith("-")][:1]
    assert set(wanted) <= subcommands(usage.stdout), f"{module} has no subcommand {wanted}"


def expand(value: Any) -> str:
    """GitHub's ``${{ }}`` expressions: secrets are empty here, anything else unknown."""

    def one(match: re.Match) -> str:
        assert re.fullmatch(r"secrets\.\w+", match[1]), f"cannot evaluate {match[0]}: teach me"
        return ""

    return EXPRESSION.sub(one, str(value))


def working_tree_files(source: Path) -> list[str]:
    """Files git tracks or would track (not ignored), as on disk; deleted ones left out."""
    listed = subprocess.run(
        ["git", "--no-optional-locks", "ls-files", "-z", "--cached", "--others",
         "--exclude-standard"],
        cwd=source, capture_output=True, text=True, check=True,
    ).stdout.split("\0")  # fmt: skip
    return [name for name in listed if name and (source / name).is_file()]


# --- The workflow as written -----------------------------------------------------------


def test_the_workflow_runs_on_a_schedule_on_pipeline_changes_and_by_hand() -> None:
    triggers = load_workflow()["on"]
    assert set(triggers) == {"schedule", "push", "workflow_dispatch"}
    (schedule,) = triggers["schedule"]
    minute, hour, day, month, weekday = schedule["cron"].split()
    assert (day, month) == ("*", "*") and weekday.isdigit(), "weekly: one day of the week"
    files = working_tree_files(REPO_ROOT)
    for pattern in triggers["push"]["paths"]:
        assert fnmatch.filter(files, pattern), f"push path {pattern} matches no file"
    for must in ("params.yaml", "dvc.yaml", "src/mlops_course/orchestration/stages.py"):
        assert any(fnmatch.fnmatch(must, p) for p in triggers["push"]["paths"]), must


def test_every_command_the_workflow_calls_exists() -> None:
    scripts = run_steps(the_job(load_workflow()))
    assert len(scripts) >= 6
    for step in scripts:
        for words in commands(step["run"]):
            check_command(words, REPO_ROOT)


def test_the_workflow_calls_the_pipeline_the_gate_the_registry_and_the_deploy_in_order() -> None:
    calls = [" ".join(words) for step in run_steps(the_job(load_workflow())) for words in
             commands(step["run"])]  # fmt: skip
    cd = f"{PYTHON} -m mlops_course.automation.cd"
    expected = ["make venv", "tests/pipeline/", "make pipeline", f"{cd} gate", f"{cd} register",
                f"{cd} promote"]  # fmt: skip
    positions = [next(i for i, call in enumerate(calls) if want in call) for want in expected]
    assert positions == sorted(positions), calls


# --- The workflow, run ------------------------------------------------------------------


def copy_working_tree(source: Path, root: Path) -> int:
    """actions/checkout: the files git tracks or would track, as they are on disk now."""
    names = working_tree_files(source)
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / name, root / name, follow_symlinks=False)
    box = sandbox.Sandbox(root, root / ".dvc" / "tmp" / "site")
    box.run("git", "init", "-q", "-b", "main")
    box.commit("The working tree of the course")
    return len(names)


def link_venv(root: Path) -> None:
    """The copy's .venv: links to the installed one's entries and a fresh stamp of its own."""
    venv = Path(sys.prefix)
    assert venv != Path(sys.base_prefix), "run the tests with the course's .venv python"
    (root / ".venv").mkdir()
    for entry in venv.iterdir():
        if entry.name != ".installed-stamp":
            (root / ".venv" / entry.name).symlink_to(entry)
    (root / ".venv" / ".installed-stamp").touch()


class Runner:
    """Runs the steps of one job in a copy of the course, timing each."""

    def __init__(self, tmp: Path, job: dict[str, Any]) -> None:
        self.tmp = tmp
        self.root = tmp / "workspace"
        self.summary = tmp / "step-summary.md"
        self.job_env = {name: expand(value) for name, value in job.get("env", {}).items()}
        self.path = [
            entry
            for entry in os.environ["PATH"].split(os.pathsep)
            if not Path(entry).resolve().is_relative_to(Path(sys.prefix).resolve())
        ]
        self.to_check_at_the_end: list[str] = []
        self.timings: list[tuple[str, float, float]] = []  # step, wall s, CPU s of its processes

    def env(self, step: dict[str, Any]) -> dict[str, str]:
        # What a runner does not have: this test's work dir, venv, registry and pytest run.
        dropped = {"MLOPS_COURSE_HOME", "MLFLOW_TRACKING_URI", "PYTHONPATH", "VIRTUAL_ENV"}
        base = {
            name: value
            for name, value in os.environ.items()
            if name not in dropped and not name.startswith("PYTEST_")
        }
        return base | {
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": str(self.root),
            "GITHUB_EVENT_NAME": "workflow_dispatch",
            "GITHUB_STEP_SUMMARY": str(self.summary),
            "RUNNER_TEMP": str(self.tmp / "runner-temp"),
            "DVC_SITE_CACHE_DIR": str(self.tmp / "dvc-site"),
            "PATH": os.pathsep.join(self.path),
            "PYTHONPATH": str(self.root / "src"),
            **self.job_env,
            **{name: expand(value) for name, value in step.get("env", {}).items()},
        }

    def action(self, step: dict[str, Any]) -> None:
        name, _, version = step["uses"].partition("@")
        assert re.fullmatch(r"v\d+", version), f"pin actions to a major version: {step}"
        options = step.get("with", {})
        if name == "actions/checkout":
            self.root.mkdir()
            assert copy_working_tree(REPO_ROOT, self.root) > 0
        elif name == "actions/setup-python":
            minor = f"{sys.version_info.major}.{sys.version_info.minor}"
            assert str(options["python-version"]) == minor
            folder = self.tmp / "setup-python"
            folder.mkdir()
            for program in ("python", "python3", f"python{minor}"):
                (folder / program).symlink_to(sys._base_executable)
            self.path.insert(0, str(folder))
            link_venv(self.root)  # stands in for the pip cache and the install below
            question = subprocess.run(
                ["make", "-q", "venv"], cwd=self.root, env=self.env({}), capture_output=True
            )
            assert question.returncode == 0, "make would install into the linked venv: stop"
        elif name == "actions/cache":
            self.to_check_at_the_end.append(options["path"])
        elif name == "actions/upload-artifact":
            paths = options["path"].split()
            if any(part.startswith(".") for path in paths for part in Path(path).parts):
                assert options.get("include-hidden-files") is True, "upload-artifact skips it"
            missing = [path for path in paths if not (self.root / path).exists()]
            assert not missing, f"nothing to upload at {missing}"
        else:
            pytest.fail(f"no local equivalent of {name}: teach the test")

    def run(self, step: dict[str, Any]) -> subprocess.CompletedProcess:
        assert not EXPRESSION.search(step["run"]), "pass ${{ }} through env:, not into a script"
        return subprocess.run(
            [*SHELL, step["run"]], cwd=self.root, env=self.env(step),
            capture_output=True, text=True, timeout=STEP_TIMEOUT_S,
        )  # fmt: skip

    def timed(self, name: str, call: Any, *args: Any) -> Any:
        cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        result = call(*args)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        spent = max(0.0, after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime)
        self.timings.append((name, time.perf_counter() - started, spent))
        return result

    def step(self, step: dict[str, Any]) -> subprocess.CompletedProcess | None:
        assert step.get("if") in (None, "always()"), f"no local equivalent of if: {step['if']}"
        name = step.get("name", step.get("uses"))
        result = self.timed(name, self.action if "uses" in step else self.run, step)
        if result is not None:
            assert result.returncode == 0, (
                f"step {step.get('name')!r} failed ({result.returncode}):\n"
                f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )
        return result


def snapshot(*folders: Path) -> dict[str, float]:
    """Every file under ``folders`` with its modification time."""
    return {
        str(path): path.stat().st_mtime
        for folder in folders
        if folder.exists()
        for path in folder.rglob("*")
        if path.is_file()
    }


def registry_state(uri: str) -> tuple[dict[str, int], dict[str, str]]:
    """Aliases of the course's model and the tags of the champion's run."""
    from mlflow import MlflowClient

    from mlops_course.versioning.tracking import quiet_mlflow

    quiet_mlflow()
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    aliases = client.get_registered_model("delivery-delay").aliases
    champion = client.get_model_version_by_alias("delivery-delay", "champion")
    return aliases, client.get_run(champion.run_id).data.tags


@pytest.mark.slow
def test_the_workflow_runs_in_a_copy_of_the_course(tmp_path: Path) -> None:
    job = the_job(load_workflow())
    runner = Runner(tmp_path, job)
    outside = [REPO_ROOT / "data", REPO_ROOT / ".work" / "mlflow",
               REPO_ROOT / ".work" / "continuous-training"]  # fmt: skip
    before = snapshot(*outside), (REPO_ROOT / "dvc.lock").read_bytes()
    outputs = {}
    for step in job["steps"]:
        outputs[step.get("name", step.get("uses"))] = runner.step(step)
    for path in runner.to_check_at_the_end:  # the cache's post-step saves this folder
        assert any((runner.root / path).iterdir()), f"the cache would save an empty {path}"

    root = runner.root
    (install,) = [outputs[step["name"]] for step in run_steps(job) if step["run"] == "make venv"]
    assert "Nothing to be done" in install.stdout + install.stderr  # nothing was installed
    summary = runner.summary.read_text()
    assert "✓ Ворота качества" in summary and "Чемпион: v1" in summary
    # The champion is the model `dvc repro` made in the copy, traced to the copy's commit.
    store = root / ".work" / "mlflow" / "mlflow.db"
    aliases, tags = registry_state(f"sqlite:///{store}")
    assert aliases == {"champion": 1}
    lock = yaml.safe_load((root / "dvc.lock").read_text())["stages"]["train"]["outs"][0]
    model_md5 = hashlib.md5((root / "data/model/model.pkl").read_bytes()).hexdigest()
    assert tags["dvc.model_md5"] == lock["md5"] == model_md5
    copy = sandbox.Sandbox(root, root)
    assert tags["git_commit"] == copy.head()
    # As `.ci/run` demands of `make test`: the run wrote only ignored files (data/, .work/).
    assert copy.git("status", "--porcelain") == ""
    assert tags["ct.trigger"] == "workflow_dispatch"

    # The same model again (a weekly run on unchanged data): the gate stops the workflow.
    (gate,) = [step for step in run_steps(job) if re.search(r"\bcd gate\b", step["run"])]
    again = runner.timed("Quality gate again, on the same model", runner.run, gate)
    assert again.returncode == 1, again.stderr
    assert "Отклонено, чемпион прежний" in again.stderr
    decision = json.loads((root / ".work" / "continuous-training" / "gate.json").read_text())
    assert decision["passed"] is False and decision["champion_version"] == 1

    assert (snapshot(*outside), (REPO_ROOT / "dvc.lock").read_bytes()) == before
    rows = [f"{wall:6.1f} s {cpu:6.1f} s  {name}" for name, wall, cpu in runner.timings]
    print("\ncontinuous-training.yml, step by step (wall, CPU):", *rows, sep="\n")
