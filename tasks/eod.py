"""`invoke eod`: the evening chain, each step its own container, each outcome in the run history."""
from invoke import Exit

from ecosystem import eod as chain
from ecosystem import plan as planning
from ecosystem.outcomes import Outcome

from ._common import context, ecosystem_task, unwinding_on_sigterm


@ecosystem_task(help={"force": "run every step again, also those that ended ok earlier today",
                      "dry_run": "print the steps, their timeouts and what would be skipped; run nothing",
                      "day": "the trading day whose chain to run, YYYY-MM-DD (default: today in TIMEZONE)"})
def eod(c, force=False, dry_run=False, day=None):
    """Run the evening chain (EOD_CHAIN) now; a rerun the same day resumes at the first step not ok."""
    ctx = context(c)
    s = ctx.settings
    day = chain.trading_day_of(s, day)
    slot = day.isoformat()
    steps = [p for p in planning.plan_for(s, day) if p.kind == "evening"]
    if dry_run:
        latest = {r.step: r.state for r in ctx.history.runs(job=chain.JOB) if r.slot == slot and r.step}
        for step in steps:
            done = not force and latest.get(step.process) == Outcome.OK
            minutes = s.eod_step_timeouts.get(step.process, s.eod_step_timeout_minutes)
            print(f"{step.chain_position}. {step.process}: " + ("ok earlier today, would not run again" if done else
                  f"would run in its own container, timeout {minutes} min after its window opens "
                  f"({step.window_start.astimezone(s.tz):%H:%M})" +
                  ("; stops the chain if not ok" if step.process in s.eod_stop_on_failure else "")))
        return
    with unwinding_on_sigterm():
        summary = chain.run(ctx, slot, steps, force=force)
    print(f"end of day {slot}: {summary.counts()}")
    if not summary.ok:
        raise Exit(code=1)
