"""`pip install .` in a fresh environment gives a working tool: its `invoke --list`, run in the
checkout, shows the task tree; the lock installs with --require-hashes. Real pip, real PyPI."""
from __future__ import annotations

import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _fresh_venv(where: Path) -> Path:
    venv.EnvBuilder(with_pip=True, clear=True).create(where)
    return where / "bin"


def _pip(bin_dir: Path, *args: str) -> None:
    done = subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                           *args], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]


def test_pip_install_dot_gives_a_working_invoke_list(tmp_path):
    source = tmp_path / "source"  # a copy: building in place would leave build/ in the checkout
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".venv", ".git", ".state", "__pycache__",
                                                                 ".pytest_cache", ".hypothesis", ".ruff_cache",
                                                                 ".mypy_cache", "backup", "reports"))
    bin_dir = _fresh_venv(tmp_path / "venv")
    _pip(bin_dir, str(source))
    listed = subprocess.run([str(bin_dir / "invoke"), "--list"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    for task in ("backup", "restore", "offload", "run-scheduler", "weekly.sync", "install-service", "demo"):
        assert f"  {task} " in listed.stdout or f"  {task}\n" in listed.stdout, task
    imported = subprocess.run([str(bin_dir / "python"), "-c", "import ecosystem.settings, standins.demo"],
                              cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert imported.returncode == 0, imported.stderr


def test_the_lock_installs_with_require_hashes(tmp_path):
    bin_dir = _fresh_venv(tmp_path / "venv")
    _pip(bin_dir, "--require-hashes", "-r", str(ROOT / "requirements.txt"))
    checked = subprocess.run([str(bin_dir / "python"), "-m", "pip", "check"], capture_output=True, text=True,
                             timeout=120)
    assert checked.returncode == 0, checked.stdout
    assert sys.version_info >= (3, 11)
