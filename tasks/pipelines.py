"""`invoke nightly` and `invoke weekend`: the named pipelines of ecosystem/pipelines.py, each step a task."""
from datetime import datetime

from invoke import Exit

from ecosystem import backup_job, outcomes, pipelines
from ecosystem import eod as chain
from ecosystem import steps as stepping

from ._common import call_task, context, ecosystem_task, task_flags


def _run(c, name, steps, *, cleanup=None, dry_run=False, **kwargs):
    if dry_run:
        return _plan(c, name, steps, given=kwargs.get("given"), missed=kwargs.get("missed"))

    def call(step, arguments):
        try:
            call_task(c, step.call, **arguments)
        except Exit as exc:
            said = f"exit {exc.code}" + (f": {exc.message}" if exc.message else "")
            return stepping.Result(outcomes.Outcome.FAILED, said)
        return stepping.Result(outcomes.Outcome.OK)

    return pipelines.run(context(c), name, steps, call=call, cleanup=cleanup, **kwargs)


def _plan(c, name, steps, *, given=None, missed=None):
    """Print what the pipeline would do; a step whose task has a dry run prints its own plan too."""
    for step, kind, reason, arguments in pipelines.plan(context(c).settings, steps, given=given, missed=missed):
        shown = " ".join(f"--{k.rstrip('_').replace('_', '-')}" + ("" if v is True else f"={v}")
                         for k, v in arguments.items())
        if kind != "run":
            print(f"{name}: {step.name}: would be recorded {'missed' if kind == 'missed' else 'skipped'} ({reason})")
            continue
        print(f"{name}: {step.name}: would run invoke {step.call}{' ' + shown if shown else ''}")
        if "--dry-run" in (task_flags(step.call) or set()):
            try:
                call_task(c, step.call, **arguments, dry_run=True)
            except Exit as exc:  # its plan cannot be shown now (e.g. the engine is down): say so, go on
                print(f"  ({step.call}'s own dry run: {exc.message or f'exit {exc.code}'})")


@ecosystem_task(help={"day": "the trading day whose evening chain runs, YYYY-MM-DD (default: today in TIMEZONE)",
                      "skip_eod": "record the evening chain missed (its windows closed) and run the rest",
                      "dry_run": "print each step and what it would do (each step's own dry run); change nothing"})
def nightly(c, day=None, skip_eod=False, dry_run=False):
    """The nightly pipeline: eod, then backup (in the dead time), offload and reports."""
    slot = chain.trading_day_of(context(c).settings, day).isoformat()
    missed = {"eod": f"the evening chain of {slot} was not run: its process windows had closed when the "
                     "scheduler got to it (pysystemtrade would not run it now)"} if skip_eod else None
    _run(c, "nightly", pipelines.NIGHTLY, slot=slot, given={"eod": {"day": slot}}, missed=missed, dry_run=dry_run)


@ecosystem_task(help={"dry_run": "print each step and what it would do (each step's own dry run); change nothing"})
def weekend(c, dry_run=False):
    """The weekend pipeline: a cold backup, a restore drill of it, offload (every DRILL_FROM_SHARE_EVERY weeks:
    offload first, then the drill fetches the set back from the share)."""
    ctx = context(c)

    def after_weekend() -> None:  # whatever happened, nothing a cold backup stopped stays stopped
        try:
            for line in backup_job.restart_after_cold(ctx):
                ctx.say(line)
        except Exception as exc:  # noqa: BLE001 - cleanup: the pipeline's own outcome is what is reported
            ctx.say(f"weekend cleanup: {exc}")

    steps, why = pipelines.weekend_steps(ctx.settings, datetime.now(ctx.settings.tz).date())
    ctx.say(f"weekend: {why}")
    _run(c, "weekend", steps, cleanup=after_weekend, dry_run=dry_run)
