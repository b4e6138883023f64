"""Cold install from the lock, exactly as `make` does it, with a new venv and an empty
uv cache, as on a fresh machine.

    python benchmarks/cold_install.py

Prints the wall time of each step and the size of the resulting environment.
Network speed dominates; the target on a 2-core machine is under 2 minutes.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(command: list[str], **kwargs) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, **kwargs)
    return time.perf_counter() - started


def directory_size(path: Path) -> int:
    return sum(item.stat().st_size for item in path.rglob("*") if item.is_file())


def main() -> None:
    lock = (ROOT / "requirements.lock").read_text()
    uv_version = re.search(r"^uv==(\S+)", lock, re.MULTILINE)[1]
    with tempfile.TemporaryDirectory(prefix="mlops-cold-install-") as tmp:
        venv, cache = Path(tmp) / "venv", Path(tmp) / "uv-cache"
        python = venv / "bin" / "python"
        env = {**os.environ, "UV_CACHE_DIR": str(cache)}
        steps = {
            "venv": timed([sys.executable, "-m", "venv", str(venv)]),
            "uv": timed([str(python), "-m", "pip", "install", "-q", f"uv=={uv_version}"]),
            "lock": timed(
                [
                    str(venv / "bin" / "uv"),
                    "pip",
                    "install",
                    "--python",
                    str(python),
                    "--compile-bytecode",  # as `make`: every later import is faster
                    "--require-hashes",
                    "-r",
                    str(ROOT / "requirements.lock"),
                ],
                env=env,
            ),
            "package": timed(
                [
                    str(venv / "bin" / "uv"),
                    "pip",
                    "install",
                    "--python",
                    str(python),
                    "--no-deps",
                    "--no-build-isolation",
                    "-e",
                    str(ROOT),
                ],
                env=env,
            ),
        }
        size_mb = directory_size(venv) / 2**20
    result = {
        "steps_s": steps,
        "total_s": sum(steps.values()),
        "venv_mb": size_mb,
        "packages": len(re.findall(r"^\S+==", lock, re.MULTILINE)),
    }
    for step, seconds in steps.items():
        print(f"{step:<8} {seconds:6.1f} s")
    print(
        f"{'total':<8} {result['total_s']:6.1f} s   venv {size_mb:,.0f} MB, "
        f"{result['packages']} packages"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
