"""The trader's private pysystemtrade repository, cloned and updated on the host with GitPython.

The token reaches git only through the askpass helper of ``gitremote``: never in the URL,
``.git/config``, a command line or an image. Updates are fast-forward only, so a clone
with local changes (a private config edited in place) is never silently reset.
"""
from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from .errors import EcosystemError, GitRemoteError
from .gitremote import git_environment
from .secrets import Redactor, Secret

log = logging.getLogger(__name__)

GIT_TIMEOUT = 600


@dataclass(frozen=True)
class RepositoryState:
    """Where the clone is and which commit it holds."""

    path: Path
    branch: str
    commit: str
    action: str  # cloned | updated | unchanged | used as is


def _errors(token: Secret | None, url: str, exc: Exception,
            fix: str = "check PYSYSTEMTRADE_REPO_URL, PYSYSTEMTRADE_BRANCH and GIT_TOKEN (or GIT_TOKEN_FILE)"
            ) -> GitRemoteError:
    redact = Redactor([token.reveal()] if token else [])
    stderr = getattr(exc, "stderr", "") or str(exc)
    last = [line.strip() for line in str(stderr).splitlines() if line.strip()]
    reason = redact(last[-1]) if last else type(exc).__name__
    reason = reason.removeprefix("stderr: ").strip("'")
    return GitRemoteError(f"git could not fetch {url}: {reason}", fix=fix)


def sync(url: str, branch: str, path: Path, *, token: Secret | None, username: str,
         pull: bool = True) -> RepositoryState:
    """Clone ``url`` at ``branch`` into ``path``, or fast-forward an existing clone; return its state.

    With ``pull`` false an existing clone is used as it is. Raise GitRemoteError naming the
    fix if the remote refuses or does not answer, EcosystemError if the clone has diverged.
    """
    import git

    path = Path(path)
    if (path / ".git").exists() and not pull:
        repo = git.Repo(path)
        return RepositoryState(path, branch, repo.head.commit.hexsha, "used as is")
    with git_environment(token, username) as env:
        env = env | {"GIT_HTTP_LOW_SPEED_LIMIT": "1000", "GIT_HTTP_LOW_SPEED_TIME": "30"}
        if not (path / ".git").exists():
            if path.exists() and any(path.iterdir()):
                raise EcosystemError(f"{path} exists and is not a git clone",
                                     fix="move it away or set PYSYSTEMTRADE_CLONE_DIR to an empty folder")
            if not url:
                raise EcosystemError("no pysystemtrade repository to clone",
                                     fix="set PYSYSTEMTRADE_REPO_URL in .env (and GIT_TOKEN for a private one)")
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                repo = git.Repo.clone_from(url, path, branch=branch, env=env, kill_after_timeout=GIT_TIMEOUT)
            except git.GitCommandError as exc:
                raise _errors(token, url, exc) from None
            log.info("cloned %s (%s) into %s", url, branch, path)
            return RepositoryState(path, branch, repo.head.commit.hexsha, "cloned")
        repo = git.Repo(path)
        before = repo.head.commit.hexsha
        try:
            with repo.git.custom_environment(**env):
                repo.git.fetch("origin", branch, kill_after_timeout=GIT_TIMEOUT)
                if repo.head.is_detached or repo.active_branch.name != branch:
                    repo.git.checkout(branch)
                repo.git.merge("--ff-only", "FETCH_HEAD")
        except git.GitCommandError as exc:
            if exc.command and "merge" in exc.command:
                raise EcosystemError(f"the clone in {path} has diverged from origin/{branch}",
                                     fix=f"commit or discard your changes in {path}, "
                                         "or build with --no-pull-repo") from None
            raise _errors(token, url or "origin", exc) from None
        after = repo.head.commit.hexsha
        return RepositoryState(path, branch, after, "updated" if after != before else "unchanged")


def attach(url: str, branch: str, path: Path, *, token: Secret | None, username: str) -> str:
    """Make the folder ``path`` a clone of ``url`` at ``branch``, keeping files already in it.

    Used for reports/, which exists before the remote is configured. Return what was done.
    Raise GitRemoteError if the remote does not answer.
    """
    import git

    path.mkdir(parents=True, exist_ok=True)
    if (path / ".git").exists():
        return "already a clone"
    with git_environment(token, username, trusted=str(path)) as env:
        with git.Git().custom_environment(**env):
            repo = git.Repo.init(path, initial_branch=branch)
        try:
            with repo.git.custom_environment(**env):
                repo.create_remote("origin", url)
                remote_branches = str(repo.git.ls_remote("--heads", "origin", branch, kill_after_timeout=120))
                if remote_branches.strip():
                    repo.git.fetch("origin", branch, kill_after_timeout=GIT_TIMEOUT)
                    repo.git.checkout("-B", branch, "FETCH_HEAD")
                    repo.git.branch("--set-upstream-to", f"origin/{branch}")
                    return f"cloned {branch} of the reports remote"
        except git.GitCommandError as exc:
            shutil.rmtree(path / ".git", ignore_errors=True)  # no half-made clone for the next run to trust
            raise _errors(token, url, exc, fix="check REPORTS_REMOTE, REPORTS_BRANCH and GIT_TOKEN") from None
    return f"new repository for the reports (the remote has no {branch} yet)"
