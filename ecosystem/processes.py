"""The pysystemtrade process containers: which are running, and stopping them gracefully.

pysystemtrade stops cleanly only through its STOP status (it then runs its on-completion
methods, e.g. the stack handler's end-of-day clean-up); SIGTERM kills it without them and
Docker's default (10 s, then SIGKILL) always skips them. So a stop sets STOP, waits up to a
grace for the container to end by itself, puts the status back as it was (STOP persists and
would make every later launch decline), and only then escalates: SIGTERM with a long timeout,
SIGKILL as the last resort. Waiting is event-driven (the engine's wait), never polling.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from .engine import project_containers
from .process_control import ProcessControl

log = logging.getLogger(__name__)

PROCESS_SERVICES = ("stack_handler", "capital_update", "daily_processes", "csv_backup")
# launcher / module name -> pysystemtrade's process name, where they differ
PROCESS_NAMES = {"run_daily_price_updates": "run_daily_prices_updates"}


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
        return self.ended_by == "STOP"


def process_name(container) -> str:
    """Return the pysystemtrade process a container runs, from its command (e.g. run_systems)."""
    command = container.attrs.get("Config", {}).get("Cmd") or []
    launcher = next((part.rsplit("/", 1)[-1] for part in command if "run_" in part or part == "startup"), "")
    return PROCESS_NAMES.get(launcher, launcher)


def running_processes(client, settings) -> list[RunningProcess]:
    """Return the running pysystemtrade process containers of the ecosystem."""
    found = []
    for container in project_containers(client, settings.compose_project):
        service = container.labels.get("com.docker.compose.service", "")
        if service in PROCESS_SERVICES and container.status == "running":
            name = process_name(container)
            if name:
                found.append(RunningProcess(container.name, service, name))
    return found


def _ended_within(client, container_name: str, seconds: float) -> bool:
    """Wait for the container to exit, up to ``seconds``; say whether it did."""
    import requests
    from docker.errors import NotFound

    try:
        client.api.wait(container_name, timeout=max(1, int(seconds)))
        return True
    except NotFound:
        return True  # a --rm one-off is gone once it ended
    except (requests.exceptions.ConnectionError, requests.exceptions.ReadTimeout):
        return False


def graceful_stop(client, control: ProcessControl, running: RunningProcess, *, grace: float,
                  term_timeout: float) -> StopResult:
    """Stop one process: STOP, wait ``grace``; restore its status; then SIGTERM, then SIGKILL. Say which ended it."""
    started = time.monotonic()
    before = control.record(running.process).status
    control.stop(running.process)
    try:
        if _ended_within(client, running.container, grace):
            ended_by = "STOP"
        else:
            log.warning("%s did not finish within %ss of STOP: sending SIGTERM", running.process, grace)
            ended_by = "SIGTERM"
            _signal(client, running.container, "SIGTERM")
            if not _ended_within(client, running.container, term_timeout):
                log.warning("%s ignored SIGTERM for %ss: sending SIGKILL", running.process, term_timeout)
                ended_by = "SIGKILL"
                _signal(client, running.container, "SIGKILL")
                _ended_within(client, running.container, 60)
    finally:
        restore = {"GO": control.go, "NO-RUN": control.no_run}.get(before)
        if restore is not None:
            restore(running.process)  # STOP persists otherwise: every later launch would decline
    if ended_by != "STOP":
        control.finish(running.process)  # killed: its record would say "running" and block the next launch
    return StopResult(running.process, running.container, ended_by, time.monotonic() - started, before)


def _signal(client, container_name: str, signal: str) -> None:
    from docker.errors import APIError, NotFound

    try:
        client.api.kill(container_name, signal=signal)
    except (NotFound, APIError):
        pass  # it ended meanwhile
