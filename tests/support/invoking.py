"""Running `invoke TASK` as a trader would, from the project folder, with a .env of the test's own."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

from ecosystem.commands import invoke_argv
from ecosystem.settings import write_env_file

ROOT = Path(__file__).resolve().parents[2]


def write_env(folder: Path, values: dict) -> Path:
    return write_env_file(folder / ".env", values)


def run_invoke(folder: Path, values: dict, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """Write ``values`` as ``folder/.env`` and run ``invoke ARGS`` with it (the process environment
    cleared of those names, so the .env decides)."""
    env_file = write_env(folder, values)
    environ = {k: v for k, v in os.environ.items() if k not in values} | {"ECOSYSTEM_ENV_FILE": str(env_file)}
    return subprocess.run(invoke_argv(*args), cwd=ROOT, env=environ, capture_output=True,
                          text=True, timeout=timeout)
