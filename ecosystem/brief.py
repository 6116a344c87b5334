"""The morning and evening brief: the overview as one message to the trader, sent even when all is good.

Silence cannot be told from a dead box or a broken alert setup, so the brief speaks at fixed
times (BRIEF_AT, on trading days) whatever it has to say. ``lines`` renders an ``Overview`` as
plain text (the status page and `invoke status` show the same facts); ``send`` delivers it to
ALERT_URLS and remembers when (``STATE_DIR/brief.json``), so the next brief lists the alerts
since this one.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from .history import Run
from .observed import LOGGED_IN
from .overview import Overview
from .state_files import write_json


def ago(moment: datetime | None, now: datetime) -> str:
    """``3 h ago``, ``2 d ago``: how long before ``now`` (empty for none)."""
    if moment is None:
        return ""
    seconds = int((now - moment).total_seconds())
    if seconds < 0:
        return "in the future"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return f"{seconds} s ago"


def when(moment: datetime | None, o: Overview) -> str:
    return moment.astimezone(o.tz).strftime("%a %d %b %H:%M") if moment else ""  # type: ignore[arg-type]


def _minutes(run: Run) -> str:
    if run.duration is None:
        return ""
    seconds = int(run.duration.total_seconds())
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


def gateway_line(o: Overview) -> str:
    seen = o.observed
    if not seen.gateway:
        return "gateway: not observed yet (weekly sync reads it every minute)"
    text = f"gateway: {seen.gateway}"
    if seen.gateway_detail:
        text += f" ({seen.gateway_detail})" if seen.gateway != LOGGED_IN else f" to {seen.gateway_detail}"
    if seen.gateway_since:
        text += f", since {when(seen.gateway_since, o)}"
    return text + f" (seen {ago(seen.at, o.at)})"


def lines(o: Overview) -> list[str]:
    """The brief as text lines (pure)."""
    out = [f"{o.headline.upper()}: pysystemtrade ecosystem at {when(o.at, o)} "
           f"({'inside' if o.inside_week else 'outside'} the trading week)"]
    if o.problems:
        out.append("")
        for number, problem in enumerate(o.problems, 1):
            out.append(f"{number}. {problem.what}")
            if problem.fix:
                out.append(f"   what to do: {problem.fix}")
    out += ["", "LAST CHAIN"]
    if o.chain is None:
        out.append("  no evening chain in the history yet")
    else:
        out.append(f"  trading day {o.chain.slot or '?'}: {o.chain.state}, started {when(o.chain.start, o)}")
        for step in o.chain_steps:
            out.append(f"  - {step.step}: {step.state} {_minutes(step)}".rstrip()
                       + (f" ({step.detail})" if step.detail and step.state != "ok" else ""))
    out += ["", f"TODAY'S LAUNCHES ({o.trading_day})"]
    out += [f"  - {r.step}: {r.state} at {when(r.start, o)[-5:]}" + (f" ({r.detail})" if r.detail and r.state != "ok"
                                                                     else "") for r in o.launches] or ["  none yet"]
    out += ["", gateway_line(o)]
    not_go = o.not_go()
    if o.observed.statuses_unread:
        out.append(f"process statuses: unknown ({o.observed.statuses_unread})")
    elif o.observed.at is None:
        out.append("process statuses: not observed yet")
    else:
        out.append("process statuses: " + (", ".join(f"{n} {s}" for n, s in not_go.items()) if not_go
                                           else "every process GO"))
    out += ["", "DATA SAFETY"]
    for fact in o.jobs:
        if not fact.configured:
            out.append(f"  {fact.name}: not set up")
            continue
        good = f"last good {when(fact.last_ok.end or fact.last_ok.start, o)} ({ago(fact.last_ok.end, o.at)})" \
            if fact.last_ok else "no good run in the history"
        latest = fact.latest
        if latest is not None and latest is not fact.last_ok:
            good += f"; latest {latest.outcome} {ago(latest.end or latest.start, o.at)}"
        out.append(f"  {fact.name}: {good}")
    out.append("")
    for disk in o.disks:
        free = f"{disk.free_bytes / 1e9:.1f} GB free" if disk.free_bytes is not None else "free space unknown"
        out.append(f"disk: {disk.label}: {free}" + (f" ({disk.path})" if disk.path else ""))
    heartbeat = f" (heartbeat {ago(o.scheduler.looked, o.at)})" if o.scheduler.looked and \
        o.scheduler.looked <= o.at else ""
    out.append(f"scheduler: {o.scheduler.state}{heartbeat}")
    out += ["", f"ALERTS SINCE {when(o.alerts_since, o)}"]
    out += [f"  - {when(r.end or r.start, o)}: {r.job}{'/' + r.step if r.step else ''} {r.outcome}"
            + (f": {r.detail}" if r.detail else "") for r in o.alerts] or ["  none"]
    return out


def title(o: Overview) -> str:
    return f"pysystemtrade brief: {o.headline}"


def send(settings, o: Overview, deliver: Callable[[str, str], bool], redact: Callable[[str], str]) -> bool:
    """Deliver the brief; on delivery remember when, so the next one lists the alerts since this one."""
    delivered = deliver(redact(title(o)), redact("\n".join(lines(o))))
    if delivered:
        write_json(settings.state_dir / "brief.json", {"sent": o.at.isoformat()})
    return delivered
