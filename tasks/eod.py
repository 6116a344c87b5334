"""`invoke eod`: the evening chain, each step its own container, each outcome in the run history."""
from datetime import date, datetime, timedelta, timezone

from invoke import Exit, task

from ecosystem import engine, eod as chain, locks, plan as planning, restore as restoring, stack
from ecosystem.errors import EcosystemError

from ._common import history, redactor, settings, unwinding_on_sigterm


PAST_DAYS = 7   # how far back --day may reach: older evenings are history, not catch-up


def trading_day(s, day: str | None) -> date:
    """The trading day to run: today in TIMEZONE, or ``day`` (YYYY-MM-DD), a day of the last week
    (the scheduler passes the day of its slot, so a late run is booked to the evening it belongs to).
    A future day is refused: steps recorded ok under it would be skipped when that day comes."""
    today = datetime.now(timezone.utc).astimezone(s.tz).date()
    if not day:
        return today
    try:
        if len(day) != 10:
            raise ValueError(day)
        given = date.fromisoformat(day)
    except ValueError:
        raise Exit(f"--day {day!r} is not a date; write it as YYYY-MM-DD, e.g. --day {today.isoformat()}",
                   code=2) from None
    if not today - timedelta(days=PAST_DAYS) <= given <= today:
        raise Exit(f"--day {given.isoformat()} is not a trading day this can run: give today or one of the "
                   f"last {PAST_DAYS} days ({(today - timedelta(days=PAST_DAYS)).isoformat()} to {today.isoformat()})",
                   code=2)
    return given


@task(help={"force": "run every step again, also those that ended ok earlier today",
            "dry_run": "print the steps, their timeouts and what would be skipped; run nothing",
            "day": "the trading day whose chain to run, YYYY-MM-DD (default: today in TIMEZONE)"})
def eod(c, force=False, dry_run=False, day=None):
    """Run the evening chain (EOD_CHAIN) now; a rerun the same day resumes at the first step not ok."""
    s = settings(c)
    day = trading_day(s, day)
    slot = day.isoformat()
    try:
        steps = [p for p in planning.plan_for(s, day) if p.kind == "evening"]
    except EcosystemError as exc:
        raise Exit(str(exc), code=1) from None
    record = history(c)
    if dry_run:
        latest = {r.step: r.state for r in record.runs(job=chain.JOB) if r.slot == slot and r.step}
        for step in steps:
            done = not force and latest.get(step.process) == "ok"
            minutes = s.eod_step_timeouts.get(step.process, s.eod_step_timeout_minutes)
            print(f"{step.chain_position}. {step.process}: " + ("ok earlier today, would not run again" if done else
                  f"would run in its own container, timeout {minutes} min after its window opens "
                  f"({step.window_start.astimezone(s.tz):%H:%M})" +
                  ("; stops the chain if not ok" if step.process in s.eod_stop_on_failure else "")))
        return
    try:
        with unwinding_on_sigterm(), locks.exclusive(s.state_dir, chain.JOB):
            client = engine.connect()
            held = restoring.RestoreMarker(s.state_dir).read()
            if held is not None:
                record.record(chain.JOB, "failed", f"not run: the restore of {held} is running or did not complete",
                              slot=slot, hint="finish it (invoke restore) or invoke resume")
                raise Exit(f"end of day not run: the restore of {held} is running or did not complete", code=1)
            if not stack.runtime_running(s, client):
                record.record(chain.JOB, "failed", "not run: pysys_runtime is not running", slot=slot,
                              hint="start the stack: invoke up")
                raise Exit("end of day not run: pysys_runtime is not running; start the stack with `invoke up`", code=1)
            control = stack.process_control(s, client)
            for line in chain.sweep_orphans(client, s, control):
                print(line)
            execute = chain.ContainerStep(s, client, stack.compose(s), control, history=record)
            print(f"end of day {slot}: {', '.join(p.process for p in steps)}")
            summary = chain.run_chain(record, slot, steps, execute=execute, stop_on_failure=s.eod_stop_on_failure,
                                      force=force, say=lambda text: print(redactor(c)(text)))
    except EcosystemError as exc:
        raise Exit(redactor(c)(str(exc)), code=1) from None
    print(f"end of day {slot}: {summary.counts()}")
    if not summary.ok:
        raise Exit(code=1)
