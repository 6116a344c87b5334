"""The ecosystem's exception hierarchy.

Every error a trader can meet carries what was involved (a setting, a service,
a file) and what to do next. Messages never contain secret values.
"""
from __future__ import annotations

from dataclasses import dataclass


class EcosystemError(Exception):
    """Base of every error this project raises on purpose. ``exit_code`` is what a task that
    ends with it exits with: 1 (it failed), 2 (it was asked wrongly: fix the input and rerun)."""

    exit_code = 1

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
        super().__init__("\n".join(lines), fix="correct the values above in .env (see .env.example) or in the environment")


class UsageError(EcosystemError):
    """A command or a setting asks for something this cannot do (an unknown name, a flag a task
    does not have); nothing was changed."""

    exit_code = 2


class EngineUnavailable(EcosystemError):
    """The Docker engine did not answer."""


class CommandFailed(EcosystemError):
    """A subprocess exited non-zero or did not finish in time."""

    def __init__(self, message: str, *, returncode: int | None, output: str = "", fix: str = "") -> None:
        super().__init__(message, fix=fix)
        self.returncode = returncode
        self.output = output


class ComposeError(CommandFailed):
    """``docker compose`` failed; ``service`` names the one involved when known."""

    def __init__(self, message: str, *, returncode: int | None, output: str = "", fix: str = "", service: str = "") -> None:
        super().__init__(message, returncode=returncode, output=output, fix=fix)
        self.service = service


class SmbError(EcosystemError):
    """The SMB share could not be reached, logged in to or written."""


class GitRemoteError(EcosystemError):
    """A git remote did not answer or refused us."""


class HistoryError(EcosystemError):
    """The run history could not be read or written."""
