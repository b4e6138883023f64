"""Small reproducibility guards: fingerprints of files, arrays and models, environment checks.

A model is only reproducible together with what made it: the code, the data and the
environment. These helpers record short fingerprints of each and refuse to load a model
into an environment that differs from the one it was trained in.

Some causes of different bits live outside the Python process: the hash seed of ``str``
(``PYTHONHASHSEED``), the number of BLAS threads and the OpenBLAS kernel picked by CPU
are fixed when a process starts. ``run_python`` runs the same code in fresh processes with
different environments; ``supported_kernels`` says which OpenBLAS kernels this CPU can
run (forcing one it cannot crashes the process); ``training_fingerprint`` trains the
pipeline's model the way its ``train`` stage does and fingerprints it.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import platform
import subprocess
import sys
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import joblib
import numpy as np

from mlops_course.versioning.environment import environment_record, python_minor

# What must match for a pickled scikit-learn model to behave the same. The platform
# string is recorded too, but a different machine is not a reason to refuse. Python is
# compared by minor version only: the course accepts any 3.11.x.
CHECKED_KEYS = ("python", "scikit-learn", "numpy", "pandas", "scipy")
HASH_LENGTH = 16


def current_environment() -> dict[str, str]:
    """Versions that decide how a model behaves, in the format of ``tracking.environment_info``.

    Read from package metadata, so it is cheap: nothing heavy (such as mlflow) is imported.
    """
    return environment_record(key for key in CHECKED_KEYS if key != "python")


class EnvironmentMismatchError(RuntimeError):
    """The current environment differs from the one a model was trained in."""


def file_hash(path: str | Path) -> str:
    """A short sha256 of a file's bytes (what DVC records for a data file)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:HASH_LENGTH]


def array_hash(*arrays: Any, decimals: int | None = 10) -> str:
    """A short hash of numeric arrays, rounded so that last-bit float noise is ignored.

    ``decimals=None`` hashes the exact bits: then any difference in the last bit counts.
    """
    digest = hashlib.sha256()
    for array in arrays:
        values = np.asarray(array, dtype=float)
        if decimals is not None:
            values = np.round(values, decimals)
        digest.update((values + 0.0).tobytes())  # -0.0 -> 0.0
    return digest.hexdigest()[:HASH_LENGTH]


def model_hash(model: Any, decimals: int | None = 10) -> str:
    """Fingerprint of a fitted linear model or pipeline ending in one: its coefficients.

    Rounded to ``decimals`` (default 10); ``decimals=None``: the exact bits.
    """
    estimator = model.steps[-1][1] if hasattr(model, "steps") else model
    return array_hash(estimator.coef_, estimator.intercept_, decimals=decimals)


# --- Processes, threads and BLAS kernels -----------------------------------------------

# OpenBLAS kernels the course compares, with the CPU flags (as /proc/cpuinfo names them)
# each needs. Prescott is SSE3 ("pni"), which every x86-64 CPU has; forcing a kernel whose
# instructions the CPU lacks kills the process with "illegal instruction".
OPENBLAS_KERNELS = {
    "Prescott": ("pni",),
    "Haswell": ("avx2", "fma"),
    "SkylakeX": ("avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"),
}


def cpu_flags(cpuinfo: str | Path = "/proc/cpuinfo") -> frozenset[str]:
    """The CPU's feature flags from ``/proc/cpuinfo`` (Linux); empty where there is none."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def supported_kernels(
    flags: Iterable[str] | None = None, machine: str | None = None
) -> dict[str, bool]:
    """``{kernel: can this CPU run it}`` for ``OPENBLAS_KERNELS``; all False off x86-64."""
    flags = cpu_flags() if flags is None else frozenset(flags)
    x86 = (machine or platform.machine()).lower() in ("x86_64", "amd64")
    return {kernel: x86 and set(needed) <= flags for kernel, needed in OPENBLAS_KERNELS.items()}


def blas_info() -> list[dict[str, Any]]:
    """The BLAS libraries loaded in this process: API, kernel (architecture), threads."""
    from threadpoolctl import threadpool_info

    return [
        {key: info.get(key) for key in ("internal_api", "architecture", "num_threads")}
        for info in threadpool_info()
        if info.get("user_api") == "blas"
    ]


class ProcessFailedError(RuntimeError):
    """A process started by ``run_python`` failed (for a forced kernel: illegal instruction)."""


def run_python(
    code: str,
    envs: Mapping[str, Mapping[str, str | None]],
    cwd: str | Path | None = None,
    timeout: float = 120,
) -> dict[str, str]:
    """Run ``code`` in one fresh Python process per entry of ``envs``, in parallel.

    Each process gets this process's environment changed by its entry (``None`` removes
    a variable). Returns ``{label: standard output, stripped}``.
    """

    def one(changes: Mapping[str, str | None]) -> subprocess.CompletedProcess:
        env = {**os.environ, **{k: v for k, v in changes.items() if v is not None}}
        for name in [k for k, v in changes.items() if v is None]:
            env.pop(name, None)
        command = [sys.executable, "-c", code]
        return subprocess.run(
            command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
        )

    with ThreadPoolExecutor(max_workers=max(1, len(envs))) as pool:
        results = dict(zip(envs, pool.map(one, envs.values()), strict=True))
    for label, result in results.items():
        if result.returncode != 0:
            raise ProcessFailedError(
                f"Процесс {label!r} завершился с кодом {result.returncode}:\n"
                + result.stderr.strip()[-2000:]
            )
    return {label: result.stdout.strip() for label, result in results.items()}


def training_fingerprint(root: str | Path = ".") -> dict[str, Any]:
    """Train the pipeline's model in ``root`` as its ``train`` stage does; fingerprint it.

    ``md5``: of the pickled model, what ``dvc.lock`` records for ``data/model/model.pkl``;
    ``bits``: the coefficients' exact bits; ``rounded``: ``model_hash`` (10 decimals);
    ``kernel``: the OpenBLAS kernel(s) that did the linear algebra. Reads
    ``<root>/params.yaml`` and ``<root>/data/raw/reference.csv``; writes nothing.
    """
    from mlops_course.model import train
    from mlops_course.orchestration import stages

    root = Path(root).resolve()
    params = stages.load_params(root / "params.yaml")
    here = Path.cwd()
    os.chdir(root)  # the stage's paths are relative to the pipeline's folder
    try:
        fit, _, _ = stages.reference_splits(params)
    finally:
        os.chdir(here)
    p = params["train"]
    model = train.train_model(fit, model=p["model"], seed=p["seed"], **p["params"])
    kernels = sorted({str(info["architecture"]) for info in blas_info()})
    return {
        "md5": hashlib.md5(pickle.dumps(model, protocol=5)).hexdigest(),
        "bits": model_hash(model, decimals=None),
        "rounded": model_hash(model),
        "kernel": ", ".join(kernels),
    }


FINGERPRINT_CODE = (
    "import json; from mlops_course.versioning.reproducibility import training_fingerprint; "
    "print(json.dumps(training_fingerprint()))"
)
"""``run_python`` code that prints ``training_fingerprint()`` of the current folder."""


def kernel_fingerprints(root: str | Path, kernels: Iterable[str]) -> dict[str, dict[str, Any]]:
    """``training_fingerprint`` in ``root`` once per OpenBLAS kernel, on one BLAS thread.

    A kernel name forces ``OPENBLAS_CORETYPE``; ``"auto"`` removes it: the kernel OpenBLAS
    picks for this CPU. The processes run in parallel, with the pipeline copy's own code
    (``PYTHONPATH=<root>/src``), as a stage does.
    """
    base = {"OPENBLAS_NUM_THREADS": "1", "PYTHONPATH": str(Path(root).resolve() / "src")}
    envs = {
        kernel: {**base, "OPENBLAS_CORETYPE": None if kernel == "auto" else kernel}
        for kernel in kernels
    }
    return {
        label: json.loads(output)
        for label, output in run_python(FINGERPRINT_CODE, envs, cwd=root).items()
    }


def check_environment(
    recorded: Mapping[str, str],
    current: Mapping[str, str],
    keys: Iterable[str] = CHECKED_KEYS,
) -> list[str]:
    """Russian descriptions of every checked version that differs; empty if all match.

    Only ``keys`` present in ``recorded`` are compared: an old record without, say,
    scipy is not an error. Python is compared by minor version: 3.11.7 and 3.11.9 match.
    """
    problems = []
    for key in keys:
        if key not in recorded:
            continue
        was, now = str(recorded[key]), current.get(key)
        if now is None:
            problems.append(f"{key}: при обучении {was}, сейчас не установлен")
        elif _comparable(key, str(now)) != _comparable(key, was):
            problems.append(f"{key}: при обучении {was}, сейчас {now}")
    return problems


def _comparable(key: str, version: str) -> str:
    return python_minor(version) if key == "python" else version


def save_model_bundle(model: Any, path: str | Path, **metadata: Any) -> Path:
    """Save a model together with the environment it was trained in (and any metadata)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    bundle = {"model": model, "environment": current_environment(), "metadata": metadata}
    joblib.dump(bundle, path)
    return path


def load_model_bundle(
    path: str | Path, current: Mapping[str, str] | None = None
) -> tuple[Any, dict[str, Any]]:
    """Load ``(model, metadata)``; refuse if ``current`` (default: this one) differs."""
    bundle = joblib.load(path)
    recorded, current = bundle["environment"], current or current_environment()
    problems = check_environment(recorded, current)
    if problems:
        raise EnvironmentMismatchError(
            "Модель обучена в другом окружении, загрузка остановлена:\n- "
            + "\n- ".join(problems)
            + _advice(recorded, current)
        )
    return bundle["model"], bundle["metadata"]


def _advice(recorded: Mapping[str, str], current: Mapping[str, str]) -> str:
    """What to do about the differences; requirements.lock pins packages, not Python."""
    advice = ""
    if check_environment(recorded, current, keys=["python"]):
        advice += (
            f"\nНужен Python {python_minor(str(recorded['python']))} "
            "(подойдёт любой его выпуск): установите его или переобучите модель."
        )
    packages = [key for key in CHECKED_KEYS if key != "python"]
    if check_environment(recorded, current, keys=packages):
        advice += "\nВосстановите версии из requirements.lock или переобучите модель."
    return advice
