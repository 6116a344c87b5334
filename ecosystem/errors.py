"""The ecosystem's exception hierarchy, and the known failure classes a raw error belongs to.

Every error a trader can meet carries what was involved (a setting, a service,
a file) and what to do next. Messages never contain secret values. Each class has its own
exit code (``EXIT_CODES``, documented in the README), so a script or the scheduler can tell a
full disk from an unreachable share without reading the text; ``known`` turns a raw error of a
known class (the engine gone, a full disk, a permission refused, a missing image) into one.
"""
from __future__ import annotations

import errno
import sys
from dataclasses import dataclass

EXIT_FAILED = 1        # it failed (the message says what and how to fix it)
EXIT_USAGE = 2         # it was asked wrongly (a flag, a setting): fix the input, nothing was changed
EXIT_ENGINE = 3        # the Docker engine did not answer, or stopped answering during the run
EXIT_SMB = 4           # the SMB share could not be reached, logged in to or written
EXIT_GIT = 5           # a git remote did not answer or refused
EXIT_DISK_FULL = 6     # a disk filled up
EXIT_PERMISSION = 7    # this user may not read or write something it needs
EXIT_IMAGE = 8         # an image the task needs is not on this engine
EXIT_BUSY = 75         # another run holds the lock (EX_TEMPFAIL): nothing was done, try again later

DISK_FULL_FIX = ("free space on that disk (docker system df shows what the engine holds; retention keeps "
                 "BACKUP_KEEP_* sets) and run it again")


class EcosystemError(Exception):
    """Base of every error this project raises on purpose. ``exit_code`` is what a task that
    ends with it exits with (``EXIT_CODES``); ``outcome`` is how its run is recorded."""

    exit_code = EXIT_FAILED
    outcome = "failed"

    def __init__(self, message: str, *, fix: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix

    def __str__(self) -> str:
        if self.fix:
            return f"{self.message}\n  fix: {self.fix}"
        return self.message


@dataclass(frozen=True)
class SettingProblem:
    """One bad setting: the variable, what is wrong, and an example of a good value."""

    variable: str
    shown_value: str
    problem: str
    example: str = ""

    def __str__(self) -> str:
        text = f"{self.variable}={self.shown_value}: {self.problem}" if self.variable else self.problem
        if self.example:
            text += f" (e.g. {self.example})"
        return text


class SettingsError(EcosystemError):
    """The settings could not be loaded; ``problems`` lists every one found."""

    exit_code = 2

    def __init__(self, problems: list[SettingProblem], source: str) -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        lines = [f"{count} problem{'s' if count != 1 else ''} in the settings ({source}):"]
        lines += [f"  - {p}" for p in self.problems]
        super().__init__("\n".join(lines),
                         fix="correct the values above in .env (see .env.example) or in the environment")


class UsageError(EcosystemError):
    """A command or a setting asks for something this cannot do (an unknown name, a flag a task
    does not have); nothing was changed."""

    exit_code = EXIT_USAGE


class EngineUnavailable(EcosystemError):
    """The Docker engine did not answer."""

    exit_code = EXIT_ENGINE


class Busy(EcosystemError):
    """Another run holds the lock this one needs; it waited, then did nothing."""

    exit_code = EXIT_BUSY
    outcome = "busy"


class DiskFull(EcosystemError):
    """A disk filled up while writing."""

    exit_code = EXIT_DISK_FULL


class NoPermission(EcosystemError):
    """The operating system refused this user access to a file or folder."""

    exit_code = EXIT_PERMISSION


class ImageMissing(EcosystemError):
    """An image a container needs is not on the engine (and cannot be pulled here)."""

    exit_code = EXIT_IMAGE


class CommandFailed(EcosystemError):
    """A subprocess exited non-zero or did not finish in time."""

    def __init__(self, message: str, *, returncode: int | None, output: str = "", fix: str = "") -> None:
        super().__init__(message, fix=fix)
        self.returncode = returncode
        self.output = output


class ComposeError(CommandFailed):
    """``docker compose`` failed; ``service`` names the one involved when known."""

    def __init__(self, message: str, *, returncode: int | None, output: str = "", fix: str = "",
                 service: str = "") -> None:
        super().__init__(message, returncode=returncode, output=output, fix=fix)
        self.service = service


class SmbError(EcosystemError):
    """The SMB share could not be reached, logged in to or written."""

    exit_code = EXIT_SMB


class GitRemoteError(EcosystemError):
    """A git remote did not answer or refused us."""

    exit_code = EXIT_GIT


class HistoryError(EcosystemError):
    """The run history could not be read or written."""


EXIT_CODES: dict[int, str] = {
    0: "it did its work",
    EXIT_FAILED: "it failed; the message says what and how to fix it",
    EXIT_USAGE: "it was asked wrongly (a flag, a setting, --dry for a task without a dry run); nothing was changed",
    EXIT_ENGINE: "the Docker engine did not answer, or stopped answering during the run",
    EXIT_SMB: "the SMB share could not be reached, logged in to or written",
    EXIT_GIT: "a git remote did not answer or refused",
    EXIT_DISK_FULL: "a disk filled up",
    EXIT_PERMISSION: "this user may not read or write a file or folder the task needs",
    EXIT_IMAGE: "an image the task needs is not on the engine",
    EXIT_BUSY: "another run held the lock for longer than LOCK_WAIT_SECONDS; nothing was done (recorded busy)",
}


def known(exc: BaseException) -> EcosystemError | None:
    """Given any exception, return it as an ``EcosystemError`` of its known class (itself if it is
    one already), or None for an error this project has no words for (a bug: its traceback is due)."""
    if isinstance(exc, EcosystemError):
        return exc
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        where = f" writing {exc.filename}" if exc.filename else ""
        return DiskFull(f"the disk is full{where} ({exc.strerror})", fix=DISK_FULL_FIX)
    if isinstance(exc, OSError) and exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        where = f" to {exc.filename}" if exc.filename else ""
        return NoPermission(f"access{where} was refused ({exc.strerror})",
                            fix="run the task as the user that owns STATE_DIR, BACKUP_DIR and REPORTS_DIR, or give "
                                "that user access (ls -l shows the owner)")
    if any(name in sys.modules for name in ("docker", "requests", "urllib3")):
        from .engine import translate  # the SDK's errors are only known to the engine seam

        return translate(exc)
    return None
