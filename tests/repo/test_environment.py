"""The pinned environment: one lock, mirrored exactly by environment.yml."""

import re
import sys

from tests.conftest import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "tools"))
import sync_environment  # noqa: E402

LOCK = (REPO_ROOT / "requirements.lock").read_text()
PINS = sync_environment.lock_pins(LOCK)


def test_environment_yml_pins_exactly_the_lock() -> None:
    environment = (REPO_ROOT / "environment.yml").read_text()
    assert sync_environment.environment_pins(environment) == PINS
    assert "python=3.11" in environment


def test_every_locked_package_has_an_exact_pin_and_a_hash() -> None:
    hashed = re.findall(r"^\S+==\S+ \\\n\s+--hash=sha256:[0-9a-f]{64}", LOCK, re.MULTILINE)
    assert len(hashed) == len(PINS) > 100


def test_every_top_level_requirement_is_locked() -> None:
    names = [
        re.split(r"[\[<>=; #]", line.strip(), maxsplit=1)[0].lower()
        for line in (REPO_ROOT / "requirements.in").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert {name.replace("_", "-") for name in names} <= set(PINS)


def test_known_traps_are_avoided() -> None:
    assert PINS["pandas"].startswith("2."), "evidently 0.7.23 does not import with pandas 3"
    assert PINS["evidently"].startswith("0.7.")
    assert "mlflow" in PINS, "the full mlflow (sqlite store, UI), not only mlflow-skinny"
