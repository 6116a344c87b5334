"""`invoke history`: what ran, when, and how it ended."""
from invoke import Exit

from ecosystem import answers
from ecosystem.history import current_name, parse_since, utcnow

from ._common import ecosystem_task, settings, table
from ._common import history as open_history


def _duration(run) -> str:
    if run.duration is None:
        return ""
    seconds = int(run.duration.total_seconds())
    return (f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600
            else f"{seconds // 60}m{seconds % 60:02d}s")


@ecosystem_task(read_only=True, help={"job": "only this job",
            "since": "only runs since: 30m, 12h, 3d, 2w, 2026-11-28 or 2026-11-28T09:30",
            "limit": "show at most this many of the newest runs (default 50)",
            "logs": "also show the last log lines recorded with each process run",
            "json": f"print the runs as JSON (schema {answers.HISTORY}; see the README)"})
def history(c, job=None, since=None, limit=50, logs=False, json=False):
    """Show the run history as a table (times in the ecosystem's timezone)."""
    s = settings(c)
    try:
        start = parse_since(since, now=utcnow(), tz=s.tz) if since else None
    except ValueError as exc:
        raise Exit(str(exc), code=2) from None
    record = open_history(c)
    wanted = current_name(job, None)[0] if job else None  # `--job day` as the history now names it
    runs = record.runs(job=wanted, since=start)[-int(limit):]
    if json:
        import json as json_module

        print(json_module.dumps(answers.history(runs, record.path, record.damaged_lines), indent=1))
        return
    rows = [(r.start.astimezone(s.tz).strftime("%a %Y-%m-%d %H:%M:%S"), r.job, r.step or "", r.slot or "",
             r.state, _duration(r), r.detail) for r in runs]
    if not rows:
        print(f"no runs recorded in {record.path}" + (f" for {job}" if job else ""))
    else:
        print(table(("start", "job", "step", "slot", "outcome", "took", "detail"), rows))
    if logs:
        for run in runs:
            if run.log_tail:
                print(f"\n{run.start.astimezone(s.tz):%Y-%m-%d %H:%M:%S} {run.job} {run.step or ''} ({run.state}):")
                print("\n".join("  " + line for line in run.log_tail))
    if record.damaged_lines:
        print(f"\nnote: {record.damaged_lines} damaged line(s) in {record.path} were skipped "
              "(a writer was killed mid-line)")
