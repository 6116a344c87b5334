"""The status page: the brief's facts and the last 14 days as a timeline, one static HTML file.

``weekly sync`` (every minute) observes the statuses and the gateway and writes the page
(``refresh``) to ``STATE_DIR/page/index.html``; the stack's ``status_page`` service serves that
folder read-only on BIND_ADDRESS (``docker/status_page/serve.py``; a token is required when
BIND_ADDRESS is not loopback). The page has no script and loads nothing from elsewhere. Each
timeline row is a local day (``data-day``); each of its cells is a job or a step
(``data-job``, ``data-step``) coloured by its outcome (``class="outcome-failed"``...).
"""
from __future__ import annotations

import html
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from . import brief
from .state_files import write_text

if TYPE_CHECKING:
    from .context import Context
    from .history import Run
    from .overview import Overview

log = logging.getLogger(__name__)

DAYS = 14
QUIET_JOBS = ("run-scheduler", "weekly.sync")  # recorded as launches (steps); the scheduler's own records repeat them
COLOURS = {"ok": "#2e7d32", "failed": "#c62828", "declined": "#ef6c00", "timed_out": "#ad1457", "suspect": "#6a1b9a",
           "missed": "#4e342e", "skipped": "#757575", "busy": "#9e9e9e", "waiting": "#f9a825", "running": "#1565c0",
           "interrupted": "#b71c1c"}


def path(settings):
    return settings.state_dir / "page" / "index.html"


def _day_of(run: Run, tz) -> date:
    """The day a run belongs to: its trading day when its slot is one (a chain that ends after
    midnight is its evening's), else the local day it started."""
    try:
        return date.fromisoformat(run.slot) if run.slot and len(run.slot) == 10 else run.start.astimezone(tz).date()
    except ValueError:
        return run.start.astimezone(tz).date()


def timeline(runs: Sequence[Run], tz, *, today, days: int = DAYS) -> list[tuple[str, list[Run]]]:
    """The last ``days`` local days, newest first, each with its runs in time order (pure): a run on
    its trading day when it has one (``_day_of``). A scheduler's own record of a job it ran is left
    out (the job's record says it)."""
    first = today - timedelta(days=days - 1)
    rows: dict[str, list[Run]] = {(today - timedelta(days=n)).isoformat(): [] for n in range(days)}
    for run in runs:
        day = _day_of(run, tz)
        if day < first or day > today:
            continue
        if run.job == "run-scheduler" and run.outcome == "ok":
            continue
        if run.job == "weekly.sync" and not run.step:
            continue  # a sync that did something: its launches are steps
        rows[day.isoformat()].append(run)
    return list(rows.items())


def _cell(run: Run, esc: Callable[[str], str]) -> str:
    state = run.state
    label = f"{run.job} {run.step}" if run.step else run.job
    title = f"{label}: {state}" + (f": {run.detail}" if run.detail else "")
    return (f'<span class="cell outcome-{esc(state)}" data-job="{esc(run.job)}" '
            f'data-step="{esc(run.step or "")}" data-outcome="{esc(state)}" '
            f'title="{esc(title)}">{esc(label)} <b>{esc(state)}</b></span>')


def render(o: Overview, runs: Sequence[Run], *, redact: Callable[[str], str] = lambda text: text) -> str:
    """The page (pure): the headline, the problems, the brief's facts and the timeline; every text is
    masked (``redact``) before it is escaped, so a secret with ``&`` or ``<`` in it is still found."""
    def esc(text: str) -> str:
        return html.escape(redact(text))

    tz = o.tz
    today = o.at.astimezone(tz).date()  # type: ignore[arg-type]
    style = "\n".join(f".outcome-{name} {{ background: {colour}; }}" for name, colour in COLOURS.items())
    problems = "".join(f'<li class="problem">{esc(p.what)}<br><small>what to do: {esc(p.fix)}'
                       "</small></li>" for p in o.problems)
    rows = []
    for day, day_runs in timeline(runs, tz, today=today):
        label = datetime.fromisoformat(day).strftime("%a %d %b")
        cells = "".join(_cell(r, esc) for r in day_runs) or '<span class="none">nothing ran</span>'
        rows.append(f'<tr data-day="{day}"><th>{label}</th><td>{cells}</td></tr>')
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="60">
<title>pysystemtrade: {esc(o.headline)}</title>
<style>
body {{ font-family: sans-serif; margin: 1.5em; color: #212121; }}
h1.good {{ color: #2e7d32; }} h1.degraded {{ color: #c62828; }}
pre {{ background: #f5f5f5; padding: 1em; overflow-x: auto; }}
table {{ border-collapse: collapse; }} th {{ text-align: left; padding-right: 1em; white-space: nowrap; }}
td, th {{ border-bottom: 1px solid #e0e0e0; padding: .3em; vertical-align: top; }}
.cell {{ display: inline-block; color: white; border-radius: 3px; padding: 0 .4em; margin: .1em; font-size: .85em; }}
{style}
</style></head>
<body>
<h1 id="headline" class="{'degraded' if o.degraded else 'good'}">{esc(o.headline)}</h1>
<p>as of {esc(brief.when(o.at, o))} ({esc(str(getattr(tz, 'key', tz)))}); refreshed every minute
by weekly sync</p>
<ol id="problems">{problems}</ol>
<pre id="brief">{esc(chr(10).join(brief.lines(o)))}</pre>
<h2>The last {DAYS} days</h2>
<table id="timeline">{''.join(rows)}</table>
</body></html>
"""


def refresh(ctx: Context, *, observed_since: datetime | None = None) -> None:
    """Observe the statuses and the gateway (unless that was done since ``observed_since``), and
    write the page; a failure is logged, never raised (the page is a view: the sync that calls
    this has its own work)."""
    from . import observed, overview

    try:
        last = observed.read(ctx.settings).at
        if observed_since is None or last is None or last < observed_since:
            observed.observe(ctx, client_id=observed.SYNC_CLIENT_ID)
        view, runs = overview.collect(ctx, now=datetime.now(UTC), recent=timedelta(days=DAYS + 1))
        page = path(ctx.settings)
        # readable by the status_page container's user whatever this process's umask (the service's is 077)
        write_text(page, ctx.redact(render(view, runs, redact=ctx.redact)), mode=0o644)
        page.parent.chmod(0o755)
    except Exception as exc:  # noqa: BLE001 - the page is a view: it never breaks the sync that writes it
        log.warning("could not refresh the status page: %s", getattr(exc, "message", None) or exc)
