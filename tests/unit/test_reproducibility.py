import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from mlops_course.versioning.reproducibility import (
    EnvironmentMismatchError,
    array_hash,
    check_environment,
    current_environment,
    file_hash,
    load_model_bundle,
    model_hash,
    save_model_bundle,
)

RECORDED = {"python": "3.11.7", "scikit-learn": "1.9.1", "numpy": "2.4.6", "platform": "A"}


def test_same_environment_has_no_problems():
    assert check_environment(RECORDED, dict(RECORDED)) == []


def test_different_platform_is_not_a_problem():
    assert check_environment(RECORDED, {**RECORDED, "platform": "B"}) == []


def test_version_mismatch_is_named():
    problems = check_environment(RECORDED, {**RECORDED, "scikit-learn": "1.3.2"})
    assert len(problems) == 1
    assert "scikit-learn" in problems[0] and "1.9.1" in problems[0] and "1.3.2" in problems[0]


def test_missing_package_is_a_problem():
    current = {k: v for k, v in RECORDED.items() if k != "numpy"}
    assert check_environment(RECORDED, current) == [
        "numpy: при обучении 2.4.6, сейчас не установлен"
    ]


def test_keys_absent_from_the_record_are_ignored():
    assert check_environment({"python": "3.11.7"}, {"python": "3.11.7", "numpy": "1"}) == []


def test_python_is_compared_by_minor_version():
    assert check_environment(RECORDED, {**RECORDED, "python": "3.11.9"}) == []
    assert check_environment(RECORDED, {**RECORDED, "python": "3.12.1"}) == [
        "python: при обучении 3.11.7, сейчас 3.12.1"
    ]


def test_file_hash_changes_with_content(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("x\n1\n")
    first = file_hash(path)
    assert file_hash(path) == first
    path.write_text("x\n2\n")
    assert file_hash(path) != first


def test_array_hash_ignores_float_noise_but_not_changes():
    values = np.array([0.1, 0.2, -0.0])
    assert array_hash(values) == array_hash(values + 1e-14)
    assert array_hash(values) != array_hash(values + 1e-3)


def _model(seed: int) -> LogisticRegression:
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(60, 2))
    return LogisticRegression().fit(features, features[:, 0] > 0)


def test_model_hash_depends_on_coefficients():
    assert model_hash(_model(1)) == model_hash(_model(1))
    assert model_hash(_model(1)) != model_hash(_model(2))


def test_bundle_round_trip_and_refusal(tmp_path):
    path = save_model_bundle(_model(1), tmp_path / "model.joblib", data_hash="abc")
    model, metadata = load_model_bundle(path)
    assert metadata == {"data_hash": "abc"}
    assert model_hash(model) == model_hash(_model(1))
    production = {**current_environment(), "scikit-learn": "1.3.2"}
    with pytest.raises(EnvironmentMismatchError, match="scikit-learn"):
        load_model_bundle(path, current=production)


def test_current_environment_matches_tracking_format():
    from mlops_course.versioning.tracking import environment_info

    recorded = environment_info()
    assert check_environment(recorded, current_environment()) == []
    assert set(current_environment()) <= set(recorded)


def test_bundle_loads_on_another_patch_release_of_python(tmp_path):
    path = save_model_bundle(_model(1), tmp_path / "model.joblib")
    major, minor, patch = current_environment()["python"].split(".")
    other_patch = f"{major}.{minor}.{int(patch) + 1}"

    model, _ = load_model_bundle(path, current={**current_environment(), "python": other_patch})

    assert model_hash(model) == model_hash(_model(1))


def test_refusal_advice_fits_what_differs(tmp_path):
    path = save_model_bundle(_model(1), tmp_path / "model.joblib")
    other_python = {**current_environment(), "python": "3.99.0"}
    with pytest.raises(EnvironmentMismatchError) as python_only:
        load_model_bundle(path, current=other_python)
    with pytest.raises(EnvironmentMismatchError) as packages_only:
        load_model_bundle(path, current={**current_environment(), "numpy": "1.26.4"})

    python_minor = ".".join(current_environment()["python"].split(".")[:2])
    assert f"Нужен Python {python_minor}" in str(python_only.value)
    assert "requirements.lock" not in str(python_only.value)  # it does not pin Python
    assert "requirements.lock" in str(packages_only.value)
    assert "Нужен Python" not in str(packages_only.value)


def test_exact_bits_see_what_rounding_hides():
    values = np.array([0.1, 0.2])
    assert array_hash(values, decimals=None) != array_hash(values + 1e-14, decimals=None)
    assert array_hash(values) == array_hash(values + 1e-14)
    assert model_hash(_model(1), decimals=None) == model_hash(_model(1), decimals=None)


def test_supported_kernels_follow_the_cpu_flags(tmp_path):
    from mlops_course.versioning.reproducibility import cpu_flags, supported_kernels

    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor : 0\nflags\t\t: fpu pni ssse3 avx avx2 fma\n")
    flags = cpu_flags(cpuinfo)
    assert {"pni", "avx2"} <= flags
    assert supported_kernels(flags, machine="x86_64") == {
        "Prescott": True,
        "Haswell": True,
        "SkylakeX": False,
    }
    assert not any(supported_kernels(flags, machine="arm64").values())
    assert cpu_flags(tmp_path / "missing") == frozenset()


def test_run_python_gives_each_process_its_environment():
    from mlops_course.versioning.reproducibility import ProcessFailedError, run_python

    code = "import os; print(os.environ.get('COURSE_PROBE', '-'))"
    out = run_python(code, {"set": {"COURSE_PROBE": "1"}, "unset": {"COURSE_PROBE": None}})
    assert out == {"set": "1", "unset": "-"}
    with pytest.raises(ProcessFailedError, match="ZeroDivisionError"):
        run_python("1 / 0", {"boom": {}})
