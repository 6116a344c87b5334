"""`invoke reports` against real git remotes: a bare repository over HTTP with basic authentication
(git's own http-backend, tests/support/git_http.py) and one on disk."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from ecosystem import errors
from ecosystem.history import History
from tests.support.git_http import GitHttpServer
from tests.support.invoking import run_invoke

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "sentinel-REPORTS-token-0451"
USER = "x-access-token"


def git(*args, cwd=None, check=True):
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=check,
                          env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
                               "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"})


@pytest.fixture
def remote(tmp_path):
    root = tmp_path / "remotes"
    root.mkdir()
    git("init", "--bare", "--initial-branch=main", str(root / "reports.git"))
    git("config", "http.receivepack", "true", cwd=root / "reports.git")
    seed = tmp_path / "seed"
    git("clone", str(root / "reports.git"), str(seed))
    (seed / "README.md").write_text("reports\n")
    git("add", "-A", cwd=seed)
    git("commit", "-m", "start", cwd=seed)
    git("push", "origin", "HEAD:refs/heads/main", cwd=seed)
    server = GitHttpServer(root, USER, TOKEN)
    yield server
    server.stop()


class Trader:
    """One ecosystem folder whose reports/ is a clone of the remote, driven through `invoke`."""

    def __init__(self, tmp_path: Path, url: str, token: str = TOKEN) -> None:
        self.folder = tmp_path / "eco"
        self.reports = self.folder / "reports"
        self.folder.mkdir()
        self.values = {"STATE_DIR": str(self.folder / "state"), "REPORTS_DIR": str(self.reports),
                       "BACKUP_DIR": str(self.folder / "backup"), "REPORTS_REMOTE": url, "REPORTS_BRANCH": "main",
                       "GIT_TOKEN": token, "GIT_USERNAME": USER}

    def run(self, *args, check=True, timeout=120):
        result = run_invoke(self.folder, self.values, *args, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"invoke {' '.join(args)}: {result.returncode}\n{result.stdout}\n{result.stderr}")
        return result

    def attach(self):
        from ecosystem import repository
        from ecosystem.secrets import Secret

        repository.attach(self.values["REPORTS_REMOTE"], "main", self.reports, token=Secret(TOKEN), username=USER)
        for path in [self.reports, *self.reports.rglob("*")]:  # the containers' user writes the reports
            os.chown(path, 1000, 1000)

    def head(self):
        return git("-c", f"safe.directory={self.reports}", "rev-parse", "HEAD", cwd=self.reports).stdout.strip()


def remote_files(server: GitHttpServer) -> list[str]:
    return git("--git-dir", str(server.root / "reports.git"), "ls-tree", "-r", "--name-only", "main").stdout.split()


def test_nothing_to_commit_gives_no_commit_and_new_reports_one_commit_without_temp_pdfs(tmp_path, remote):
    trader = Trader(tmp_path, remote.url("reports.git"))
    trader.attach()
    before = trader.head()
    out = trader.run("reports").stdout
    assert "nothing new to commit" in out and trader.head() == before
    (trader.reports / "Status_report.txt").write_text("status\n")
    (trader.reports / "README.md").write_text("reports, changed\n")
    (trader.reports / "_tempfile_123.pdf").write_bytes(b"%PDF litter")
    (trader.reports / "sub").mkdir()
    (trader.reports / "sub" / "_tempfile_9.pdf").write_bytes(b"%PDF litter")
    out = trader.run("reports").stdout
    assert "1 added, 1 changed" in out and "removed 2 temporary PDF" in out and "pushed 1 commit" in out
    assert sorted(remote_files(remote)) == ["README.md", "Status_report.txt"]
    message = git("--git-dir", str(remote.root / "reports.git"), "log", "-1", "--format=%s", "main").stdout
    assert message.startswith("reports ") and "UTC" in message and "1 added, 1 changed" in message
    assert "nothing new to commit" in trader.run("reports").stdout
    run = [r for r in History(trader.folder / "state" / "history.jsonl").runs(job="reports")][-1]
    assert run.outcome == "ok"


def test_a_remote_that_moved_ahead_is_rebased_onto(tmp_path, remote):
    trader = Trader(tmp_path, remote.url("reports.git"))
    trader.attach()
    other = tmp_path / "other"
    git("clone", str(remote.root / "reports.git"), str(other))
    (other / "from_elsewhere.txt").write_text("a commit the ecosystem has not seen\n")
    git("add", "-A", cwd=other)
    git("commit", "-m", "elsewhere", cwd=other)
    git("push", "origin", "HEAD:main", cwd=other)
    (trader.reports / "P&L_report.txt").write_text("pnl\n")
    out = trader.run("reports").stdout
    assert "rebased onto the remote" in out
    assert sorted(remote_files(remote)) == ["P&L_report.txt", "README.md", "from_elsewhere.txt"]


def test_an_unreachable_remote_keeps_the_commit_and_the_next_run_pushes_it(tmp_path, remote):
    trader = Trader(tmp_path, remote.url("reports.git"))
    trader.attach()
    remote.stop()
    (trader.reports / "Roll_report.txt").write_text("rolls\n")
    failed = trader.run("reports", check=False)
    assert failed.returncode == errors.EXIT_GIT and "pushing the reports failed" in failed.stderr \
        and "is kept" in failed.stderr
    kept = trader.head()
    assert "Roll_report.txt" in git("-c", f"safe.directory={trader.reports}", "show", "--name-only", "--format=",
                                    "HEAD", cwd=trader.reports).stdout
    again = GitHttpServer(remote.root, USER, TOKEN)
    try:
        trader.values["REPORTS_REMOTE"] = again.url("reports.git")
        subprocess.run(["git", "-c", f"safe.directory={trader.reports}", "remote", "set-url", "origin",
                        again.url("reports.git")], cwd=trader.reports, check=True)
        out = trader.run("reports").stdout
        assert "pushed 1 commit" in out and trader.head() == kept
        assert "Roll_report.txt" in remote_files(again)
    finally:
        again.stop()


@pytest.mark.timeout(90)
def test_a_wrong_token_fails_at_once_and_no_token_is_left_anywhere(tmp_path, remote):
    trader = Trader(tmp_path, remote.url("reports.git"))
    trader.attach()
    trader.values["GIT_TOKEN"] = "sentinel-WRONG-token-9999"
    (trader.reports / "Status_report.txt").write_text("status\n")
    failed = trader.run("reports", check=False, timeout=60)
    assert failed.returncode == errors.EXIT_GIT and "pushing the reports failed" in failed.stderr
    for path in (trader.reports / ".git").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert TOKEN.encode() not in data and b"sentinel-WRONG" not in data, path
    history = (trader.folder / "state" / "history.jsonl").read_text()
    assert "sentinel-WRONG" not in failed.stdout + failed.stderr + history
    assert "sentinel-" not in git("-c", f"safe.directory={trader.reports}", "remote", "get-url", "origin",
                                  cwd=trader.reports).stdout


def test_dry_run_changes_nothing(tmp_path, remote):
    trader = Trader(tmp_path, remote.url("reports.git"))
    trader.attach()
    (trader.reports / "Status_report.txt").write_text("status\n")
    (trader.reports / "_tempfile_1.pdf").write_bytes(b"x")
    before = trader.head()
    out = trader.run("reports", "--dry-run").stdout
    assert "would commit: 1 added" in out and "_tempfile_1.pdf" in out
    assert trader.head() == before and (trader.reports / "_tempfile_1.pdf").exists()
