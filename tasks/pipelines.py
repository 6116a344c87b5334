"""`invoke nightly` and `invoke weekend`: the named pipelines of ecosystem/pipelines.py, each step a task."""
from invoke import Exit

from ecosystem import backup_job, eod as chain, pipelines
from ecosystem.outcomes import Outcome
from ecosystem.steps import Result

from ._common import call_task, context, ecosystem_task


def _run(c, name, steps, *, cleanup=None, **kwargs):
    def call(step, arguments):
        try:
            call_task(c, step.call, **arguments)
        except Exit as exc:
            return Result(Outcome.FAILED, f"exit {exc.code}" + (f": {exc.message}" if exc.message else ""))
        return Result(Outcome.OK)

    return pipelines.run(context(c), name, steps, call=call, cleanup=cleanup, **kwargs)


@ecosystem_task(help={"day": "the trading day whose evening chain runs, YYYY-MM-DD (default: today in TIMEZONE)",
                      "skip_eod": "record the evening chain missed (its windows closed) and run the rest"})
def nightly(c, day=None, skip_eod=False):
    """The nightly pipeline: eod, then backup (in the dead time), offload and reports."""
    slot = chain.trading_day_of(context(c).settings, day).isoformat()
    missed = {"eod": f"the evening chain of {slot} was not run: its process windows had closed when the "
                     "scheduler got to it (pysystemtrade would not run it now)"} if skip_eod else None
    _run(c, "nightly", pipelines.NIGHTLY, slot=slot, given={"eod": {"day": slot}}, missed=missed)


@ecosystem_task
def weekend(c):
    """The weekend pipeline: a cold backup, a restore drill of it, offload."""
    ctx = context(c)

    def after_weekend() -> None:  # whatever happened, nothing a cold backup stopped stays stopped
        try:
            for line in backup_job.restart_after_cold(ctx):
                ctx.say(line)
        except Exception as exc:  # the pipeline's own outcome is what is reported
            ctx.say(f"weekend cleanup: {exc}")

    _run(c, "weekend", pipelines.WEEKEND, cleanup=after_weekend)
