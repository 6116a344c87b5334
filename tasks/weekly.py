"""`invoke weekly sync|open|close`: the trading week's processes, matched to the plan for this instant."""
from datetime import datetime, timedelta, timezone

from invoke import Exit, task

from ecosystem import backup as backups, engine, locks, plan as planning, processes, restore as restoring, stack, \
    trading_day, week
from ecosystem.errors import EcosystemError

from ._common import history, redactor, settings, unwinding_on_sigterm
from .backup import restart_after_cold
from .stack import cold_start

JOB = "weekly"


def _sync(c, s, *, launch=True) -> list[str]:
    """Bring the stack in line with the plan now; return what was changed (empty: nothing to do)."""
    now = datetime.now(timezone.utc)
    record = history(c)
    client = engine.connect()
    if backups.ColdMarker(s.state_dir).read() is not None:
        if locks.is_held(s.state_dir, "backup"):
            return []  # a cold backup has MongoDB stopped on purpose: it starts it again itself
        done = restart_after_cold(c, s, client)  # a cold backup was killed: bring back what it stopped
    else:
        done = []
    done += stack.ensure_always_on(s, client)
    cold_start(c, s, client)
    control = stack.process_control(s, client)
    running = {r.process for r in processes.running_processes(client, s)}
    done += processes.repair_statuses(processes.StatusLedger(s.state_dir), control, running)
    plan_of = planning.plans_of(s)

    done += trading_day.reconcile(client, s, control, record, plan_of=plan_of)
    done += trading_day.stop_overdue(client, s, control, record, now)
    if not launch:
        return done
    held = restoring.RestoreMarker(s.state_dir).read()
    if held is not None:
        print(f"a restore of {held} is running or did not complete: nothing is launched "
              "(finish it: invoke restore, or invoke resume)")
        return done
    day = now.astimezone(s.tz).date()
    inside = week.phase(week.WeekWindow.from_settings(s), now).inside
    running = {r.process for r in processes.running_processes(client, s)}
    tried = trading_day.tried_today(record, day.isoformat())
    plan = plan_of(day)
    cleared = {name for name in trading_day.declined_continuous(plan, now, tried, running)
               if (r := control.record(name)).status == "GO" and not r.running}
    project = stack.compose(s)
    for due in trading_day.due_launches(plan, now, inside_week=inside, running=running, tried=tried,
                                        relaunch_limit=s.crash_relaunch_limit, cleared=cleared):
        done.append(trading_day.launch_or_record(project, client, s, record, due, now, control))
    return done


def _recorded_sync(c, step, *, launch=True):
    s = settings(c)
    record = history(c)
    started = datetime.now(timezone.utc)
    try:
        with unwinding_on_sigterm(), locks.exclusive(s.state_dir, JOB):
            done = _sync(c, s, launch=launch)
    except locks.Busy as exc:
        print(f"{exc.message}: this {step} does nothing")
        return []
    except EcosystemError as exc:
        record.record(JOB, "failed", exc.message, step=step, start=started, hint=exc.fix)
        raise Exit(redactor(c)(str(exc)), code=1) from None
    if done:  # a sync that found everything in step leaves no trace (it runs every minute)
        record.record(JOB, "ok", "; ".join(done), step=step, start=started)
    for line in done:
        print(redactor(c)(line))
    return done


@task
def sync(c):
    """Make the processes match the plan now: start what should run, record what ended, relaunch a crash."""
    if not _recorded_sync(c, "sync"):
        print("in step with the plan: nothing to do")


@task(name="open", help={"skip_gateway": "do not check the gateway's login"})
def open_(c, skip_gateway=False):
    """Open the trading week: the stack up and healthy, cold start if due, the gateway logged in, then sync."""
    from .gateway import status as gateway_status
    from .stack import up

    up(c)
    if not skip_gateway:
        try:
            gateway_status(c)
        except Exit as exc:  # recorded and alerted by the check itself; the week still opens
            print(f"warning: {exc.message}")
    _recorded_sync(c, "open")
    print("trading week open")


@task(help={"stop": "also stop, gracefully, every process still running (default: they end by themselves)"})
def close(c, stop=False):
    """Close the trading week: record what ended, launch nothing, say what still runs and how the week went."""
    from .processes import stop as stop_task

    s = settings(c)
    _recorded_sync(c, "close", launch=False)
    running = processes.running_processes(engine.connect(), s)
    if running and stop:
        stop_task(c, all_=True)
    elif running:
        print("still running (each ends at its stop time): " + ", ".join(r.process for r in running))
    now = datetime.now(timezone.utc)
    tally: dict[str, int] = {}
    for run in history(c).runs(since=now - timedelta(days=7)):
        if run.job in (trading_day.JOB, "eod") and run.step and run.outcome:
            tally[run.outcome] = tally.get(run.outcome, 0) + 1
    print("the last seven days' process runs: " + (", ".join(f"{n} {o}" for o, n in sorted(tally.items())) or "none"))
    if week.phase(week.WeekWindow.from_settings(s), now).inside:
        print("note: by the settings the trading week is still open; `weekly sync` will launch again")

