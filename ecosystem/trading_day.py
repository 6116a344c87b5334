"""The trading day's processes outside the evening chain: what `weekly sync` launches, records and stops.

The stack handler and capital update run through each trading day and end themselves at their
stop time (exit 0: their normal end); the morning one-shots run once. ``due_launches`` says,
for an instant, which of them should be launched now (a pure function of the plan, the week,
what runs and what this trading day already recorded). ``reconcile`` turns every process
container of this job that has ended into one run-history entry (a crash: ``failed``, its own
record marked finished, relaunched by the next sync up to CRASH_RELAUNCH_LIMIT times), and
removes the container. ``stop_overdue`` stops, gracefully, a process still running past its
deadline (a continuous one well past its stop time, a one-shot past its timeout).
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence, Set
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from . import process_runs, processes
from .engine import project_containers
from .errors import EcosystemError
from .history import History
from .outcomes import Outcome
from .plan import PlannedStep
from .process_runs import Launched, Verdict

if TYPE_CHECKING:
    from docker.models.containers import Container

    from .context import Context

log = logging.getLogger(__name__)

JOB = "weekly.sync"   # the task that launches them; an earlier version's containers say "day"
FORMER_JOB = "day"
SERVICES = {"run_stack_handler": "stack_handler", "run_capital_update": "capital_update"}  # else daily_processes
BY_HAND = "launch"    # `invoke launch`: a launch by hand, recorded under this job
WAITING = Outcome.WAITING  # a launch held back: the gateway is not logged in
OVERRUN = timedelta(minutes=30)  # a continuous process still running this long after its stop time is hung


@dataclass(frozen=True)
class Due:
    step: PlannedStep
    attempt: int
    reason: str


def due_launches(plan: Sequence[PlannedStep], now: datetime, *, inside_week: bool, running: set[str],
                 tried: dict[str, list[str]], relaunch_limit: int, cleared: Set[str] = frozenset(),
                 ended: Mapping[str, datetime] | None = None, backoff: Sequence[int] = ()) -> list[Due]:
    """Return the continuous and morning processes to launch at ``now``.

    ``tried`` maps a process to the outcomes it recorded this trading day, in order (since its
    last launch by hand). A process is due inside its launch-to-stop span, when it is not
    running, and either has not run yet today, or waited for the gateway, or (continuous only)
    last crashed with relaunches left and its backoff has passed since that crash ended
    (``ended``; ``backoff``: minutes before the first, second, ... relaunch, the last repeating),
    or last declined and is in ``cleared`` (its status is GO again). Outside the week: nothing.
    """
    if not inside_week:
        return []
    due = []
    for step in plan:
        if step.kind == "evening" or step.process in running or not (step.launch_at <= now < step.window_stop):
            continue
        outcomes = tried.get(step.process, [])
        last = outcomes[-1] if outcomes else None
        if last is None:
            due.append(Due(step, 1, "not run yet today"))
        elif last == WAITING:
            due.append(Due(step, len(outcomes) + 1, "the gateway is logged in: it waited for it"))
        elif step.kind == "continuous" and last == "failed":
            crashes = outcomes.count("failed")
            wait = timedelta(minutes=backoff[min(crashes, len(backoff)) - 1]) if backoff else timedelta(0)
            crashed_at = (ended or {}).get(step.process)
            if crashes <= relaunch_limit and (crashed_at is None or now >= crashed_at + wait):
                due.append(Due(step, len(outcomes) + 1, f"relaunch {crashes} of {relaunch_limit} after a crash"
                               + (f", {wait.total_seconds() / 60:g} min after it" if wait else "")))
        elif step.kind == "continuous" and last == "declined" and step.process in cleared:
            due.append(Due(step, len(outcomes) + 1, "its status is GO again after it declined"))
    return due


def declined_continuous(plan: Sequence[PlannedStep], now: datetime, tried: dict[str, list[str]],
                        running: set[str]) -> list[str]:
    """Return the continuous processes in their span whose last launch today declined (worth
    asking process control whether that has been fixed)."""
    return [s.process for s in plan if s.kind == "continuous" and s.process not in running
            and s.launch_at <= now < s.window_stop and (tried.get(s.process) or [""])[-1] == "declined"]


def tried_today(history: History, slot: str) -> dict[str, list[str]]:
    """Return process -> the outcomes this job recorded for trading day ``slot``, in order, since
    the process's last launch by hand (``invoke launch`` starts its day's relaunch budget again)."""
    tried: dict[str, list[str]] = {}
    for run in history.runs():
        if run.slot != slot or not run.step or not run.outcome:
            continue
        if run.job == BY_HAND:
            tried[run.step] = []
        elif run.job == JOB:
            tried.setdefault(run.step, []).append(run.outcome)
    return tried


def ended_today(history: History, slot: str) -> dict[str, datetime]:
    """Return process -> when its latest run of this job for trading day ``slot`` ended (a crash's
    backoff counts from it)."""
    ended: dict[str, datetime] = {}
    for run in history.runs(job=JOB):
        if run.slot == slot and run.step and run.end is not None:
            ended[run.step] = run.end
    return ended


def deadline_of(step: PlannedStep, now: datetime, settings) -> datetime:
    """Return when a launch of ``step`` counts as hung: well past the stop time of a continuous
    process; its timeout after its window opens for a one-shot."""
    if step.kind == "continuous":
        return step.window_stop + OVERRUN
    minutes = settings.eod_step_timeouts.get(step.process, settings.eod_step_timeout_minutes)
    return max(now, step.window_start) + timedelta(minutes=minutes)


def launch_or_record(ctx: Context, due: Due, now: datetime, *, read_status: bool = False) -> str:
    """Launch a due process; return what was done. A launch that fails is recorded as this
    process's ``failed`` run of the day, so it counts towards the relaunch limit (never a retry
    every minute forever) and its failure event says why. With ``read_status``, a process whose
    status is NO-RUN is recorded ``declined`` without a container (upstream would wait for GO
    until its stop time); a continuous one is launched once its status is GO again."""
    settings, history = ctx.settings, ctx.history
    slot = due.step.window_start.astimezone(settings.tz).date().isoformat()
    if read_status:
        try:
            status = ctx.control().record(due.step.process).status
        except EcosystemError as exc:
            log.warning("could not read the record of %s before launching it: %s", due.step.process, exc.message)
            status = ""
        if status == "NO-RUN":
            verdict = process_runs.NO_RUN_VERDICT
            history.record(JOB, verdict.outcome, verdict.detail, step=due.step.process, slot=slot, hint=verdict.hint)
            return f"{due.step.process} {verdict.outcome}: {verdict.detail}"
    try:
        name = launch(ctx, due, now)
    except EcosystemError as exc:
        history.record(JOB, "failed", f"could not be launched: {exc.message}", step=due.step.process, slot=slot,
                       hint=exc.fix)
        return f"{due.step.process} failed: could not be launched: {exc.message}"
    return f"launched {due.step.process} ({name}): {due.reason}"


def hold(ctx: Context, due: Due, tried: dict[str, list[str]], gateway: str) -> str | None:
    """Hold back a due process that needs the broker while the gateway is not logged in: recorded
    ``waiting`` once (not a crash: no relaunch is spent), then quietly each minute; the first sync
    after the login launches it. Return what was done, or None when it was said already."""
    outcomes = tried.get(due.step.process, [])
    if outcomes and outcomes[-1] == WAITING:
        return None
    slot = due.step.window_start.astimezone(ctx.settings.tz).date().isoformat()
    ctx.history.record(JOB, WAITING, f"waiting: gateway not logged in ({gateway})", step=due.step.process, slot=slot,
                       hint="approve the gateway's login (IBKR Mobile, or its VNC): the next sync launches it")
    return f"{due.step.process} waiting: gateway not logged in"


def launch_by_hand(ctx: Context, process: str, now: datetime, *, force: bool = False, dry_run: bool = False) -> str:
    """Launch ``process`` (a continuous or morning process of today's plan, inside its window) now, by
    hand, under the week's lock; its relaunch budget for the day starts again. Refuse, saying why
    (UsageError), when it runs already, its status is not GO, or it needs the broker and the gateway
    is not logged in (unless ``force``). Return what was done."""
    from . import locks, observed, stack
    from .errors import UsageError
    from .plan import plans_of

    s = ctx.settings
    tz = s.tz
    day = now.astimezone(tz).date()
    steps = {st.process: st for st in plans_of(s)(day) if st.kind != "evening"}
    step = steps.get(process)
    if step is None:
        raise UsageError(f"{process} is not one of today's continuous or morning processes "
                         f"({', '.join(steps) or 'none today'})",
                         fix="the evening chain's processes run with `invoke eod` (a rerun resumes at the first "
                             "step not ok)")
    if not step.launch_at <= now < step.window_stop:
        raise UsageError(f"{process} runs today from {step.launch_at.astimezone(tz):%H:%M} to "
                         f"{step.window_stop.astimezone(tz):%H:%M}; outside that pysystemtrade would not run it",
                         fix="launch it inside its window (weekly sync does that by itself)")
    from .restore import RestoreMarker

    held = RestoreMarker(s.state_dir).read()
    if held is not None:
        raise UsageError(f"a restore of {held} is running or did not complete: nothing is launched",
                         fix="finish it (invoke restore), or invoke resume")
    with locks.exclusive(s.state_dir, locks.WEEK, wait_seconds=60):  # a sync holds it for seconds
        running = {r.process: r for r in ctx.running()}
        if process in running:
            raise UsageError(f"{process} runs already (container {running[process].container})",
                             fix=f"read its log: invoke logs {process}; stop it first to launch it again: "
                                 f"invoke stop --process {process}")
        status = ctx.control().record(process).status
        if status != "GO":
            raise UsageError(f"{process}'s status is {status}: pysystemtrade would decline to run it",
                             fix="set it to GO in interactive_controls (invoke shell interactive_controls), then "
                                 "launch it again")
        if process in s.broker_processes and not force:
            state, detail = observed.gateway_login(s, stack.gateway_state(ctx))
            if state != observed.LOGGED_IN:
                raise UsageError(f"{process} needs the broker and the gateway is {state} ({detail})",
                                 fix="approve the gateway's login first (invoke gateway.login), or launch it anyway "
                                     "with --force")
        slot = step.window_start.astimezone(tz).date().isoformat()
        if dry_run:
            return f"would launch {process} now and start its relaunch budget for {slot} again"
        ctx.history.record(BY_HAND, "ok", "launched by hand: its relaunch budget for the day starts again",
                           step=process, slot=slot)
        return launch_or_record(ctx, Due(step, 1, "launched by hand"), now)


def launch(ctx: Context, due: Due, now: datetime) -> str:
    """Launch a due process in its own container; return the container's name."""
    settings, client = ctx.settings, ctx.client
    step = due.step
    continuous = step.process in SERVICES
    name = process_runs.container_name(step.process, settings.name_suffix, unique=not continuous)
    if continuous:
        process_runs.remove(client, name)  # an ended, unlabelled leftover of the same name (reconcile took ours)
    slot = step.window_start.astimezone(settings.tz).date().isoformat()
    try:
        return process_runs.launch(ctx.project, service=SERVICES.get(step.process, "daily_processes"),
                                   process=step.process, launcher=step.launcher, name=name, job=JOB, slot=slot,
                                   kind=step.kind, deadline=deadline_of(step, now, settings))
    except EcosystemError:
        process_runs.remove(client, name)  # compose may leave it created, never started
        raise


def pending_work(ctx: Context, now: datetime, *, plan_of: Callable[[date], Sequence[PlannedStep]],
                 tried: dict[str, list[str]] | None = None, ended: dict[str, datetime] | None = None) -> list[str]:
    """What ``reconcile`` and ``stop_overdue`` would do at ``now``, changing nothing (a dry run). The
    outcomes ``reconcile`` would record for today are added to ``tried`` and their ends to ``ended``,
    as the real sync's launch decisions see them."""
    said = []
    day = now.astimezone(ctx.settings.tz).date().isoformat()
    for launched, container in _ours(ctx):
        end = process_runs.ended(ctx.client, launched.container)
        if end is not None:
            if ctx.history.recorded_ref(JOB, str(container.id)):
                said.append(f"would remove {launched.container} (its run is recorded already)")
                continue
            verdict = _judged(ctx, launched, end, plan_of)[0]
            said.append(f"would record {launched.process} {verdict.outcome} (exit code {end.exit_code}) and "
                        f"remove {launched.container}")
            if tried is not None and launched.slot == day:
                tried.setdefault(launched.process, []).append(verdict.outcome)
            if ended is not None and launched.slot == day:
                ended[launched.process] = end.finished
        elif container.status == "running" and launched.deadline is not None and now >= launched.deadline:
            said.append(f"would stop {launched.process} cleanly (STOP, then SIGTERM, then SIGKILL): past its "
                        f"deadline {launched.deadline.astimezone(ctx.settings.tz):%H:%M}")
    return said


def _ours(ctx: Context) -> list[tuple[Launched, Container]]:
    found = []
    for container in project_containers(ctx.client, ctx.settings.compose_project):
        launched = Launched.from_labels(container.name, container.labels)
        if launched and launched.job in (JOB, FORMER_JOB):
            found.append((launched, container))
    return found


def _judged(ctx: Context, launched: Launched, end: process_runs.Ended,
            plan_of: Callable[[date], Sequence[PlannedStep]]) -> tuple[Verdict, object, PlannedStep | None]:
    """Read an ended process's record and judge its run (reads only): (verdict, record, its planned step)."""
    try:
        record = ctx.control().record(launched.process)
    except EcosystemError as exc:
        log.warning("could not read the record of %s: %s", launched.process, exc.message)
        record = None
    window = {s.process: s for s in plan_of(date.fromisoformat(launched.slot))}.get(launched.process)
    verdict = process_runs.judge(launched.process, end.exit_code, record, end.started, tz=ctx.settings.tz,
                                 oom_killed=end.oom_killed, memory_limit=ctx.settings.process_memory_limit,
                                 window_start=window.window_start if window else None,
                                 window_stop=window.window_stop if window else None, ended=end.finished)
    return verdict, record, window


def reconcile(ctx: Context, *, plan_of: Callable[[date], Sequence[PlannedStep]]) -> list[str]:
    """Record every ended process container of this job, once, and remove it; return what was recorded."""
    settings, client, history = ctx.settings, ctx.client, ctx.history
    said = []
    for launched, container in _ours(ctx):
        end = process_runs.ended(client, launched.container)
        if end is None:
            continue
        if history.recorded_ref(JOB, str(container.id)):  # recorded by a sync killed before it removed it
            process_runs.remove(client, launched.container)
            continue
        verdict, record, window = _judged(ctx, launched, end, plan_of)
        relaunched = False
        if verdict.outcome == "failed" and end.exit_code != 0:
            verdict, relaunched = _crashed(verdict, launched, ctx, record, end.finished, window)
        elif verdict.ok and window and launched.kind == "continuous":
            ended_at = end.finished.astimezone(settings.tz).strftime("%H:%M")
            normal = end.finished >= window.window_stop - timedelta(minutes=2)
            verdict = Verdict("ok", f"{verdict.detail}; ended at {ended_at}" +
                              (" (its stop time: its normal end)" if normal
                               else " (before its stop time: told to STOP)"))
        # a crash that is relaunched is not an alert: the one that leaves it down is (with the log)
        history.record(JOB, verdict.outcome, verdict.detail, step=launched.process, slot=launched.slot,
                       start=end.started, end=end.finished, hint=verdict.hint,
                       log_tail=process_runs.log_tail(client, launched.container), ref=str(container.id),
                       quiet=relaunched)
        process_runs.remove(client, launched.container)
        said.append(f"{launched.process} {verdict.outcome}: {verdict.detail}")
    return said


def _crashed(verdict: Verdict, launched: Launched, ctx: Context, record, ended: datetime,
             window: PlannedStep | None) -> tuple[Verdict, bool]:
    """Mark the crashed process's own record finished, and say whether the next syncs relaunch it:
    (the verdict, and whether a relaunch will come: its backoff ends inside its window and the
    trading week, and no restore holds the launches; a crash that is not relaunched is an alert)."""
    from . import week
    from .restore import RestoreMarker

    cleared = process_runs.clear_after_crash(ctx.control(), launched.process, record)
    if launched.kind != "continuous":
        return Verdict("failed", f"{verdict.detail}; {cleared}; a one-shot is not relaunched", verdict.hint), False
    s = ctx.settings
    crashes = tried_today(ctx.history, launched.slot).get(launched.process, []).count("failed") + 1
    limit = s.crash_relaunch_limit
    backoff = s.relaunch_backoff_minutes
    wait = backoff[min(crashes, len(backoff)) - 1] if backoff and crashes <= limit else 0
    at = ended + timedelta(minutes=wait)
    tz = s.tz
    if crashes > limit:
        then = f"not relaunched: it crashed {crashes} times today (CRASH_RELAUNCH_LIMIT={limit}); it stays down"
    elif window is None or at >= window.window_stop:
        then = (f"not relaunched: its next relaunch ({wait} min after the crash) would come after its stop time "
                f"{window.window_stop.astimezone(tz):%H:%M}; it stays down today" if window else
                "not relaunched: it is not in today's plan")
    elif not week.phase(week.WeekWindow.from_settings(s), at).inside:
        then = "not relaunched: the trading week closes before its next relaunch"
    elif RestoreMarker(s.state_dir).read() is not None:
        then = "not relaunched: a restore holds every launch"
    else:
        then = f"relaunch {crashes} of {limit} follows" + (f" in {wait} min" if wait else "")
        return Verdict("failed", f"crashed: {verdict.detail}; {cleared}; {then}", verdict.hint), True
    hint = f"read its log (invoke logs {launched.process} --run last), fix the cause, then launch it by hand: " \
        f"invoke launch --process {launched.process}"
    return Verdict("failed", f"crashed: {verdict.detail}; {cleared}; {then}", hint), False


def stop_overdue(ctx: Context, now: datetime) -> list[str]:
    """Stop, gracefully, each running process of this job past its deadline; record it ``timed_out``."""
    settings, client, history = ctx.settings, ctx.client, ctx.history
    said = []
    for launched, container in _ours(ctx):
        if container.status != "running" or launched.deadline is None or now < launched.deadline:
            continue
        started = process_runs.started_at(client, launched.container)
        service = container.labels.get("com.docker.compose.service", "")
        stopped = processes.stop_as_set(ctx, processes.RunningProcess(launched.container, service, launched.process),
                                        by="weekly sync (overdue)")
        detail = (f"still running past its deadline {launched.deadline.astimezone(settings.tz):%H:%M}: "
                  f"ended by {stopped.ended_by} after {stopped.seconds:.0f}s")
        history.record(JOB, "timed_out", detail, step=launched.process, slot=launched.slot, start=started,
                       end=datetime.now(UTC), hint=f"read its log: invoke logs {launched.process}",
                       log_tail=process_runs.log_tail(client, launched.container), ref=str(container.id))
        process_runs.remove(client, launched.container)
        said.append(f"{launched.process} timed_out: {detail}")
    return said
