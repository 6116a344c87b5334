"""`weekly sync`: the stack brought in line with the plan for this instant, once a minute.

In order: what a killed cold backup stopped is started again (unless a cold backup is running
and has MongoDB stopped on purpose); the always-on services run; the cold start has run for
this start of pysys_runtime; a STOP left by a killed stop is put back; every ended process
container becomes one run-history entry; a process past its deadline is stopped. Then, unless
a restore holds every launch, what the plan says is due is launched (``trading_day.due_launches``),
a process whose status is NO-RUN recorded ``declined`` without a container.
"""
from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from . import backup as backups
from . import backup_job, locks, observed, processes, session, stack, startup, status_page, trading_day, week
from . import plan as planning
from . import restore as restoring
from .errors import known
from .history import mark_recorded
from .observed import LOGGED_IN
from .outcomes import Outcome

if TYPE_CHECKING:
    from .context import Context



def sync(ctx: Context, *, launch: bool = True) -> list[str]:
    """Bring the stack in line with the plan now; return what was changed (empty: nothing to do)."""
    s, record = ctx.settings, ctx.history
    now = datetime.now(UTC)
    if backups.ColdMarker(s.state_dir).read() is not None:
        if locks.is_held(s.state_dir, backup_job.JOB):
            return []  # a cold backup has MongoDB stopped on purpose: it starts it again itself
        done = backup_job.restart_after_cold(ctx)  # a cold backup was killed: bring back what it stopped
    else:
        done = []
    done += stack.ensure_always_on(ctx)
    startup.cold_start(ctx)
    control = ctx.control()
    running = {r.process for r in ctx.running()}
    done += processes.repair_statuses(processes.StatusLedger(s.state_dir), control, running)
    plan_of = planning.plans_of(s)

    done += trading_day.reconcile(ctx, plan_of=plan_of)
    done += trading_day.stop_overdue(ctx, now)
    inside = week.phase(week.WeekWindow.from_settings(s), now).inside
    seen = observed.observe(ctx, watch=lambda before, seen: session.watch(ctx, before, seen, now, inside_week=inside))
    if not launch:
        return done
    held = restoring.RestoreMarker(s.state_dir).read()
    if held is not None:
        ctx.say(f"a restore of {held} is running or did not complete: nothing is launched "
                "(finish it: invoke restore, or invoke resume)")
        return done
    day = now.astimezone(s.tz).date()
    running = {r.process for r in ctx.running()}
    tried = trading_day.tried_today(record, day.isoformat())
    plan = plan_of(day)
    cleared = {name for name in trading_day.declined_continuous(plan, now, tried, running)
               if (r := control.record(name)).status == "GO" and not r.running}
    for due in trading_day.due_launches(plan, now, inside_week=inside, running=running, tried=tried,
                                        relaunch_limit=s.crash_relaunch_limit, cleared=cleared,
                                        ended=trading_day.ended_today(record, day.isoformat()),
                                        backoff=s.relaunch_backoff_minutes):
        if due.step.process in s.broker_processes and seen.gateway != LOGGED_IN:
            said = trading_day.hold(ctx, due, tried, f"{seen.gateway} ({seen.gateway_detail})")
            done += [said] if said else []
            continue
        done.append(trading_day.launch_or_record(ctx, due, now, read_status=True))
    return done


def plan(ctx: Context, *, launch: bool = True) -> list[str]:
    """What ``sync`` would do now, changing nothing (its dry run): the same reads and the same
    decisions (``trading_day.due_launches`` among them) in the same order, without their effects."""
    s = ctx.settings
    now = datetime.now(UTC)
    said = []
    cold = backups.ColdMarker(s.state_dir).read()
    if cold is not None:
        if locks.is_held(s.state_dir, backup_job.JOB):
            return ["a cold backup is running (MongoDB is stopped on purpose): nothing would be done"]
        said.append("would start again what a killed cold backup stopped: "
                    + ", ".join([*cold.get("services", []), *cold.get("processes", [])]))
    states = {r.service: r for r in stack.service_states(ctx)}
    missing = [name for name in stack.ALWAYS_ON
               if states.get(name) is None or states[name].state not in ("running", "restarting")]
    if missing:
        said.append("would start " + ", ".join(missing))
    running = {r.process for r in ctx.running()}
    if startup.attempts_since_runtime_start(ctx) is not None:
        said.append("would run pysystemtrade's cold start (startup)" if not running
                    else "the cold start waits: processes are running")
    for entry in processes.statuses_to_repair(processes.StatusLedger(s.state_dir), running, tidy=False):
        said.append(f"would put {entry['process']}'s status back to {entry.get('before', 'GO')} "
                    f"(a {entry.get('by', '?')} was killed while it was STOP)")
    day = now.astimezone(s.tz).date()
    plan_of = planning.plans_of(s)
    tried = trading_day.tried_today(ctx.history, day.isoformat())
    ended = trading_day.ended_today(ctx.history, day.isoformat())
    said += trading_day.pending_work(ctx, now, plan_of=plan_of, tried=tried, ended=ended)  # as after the records
    if not launch:
        return said
    held = restoring.RestoreMarker(s.state_dir).read()
    if held is not None:
        return [*said, f"a restore of {held} holds every launch: nothing would be launched"]
    plan_for_day = plan_of(day)
    control = ctx.control()
    cleared = {name for name in trading_day.declined_continuous(plan_for_day, now, tried, running)
               if (r := control.record(name)).status == "GO" and not r.running}
    inside = week.phase(week.WeekWindow.from_settings(s), now).inside
    login: tuple[str, str] | None = None
    for due in trading_day.due_launches(plan_for_day, now, inside_week=inside, running=running, tried=tried,
                                        relaunch_limit=s.crash_relaunch_limit, cleared=cleared, ended=ended,
                                        backoff=s.relaunch_backoff_minutes):
        if due.step.process in s.broker_processes:
            if login is None:
                row = states.get("ib_gateway")
                login = observed.gateway_login(s, row.state if row else "not created")
            if login[0] != LOGGED_IN:
                said.append(f"would hold {due.step.process} back: the gateway is {login[0]} ({login[1]})")
                continue
        if control.record(due.step.process).status == "NO-RUN":
            said.append(f"would record {due.step.process} declined: its status is NO-RUN (no container)")
        else:
            said.append(f"would launch {due.step.process}: {due.reason}")
    return said


def recorded_sync(ctx: Context, step: str, *, launch: bool = True) -> list[str]:
    """``sync`` under the week's lock, recorded as the task ``weekly.STEP`` (sync, open, close): a sync that
    changed something is recorded ``ok`` with what it did, one that failed ``failed`` with the
    fix (and raised); one that found everything in step leaves no trace (it runs every minute).
    Either way the statuses and the gateway are observed (by the sync itself, which watches the
    gateway's session: ``session.watch``) and the status page written after it.
    Another sync holding the lock: this one does nothing and says so."""
    s = ctx.settings
    started = datetime.now(UTC)
    try:
        with locks.exclusive(s.state_dir, locks.WEEK):
            done = sync(ctx, launch=launch)
    except locks.Busy as exc:
        ctx.say(f"{exc.message}: this {step} does nothing")
        return []
    except Exception as exc:
        error = known(exc)
        if error is None:
            raise
        ctx.history.record(f"weekly.{step}", error.outcome, error.message, start=started, hint=error.fix)
        mark_recorded(exc)
        status_page.refresh(ctx, observed_since=started)
        raise
    if done:
        ctx.history.record(f"weekly.{step}", Outcome.OK, "; ".join(done), start=started)
    for line in done:
        ctx.say(line)
    status_page.refresh(ctx, observed_since=started)
    return done
