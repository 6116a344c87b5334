"""One run at a time of a job: an exclusive, non-blocking lock file under STATE_DIR/locks.

The kernel releases a flock when its holder dies (SIGKILL included), so a crashed run never
leaves a stale lock; the file keeps the holder's pid only to say who holds it.
"""
from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import Busy

__all__ = ["WEEK", "Busy", "exclusive", "is_held"]

WEEK = "weekly"  # held by weekly sync, open and close; backup and restore take it to hold every launch


@contextmanager
def exclusive(state_dir: Path, job: str, *, wait_seconds: float = 0) -> Iterator[None]:
    """Hold the lock of ``job`` for the block; raise Busy if another run holds it (at once, or
    after ``wait_seconds`` of trying: a sync holds its lock for seconds, a chain for hours)."""
    import time

    folder = Path(state_dir) / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / f"{job}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + wait_seconds
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    break
                time.sleep(0.5)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            waited = f"; waited {wait_seconds:g}s for it" if wait_seconds else ""
            raise Busy(f"{job} is already running (pid {holder}){waited}: this run did nothing",
                       fix=f"wait for it to end (invoke history --job {job.split('.')[0]}), then run this again; "
                           "LOCK_WAIT_SECONDS sets how long a task waits") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)


def is_held(state_dir: Path, job: str) -> bool:
    """Say whether a run of ``job`` holds its lock right now."""
    try:
        with exclusive(state_dir, job):
            return False
    except Busy:
        return True
