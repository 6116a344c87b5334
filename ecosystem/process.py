"""The one place that spawns processes: a timeout always, output captured, errors named.

Secrets never go on a command line (they would show in the process list); pass
them through ``env`` or ``input`` instead. ``redact`` cleans what ends up in errors.
"""
from __future__ import annotations

import logging
import os
import shlex
import subprocess
from typing import Callable, Mapping, Sequence

from .errors import CommandFailed

log = logging.getLogger(__name__)

Runner = Callable[..., subprocess.CompletedProcess]


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def run(argv: Sequence[str], *, timeout: float, env: Mapping[str, str] | None = None, cwd: str | None = None,
        input: str | None = None, check: bool = True,
        redact: Callable[[str], str] = lambda text: text) -> subprocess.CompletedProcess:
    """Given a command, run it to completion within ``timeout`` seconds and return its result.

    ``env`` is added to this process's environment. Raise CommandFailed if the program is
    missing, runs past the timeout, or (with ``check``) exits non-zero.
    """
    shown = shlex.join(argv[:4]) + (" …" if len(argv) > 4 else "")
    full_env = {**os.environ, **env} if env else None
    log.debug("running %s (timeout %ss)", shown, timeout)
    try:
        result = subprocess.run(list(argv), env=full_env, cwd=cwd, input=input, capture_output=True, text=True,
                                timeout=timeout, errors="replace")
    except FileNotFoundError:
        raise CommandFailed(f"{argv[0]} is not installed or not on PATH", returncode=None,
                            fix=f"install {argv[0]} (scripts/install.sh does it on Debian)") from None
    except subprocess.TimeoutExpired as exc:
        output = exc.stderr if isinstance(exc.stderr, str) else (exc.stderr or b"").decode(errors="replace")
        raise CommandFailed(f"{redact(shown)} did not finish within {timeout:g}s", returncode=None,
                            output=redact(_tail(output))) from None
    if check and result.returncode != 0:
        detail = redact(_tail(result.stderr or result.stdout))
        raise CommandFailed(f"{redact(shown)} exited with code {result.returncode}: {detail}",
                            returncode=result.returncode, output=detail)
    return result


def run_attached(argv: Sequence[str], *, env: Mapping[str, str] | None = None) -> int:
    """Run an interactive command on this terminal (no capture, no timeout: a person drives it); return its exit code."""
    full_env = {**os.environ, **env} if env else None
    try:
        return subprocess.run(list(argv), env=full_env).returncode
    except FileNotFoundError:
        raise CommandFailed(f"{argv[0]} is not installed or not on PATH", returncode=None) from None
