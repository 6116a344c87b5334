"""The pysystemtrade process containers: which are running, and stopping them gracefully.

pysystemtrade stops cleanly only through its STOP status (it then runs its on-completion
methods, e.g. the stack handler's end-of-day clean-up); SIGTERM kills it without them and
Docker's default (10 s, then SIGKILL) always skips them. So a stop sets STOP, waits up to a
grace for the container to end by itself, escalates only then (SIGTERM with a long timeout,
SIGKILL as the last resort), and finally puts the status back as it was (STOP persists and
would make every later launch decline). Waiting is event-driven (the engine's wait), never polling.
"""
from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .engine import project_containers
from .errors import EcosystemError
from .plan import LAUNCHERS
from .process_control import CONTROL_LABEL, ProcessControl
from .process_runs import PROCESS_LABEL, launcher_of
from .state_files import write_json

if TYPE_CHECKING:
    from .context import Context
    from .history import RunHandle

log = logging.getLogger(__name__)

PROCESS_SERVICES = ("stack_handler", "capital_update", "daily_processes", "csv_backup")
# launcher / module name -> pysystemtrade's process name, where they differ
PROCESS_NAMES = {launcher: process for process, launcher in LAUNCHERS.items()}


@dataclass(frozen=True)
class RunningProcess:
    container: str
    service: str
    process: str


@dataclass(frozen=True)
class StopResult:
    process: str
    container: str
    ended_by: str       # STOP | SIGTERM | SIGKILL
    seconds: float
    status_before: str

    @property
    def graceful(self) -> bool:
        return self.ended_by == "STOP"  # ended through its STOP status, clean-up run, exit code 0




def process_name(container) -> str:
    """Return the pysystemtrade process a container runs (its command runs one launcher, e.g. run_systems), or ""."""
    if container.labels.get(CONTROL_LABEL) == "control":
        return ""
    if container.labels.get(PROCESS_LABEL):  # launched by the trading-day tasks
        return container.labels[PROCESS_LABEL]
    launcher = launcher_of(container.attrs.get("Config", {}).get("Cmd") or [])
    if not (launcher.startswith("run_") or launcher == "startup"):
        return ""
    return PROCESS_NAMES.get(launcher, launcher)


def canonical(name: str) -> str:
    """Return pysystemtrade's process name for a launcher or process name (run_daily_price_updates too)."""
    return PROCESS_NAMES.get(name, name)


def running_processes(ctx: Context) -> list[RunningProcess]:
    """Return the running pysystemtrade process containers of the ecosystem."""
    found = []
    for container in project_containers(ctx.client, ctx.settings.compose_project):
        service = container.labels.get("com.docker.compose.service", "")
        if service in PROCESS_SERVICES and container.status == "running":
            name = process_name(container)
            if name:
                found.append(RunningProcess(container.name, service, name))
    return found


def wait_exit(client, container_name: str, seconds: float) -> int | None:
    """Wait for the container to exit, up to ``seconds``; return its exit code, or None if it still runs.

    Raise EngineUnavailable if the engine itself fails (that is not "still running").
    """
    import requests

    from .engine import NotFound
    from .errors import EngineUnavailable

    try:
        return int(client.api.wait(container_name, timeout=max(1, int(seconds))).get("StatusCode", 0))
    except NotFound:
        return 0  # a --rm one-off is gone once it ended
    except requests.exceptions.ReadTimeout:
        return None
    except requests.exceptions.ConnectionError as exc:
        if "timed out" in str(exc).lower():  # docker-py wraps its read timeout in ConnectionError
            return None
        raise EngineUnavailable(f"the Docker engine failed while waiting for {container_name}",
                                fix="check the engine (docker info), then the process with invoke status") from None


class StatusLedger:
    """The statuses this ecosystem set to STOP and must put back, one file per process under
    STATE_DIR/pending-status: written before STOP is set, removed once the status is restored.
    SIGKILL skips every ``finally``; the next ``weekly sync`` (or ``up``) repairs what is left."""

    def __init__(self, state_dir: Path) -> None:
        self.folder = Path(state_dir) / "pending-status"

    def note(self, process: str, before: str, by: str) -> None:
        write_json(self.folder / f"{process}.json", {"process": process, "before": before, "by": by,
                                                     "pid": os.getpid(), "host": socket.gethostname()})

    def done(self, process: str) -> None:
        (self.folder / f"{process}.json").unlink(missing_ok=True)

    def pending(self, *, tidy: bool = True) -> list[dict]:
        """Return the statuses waiting to be put back; ``tidy`` removes an entry torn by a kill."""
        found = []
        for path in sorted(self.folder.glob("*.json")) if self.folder.is_dir() else []:
            try:
                found.append(json.loads(path.read_text()))
            except (OSError, ValueError):
                if tidy:
                    path.unlink(missing_ok=True)  # torn by a kill mid-write: STOP was not set yet
        return found


def _owner_alive(entry: dict) -> bool:
    if entry.get("host") != socket.gethostname() or not entry.get("pid"):
        return False
    try:
        os.kill(int(entry["pid"]), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def statuses_to_repair(ledger: StatusLedger, running: set[str], *, tidy: bool = True) -> list[dict]:
    """Return the ledger's entries whose STOP a killed run left (its owner is gone, the process not running)."""
    return [entry for entry in ledger.pending(tidy=tidy)
            if entry.get("process") and entry["process"] not in running and not _owner_alive(entry)]


def repair_statuses(ledger: StatusLedger, control: ProcessControl, running: set[str]) -> list[str]:
    """Put back each status a killed run left at STOP (its owner is gone, the process not running)."""
    said = []
    for entry in statuses_to_repair(ledger, running):
        process, before = entry["process"], entry.get("before", "GO")
        {"NO-RUN": control.no_run, "PAUSE": control.pause}.get(before, control.go)(process)
        ledger.done(process)
        said.append(f"put {process}'s status back to {before} (a {entry.get('by', '?')} was killed while it was STOP)")
    return said


class StillRunning(EcosystemError):
    """A process survived SIGKILL: its record is left alone so nothing starts a second one."""


def graceful_stop(client, control: ProcessControl, running: RunningProcess, *, grace: float,
                  term_timeout: float, ledger: StatusLedger | None = None, by: str = "stop") -> StopResult:
    """Stop one process: STOP and wait ``grace``; then SIGTERM, then SIGKILL; restore its status; say which ended it.

    The status is put back as it was (GO for an unknown or already-STOP status is not assumed:
    STOP stays STOP, with a warning). A process killed or crashed in its clean-up is marked
    finished so the next launch is not blocked. Raise StillRunning if even SIGKILL did not end it.
    """
    started = time.monotonic()
    before = "GO"
    restore_status = False  # only once STOP has been (or may have been) set by this stop
    try:
        before = control.record(running.process).status
        restore_status = before != "STOP"
        if not restore_status:
            log.warning("%s was already STOP: it stays STOP after this stop", running.process)
        elif ledger is not None:
            ledger.note(running.process, before, by)
        control.stop(running.process)
        code = wait_exit(client, running.container, grace)
        ended_by = "STOP"
        if code is None:
            log.warning("%s did not finish within %ss of STOP: sending SIGTERM", running.process, grace)
            ended_by = "SIGTERM"
            _signal(client, running.container, "SIGTERM")
            code = wait_exit(client, running.container, term_timeout)
        if code is None:
            log.warning("%s ignored SIGTERM for %ss: sending SIGKILL", running.process, term_timeout)
            ended_by = "SIGKILL"
            _signal(client, running.container, "SIGKILL")
            code = wait_exit(client, running.container, 60)
            if code is None:
                restore_status = False  # STOP keeps a second copy from starting while this one lives
                raise StillRunning(f"{running.process} ({running.container}) is still running after SIGKILL",
                                   fix="check the host (docker inspect, dmesg); its status is left at STOP")
    finally:
        if restore_status:
            restore = {"GO": control.go, "NO-RUN": control.no_run, "PAUSE": control.pause}.get(before, control.go)
            restore(running.process)  # STOP persists otherwise: every later launch would decline
            if ledger is not None:
                ledger.done(running.process)
    if ended_by != "STOP" or code != 0:
        control.finish(running.process)  # killed or crashed: its record would say "running" and block launches
        if ended_by == "STOP":
            ended_by = f"STOP, but it exited with code {code}"
    return StopResult(running.process, running.container, ended_by, time.monotonic() - started, before)


def stop_as_set(ctx: Context, running: RunningProcess, *, by: str) -> StopResult:
    """``graceful_stop`` with the settings' grace (STOP_GRACE_SECONDS, STOP_TERM_SECONDS) and the
    STATE_DIR ledger that lets a killed stop's STOP be put back; ``by`` names who stopped it."""
    s = ctx.settings
    return graceful_stop(ctx.client, ctx.control(), running, grace=s.stop_grace_seconds,
                         term_timeout=s.stop_term_seconds, ledger=StatusLedger(s.state_dir), by=by)


def stop_each(ctx: Context, targets: Sequence[RunningProcess], run: RunHandle) -> list[StopResult]:
    """Stop each of ``targets`` gracefully (``stop_as_set``), each a step of ``run`` in the history,
    saying how each ended; a stop that skipped the process's clean-up is that step's ``failed``."""
    results = []
    for target in targets:
        with run.step(target.process) as step:
            result = stop_as_set(ctx, target, by=f"invoke {run.run.job}")
            step.detail = f"ended by {result.ended_by} after {result.seconds:.0f}s (status was {result.status_before})"
            if not result.graceful:
                step.set("failed", step.detail + ": its on-completion clean-up did not run")
        ctx.say(f"{target.process} ({target.container}): {step.detail}")
        results.append(result)
    return results


def _signal(client, container_name: str, signal: str) -> None:
    from .engine import APIError, NotFound

    try:
        client.api.kill(container_name, signal=signal)
    except (NotFound, APIError):
        pass  # it ended meanwhile
