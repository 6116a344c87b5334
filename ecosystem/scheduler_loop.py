"""The scheduler's loop body: each minute, decide (``scheduler_plan.due``), dispatch, reap, remember.

Every job runs as its own ``invoke`` process (the same tasks and configuration as the command
line), in its own session so a timeout can stop it: SIGTERM first (the tasks unwind: a step is
stopped through STOP, a lock released), SIGKILL after a grace. Jobs of different names run side
by side (``weekly sync`` keeps its minute while the nightly pipeline runs for hours); a job never
runs twice at once. Each slot's run is recorded under the job ``run-scheduler`` (step = the job,
slot = the slot): ok / failed / timed_out, or ``missed``; any of those but ok is a failure event,
hence an alert. The heartbeat file says when the loop last looked, which is where a restarted
scheduler picks up (``since``).
"""
from __future__ import annotations

import json
import logging
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from . import commands, scheduler_plan
from .errors import EXIT_BUSY
from .heartbeat import Pinger
from .history import History, Run
from .state_files import write_json

log = logging.getLogger(__name__)

JOB = "run-scheduler"
SYNC = "weekly.sync"
TIMEOUTS = {SYNC: timedelta(minutes=15), "weekly.open": timedelta(minutes=30), "nightly": timedelta(hours=12),
            "weekend": timedelta(hours=8),
            "gateway.status": timedelta(minutes=5), scheduler_plan.BRIEF: timedelta(minutes=10),
            scheduler_plan.WEEKLY_LOGIN: timedelta(hours=4, minutes=10)}  # its window is at most 4 h
TERM_GRACE = timedelta(minutes=9)   # a job's graceful stop at the default STOP grace: Settings.job_stop_seconds
PINGED = ("nightly", "weekend")     # the pipelines whose start and end HEARTBEAT_URL hears of


@dataclass
class Running:
    job: str
    slot: scheduler_plan.Slot | None
    process: commands.Child
    started: datetime
    run: Run | None = None   # the history run of its slot
    terminated_at: datetime | None = None
    command: tuple[str, ...] = ()
    stopped_with_loop: bool = False   # asked to stop because the scheduler itself stopped


def heartbeat_path(settings) -> Path:
    """Where the loop writes when it last looked (status and `invoke schedule` read it)."""
    return settings.state_dir / "scheduler-heartbeat.json"


class Scheduler:
    """Given the jobs, the history, a way to start a job and a clock, run the loop one tick at a time."""

    def __init__(self, jobs, history: History, *, tz, heartbeat: Path,
                 launch: Callable[[tuple[str, ...]], commands.Child],
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 checks: tuple[Callable[[datetime], list[str]], ...] = (), pinger: Pinger | None = None,
                 term_grace: timedelta = TERM_GRACE) -> None:
        self.jobs, self.history, self.tz, self.heartbeat = list(jobs), history, tz, heartbeat
        self.term_grace = term_grace  # SIGTERM to SIGKILL for a job: longer than its processes' graceful stop
        self.launch, self.clock, self.checks = launch, clock, checks
        self.pinger = pinger or Pinger(None)
        self.running: dict[str, Running] = {}
        # due while their job still ran: a long job delays, never doubles
        self.waiting: list[scheduler_plan.Decision] = []
        self.since = self._last_looked() or (clock() - timedelta(minutes=1))

    # -- memory -----------------------------------------------------------------------------

    def _last_looked(self) -> datetime | None:
        try:
            return datetime.fromisoformat(json.loads(self.heartbeat.read_text())["looked"])
        except (OSError, ValueError, KeyError):
            return None

    def _beat(self, now: datetime) -> None:
        write_json(self.heartbeat, {"looked": now.isoformat(), "pid": os.getpid(), "running": sorted(self.running)})

    def done(self, slot: scheduler_plan.Slot) -> bool:
        """A slot that was run (whatever came of it) or recorded missed is never run again."""
        return any(r.step == slot.job and r.slot == slot.key for r in self.history.runs(job=JOB))

    # -- one tick -----------------------------------------------------------------------------

    def tick(self) -> list[str]:
        """Reap what ended, stop what overran, start what is due; return what was done."""
        now = self.clock()
        said = self._reap(now)
        if SYNC not in self.running:
            said.append(self._start(SYNC, None, now))
        decisions = self.waiting + scheduler_plan.due(self.jobs, now, since=self.since, done=self.done, tz=self.tz)
        self.waiting = []
        for decision in decisions:
            slot = decision.slot
            if decision.action == "missed":
                self.history.record(JOB, "missed", decision.reason, step=slot.job, slot=slot.key,
                                    hint=f"run it by hand if it still makes sense: invoke {' '.join(slot.command)}")
                said.append(f"{slot} missed")
            elif slot.job in self.running:
                self.waiting.append(decision)
            else:
                said.append(self._start(slot.job, slot, now, decision.reason))
        for check in self.checks:
            said += check(now)
        self.since = now
        self._beat(now)
        return said

    def _start(self, job: str, slot, now: datetime, reason: str = "") -> str:
        run = self.history.begin(JOB, step=job, slot=slot.key) if slot else None
        try:
            process = self.launch(slot.command_at(now) if slot else (job,))
        except OSError as exc:
            if run is not None:
                self.history.finish(run, "failed", f"could not start: {exc}")
            return f"{job} could not start: {exc}"
        self.running[job] = Running(job, slot, process, now, run, command=slot.command_at(now) if slot else (job,))
        if job in PINGED:
            self.pinger.ping("start", f"{job} {slot.key} started")  # a pipeline always runs for a slot
        return f"started {job}" + (f" for {slot.key} ({reason})" if slot else "")

    def _reap(self, now: datetime) -> list[str]:
        said = []
        for job, item in list(self.running.items()):
            code = item.process.poll()
            limit = TIMEOUTS.get(job, timedelta(hours=6))
            if code is None:
                if item.terminated_at is None and now - item.started > limit:
                    self._signal(item, signal.SIGTERM)
                    item.terminated_at = now
                    said.append(f"{job} ran past its timeout ({limit}): asked to stop")
                elif item.terminated_at is not None and now - item.terminated_at > self.term_grace:
                    self._signal(item, signal.SIGKILL)
                continue
            del self.running[job]
            outcome = "ok" if code == 0 else ("timed_out" if item.terminated_at and not item.stopped_with_loop
                                              else "failed")
            command = " ".join(item.command)
            if item.run is not None and item.stopped_with_loop and outcome != "ok":
                self.history.finish(item.run, outcome, f"stopped when the scheduler stopped (invoke {command} "
                                    f"exited with code {code}); its slot is not run again",
                                    hint=f"run it by hand if it still makes sense: invoke {command}")
            elif item.run is not None and code == EXIT_BUSY:  # the slot is lost: another run held the lock
                outcome = "missed"
                self.history.finish(item.run, outcome, f"invoke {command} found another run of it holding its lock "
                                    f"and gave up (exit code {code}): this slot's run did not happen",
                                    hint=f"see what held it (invoke history --job {item.command[0].split('.')[0]}); "
                                         f"run it by hand if it still makes sense: invoke {command}")
            elif item.run is not None:
                self.history.finish(item.run, outcome, f"invoke {command} exited with code {code}",
                                    hint=f"invoke history --job {item.command[0].split('.')[0]}")
            elif code == EXIT_BUSY:
                outcome = "busy"  # weekly sync found another holding the week: the next minute's runs
            elif outcome != "ok":  # a failing sync: its own run is in the history; say it once more here
                self.history.record(JOB, outcome, f"invoke {job} exited with code {code}", step=job)
            if job in PINGED:
                self.pinger.ping("success" if outcome == "ok" else "fail",
                                 f"{job} {item.slot.key if item.slot else ''} ended {outcome} (exit code {code})")
            said.append(f"{job} ended: {outcome}")
        return said

    def tick_failed(self, exc: Exception) -> None:
        """Record that a tick failed (a failure event, so an alert: identical ones are throttled); the
        loop goes on, so a tick that keeps failing is heard of, not only logged."""
        try:
            outcome, detail, hint = History.ending_of(exc)
            self.history.record(JOB, outcome, f"a tick of the scheduler failed: {detail}", step="tick",
                                hint=hint or "read STATE_DIR/logs/scheduler.log (LOG_LEVEL=DEBUG shows the traceback); "
                                             "the loop goes on and tries again next minute")
        except Exception as failure:  # noqa: BLE001 - the history itself fails: the loop must go on, the log says it
            log.error("could not record the failed tick either (%s)", type(failure).__name__)

    @staticmethod
    def _signal(item: Running, sig) -> None:
        try:
            os.killpg(item.process.pid, sig)
        except ProcessLookupError:
            pass

    def settle(self) -> list[str]:
        """Wait for every running job to end (each within its timeout, then SIGTERM, then SIGKILL) and
        reap it: for a compressed clock (``invoke demo``) that moves on only once the jobs are done."""
        for item in list(self.running.values()):
            limit = TIMEOUTS.get(item.job, timedelta(hours=6)).total_seconds()
            try:
                item.process.wait(timeout=limit)
            except commands.TimeoutExpired:
                self._signal(item, signal.SIGTERM)
                item.terminated_at = self.clock()
                try:
                    item.process.wait(timeout=self.term_grace.total_seconds())
                except commands.TimeoutExpired:
                    self._signal(item, signal.SIGKILL)
                    item.process.wait()
        return self._reap(self.clock())

    def stop(self, *, grace: float | None = None) -> None:
        """SIGTERM every running job (each unwinds cleanly), wait up to ``grace`` seconds (default: the
        term grace), then SIGKILL.
        A slot's job that did not finish is recorded failed, saying so (an alert: its work was not done)."""
        for item in self.running.values():
            item.stopped_with_loop = True
            self._signal(item, signal.SIGTERM)
        grace = self.term_grace.total_seconds() if grace is None else grace
        for item in list(self.running.values()):
            try:
                item.process.wait(timeout=grace)
            except commands.TimeoutExpired:
                self._signal(item, signal.SIGKILL)
                item.process.wait()
        self._reap(self.clock())


def offload_age_check(history: History, *, max_age: timedelta, tz) -> Callable[[datetime], list[str]]:
    """Return a check that records (once a day: an alert) that the last good offload is older than ``max_age``."""
    def check(now: datetime) -> list[str]:
        day = now.astimezone(tz).date().isoformat()
        runs = history.runs(job="offload", include_steps=False)
        last_ok = max((r.end for r in runs if r.outcome == "ok" and r.end), default=None)
        if last_ok is not None and now - last_ok <= max_age:
            return []
        if any(r.step == "offload-age" and r.slot == day for r in history.runs(job=JOB)):
            return []
        since = f"since {last_ok.astimezone(tz):%a %Y-%m-%d %H:%M}" if last_ok else "ever"
        history.record(JOB, "failed", f"no offload has succeeded {since} (limit {max_age})", step="offload-age",
                       slot=day, hint="run invoke offload and read why it fails (invoke history --job offload)")
        return [f"offload is older than {max_age}: alerted"]
    return check
