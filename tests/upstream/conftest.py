"""The upstream contract tests: the ecosystem against a real pysystemtrade tree, not our stand-in.

PYSYSTEMTRADE_UPSTREAM names the tree: a folder (a git work tree, or a plain tree such as an
unpacked release) or a git URL. Without it, or when the URL cannot be reached, every test here
skips with one line saying how to run them; these are the only tests allowed to skip in CI.
No upstream code is ever committed: the tree is read where it is, or cloned into a temporary folder.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.integration.conftest import debian_python, docker_client  # noqa: F401  (the same engine fixtures)

HOW = ("upstream contract tests skipped: set PYSYSTEMTRADE_UPSTREAM to a pysystemtrade tree (a folder) or a git URL, "
       "e.g. PYSYSTEMTRADE_UPSTREAM=https://github.com/pst-group/pysystemtrade scripts/test.sh tests/upstream")


def _is_url(text: str) -> bool:
    return "://" in text or text.startswith("git@") or (text.endswith(".git") and not Path(text).exists())


def _git(*args: str, cwd: Path | None = None, timeout: float = 600) -> str:
    environ = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    return subprocess.run(["git", *args], cwd=cwd, env=environ, capture_output=True, text=True, timeout=timeout,
                          check=True).stdout.strip()


@pytest.fixture(scope="session")
def upstream(tmp_path_factory) -> dict:
    """Return {"url": a git URL the ecosystem can clone as the trader's repository, "branch", "commit"}."""
    given = os.environ.get("PYSYSTEMTRADE_UPSTREAM", "").strip()
    if not given:
        pytest.skip(HOW)
    if _is_url(given):
        try:
            head = _git("ls-remote", "--symref", given, "HEAD", timeout=60)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            pytest.skip(f"{HOW} ({given} cannot be reached from here)")
        branch = next((line.split()[1].removeprefix("refs/heads/") for line in head.splitlines()
                       if line.startswith("ref:")), "master")
        commit = next(line.split()[0] for line in head.splitlines() if not line.startswith("ref:"))
        return {"url": given, "branch": branch, "commit": commit}
    tree = Path(given).expanduser().resolve()
    if not (tree / "sysproduction").is_dir():
        pytest.fail(f"PYSYSTEMTRADE_UPSTREAM={given} is not a pysystemtrade tree (no sysproduction/)")
    if (tree / ".git").exists():
        return {"url": f"file://{tree}", "branch": _git("rev-parse", "--abbrev-ref", "HEAD", cwd=tree),
                "commit": _git("rev-parse", "HEAD", cwd=tree)}
    # a plain tree: committed as it is into a temporary repository (its work tree stays where it is)
    origin = tmp_path_factory.mktemp("upstream") / "origin.git"
    _git("init", "--quiet", "--bare", "--initial-branch=master", str(origin))
    work = ["--git-dir", str(origin), "--work-tree", str(tree)]
    _git(*work, "add", "--all", ".", timeout=1800)
    _git(*work, "-c", "user.name=contract", "-c", "user.email=contract@localhost", "commit", "--quiet",
         "-m", f"upstream tree from {tree}")
    return {"url": f"file://{origin}", "branch": "master",
            "commit": _git("--git-dir", str(origin), "rev-parse", "HEAD")}
