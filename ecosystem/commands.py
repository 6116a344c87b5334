"""The one place that spawns processes: a timeout always, output captured, errors named.

Secrets never go on a command line (they would show in the process list); pass
them through ``env`` or ``input`` instead. ``redact`` cleans what ends up in errors.
"""
from __future__ import annotations

import logging
import os
import shlex
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from .errors import DISK_FULL_FIX, CommandFailed, DiskFull

log = logging.getLogger(__name__)

Completed = subprocess.CompletedProcess  # what run() returns: for the annotations of its callers (no subprocess there)

Runner = Callable[..., subprocess.CompletedProcess]
Child = subprocess.Popen                  # a child started by ``start_invoke``
TimeoutExpired = subprocess.TimeoutExpired  # ``Child.wait(timeout=...)`` ran out


def invoke_argv(*command: str) -> list[str]:
    """The command line of ``invoke COMMAND`` in this Python environment (whatever is on PATH)."""
    return [sys.executable, "-m", "invoke", *command]


def start_invoke(command: Sequence[str], root: Path, *, env: Mapping[str, str] | None = None,
                 stdout=None) -> Child:
    """Start ``invoke COMMAND`` from the project folder ``root`` in its own session (so its whole
    process group can be stopped), with no terminal input; ``env`` replaces the environment,
    ``stdout`` (a file) takes its output and errors, else they go where this process's go."""
    return subprocess.Popen(invoke_argv(*command), cwd=str(root), start_new_session=True,
                            stdin=subprocess.DEVNULL, env=None if env is None else dict(env), stdout=stdout,
                            stderr=subprocess.STDOUT if stdout is not None else None)


def start_module(module: str, *args: str, pass_fds: tuple[int, ...] = ()) -> Child:
    """Start ``python -m MODULE ARGS`` of this checkout in this Python environment, handing it the
    descriptors ``pass_fds`` (how it is talked to), with no terminal input."""
    root = str(Path(__file__).resolve().parents[1])
    environ = os.environ | {"PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    return subprocess.Popen([sys.executable, "-m", module, *args], pass_fds=pass_fds, env=environ,
                            stdin=subprocess.DEVNULL)


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
        _raise_known(argv, detail)
        raise CommandFailed(f"{redact(shown)} exited with code {result.returncode}: {detail}",
                            returncode=result.returncode, output=detail)
    return result


def run_attached(argv: Sequence[str], *, env: Mapping[str, str] | None = None) -> int:
    """Run an interactive command on this terminal (no capture, no timeout: a person drives it);
    return its exit code."""
    full_env = {**os.environ, **env} if env else None
    try:
        return subprocess.run(list(argv), env=full_env).returncode
    except FileNotFoundError:
        raise CommandFailed(f"{argv[0]} is not installed or not on PATH", returncode=None) from None


def stream_out(argv: Sequence[str], sink, *, timeout: float, chunk: int = 1024 * 1024,
               redact: Callable[[str], str] = lambda text: text) -> str:
    """Run a command whose stdout is data: write it to ``sink`` as it arrives (never held whole),
    return its stderr. Raise CommandFailed if it is missing, exits non-zero or runs past ``timeout``."""
    return _streamed(argv, stdin=None, sink=sink, timeout=timeout, chunk=chunk, redact=redact)


def stream_in(argv: Sequence[str], source_path: str, *, timeout: float,
              redact: Callable[[str], str] = lambda text: text) -> str:
    """Run a command with a file as its stdin (streamed by the kernel); return its output (stdout and stderr)."""
    with open(source_path, "rb") as source:
        return _streamed(argv, stdin=source, sink=None, timeout=timeout, chunk=0, redact=redact)


def _streamed(argv, *, stdin, sink, timeout, chunk, redact) -> str:
    """Run ``argv`` with its stdout to ``sink`` (or with its errors); a timer kills it at its deadline
    whether or not it writes (a silent, stuck child is stopped too)."""
    import tempfile
    import threading

    shown = shlex.join(argv[:4]) + (" …" if len(argv) > 4 else "")
    with tempfile.TemporaryFile() as errors:
        try:
            child = subprocess.Popen(list(argv), stdin=stdin, stdout=subprocess.PIPE if sink else errors,
                                     stderr=errors, start_new_session=True)  # its group is stopped whole
        except FileNotFoundError:
            raise CommandFailed(f"{argv[0]} is not installed or not on PATH", returncode=None,
                                fix=f"install {argv[0]} (scripts/install.sh does it on Debian)") from None
        expired = threading.Event()

        def stop_at_deadline() -> None:
            if child.poll() is None:  # not a child already reaped (its pid could be another's by then)
                expired.set()
                _kill_group(child)

        timer = threading.Timer(timeout, stop_at_deadline)
        timer.daemon = True
        timer.start()
        try:
            if sink is not None and child.stdout is not None:
                while data := child.stdout.read(chunk):
                    sink.write(data)
            child.wait()
        except BaseException:
            _kill_group(child)
            child.wait()
            raise
        finally:
            timer.cancel()
            if child.stdout:
                child.stdout.close()
        if expired.is_set() and child.returncode != 0:  # killed at its deadline, not ended in time by itself
            raise CommandFailed(f"{redact(shown)} did not finish within {timeout:g}s and was stopped", returncode=None)
        errors.seek(0)
        said = errors.read().decode("utf-8", "replace")
    if child.returncode != 0:
        detail = redact(_tail(said))
        _raise_known(argv, detail)
        raise CommandFailed(f"{redact(shown)} exited with code {child.returncode}: {detail}",
                            returncode=child.returncode, output=detail)
    return said


def _kill_group(child: subprocess.Popen) -> None:
    """SIGKILL ``child`` and whatever it started (a grandchild could hold its output pipe open)."""
    import signal

    try:
        os.killpg(child.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        child.kill()


def _raise_known(argv: Sequence[str], said: str) -> None:
    """Raise the known failure a failed command's output names: a full disk (whichever program, in a
    helper container or here), or for ``docker`` the engine gone or an image missing."""
    for line in said.splitlines():
        if "No space left on device" in line or "Disk quota exceeded" in line:
            raise DiskFull(f"the disk is full: {line.strip()[:200]}", fix=DISK_FULL_FIX)
    if argv and Path(argv[0]).name == "docker":
        from .engine import cli_failure

        failure = cli_failure(said)
        if failure is not None:
            raise failure
