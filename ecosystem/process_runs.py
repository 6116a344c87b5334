"""A pysystemtrade process run as its own container: launched, awaited, judged, collected.

pysystemtrade's exit code 0 means "ran" or "declined to run" (status STOP or NO-RUN, a record
that says it is already running, past its stop time). ``judge`` tells them apart from the
process-control record: a run that started has a ``last_start_time`` at or after its
container started; a declined one left the record as it was, and the record says why.

Each launch is a one-off container of a pysystemtrade service, labelled with what it is (the
process, the job that launched it, the trading day, its deadline), so a later call (the next
``weekly sync``, ``invoke status``) knows it without any state of its own. Waiting is the
engine's wait on the container (event-driven), never polling.
"""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from .process_control import CONTROL_LABEL, ProcessRecord

log = logging.getLogger(__name__)

LABEL = "org.pysystemtrade-ecosystem."
PROCESS_LABEL, JOB_LABEL, SLOT_LABEL = LABEL + "process", LABEL + "job", LABEL + "slot"
KIND_LABEL, DEADLINE_LABEL = LABEL + "kind", LABEL + "deadline"
CLOCK_TOLERANCE = timedelta(seconds=2)  # record times have whole seconds; the engine's have nanoseconds

DECLINE_FIX = ("set its status back to GO: `invoke shell --tool interactive_controls` "
               "(option 'change status of process')")


def start_since(record: ProcessRecord, started: datetime, tz: ZoneInfo) -> datetime | None:
    """Return the record's last start if it is at or after ``started`` (the container's start), else None."""
    last_start = record_time(record.last_start, tz)
    if last_start is not None and last_start < started - CLOCK_TOLERANCE:
        last_start = record_time(record.last_start, tz, fold=1)  # 01:30 twice in an autumn night: the later
    return last_start if last_start is not None and last_start >= started - CLOCK_TOLERANCE else None


def ran_since(record: ProcessRecord, started: datetime, tz: ZoneInfo) -> bool:
    """Say whether the record shows a start at or after ``started`` (the container's start)."""
    return start_since(record, started, tz) is not None


@dataclass(frozen=True)
class Verdict:
    """What a process run came to: ok | declined | failed | timed_out, why, and what to do."""

    outcome: str
    detail: str
    hint: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


# NO-RUN is decided from the record before launching: upstream's syscontrol/run_process.py
# (_is_okay_to_wait_before_starting) keeps a NO-RUN process waiting, checking every 60 s, until its stop time
NO_RUN_VERDICT = Verdict("declined", "its status is NO-RUN: not launched (pysystemtrade would wait for GO until its "
                         "stop time)", DECLINE_FIX)


def record_time(text: str | None, tz: ZoneInfo, *, fold: int = 0) -> datetime | None:
    """Return a record's time (pysystemtrade writes naive local times) as an aware instant, or None.

    ``fold=1`` reads a wall-clock time that occurs twice (the autumn DST change) as its second occurrence.
    """
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=tz, fold=fold) if moment.tzinfo is None else moment


def judge(process: str, exit_code: int, record: ProcessRecord | None, started: datetime, *, tz: ZoneInfo,
          window_start: datetime | None = None, window_stop: datetime | None = None,
          ended: datetime | None = None, oom_killed: bool = False, memory_limit: str = "") -> Verdict:
    """Given how a process container ended and the process's record read afterwards, say what happened.

    ``started`` and ``ended`` are when its container started and ended (aware). Exit 0 with a
    record whose last start is older than ``started`` is a decline; the record says which kind.
    """
    local = (lambda m: m.astimezone(tz).strftime("%H:%M")) if tz else str
    if exit_code != 0 and oom_killed:  # the engine's word: the kernel killed it at the container's limit
        limit = f" (PROCESS_MEMORY_LIMIT={memory_limit})" if memory_limit else ""
        return Verdict("failed", f"out of memory: the kernel killed it at its memory limit{limit}, exit code "
                       f"{exit_code}", f"raise PROCESS_MEMORY_LIMIT in .env (the next launch gets it), or find what "
                       f"grew: invoke logs {process} --run last")
    if exit_code != 0:
        killed = " (killed by SIGKILL; the engine reports no out-of-memory kill at its limit)" if exit_code == 137 \
            else ""
        return Verdict("failed", f"exited with code {exit_code}{killed}",
                       f"read its whole output: invoke logs {process} --run last (or --run list)")
    if record is None:
        return Verdict("failed", "exited 0, but its process-control record could not be read, so whether it ran "
                       "or declined is unknown", "check MongoDB (invoke status), then invoke logs " + process)
    last_start = start_since(record, started, tz)
    if last_start is not None:
        return Verdict("ok", f"ran: started {last_start.astimezone(tz):%H:%M:%S}, exit 0")
    if record.status == "STOP":
        return Verdict("declined", "its status is STOP (STOP persists until set back to GO)", DECLINE_FIX)
    if record.status == "NO-RUN":  # upstream waits while NO-RUN: it ended at its stop time, or by a STOP since undone
        return Verdict("declined", "its status is NO-RUN (it waited for GO and never started)", DECLINE_FIX)
    if record.running:
        pid = f" (pid {record.process_id})" if record.process_id else ""
        return Verdict("declined", f"its record says it is already running{pid}",
                       "if no such process runs (invoke status), a crash left the record: mark it finished with "
                       "`invoke shell --tool interactive_controls`, or `invoke weekly.sync` after a reboot")
    ended = ended or datetime.now(UTC)
    if window_stop is not None and ended >= window_stop:
        return Verdict("declined", f"launched after its stop time ({local(window_stop)})",
                       "launch it earlier, or move its window in private_control_config.yaml")
    if window_start is not None and ended < window_start:
        return Verdict("declined", f"ended before its start time ({local(window_start)})",
                       "check its window in private_control_config.yaml")
    return Verdict("declined", "exit 0 without starting (its record shows no new start)",
                   f"read its log: invoke logs {process}")


def clear_after_crash(control, process: str, record: ProcessRecord | None) -> str:
    """A crash leaves the process's record "running", so every later launch would decline: mark
    that one record finished (no other). Return what was done, for the run's detail."""
    from .errors import EcosystemError

    if record is not None and not record.running:
        return "its record was not left running"
    try:
        control.finish(process)
    except EcosystemError as exc:
        return f"its record could not be marked finished ({exc.message}): mark it in interactive_controls"
    return "its record was marked finished"


@dataclass(frozen=True)
class Launched:
    """A process container this ecosystem started, as its labels describe it."""

    container: str
    process: str
    job: str
    slot: str
    kind: str
    deadline: datetime | None

    @classmethod
    def from_labels(cls, name: str, labels: dict) -> Launched | None:
        if labels.get(CONTROL_LABEL) != "process" or not labels.get(PROCESS_LABEL):
            return None
        deadline = labels.get(DEADLINE_LABEL)
        return cls(name, labels[PROCESS_LABEL], labels.get(JOB_LABEL, ""), labels.get(SLOT_LABEL, ""),
                   labels.get(KIND_LABEL, ""), datetime.fromisoformat(deadline) if deadline else None)


def container_name(process: str, suffix: str, *, unique: bool) -> str:
    """Return the container name of a launch: the service's own name for the continuous
    processes (``stack_handler``, one at a time), the process and a random tail for one-shots."""
    if not unique:
        return process.removeprefix("run_") + suffix
    return f"{process}{suffix}_{uuid.uuid4().hex[:8]}"


LAUNCH = "pysys-launch"  # the image's launcher wrapper (docker/pysystemtrade/pysys-launch)


def command(launcher: str) -> list[str]:
    """Return the container command that runs upstream's ``launcher`` as its crontab would: with
    bash, whatever its mode in git (0644 upstream), its whole output kept on the logs volume."""
    return [LAUNCH, launcher]


def launcher_of(argv: list[str]) -> str:
    """Return the launcher a process container's command runs (``command``'s inverse), or ""."""
    if len(argv) == 2 and argv[0].rsplit("/", 1)[-1] == LAUNCH:
        return argv[1]
    if len(argv) == 1:  # a container started before pysys-launch, or by hand
        return argv[0].rsplit("/", 1)[-1]
    return ""


def launch(project, *, service: str, process: str, launcher: str, name: str, job: str, slot: str, kind: str,
           deadline: datetime | None) -> str:
    """Start ``launcher`` in a new detached container ``name`` of ``service``, labelled; return the name.

    The run's whole output is kept as /data/logs/runs/LAUNCHER/<time>_NAME.log (``invoke logs --run``)."""
    labels = {CONTROL_LABEL: "process", PROCESS_LABEL: process, JOB_LABEL: job, SLOT_LABEL: slot, KIND_LABEL: kind}
    if deadline is not None:
        labels[DEADLINE_LABEL] = deadline.astimezone(UTC).isoformat(timespec="seconds")
    return project.run_detached(service, command(launcher), name=name, labels=labels,
                                environment={"PYSYS_RUN_ID": name})


@dataclass(frozen=True)
class Ended:
    """A process container that has ended: its exit code and the engine's start and end times."""

    exit_code: int
    started: datetime
    finished: datetime
    oom_killed: bool = False  # the engine says the kernel killed it at its memory limit


def ended(client, container: str) -> Ended | None:
    """Return how ``container`` ended, or None while it runs (or if it is gone)."""
    from .engine import NotFound, parse_time

    try:
        state = client.api.inspect_container(container)["State"]
    except NotFound:
        return None
    if state.get("Status") in ("running", "restarting", "created", "paused"):
        return None
    now = datetime.now(UTC)
    return Ended(int(state.get("ExitCode", -1)), parse_time(state.get("StartedAt")) or now,
                 parse_time(state.get("FinishedAt")) or now, bool(state.get("OOMKilled")))


def is_running(client, container: str) -> bool:
    """Say whether ``container`` exists and runs (or is about to)."""
    from .engine import NotFound

    try:
        return client.api.inspect_container(container)["State"].get("Status") in ("running", "created", "restarting")
    except NotFound:
        return False


def started_at(client, container: str) -> datetime:
    from .engine import parse_time

    state = client.api.inspect_container(container)["State"]
    return parse_time(state.get("StartedAt")) or datetime.now(UTC)


def log_tail(client, container: str, lines: int = 15) -> tuple[str, ...]:
    """Return the last ``lines`` lines the container wrote (stdout and stderr), or ()."""
    from .engine import failures

    try:
        text = client.api.logs(container, stdout=True, stderr=True, tail=lines).decode("utf-8", "replace")
    except failures():  # gone already, or the engine with it: nothing to show
        return ()
    return tuple(line for line in text.splitlines() if line.strip())[-lines:]


def remove(client, container: str) -> None:
    from .engine import APIError, NotFound

    try:
        client.api.remove_container(container, force=True)
    except (NotFound, APIError):
        pass
