"""Write environment.yml (Binder, conda) from requirements.lock so both pin the same versions.

python tools/sync_environment.py          # rewrite environment.yml
python tools/sync_environment.py --check  # fail if it disagrees with the lock
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
ENVIRONMENT = ROOT / "environment.yml"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*(?:\[[^\]]+\])?)==([^\s;\\]+)", re.MULTILINE)
HEADER = """\
# Generated from requirements.lock by `python tools/sync_environment.py`; do not edit.
# Binder and conda users get exactly the pins that `make lab` installs.
name: mlops-course
channels:
  - conda-forge
dependencies:
  - python=3.11
  - pip
  - pip:
"""


def lock_pins(text: str) -> dict[str, str]:
    """``{name: version}`` of every ``name==version`` line (hash lines ignored)."""
    return {name.lower(): version for name, version in PIN.findall(text)}


def environment_pins(text: str) -> dict[str, str]:
    """``{name: version}`` of the pip pins listed in environment.yml."""
    pins = {}
    for line in text.splitlines():
        match = re.match(r"^\s+- ([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)\s*$", line)
        if match:
            pins[match[1].lower()] = match[2]
    return pins


def render(pins: dict[str, str]) -> str:
    return HEADER + "".join(f"    - {name}=={version}\n" for name, version in sorted(pins.items()))


def main(argv: list[str]) -> int:
    expected = render(lock_pins(LOCK.read_text()))
    if "--check" in argv:
        if ENVIRONMENT.read_text() != expected:
            print(
                "✗ environment.yml disagrees with requirements.lock; "
                "run `python tools/sync_environment.py`",
                file=sys.stderr,
            )
            return 1
        print("✓ environment.yml matches requirements.lock")
        return 0
    ENVIRONMENT.write_text(expected)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
