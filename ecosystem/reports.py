"""Publishing pysystemtrade's report files: commit what changed in reports/, push it, never lose one.

The folder belongs to the containers' user (they write the reports), so git is told to trust
it for this run only (``safe.directory`` in the environment, never in a config file). The
token reaches git through the askpass helper (``gitremote``): never in the remote URL or
``.git/config``. A push is checked for real (``--porcelain``: every ref line, not just the exit
code); a remote that moved on is fetched and rebased onto once; whatever fails, the local
commit stays, and the next run pushes it.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from .errors import EcosystemError, GitRemoteError
from .gitremote import git_environment
from .secrets import Redactor, Secret

log = logging.getLogger(__name__)

LITTER = "_tempfile_*.pdf"     # what pysystemtrade's PDF reports leave behind
TIMEOUT = 120
AUTHOR = ("pysystemtrade ecosystem", "ecosystem@localhost")


@dataclass
class Published:
    """What a run did: the litter removed, the commit made (if any), whether the branch is pushed."""

    removed: list[str] = field(default_factory=list)
    commit: str = ""
    summary: str = ""
    pushed: bool = False
    rebased: bool = False
    ahead: int = 0   # local commits the remote did not have before this push

    def describe(self) -> str:
        parts = [f"committed {self.commit[:10]} ({self.summary})" if self.commit else "nothing new to commit"]
        if self.removed:
            parts.append(f"removed {len(self.removed)} temporary PDF file(s)")
        if self.rebased:
            parts.append("rebased onto the remote, which had moved on")
        parts.append(f"pushed {self.ahead} commit(s)" if self.pushed and self.ahead else
                     "the remote was up to date" if self.pushed else "not pushed")
        return "; ".join(parts)


def _summary(porcelain: str) -> str:
    added = changed = deleted = 0
    for line in porcelain.splitlines():
        code = line[:2]
        if "D" in code:
            deleted += 1
        elif code in ("??", "A ") or "A" in code:
            added += 1
        else:
            changed += 1
    return ", ".join(f"{n} {word}" for n, word in ((added, "added"), (changed, "changed"), (deleted, "removed")) if n)


def _push_result(output: str, branch: str) -> str:
    """Return the status flag of the branch's line in ``git push --porcelain`` output ('' if absent)."""
    for line in output.splitlines():
        flag, _, rest = line.partition("\t")
        if rest.startswith("HEAD:refs/heads/") or rest.startswith(f"refs/heads/{branch}:") or \
                rest.endswith(f"refs/heads/{branch}"):
            return flag.strip() or " "
    return ""


def publish(path: Path, branch: str, *, token: Secret | None, username: str, push: bool = True,
            now: datetime | None = None, dry_run: bool = False) -> Published:
    """Commit what changed in ``path`` (litter removed) and push ``branch``; return what was done.

    Raise GitRemoteError (the local commit kept) if the remote cannot be reached or refuses.
    """
    import git

    path = Path(path)
    if not (path / ".git").exists():
        raise EcosystemError(f"{path} is not a git clone", fix="set REPORTS_REMOTE and run `invoke setup`")
    redact = Redactor([token.reveal()] if token else [])
    now = now or datetime.now(UTC)
    result = Published()
    with git_environment(token, username, trusted=str(path)) as env:
        env = env | {"GIT_AUTHOR_NAME": AUTHOR[0], "GIT_AUTHOR_EMAIL": AUTHOR[1], "GIT_COMMITTER_NAME": AUTHOR[0],
                     "GIT_COMMITTER_EMAIL": AUTHOR[1], "GIT_HTTP_LOW_SPEED_LIMIT": "1000",
                     "GIT_HTTP_LOW_SPEED_TIME": "20"}
        repo = git.Repo(path)
        with repo.git.custom_environment(**env):
            litter = sorted(p for p in path.rglob(LITTER) if ".git" not in p.relative_to(path).parts)
            result.removed = [str(p.relative_to(path)) for p in litter]
            porcelain_before = repo.git.status("--porcelain", "--untracked-files=all")
            if dry_run:
                changes = [line for line in porcelain_before.splitlines()
                           if not any(line.endswith(r) for r in result.removed)]
                result.summary = _summary("\n".join(changes)) or "nothing"
                return result
            for item in litter:
                item.unlink()
            repo.git.add("--all")
            staged = repo.git.status("--porcelain")
            if staged.strip():
                result.summary = _summary(staged)
                repo.git.commit("-m", f"reports {now:%Y-%m-%d %H:%M} UTC: {result.summary}")
                result.commit = repo.head.commit.hexsha
            if not push:
                return result
            try:
                _push(repo, branch, result)
            except git.GitCommandError as exc:
                raise _remote_error(exc, redact, result) from None
    return result


def _push(repo, branch: str, result: Published) -> None:
    import git

    def ahead() -> int:
        try:
            return int(repo.git.rev_list("--count", f"origin/{branch}..HEAD"))
        except git.GitCommandError:  # the remote has no such branch yet
            return int(repo.git.rev_list("--count", "HEAD"))

    try:
        repo.git.fetch("origin", branch, kill_after_timeout=TIMEOUT)
    except git.GitCommandError as exc:
        if "couldn't find remote ref" not in str(exc.stderr).lower():
            raise
    result.ahead = ahead()
    if result.ahead == 0:
        result.pushed = True
        return
    for attempt in (1, 2):
        output = ""
        try:
            output = repo.git.push("--porcelain", "origin", f"HEAD:refs/heads/{branch}", kill_after_timeout=TIMEOUT)
            flag = _push_result(output, branch)
        except git.GitCommandError as exc:
            output = f"{exc.stdout}\n{exc.stderr}"
            flag = _push_result(str(exc.stdout), branch) or "!"
            if "rejected" not in output and "non-fast-forward" not in output and "fetch first" not in output:
                raise
        if flag in (" ", "+", "*", "="):
            result.pushed = True
            return
        if attempt == 2:
            raise git.GitCommandError(["git", "push"], 1, stderr=f"the push was rejected again: {output.strip()}")
        # the remote moved on: put our commits on top of it, once
        repo.git.fetch("origin", branch, kill_after_timeout=TIMEOUT)
        try:
            repo.git.rebase(f"origin/{branch}")
        except git.GitCommandError:
            repo.git.rebase("--abort")
            raise git.GitCommandError(["git", "rebase"], 1, stderr="the remote's new commits conflict with the "
                                      "local reports; the local commit is kept, resolve by hand") from None
        result.rebased = True
        result.commit = repo.head.commit.hexsha if result.commit else ""


def _remote_error(exc, redact: Redactor, result: Published) -> GitRemoteError:
    lines = [line.strip() for line in str(getattr(exc, "stderr", "") or exc).splitlines() if line.strip()]
    reason = redact(lines[-1]).removeprefix("stderr: ").strip("'") if lines else type(exc).__name__
    kept = f"the local commit {result.commit[:10]} is kept; " if result.commit else ""
    return GitRemoteError(f"pushing the reports failed: {reason}",
                          fix=f"{kept}check REPORTS_REMOTE, the network and GIT_TOKEN; the next `invoke reports` "
                              "pushes whatever is still local")
