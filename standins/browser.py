"""Debian's headless Chromium, for the status page: its DOM after loading, or a picture of it.

The flags are those that keep Chromium from reaching out (no background networking, component
updates, sync or QUIC) on a closed network, in a fresh profile each time; ``--no-sandbox`` because
the tests and the demo may run as root.
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars")


def chromium() -> str | None:
    """The Chromium command here, or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _run(*args: str, timeout: float = 90) -> str:
    command = chromium()
    if command is None:
        raise RuntimeError("no chromium here (Debian: apt-get install chromium; scripts/install.sh installs it)")
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        done = subprocess.run([command, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                              text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"chromium exited with {done.returncode}: {done.stderr[-1000:]}")
    return done.stdout


def dom(url: str) -> str:
    """The page's DOM as Chromium has it after loading ``url``."""
    return _run("--dump-dom", url)


def screenshot(url: str, path: Path, *, width: int = 1280, height: int = 1600) -> Path:
    """A PNG picture of ``url`` at ``path``."""
    _run(f"--screenshot={path}", f"--window-size={width},{height}", url)
    if not path.exists():
        raise RuntimeError(f"chromium wrote no picture at {path}")
    return path
