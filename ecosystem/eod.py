"""The evening chain: each step its own container, in order, with outcomes that tell ran from declined.

``run_chain`` is the order and bookkeeping (pure apart from the run history and the step
runner it is given): a step whose latest run this trading day ended ``ok`` is not run again
(unless forced), a step that is not ``ok`` and is named in EOD_STOP_ON_FAILURE skips the rest,
every step's outcome is one run-history step of the ``eod`` run. ``ContainerStep`` runs one
step for real: launch, wait on the engine until its deadline, stop it gracefully past that,
judge the exit from the process-control record, keep its last log lines, remove it.
"""
from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from . import process_runs, processes
from .errors import EcosystemError, EngineUnavailable, ImageMissing, UsageError
from .history import History, already_recorded
from .outcomes import Outcome
from .plan import PlannedStep
from .process_runs import Verdict
from .steps import Result, StepRun, tally

if TYPE_CHECKING:
    from .context import Context

log = logging.getLogger(__name__)

JOB = "eod"
SERVICE = "daily_processes"
PAST_DAYS = 7   # how far back --day may reach: older evenings are history, not catch-up
# a step that may run only once another process has ended for the day
WAITS_FOR = {"run_strategy_order_generator": "run_stack_handler"}
STOPPERS = ("stop", "down")  # jobs that stop processes through STOP (each process a step of the run)


def trading_day_of(settings, day: str | None) -> date:
    """The trading day to run: today in TIMEZONE, or ``day`` (YYYY-MM-DD), a day of the last week
    (the scheduler passes the day of its slot, so a late run is booked to the evening it belongs to).
    A future day is refused: steps recorded ok under it would be skipped when that day comes."""
    today = datetime.now(UTC).astimezone(settings.tz).date()
    if not day:
        return today
    try:
        if len(day) != 10:
            raise ValueError(day)
        given = date.fromisoformat(day)
    except ValueError:
        raise UsageError(f"--day {day!r} is not a date; write it as YYYY-MM-DD, e.g. --day {today.isoformat()}") \
            from None
    if not today - timedelta(days=PAST_DAYS) <= given <= today:
        raise UsageError(f"--day {given.isoformat()} is not a trading day this can run: give today or one of the "
                         f"last {PAST_DAYS} days ({(today - timedelta(days=PAST_DAYS)).isoformat()} to "
                         f"{today.isoformat()})")
    return given


def run(ctx: Context, slot: str, steps: Sequence[PlannedStep], *, force: bool) -> ChainSummary:
    """The evening chain as `invoke eod` runs it: under its lock, refused (recorded ``failed``, with
    the fix) while a restore holds launches or pysys_runtime is down; orphans of a killed chain
    swept first; then ``run_chain`` with each step its own container."""
    from . import locks, stack
    from . import restore as restoring

    s, record = ctx.settings, ctx.history
    with locks.exclusive(s.state_dir, JOB, wait_seconds=s.lock_wait_seconds):
        held = restoring.RestoreMarker(s.state_dir).read()
        if held is not None:
            record.record(JOB, Outcome.FAILED, f"not run: the restore of {held} is running or did not complete",
                          slot=slot, hint="finish it (invoke restore) or invoke resume")
            raise already_recorded(EcosystemError(f"end of day not run: the restore of {held} is running or did "
                                                  "not complete"))
        if not stack.runtime_running(ctx):
            record.record(JOB, Outcome.FAILED, "not run: pysys_runtime is not running", slot=slot,
                          hint="start the stack: invoke up")
            raise already_recorded(EcosystemError("end of day not run: pysys_runtime is not running; start the stack "
                                                  "with `invoke up`"))
        for line in sweep_orphans(ctx):
            ctx.say(line)
        execute = ContainerStep(ctx)
        ctx.say(f"end of day {slot}: {', '.join(p.process for p in steps)}")
        return run_chain(record, slot, steps, execute=execute, stop_on_failure=s.eod_stop_on_failure,
                         force=force, say=ctx.say)


@dataclass(frozen=True)
class StepResult:
    verdict: Verdict
    log_tail: tuple[str, ...] = ()
    exit_code: int | None = None   # the process's, when it ran and ended by itself


@dataclass
class ChainSummary:
    slot: str
    outcomes: dict[str, Outcome] = field(default_factory=dict)   # process -> outcome of this run
    done_earlier: list[str] = field(default_factory=list)    # ok earlier this trading day, not rerun

    @property
    def ok(self) -> bool:
        return all(outcome == Outcome.OK for outcome in self.outcomes.values())

    def counts(self) -> str:
        parts = [tally(self.outcomes.values())] if self.outcomes else []
        if self.done_earlier:
            parts.append(f"{len(self.done_earlier)} ok earlier")
        return ", ".join(parts) or "nothing to run"


def run_chain(history: History, slot: str, steps: Sequence[PlannedStep], *,
              execute: Callable[[PlannedStep], StepResult], stop_on_failure: Sequence[str] = (),
              force: bool = False, say: Callable[[str], None] = print) -> ChainSummary:
    """Run ``steps`` in order for trading day ``slot``, recording each; return what came of them."""
    summary = ChainSummary(slot)
    latest = {run.step: run.state for run in history.runs(job=JOB) if run.slot == slot and run.step}
    stopped_by = ""

    def judged(step: PlannedStep) -> Result:
        try:
            result = execute(step)
        except (EngineUnavailable, ImageMissing):
            raise  # no later step can run either: the chain ends here, recorded failed with the fix, said once
        except EcosystemError as exc:
            result = StepResult(Verdict(Outcome.FAILED, exc.message, exc.fix))
        verdict = result.verdict
        return Result(Outcome(verdict.outcome), verdict.detail, verdict.hint, result.log_tail)

    with StepRun(history, JOB, slot=slot) as chain:
        summary.outcomes = chain.outcomes
        for step in steps:
            name = step.process
            if not force and latest.get(name) == Outcome.OK:  # its latest run this trading day ended ok
                summary.done_earlier.append(name)
                say(f"{name}: ok earlier today, not run again (--force reruns it)")
                continue
            if stopped_by:
                chain.note(name, Outcome.SKIPPED, f"not run: {stopped_by}")
                say(f"{name}: skipped ({stopped_by})")
                continue
            result = chain.run(name, functools.partial(judged, step))
            say(f"{name}: {result.outcome}: {result.detail}" + (f"\n  fix: {result.hint}"
                                                                 if result.hint and not result.ok else ""))
            if not result.ok and name in stop_on_failure:
                stopped_by = f"{name} {result.outcome} and stops the chain (EOD_STOP_ON_FAILURE)"
        # the steps' own events say what went wrong; the chain's run says how it ended overall
        chain.finish(Outcome.OK if summary.ok else Outcome.FAILED, summary.counts())
    return summary


class ContainerStep:
    """Given the stack, run one chain step as its own container of ``daily_processes`` and judge it."""

    gateway_poll = 10.0  # seconds between readings of the gateway's login while a step waits for it

    def __init__(self, ctx: Context, *, clock: Callable[[], datetime] | None = None) -> None:
        self.ctx, self.settings, self.history = ctx, ctx.settings, ctx.history
        self.clock = clock or (lambda: datetime.now(UTC))
        self._statuses: dict[str, str] | None = None

    @property
    def client(self):
        return self.ctx.client

    @property
    def project(self):
        return self.ctx.project

    @property
    def control(self):
        return self.ctx.control()

    def status_before(self, process: str) -> str:
        """Return ``process``'s status as the chain found it when it began (read once, in one call;
        "GO" when it has no record yet, "" when the records could not be read)."""
        if self._statuses is None:
            try:
                self._statuses = {name: r.status for name, r in self.control.records().items()}
            except EcosystemError as exc:
                log.warning("could not read the process records before the chain: %s", exc.message)
                self._statuses = {}
                return ""
        return self._statuses.get(process, "GO")

    def timeout(self, process: str) -> timedelta:
        return timedelta(minutes=self.settings.eod_step_timeouts.get(process, self.settings.eod_step_timeout_minutes))

    def _wait_for_predecessor(self, step: PlannedStep) -> Verdict | None:
        before = WAITS_FOR.get(step.process)
        if not before:
            return None
        limit = self.settings.order_generator_wait_minutes * 60
        for running in processes.running_processes(self.ctx):
            if running.process != before:
                continue
            print(f"{step.process}: waiting up to {limit // 60} min for {before} ({running.container}) to end")
            if processes.wait_exit(self.client, running.container, limit) is None:
                return Verdict("failed", f"not launched: {before} was still running after {limit // 60} min "
                               "(orders generated now would land on stacks it is about to clear)",
                               f"check why {before} did not end at its stop time (invoke logs {before}); "
                               f"`invoke stop --process {before}` ends it cleanly")
        return None

    def _gateway(self) -> tuple[str, str]:
        from . import observed, stack

        return observed.gateway_login(self.settings, stack.gateway_state(self.ctx), client_id=observed.CHAIN_CLIENT_ID)

    def _wait_for_gateway(self, step: PlannedStep) -> Verdict | None:
        """Wait for a logged-in gateway before a step that needs the broker, until the step's window
        closes or its timeout passes; a failed verdict if it never logs in (None: it is logged in)."""
        from .observed import LOGGED_IN

        state, detail = self._gateway()
        if state == LOGGED_IN:
            return None
        until = min(step.window_stop, self.clock() + self.timeout(step.process))
        self.ctx.say(f"{step.process}: waiting for the gateway's login (it is {state}) until "
                     f"{until.astimezone(self.settings.tz):%H:%M}")
        while self.clock() < until:
            time.sleep(max(0.0, min(self.gateway_poll, (until - self.clock()).total_seconds())))
            state, detail = self._gateway()
            if state == LOGGED_IN:
                return None
        return Verdict("failed", f"not launched: the gateway was {state} until "
                       f"{until.astimezone(self.settings.tz):%H:%M} ({detail})",
                       "approve the gateway's login (IBKR Mobile, or its VNC), then run it: invoke eod")

    def __call__(self, step: PlannedStep) -> StepResult:
        """Run one step; one that needs the broker waits for the gateway's login first, and is run
        again once when it failed while the gateway was not logged in (after the login)."""
        if self.status_before(step.process) == "NO-RUN":  # upstream would wait in its 60 s loop until its stop time
            return StepResult(process_runs.NO_RUN_VERDICT)
        waited = self._wait_for_predecessor(step)
        if waited:
            return StepResult(waited)
        broker = step.process in self.settings.broker_processes
        if broker and (waited := self._wait_for_gateway(step)):
            return StepResult(waited)
        result = self._run_once(step)
        # a crash (not a STOP, not a timeout) while its window is open, with the gateway out: the broker's
        if not broker or result.verdict.outcome != "failed" or not result.exit_code \
                or self.clock() >= step.window_stop or self._gateway()[0] == "logged in":
            return result
        first = result.verdict.detail
        self.ctx.say(f"{step.process} failed while the gateway was not logged in: it runs again once after the login")
        if (waited := self._wait_for_gateway(step)):
            return StepResult(Verdict("failed", f"{first}; then {waited.detail}", waited.hint), result.log_tail)
        again = self._run_once(step)
        return StepResult(Verdict(again.verdict.outcome, f"{again.verdict.detail} (run again once after the gateway's "
                                  f"login; the first run: {first})", again.verdict.hint), again.log_tail)

    def _run_once(self, step: PlannedStep) -> StepResult:
        s = self.settings
        deadline = max(self.clock(), step.window_start) + self.timeout(step.process)
        name = process_runs.container_name(step.process, s.name_suffix, unique=True)
        try:
            process_runs.launch(self.project, service=SERVICE, process=step.process, launcher=step.launcher,
                                name=name, job=JOB, slot=step.window_start.astimezone(s.tz).date().isoformat(),
                                kind=step.kind, deadline=deadline)
        except EcosystemError:
            process_runs.remove(self.client, name)  # compose may leave it created, never started
            raise
        except BaseException:  # interrupted while compose was starting it: it may run already
            self._stop_interrupted(step, name)
            if process_runs.ended(self.client, name) is not None:
                process_runs.remove(self.client, name)
            raise
        try:
            started = process_runs.started_at(self.client, name)
            seconds = (deadline - self.clock()).total_seconds()
            code = processes.wait_exit(self.client, name, max(1.0, seconds))
            verdict = self._stop_overdue(step, name) if code is None else self._judge(step, code, started, name)
            return StepResult(verdict, process_runs.log_tail(self.client, name), exit_code=code)
        except BaseException:
            self._stop_interrupted(step, name)  # Ctrl-C, SIGTERM, the engine: never kill a live step uncleanly
            raise
        finally:
            if process_runs.ended(self.client, name) is not None:
                process_runs.remove(self.client, name)

    def _judge(self, step: PlannedStep, code: int, started: datetime, container: str) -> Verdict:
        record = self._record(step.process)
        end = process_runs.ended(self.client, container) if code else None
        verdict = process_runs.judge(step.process, code, record, started, tz=self.settings.tz,
                                     window_start=step.window_start, window_stop=step.window_stop,
                                     oom_killed=bool(end and end.oom_killed),
                                     memory_limit=self.settings.process_memory_limit)
        if code != 0:  # a crash: its record says "running" and tomorrow's launch would decline
            cleared = process_runs.clear_after_crash(self.control, step.process, record)
            return Verdict(verdict.outcome, f"{verdict.detail}; {cleared}", verdict.hint)
        if verdict.ok and self.history is not None:
            stops = [r for r in self.history.runs(since=started) if r.job in STOPPERS and r.step == step.process]
            if stops:  # it ended through a STOP someone else set: its remaining methods did not run
                at = stops[0].start.astimezone(self.settings.tz).strftime("%H:%M")
                return Verdict("failed", f"stopped by `invoke {stops[0].job}` at {at} before it finished",
                               "run `invoke eod` again to rerun it")
        return verdict

    def _stop_interrupted(self, step: PlannedStep, name: str) -> None:
        if not process_runs.is_running(self.client, name):
            return
        print(f"{step.process}: interrupted; stopping {name} cleanly (STOP, up to {self.settings.stop_grace_seconds}s)")
        try:
            processes.stop_as_set(self.ctx, processes.RunningProcess(name, SERVICE, step.process),
                                  by="interrupted eod")
        except Exception as exc:  # noqa: BLE001 - cleanup after an interruption: the interruption is what is reported
            log.warning("could not stop %s after the interruption: %s", name, exc)

    def _record(self, process: str):
        try:
            return self.control.record(process)
        except EcosystemError as exc:
            log.warning("could not read the record of %s: %s", process, exc.message)
            return None

    def _stop_overdue(self, step: PlannedStep, name: str) -> Verdict:
        minutes = int(self.timeout(step.process).total_seconds() // 60)
        running = processes.RunningProcess(name, SERVICE, step.process)
        started = process_runs.started_at(self.client, name)
        stopped = processes.stop_as_set(self.ctx, running, by="eod timeout")
        record = self._record(step.process)
        if record is not None and record.status == "NO-RUN" and not process_runs.ran_since(record, started,
                                                                                         self.settings.tz):
            return Verdict("declined", "its status was set to NO-RUN: it waited for GO (as pysystemtrade does) until "
                           f"its timeout, then was ended by {stopped.ended_by}", process_runs.DECLINE_FIX)
        return Verdict("timed_out", f"ran past its timeout ({minutes} min after its window opened); "
                       f"ended by {stopped.ended_by} after {stopped.seconds:.0f}s",
                       f"read its log (invoke logs {step.process}); raise EOD_STEP_TIMEOUTS={step.process}=MINUTES "
                       "if it needs longer")


def sweep_orphans(ctx: Context) -> list[str]:
    """Deal with step containers an earlier ``eod`` left behind when it was killed (its run
    recorded the step as interrupted): an ended one is removed, a running one stopped cleanly."""
    from .engine import project_containers

    said = []
    for container in project_containers(ctx.client, ctx.settings.compose_project):
        launched = process_runs.Launched.from_labels(container.name, container.labels)
        if launched is None or launched.job != JOB:
            continue
        if container.status == "running":
            stopped = processes.stop_as_set(ctx, processes.RunningProcess(container.name, SERVICE, launched.process),
                                            by="eod sweep")
            said.append(f"stopped {launched.process} left running by an earlier, killed eod ({stopped.ended_by})")
        process_runs.remove(ctx.client, container.name)
    return said
