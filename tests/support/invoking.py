"""Running `invoke TASK` as a trader would, from the project folder, with a .env of the test's own."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def write_env(folder: Path, values: dict) -> Path:
    env_file = folder / ".env"
    env_file.write_text("".join(f"{k}='{v}'\n" for k, v in values.items()))
    env_file.chmod(0o600)
    return env_file


def run_invoke(folder: Path, values: dict, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """Write ``values`` as ``folder/.env`` and run ``invoke ARGS`` with it (the process environment
    cleared of those names, so the .env decides)."""
    env_file = write_env(folder, values)
    environ = {k: v for k, v in os.environ.items() if k not in values} | {"ECOSYSTEM_ENV_FILE": str(env_file)}
    return subprocess.run([sys.executable, "-m", "invoke", *args], cwd=ROOT, env=environ, capture_output=True,
                          text=True, timeout=timeout)
