"""Where the ecosystem's own log lines go: to a person, concise and masked.

The library's modules only log (``logging.getLogger(__name__)``, a ``NullHandler`` on the package);
an invocation configures the output once, at the task boundary: one stderr handler ("warning:
the alert ... was not delivered") at ``LOG_LEVEL``, and for ``run-scheduler`` a rotated file
as well. The secret redactor sits on each handler, so every record is masked whichever logger
wrote it (ours, apprise's, docker's), tracebacks included.
"""
from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

STDERR_HANDLER = "ecosystem-stderr"
FILE_HANDLER = "ecosystem-file"
FILE_BYTES, FILE_BACKUPS = 5 * 1024 * 1024, 5


class MaskingFilter(logging.Filter):
    """Mask secrets in a record's final message and traceback; the redactor can be swapped once the
    settings (and so the secrets) are known."""

    def __init__(self, redact: Callable[[str], str] = lambda text: text) -> None:
        super().__init__()
        self.redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = self.redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


class _Concise(logging.Formatter):
    """``warning: message`` (with the logger's name only at DEBUG, where a developer reads it)."""

    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        if record.levelno <= logging.DEBUG:
            text = f"{record.name}: {text}"
        line = f"{record.levelname.lower()}: {text}"
        if record.exc_text:
            line += "\n" + record.exc_text
        return line


class _Stderr(logging.StreamHandler):
    """A handler that writes to whatever ``sys.stderr`` is when the record comes (a test's capture, a
    redirected stream), never to a stream that was closed since it was made."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def _private_rotating_file(path: Path) -> logging.Handler:
    """A rotated log file readable by its owner only, the new one after each rollover too (the
    handlers module is imported here: only the scheduler writes a file)."""
    import logging.handlers

    class PrivateRotatingFile(logging.handlers.RotatingFileHandler):
        def _open(self):
            stream = super()._open()
            os.chmod(self.baseFilename, 0o600)
            return stream

    return PrivateRotatingFile(path, maxBytes=FILE_BYTES, backupCount=FILE_BACKUPS, encoding="utf-8")


_mask = MaskingFilter()


def _handler(name: str) -> logging.Handler | None:
    return next((h for h in logging.getLogger().handlers if h.get_name() == name), None)


def configure(level: str = "WARNING", *, redact: Callable[[str], str] | None = None,
              log_file: Path | None = None) -> None:
    """Send log records at ``level`` and above to stderr, masked by ``redact``; with ``log_file``,
    also to that file (rotated, INFO or finer). Safe to call again: it adjusts, never doubles."""
    root = logging.getLogger()
    if redact is not None:
        _mask.redact = redact
    stderr = _handler(STDERR_HANDLER)
    if stderr is None:
        stderr = _Stderr()
        stderr.set_name(STDERR_HANDLER)
        stderr.setFormatter(_Concise())
        stderr.addFilter(_mask)
        root.addHandler(stderr)
    stderr.setLevel(level)
    levels = [stderr.level]
    if log_file is not None and _handler(FILE_HANDLER) is None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handler = _private_rotating_file(log_file)
        handler.set_name(FILE_HANDLER)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler.addFilter(_mask)
        handler.setLevel(min(logging.INFO, logging.getLevelName(level)))
        root.addHandler(handler)
    if (file_handler := _handler(FILE_HANDLER)) is not None:
        levels.append(file_handler.level)
    root.setLevel(min(levels))
    for noisy in ("urllib3", "docker", "git"):  # their INFO lines are a developer's, not a trader's
        logging.getLogger(noisy).setLevel(logging.DEBUG if min(levels) <= logging.DEBUG else logging.WARNING)


def configured() -> bool:
    """Say whether this process's log output is configured already (``configure`` was called)."""
    return _handler(STDERR_HANDLER) is not None


def debugging() -> bool:
    """Say whether LOG_LEVEL=DEBUG is in force (a known failure then shows its traceback too)."""
    handler = _handler(STDERR_HANDLER)
    return handler is not None and handler.level <= logging.DEBUG
