"""The run history: one append-only JSON-lines file that every task writes to.

Each run (and each step of a run) writes a ``start`` line when it begins and an
``end`` line when it finishes; readers fold the two by run id. A line is written
with one ``write`` under an exclusive ``flock`` and fsynced, so concurrent
writers never interleave. A writer killed mid-line leaves a torn line: the next
writer starts on a fresh line and readers skip what does not parse, so a crash
never makes the history unreadable. A run with a start and no end is
``running`` while its process lives and ``interrupted`` after.
"""
from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import socket
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import TypeVar

from .errors import EcosystemError, HistoryError, known
from .events import FAILURE_OUTCOMES, EventBus, FailureEvent, Notice
from .outcomes import Outcome

log = logging.getLogger(__name__)
E = TypeVar("E", bound=BaseException)

OUTCOMES = tuple(Outcome)
FORMAT_VERSION = 1
MAX_DETAIL = 500
MAX_LOG_LINES, MAX_LOG_LINE = 15, 300
HOST = socket.gethostname()


def current_name(job: str, step: str | None) -> tuple[str, str | None]:
    """The (job, step) an entry written by an earlier version is read as: jobs are named after their
    task (``weekly.sync`` was ``weekly`` with step ``sync``, its launches ``day``; the scheduler's
    records were ``schedule``; ``gateway.status`` was ``gateway`` with step ``status``)."""
    if job == "day":
        return "weekly.sync", step
    if job == "schedule":
        return "run-scheduler", step
    if job in ("weekly", "gateway") and step:
        return f"{job}.{step}", None
    return job, step


def utcnow() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds") if moment else None


def _parse_iso(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True)
class Run:
    """One run or step as the history knows it; ``outcome`` is None until it has ended."""

    id: str
    job: str
    start: datetime
    step: str | None = None
    slot: str | None = None
    parent: str | None = None
    end: datetime | None = None
    outcome: str | None = None
    detail: str = ""
    pid: int = 0
    host: str = ""
    log_tail: tuple[str, ...] = ()   # the last lines a process run wrote, redacted
    ref: str = ""                    # what the run was observed from (a container id): recorded once

    @property
    def state(self) -> str:
        """The outcome, or ``running`` / ``interrupted`` for a run that has not ended."""
        if self.outcome:
            return self.outcome
        if self.host == HOST and self.pid and _pid_alive(self.pid):
            return "running"
        return "interrupted"

    @property
    def duration(self) -> timedelta | None:
        return self.end - self.start if self.end else None


class RunTimedOut(EcosystemError):
    """Raise inside a recorded run to end it as ``timed_out``."""

    outcome = "timed_out"


def mark_recorded(exc: BaseException) -> None:
    """Note on ``exc`` that a run's end already records it (the task boundary then records nothing more)."""
    try:
        exc.ecosystem_recorded = True  # type: ignore[attr-defined]
    except AttributeError:  # an exception type with __slots__
        pass


def already_recorded(exc: E) -> E:
    """Return ``exc`` marked as recorded: raise it after writing its run's end yourself."""
    mark_recorded(exc)
    return exc


def was_recorded(exc: BaseException) -> bool:
    """Say whether a run's end in the history already records ``exc``."""
    return bool(getattr(exc, "ecosystem_recorded", False))


class RunHandle:
    """What a running job holds: set its outcome and detail, open steps inside it."""

    def __init__(self, history: History, run: Run) -> None:
        self._history = history
        self.run = run
        self.outcome = "ok"
        self.detail = ""

    @property
    def id(self) -> str:
        return self.run.id

    def set(self, outcome: str, detail: str = "") -> None:
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}; one of {', '.join(OUTCOMES)}")
        self.outcome, self.detail = outcome, detail

    def step(self, name: str) -> AbstractContextManager[RunHandle]:
        return self._history.run(self.run.job, step=name, slot=self.run.slot, parent=self.run.id)


class History:
    """Given the history file, append runs to it and answer questions about them."""

    def __init__(self, path: Path, *, bus: EventBus | None = None,
                 redact: Callable[[str], str] | None = None, clock: Callable[[], datetime] = utcnow) -> None:
        self.path = Path(path)
        self.bus = bus
        self._redact = redact or (lambda text: text)
        self._clock = clock
        self.damaged_lines = 0

    # -- writing -------------------------------------------------------------------------

    def _write(self, entry: dict) -> None:
        data = (json.dumps(entry, separators=(",", ":"), ensure_ascii=False) + "\n").encode("utf-8")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        except OSError as exc:  # a full disk or a refused access keeps its own class (and exit code)
            kind = type(known(exc) or HistoryError(""))
            raise kind(f"cannot write the run history at {self.path}: {exc.strerror}",
                       fix="check STATE_DIR and that this user may write there") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                data = b"\n" + data  # a writer died mid-line: start ours on a fresh one
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)

    def _entry(self, run: Run, phase: str) -> dict:
        return {"v": FORMAT_VERSION, "phase": phase, "id": run.id, "parent": run.parent, "job": run.job,
                "step": run.step, "slot": run.slot, "start": _iso(run.start), "end": _iso(run.end),
                "outcome": run.outcome, "detail": run.detail, "pid": run.pid, "host": run.host,
                **({"log": list(run.log_tail)} if run.log_tail else {}), **({"ref": run.ref} if run.ref else {})}

    def _clean(self, detail: str) -> str:
        text = self._redact(" ".join(str(detail).split()))
        return text if len(text) <= MAX_DETAIL else text[:MAX_DETAIL - 1] + "…"

    def begin(self, job: str, *, step: str | None = None, slot: str | None = None,
              parent: str | None = None, start: datetime | None = None, ref: str = "") -> Run:
        """Write the start of a run (now, or at ``start`` for a run observed afterwards) and return it."""
        run = Run(id=os.urandom(16).hex(),  # as unique as uuid4's (which imports platform, at every start)
                  job=job, step=step, slot=slot, parent=parent, start=start or self._clock(),
                  pid=os.getpid(), host=HOST, ref=ref)
        self._write(self._entry(run, "start"))
        return run

    def finish(self, run: Run, outcome: str, detail: str = "", *, hint: str = "",
               log_tail: tuple[str, ...] = (), end: datetime | None = None, quiet: bool = False) -> Run:
        """Write the end of ``run`` (now, or at ``end``) with its outcome; emit a failure event when it
        failed, unless ``quiet`` (what ended it has been said already)."""
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}; one of {', '.join(OUTCOMES)}")
        tail = tuple(self._redact(line)[:MAX_LOG_LINE] for line in log_tail[-MAX_LOG_LINES:])
        end = end or self._clock()
        ended = replace(run, end=end, outcome=outcome, detail=self._clean(detail), log_tail=tail)
        self._write(self._entry(ended, "end"))
        if outcome in FAILURE_OUTCOMES and self.bus is not None and not quiet:
            self.bus.emit(FailureEvent(job=run.job, step=run.step, slot=run.slot, outcome=outcome,
                                       at=end, detail=ended.detail, run_id=run.id, hint=hint,
                                       log_tail=tail))
        return ended

    def record(self, job: str, outcome: str, detail: str = "", *, step: str | None = None,
               slot: str | None = None, parent: str | None = None, start: datetime | None = None,
               end: datetime | None = None, hint: str = "", log_tail: tuple[str, ...] = (), ref: str = "",
               quiet: bool = False) -> Run:
        """Write a whole run at once: one that took no time (``skipped``, ``missed``, a check's
        verdict) or one observed after it ended (a process container, from its start and end;
        ``ref`` names what it was observed from, see ``recorded_ref``); ``quiet``: as ``finish``'s."""
        run = self.begin(job, step=step, slot=slot, parent=parent, start=start, ref=ref)
        return self.finish(run, outcome, detail, hint=hint, log_tail=log_tail, end=end, quiet=quiet)

    def tell(self, job: str, headline: str, detail: str = "", *, step: str | None = None, slot: str | None = None,
             hint: str = "") -> Run:
        """Record news that is not a failure as an ``ok`` run of ``job`` and send it as a ``Notice``
        (with ALERT_URLS, a message): ``headline`` says it in a few words, ``detail`` the facts."""
        run = self.record(job, "ok", f"{headline}: {detail}" if detail else headline, step=step, slot=slot)
        if self.bus is not None:
            self.bus.emit(Notice(job=job, step=step, slot=slot, outcome="ok", at=run.end or self._clock(),
                                 detail=self._clean(detail), run_id=run.id, hint=hint, headline=headline))
        return run

    @contextmanager
    def run(self, job: str, *, step: str | None = None, slot: str | None = None,
            parent: str | None = None) -> Iterator[RunHandle]:
        """Record a run around a block: ``ok`` unless the block sets another outcome or raises.

        An exception is recorded as ``failed`` (``timed_out`` for RunTimedOut) and re-raised unchanged.
        """
        handle = RunHandle(self, self.begin(job, step=step, slot=slot, parent=parent))
        try:
            yield handle
        except BaseException as exc:
            self._finish_quietly(handle.run, *self.ending_of(exc))
            mark_recorded(exc)
            raise
        else:
            self.finish(handle.run, handle.outcome, handle.detail)

    @staticmethod
    def ending_of(exc: BaseException) -> tuple[str, str, str]:
        """Return (outcome, detail, hint) of a run that ``exc`` ended: a known failure class as its
        own outcome (``busy``, ``timed_out``, else ``failed``) with its message and its fix, each in
        its place; an interruption as such; anything else by its type and text."""
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            return "failed", f"interrupted ({type(exc).__name__})", ""
        if isinstance(exc, RunTimedOut):
            return "timed_out", str(exc), ""
        error = known(exc) if isinstance(exc, Exception) else None
        if error is not None:
            return error.outcome, f"{type(error).__name__}: {error.message}", error.fix
        return "failed", f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__, ""

    def _finish_quietly(self, run: Run, outcome: str, detail: str, hint: str = "") -> None:
        try:
            self.finish(run, outcome, detail, hint=hint)
        except Exception:  # never hide the run's own error behind a history error
            log.exception("could not record the end of %s", run.job)

    # -- reading -------------------------------------------------------------------------

    def _read(self, recent: timedelta | None) -> bytes:
        """The file, or with ``recent`` only its tail: whole lines back to the first one written more
        than ``recent`` (plus a day, for runs that began before and ended inside it) before its last
        line. Every line carries its run whole, so an end line alone folds to the run."""
        with self.path.open("rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            if recent is None or size <= _TAIL_BLOCK:
                handle.seek(0)
                return handle.read()
            cutoff: datetime | None = None
            start = size
            while start > 0:
                start = max(0, start - _TAIL_BLOCK)
                handle.seek(start)
                block = handle.read(min(_TAIL_BLOCK, size - start) + 512)
                for line in block.split(b"\n")[1:-1]:
                    written = _written(line)
                    if written is None:
                        continue
                    if cutoff is None:
                        cutoff = written - recent - timedelta(days=1)
                    if written < cutoff:
                        handle.seek(start)
                        data = handle.read()
                        return data[data.index(b"\n") + 1:] if start else data
                    break  # the block's first whole line is inside the window: read further back
            handle.seek(0)
            return handle.read()

    def runs(self, *, job: str | None = None, since: datetime | None = None,
             include_steps: bool = True, recent: timedelta | None = None) -> list[Run]:
        """Return the runs in start order, folded from their start and end lines; with ``recent``,
        from the file's tail only (the runs of about that span before the last line, and maybe more)."""
        try:
            data = self._read(recent)
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise HistoryError(f"cannot read the run history at {self.path}: {exc.strerror}") from exc
        folded: dict[str, Run] = {}
        damaged = 0
        for line in data.split(b"\n"):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                named, step = current_name(entry["job"], entry.get("step"))
                start = _parse_iso(entry["start"])
                if start is None:
                    raise ValueError("a run without its start")
                run = Run(id=entry["id"], job=named, step=step, slot=entry.get("slot"),
                          parent=entry.get("parent"), start=start,
                          end=_parse_iso(entry.get("end")), outcome=entry.get("outcome"),
                          detail=entry.get("detail") or "", pid=entry.get("pid") or 0, host=entry.get("host") or "",
                          log_tail=tuple(str(line) for line in entry.get("log") or ()), ref=entry.get("ref") or "")
            except (ValueError, KeyError, TypeError):
                damaged += 1
                continue
            if run.id not in folded or run.outcome:
                folded[run.id] = run
        self.damaged_lines = damaged
        result = sorted(folded.values(), key=lambda r: r.start)
        if job is not None:  # a job, or a collection's jobs (weekly: weekly.sync, weekly.open, ...)
            result = [r for r in result if r.job == job or r.job.startswith(job + ".")]
        if since is not None:
            result = [r for r in result if r.start >= since]
        if not include_steps:
            result = [r for r in result if r.step is None]
        return result

    def last(self, job: str, *, step: str | None = None) -> Run | None:
        """Return the most recent finished run of ``job`` (or of its ``step``), or None."""
        for run in reversed(self.runs(job=job)):
            if run.step == step and run.outcome:
                return run
        return None

    def recorded_ref(self, job: str, ref: str) -> bool:
        """Say whether a run of ``job`` observed from ``ref`` is already recorded (so it is recorded once)."""
        return any(r.ref == ref for r in self.runs(job=job))

    def succeeded(self, job: str, slot: str, *, step: str | None = None) -> bool:
        """Say whether ``job`` (or its ``step``) ended ``ok`` for ``slot``."""
        return any(r.outcome == "ok" and r.slot == slot and r.step == step for r in self.runs(job=job))


_TAIL_BLOCK = 256 * 1024
_WRITTEN = re.compile(rb'"(?:end|start)":"([^"]+)"')


def _written(line: bytes) -> datetime | None:
    """When a history line was written (its end, else its start), read without parsing it all."""
    try:
        return max((datetime.fromisoformat(found.decode()) for found in _WRITTEN.findall(line)), default=None)
    except ValueError:
        return None


_RELATIVE = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, *, now: datetime, tz: tzinfo) -> datetime:
    """Given '3d', '12h', '30m', '2w', a date or a date and time (in ``tz``), return the instant it means.

    Raise ValueError naming the accepted forms otherwise.
    """
    match = _RELATIVE.match(text)
    if match:
        return now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"--since {text!r}: use a span like 30m, 12h, 3d, 2w, or a date like 2026-11-28 "
                         "or 2026-11-28T09:30") from None
    return moment.replace(tzinfo=tz) if moment.tzinfo is None else moment
