import platform
from importlib import metadata

from mlops_course.versioning.environment import environment_record, package_versions


def test_package_versions_reads_installed_versions_and_the_minor_python():
    versions = package_versions(["numpy", "no-such-package-here"])

    assert versions == {
        "python": ".".join(platform.python_version_tuple()[:2]),
        "numpy": metadata.version("numpy"),  # read independently of the code under test
        "no-such-package-here": "не установлен",
    }


def test_environment_record_has_the_exact_python_and_the_platform():
    record = environment_record(["numpy", "pandas"])

    assert set(record) == {"python", "platform", "numpy", "pandas"}
    assert record["python"] == platform.python_version()
    assert record["platform"] == platform.platform()
    assert record["numpy"] == metadata.version("numpy")
