"""`invoke weekly.sync`, `weekly.open` and `weekly.close`: the trading week's processes, matched to the plan now."""
from datetime import UTC, datetime, timedelta

from invoke import Exit

from ecosystem import session, trading_day, week
from ecosystem import sync as syncing

from ._common import call_task, context, ecosystem_task, history, settings, unwinding_on_sigterm

DRY_RUN = "print what it would do now (the same decisions), change nothing"


def _say_plan(lines: list[str], quiet: str) -> None:
    print("\n".join(lines) if lines else quiet)


@ecosystem_task(job="weekly.sync", help={"dry_run": DRY_RUN})
def sync(c, dry_run=False):
    """Make the processes match the plan now: start what should run, record what ended, relaunch a crash."""
    if dry_run:
        _say_plan(syncing.plan(context(c)), "in step with the plan: nothing would be done")
        return
    with unwinding_on_sigterm():
        if not syncing.recorded_sync(context(c), "sync"):
            print("in step with the plan: nothing to do")


@ecosystem_task(name="open", job="weekly.open", help={"skip_gateway": "do not check the gateway's login",
                                                     "dry_run": DRY_RUN})
def open_(c, skip_gateway=False, dry_run=False):
    """Open the trading week: the stack up and healthy, cold start if due, the gateway logged in, then sync."""
    if dry_run:
        call_task(c, "up", dry_run=True)
        if not skip_gateway:
            print("would check the gateway's login (gateway.status)")
        _say_plan(syncing.plan(context(c)), "then in step with the plan: nothing more would be done")
        return
    call_task(c, "up")
    expected = session.expected_logout(settings(c), datetime.now(UTC))
    if expected and not skip_gateway:  # checking now would check the session that is being replaced
        print(f"the gateway is in {expected}: each sync watches its session after it")
    elif not skip_gateway:
        try:
            call_task(c, "gateway.status")
        except Exit as exc:  # recorded and alerted by the check itself; the week still opens
            print(f"warning: {exc.message}")
    with unwinding_on_sigterm():
        syncing.recorded_sync(context(c), "open")
    print("trading week open")


@ecosystem_task(job="weekly.close", help={"stop": "also stop, gracefully, every process still running "
                                                  "(default: they end by themselves)", "dry_run": DRY_RUN})
def close(c, stop=False, dry_run=False):
    """Close the trading week: record what ended, launch nothing, say what still runs and how the week went."""
    s = settings(c)
    if dry_run:
        lines = syncing.plan(context(c), launch=False)
        names = [r.process for r in context(c).running()]
        if names:
            lines.append(("would stop, gracefully: " if stop else "would leave running (each ends at its stop "
                          "time): ") + ", ".join(names))
        _say_plan(lines, "nothing would be done: no process runs and nothing ended unrecorded")
        return
    with unwinding_on_sigterm():
        syncing.recorded_sync(context(c), "close", launch=False)
    running = context(c).running()
    if running and stop:
        call_task(c, "stop", all_=True)
    elif running:
        print("still running (each ends at its stop time): " + ", ".join(r.process for r in running))
    now = datetime.now(UTC)
    tally: dict[str, int] = {}
    for run in history(c).runs(since=now - timedelta(days=7)):
        if run.job in (trading_day.JOB, "eod") and run.step and run.outcome:
            tally[run.outcome] = tally.get(run.outcome, 0) + 1
    print("the last seven days' process runs: " + (", ".join(f"{n} {o}" for o, n in sorted(tally.items())) or "none"))
    if week.phase(week.WeekWindow.from_settings(s), now).inside:
        print("note: by the settings the trading week is still open; `invoke weekly.sync` will launch again")
