"""The ecosystem at a glance: the one set of facts the brief, `invoke status` and the status page show.

``gather`` is pure: given the settings, an instant, the recent runs, the services' states, the
last observation (statuses, gateway), the scheduler's heartbeat and the free disk, it returns an
``Overview`` with its ``problems``, each with what to do. ``collect`` reads those inputs (the
engine once, the history's recent part only, small state files) and calls it.

What counts as a problem, once per thing (a process's declined step and its STOP status are one
problem): an always-on service not running or unhealthy; a step of the last chain, or the latest
launch of a process today, that failed, declined, timed out or was missed; a process status that
is not GO; the gateway not logged in inside the trading week; the latest backup, offload, reports
or restore drill that did not end ok, or no good backup (offload) for too long; a disk below
BACKUP_MIN_FREE_GB; the scheduler not running. The alerts since the last brief are listed, not
counted again: each of them is a run that either is one of the problems above or has passed.
"""
from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import EcosystemError
from .observed import LOGGED_IN, Observed
from .outcomes import FAILING, Outcome

if TYPE_CHECKING:
    from .context import Context
    from .history import Run
    from .stack import ServiceState

RECENT = timedelta(days=9)          # the history read for the status and the brief (a weekly drill fits)
STALE_HEARTBEAT = timedelta(minutes=3)
BACKUP_MAX_AGE = timedelta(hours=72)  # a weekend between two nightly backups is not a problem
EOD_JOB, LAUNCH_JOB, BACKUP_JOB, RESTORE_JOB = "eod", "weekly.sync", "backup", "restore"
SCHEDULER_JOB = "run-scheduler"


@dataclass(frozen=True)
class Problem:
    what: str
    fix: str = ""


@dataclass(frozen=True)
class JobFact:
    """The last good run of a job that keeps the data safe, and its latest run."""

    name: str                     # backup, offload, reports, restore drill
    configured: bool
    last_ok: Run | None
    latest: Run | None


@dataclass(frozen=True)
class Disk:
    label: str
    path: str
    free_bytes: int | None        # None: not readable from here
    total_bytes: int | None = None


@dataclass(frozen=True)
class Scheduler:
    state: str                    # running, not running, no heartbeat, ...
    looked: datetime | None
    age_seconds: float | None


@dataclass
class Overview:
    at: datetime
    tz: object
    trading_day: str
    inside_week: bool
    services: list[ServiceState]
    scheduler: Scheduler
    chain: Run | None
    chain_steps: list[Run]
    launches: list[Run]            # today's, the latest per process
    observed: Observed
    jobs: list[JobFact]
    disks: list[Disk]
    alerts: list[Run]              # failing runs since the last brief (or the last day)
    alerts_since: datetime
    problems: list[Problem] = field(default_factory=list)
    engine_unavailable: bool = False  # the engine could not be read (its problem is the first)

    @property
    def headline(self) -> str:
        count = len(self.problems)
        return "all good" if not count else f"{count} problem{'s' if count > 1 else ''}"

    @property
    def degraded(self) -> bool:
        return bool(self.problems)

    def not_go(self) -> dict[str, str]:
        return {name: status for name, status in sorted(self.observed.statuses.items()) if status != "GO"}


def _failing(run: Run | None) -> bool:
    return run is not None and run.outcome in FAILING


def _said(run: Run) -> str:
    what = f"{run.job} {run.step}" if run.step and run.job != LAUNCH_JOB else (run.step or run.job)
    return f"{what} {run.outcome}" + (f": {run.detail}" if run.detail else "")


def job_facts(settings, runs: Sequence[Run]) -> list[JobFact]:
    """Backup, offload, reports and restore drill: their last good and their latest run."""
    def fact(name: str, job: str, step: str | None, configured: bool) -> JobFact:
        done = [r for r in runs if r.job == job and r.step == step and r.outcome and r.outcome != Outcome.BUSY]
        ok = [r for r in done if r.outcome == Outcome.OK]
        return JobFact(name, configured, ok[-1] if ok else None, done[-1] if done else None)

    return [fact("backup", BACKUP_JOB, None, True),
            fact("offload", "offload", None, bool(settings.smb_server)),
            fact("reports", "reports", None, bool(settings.reports_remote)),
            fact("restore drill", RESTORE_JOB, "drill", True)]


def gather(settings, *, now: datetime, runs: Sequence[Run], services: Sequence[ServiceState], observed: Observed,
           heartbeat: datetime | None, disks: Sequence[Disk], last_brief: datetime | None,
           engine_error: Problem | None = None) -> Overview:
    """The overview at ``now`` from these inputs (pure); ``engine_error``: the engine could not be
    read (then ``services`` is empty and that is the first problem)."""
    from .answers import scheduler_state
    from .stack import ALWAYS_ON
    from .week import WeekWindow, phase

    tz = settings.tz
    today = now.astimezone(tz).date().isoformat()
    state, age = scheduler_state(heartbeat, now, stale=STALE_HEARTBEAT)
    chains = [r for r in runs if r.job == EOD_JOB and r.step is None]
    chain = chains[-1] if chains else None
    steps = [r for r in runs if chain is not None and r.parent == chain.id]
    latest_launch: dict[str, Run] = {}
    for run in runs:
        if run.job == LAUNCH_JOB and run.step and run.slot == today:
            latest_launch[run.step] = run
    since = last_brief or now - timedelta(days=1)
    overview = Overview(
        at=now, tz=tz, trading_day=today, inside_week=phase(WeekWindow.from_settings(settings), now).inside,
        services=[r for r in services if r.service in ALWAYS_ON or r.state != "not created"],
        scheduler=Scheduler(state, heartbeat, age), chain=chain, chain_steps=steps,
        launches=sorted(latest_launch.values(), key=lambda r: r.start), observed=observed,
        jobs=job_facts(settings, runs), disks=list(disks),
        alerts=sorted((r for r in runs if r.outcome in FAILING and (r.end or r.start) > since),
                      key=lambda r: r.end or r.start), alerts_since=since)
    overview.problems = ([engine_error] if engine_error else []) + _problems(settings, overview)
    overview.engine_unavailable = engine_error is not None
    return overview


def _problems(settings, o: Overview) -> list[Problem]:
    from .stack import ALWAYS_ON

    found: list[Problem] = []
    login_known = bool(o.observed.gateway) and o.observed.gateway != LOGGED_IN
    for row in o.services:
        if row.service == "ib_gateway" and row.state == "running" and login_known:
            continue  # its health is the login (the API handshake): said below, inside the week only
        if row.service in ALWAYS_ON and (
                row.state != "running" or row.health == "unhealthy"):
            found.append(Problem(f"{row.service} is {row.state if row.state != 'running' else 'unhealthy'}",
                                 "invoke up (invoke logs " + row.service + " says why)"))
    by_process: dict[str, int] = {}
    failing_steps = [r for r in o.chain_steps if _failing(r)]
    for run in failing_steps:
        by_process[run.step or ""] = len(found)
        found.append(Problem(f"last night's chain: {_said(run)}", "invoke history --job eod --logs; "
                             "invoke eod runs again what did not succeed"))
    if o.chain is not None and _failing(o.chain) and not failing_steps:
        found.append(Problem(f"last night's chain: {_said(o.chain)}", "invoke history --job eod --logs"))
    for run in o.launches:
        if _failing(run):
            by_process[run.step or ""] = len(found)
            found.append(Problem(f"today: {_said(run)}", f"invoke logs {run.step} --run last"))
    for name, status in o.not_go().items():
        if name in by_process:
            index = by_process[name]
            found[index] = Problem(f"{found[index].what} (its status is {status})", found[index].fix)
        else:
            found.append(Problem(f"{name}'s status is {status}: pysystemtrade will not run it",
                                 "invoke resume sets every process to GO, or invoke shell interactive_controls "
                                 "for this one"))
    gateway_running = any(r.service == "ib_gateway" and r.state == "running" for r in o.services)
    if o.inside_week and gateway_running and o.observed.gateway and o.observed.gateway != LOGGED_IN:
        found.append(Problem(f"the gateway is {o.observed.gateway} ({o.observed.gateway_detail})",
                             "invoke gateway.login, and approve the login on your phone"))
    for fact in o.jobs:
        if not fact.configured:
            continue
        if _failing(fact.latest) and fact.latest is not None:
            said = f"{fact.name}: the latest run {fact.latest.outcome}: {fact.latest.detail}"
            found.append(Problem(said.rstrip(": "), f"invoke history --job {fact.latest.job}"))
            continue
        limit = {"backup": BACKUP_MAX_AGE, "offload": timedelta(hours=settings.offload_max_age_hours)}.get(fact.name)
        if limit is None:
            continue
        if fact.last_ok is None:
            found.append(Problem(f"no good {fact.name} in the history yet", f"invoke {fact.name}"))
        elif o.at - (fact.last_ok.end or fact.last_ok.start) > limit:
            hours = int((o.at - (fact.last_ok.end or fact.last_ok.start)).total_seconds() // 3600)
            found.append(Problem(f"the last good {fact.name} is {hours} h old", f"invoke {fact.name}"))
    need = settings.backup_min_free_gb * 1e9
    for disk in o.disks:
        if disk.free_bytes is not None and disk.free_bytes < need:
            found.append(Problem(f"{disk.label} has {disk.free_bytes / 1e9:.1f} GB free "
                                 f"(BACKUP_MIN_FREE_GB={settings.backup_min_free_gb:g})", "free disk space"))
    if o.scheduler.state != "running":
        state = "has never run" if o.scheduler.looked is None else f"is {o.scheduler.state}"
        found.append(Problem(f"the scheduler {state}: nothing runs by itself",
                             "invoke run-scheduler (or invoke install-service)"))
    return found


# --- reading the inputs ----------------------------------------------------------------------------

def _existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def disk(label: str, path: str | Path | None, *, to_be_made: bool = False) -> Disk:
    """The free disk where ``path`` is (``to_be_made``: or would be: its nearest existing folder)."""
    if not path:
        return Disk(label, "", None)
    try:
        usage = shutil.disk_usage(_existing(Path(path)) if to_be_made else path)
    except OSError:
        return Disk(label, str(path), None)
    return Disk(label, str(path), usage.free, usage.total)


def _instant(path: Path, key: str) -> datetime | None:
    """The aware instant at ``key`` of a small JSON file; None if unreadable or without its offset."""
    try:
        moment = datetime.fromisoformat(json.loads(path.read_text())[key])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return moment if moment.tzinfo is not None else None


def heartbeat(settings) -> datetime | None:
    from .scheduler_loop import heartbeat_path

    return _instant(heartbeat_path(settings), "looked")


def last_brief(settings) -> datetime | None:
    return _instant(settings.state_dir / "brief.json", "sent")


def collect(ctx: Context, *, now: datetime, recent: timedelta = RECENT) -> tuple[Overview, list[Run]]:
    """Read the inputs (the engine once, the history's tail) and gather the overview; return it
    with the runs read (the page draws its timeline from them)."""
    from . import observed as observing
    from .stack import listed_states

    s = ctx.settings
    # wide enough that a good offload younger than OFFLOAD_MAX_AGE_HOURS is in it
    runs = ctx.history.runs(recent=max(recent, timedelta(hours=s.offload_max_age_hours, days=1)))
    seen = observing.read(s)
    disks = [disk("BACKUP_DIR", s.backup_dir, to_be_made=True), disk("Docker's data root", seen.engine_root)]
    try:
        services, engine_error = listed_states(s), None
    except EcosystemError as exc:  # the brief must still go out: that the engine is down is its news
        services, engine_error = [], Problem(f"the Docker engine: {exc.message}", exc.fix)
    view = gather(s, now=now, runs=runs, services=services, observed=seen, heartbeat=heartbeat(s), disks=disks,
                  last_brief=last_brief(s), engine_error=engine_error)
    return view, runs

