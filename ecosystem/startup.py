"""pysystemtrade's startup, once per start of pysys_runtime.

Upstream's ``sysproduction/linux/scripts/startup`` (``sysproduction.startup.startup``) is
meant to run once after a reboot, before any process: it marks every process record
finished and clears the IB client ids a killed process left behind. Here a "reboot" is a
new start of pysys_runtime (a host reboot, `invoke down` and `up`, a restore, a recreation),
so the startup runs once per such start, found from the run history (job ``startup``), and
never while a process runs (it would mark a live process finished).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from . import stack

if TYPE_CHECKING:
    from .context import Context

JOB = "startup"


def attempts_since_runtime_start(ctx: Context) -> list | None:
    """Return this start of pysys_runtime's startup runs so far, or None when it needs none (the
    runtime is not running, or has had its startup)."""
    runtime = [r for r in stack.service_states(ctx) if r.service == "pysys_runtime" and r.state == "running"]
    if not runtime or runtime[0].since is None:
        return None
    earlier = [r for r in ctx.history.runs(job=JOB) if r.start >= runtime[0].since]
    return None if any(r.outcome == "ok" for r in earlier) else earlier


def cold_start(ctx: Context) -> None:
    """Run the startup if this start of pysys_runtime has not had it; say so once when
    processes are running and it has to wait."""
    earlier = attempts_since_runtime_start(ctx)
    if earlier is None:
        return  # no runtime, or this runtime has had its startup
    running = ctx.running()
    if running and any(r.outcome == "skipped" for r in earlier):
        return  # already said once for this runtime; sync runs every minute
    with ctx.history.run(JOB) as run:
        if running:
            run.set("skipped", "processes are running: " + ", ".join(r.process for r in running))
            return
        ctx.control().startup()
        run.detail = "cold start: every process marked finished, IB client ids cleared"
    ctx.say("cold start: pysystemtrade's startup ran (process records and IB client ids cleared)")
