"""pysystemtrade's process control, driven through pysystemtrade's own Python API.

Every operation runs a short Python program in the pysystemtrade environment (a one-off
container of the pysystemtrade image, never the container of the process it acts on, which
may have exited) that calls ``sysproduction.data.control_process``:
``dataControlProcess().change_status_to_stop / _go / _no_run(name)``, ``finish_process(name)``,
``get_dict_of_control_processes()``, ``diagControlProcess().get_control_for_process_name(name)``,
and ``sysproduction.startup.startup()``.
The program prints one JSON line; this module parses it.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .errors import EcosystemError

CONTROL_LABEL = "org.pysystemtrade-ecosystem.role"  # marks helper containers: they run no process

log = logging.getLogger(__name__)

PROGRAM = r"""
import datetime, json, sys
operation, name = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else "")
if operation == "startup":
    from sysproduction.startup import startup
    startup()
    print(json.dumps({"ok": True}))
    sys.exit(0)
from sysproduction.data.control_process import dataControlProcess, diagControlProcess
control = dataControlProcess()
note = ""
if operation in ("stop", "go", "no_run", "pause"):
    getattr(control, "change_status_to_" + operation)(name)
elif operation == "finish":
    try:
        control.finish_process(name)
    except Exception as exc:  # upstream raises processNotRunning for a record not marked running
        if type(exc).__name__ != "processNotRunning":
            raise
        note = "not running"
elif operation not in ("record", "records"):
    raise SystemExit("unknown operation " + operation)

def plain(value):
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    return str(value)

def fields(record):
    return plain(record.as_dict() if hasattr(record, "as_dict") else vars(record))

if operation == "records":
    every = control.get_dict_of_control_processes()
    print(json.dumps({"ok": True, "records": {str(k): fields(v) for k, v in dict(every).items()}}))
    sys.exit(0)
record = diagControlProcess().get_control_for_process_name(name)
print(json.dumps({"ok": True, "record": fields(record), "note": note}))
"""

# what pysystemtrade's traceback says when MongoDB cannot be reached (pymongo's server selection)
MONGO_UNREACHABLE = ("ServerSelectionTimeoutError", "AutoReconnect", "ConnectionFailure")

# names as they appear in the record dict across pysystemtrade versions
_RUNNING_KEYS = ("currently_running", "running")


class ProcessControlError(EcosystemError):
    """pysystemtrade's process control could not be read or changed; ``process`` names it."""

    def __init__(self, message: str, *, process: str = "", fix: str = "") -> None:
        super().__init__(message, fix=fix)
        self.process = process


@dataclass(frozen=True)
class ProcessRecord:
    """A process's record in pysystemtrade's process control."""

    name: str
    status: str
    running: bool
    last_start: str | None
    last_end: str | None
    process_id: int | None
    running_methods: dict

    @classmethod
    def from_fields(cls, name: str, fields: dict) -> ProcessRecord:
        running = next((bool(fields[k]) for k in _RUNNING_KEYS if k in fields), False)
        pid = fields.get("process_id") or fields.get("pid")
        return cls(name=name, status=str(fields.get("status", "?")).upper(), running=running,
                   last_start=fields.get("last_start_time"), last_end=fields.get("last_end_time"),
                   process_id=int(str(pid)) if str(pid or "").isdigit() else None,
                   running_methods=dict(fields.get("running_methods") or {}))


Runner = Callable[[Sequence[str]], str]  # runs argv in the pysystemtrade environment, returns stdout


class ProcessControl:
    """Given a way to run Python in the pysystemtrade environment, read and change process records."""

    def __init__(self, run: Runner) -> None:
        self._run = run

    def _call(self, operation: str, name: str = "") -> dict:
        argv = ["python3", "-c", PROGRAM, operation] + ([name] if name else [])
        what = f"{operation} {name}".strip()
        try:
            out = self._run(argv)
        except EcosystemError as exc:
            output = getattr(exc, "output", "") or ""
            unreachable = next((word for word in MONGO_UNREACHABLE if word in output), "")
            if unreachable:
                raise ProcessControlError(f"process control ({what}) failed: pysystemtrade could not "
                                          f"reach MongoDB ({unreachable})", process=name,
                                          fix="check that mongo_db is up (invoke status) and that mongo_host in "
                                              "private_config.yaml is mongodb://mongo_db (invoke doctor)") from None
            raise ProcessControlError(f"process control ({what}) failed: {exc.message}",
                                      process=name, fix=exc.fix or "check that the pysystemtrade image is built "
                                      "and MongoDB is up (invoke status)") from None
        lines = [line for line in out.strip().splitlines() if line.startswith("{")]
        try:
            answer = json.loads(lines[-1])
        except (IndexError, ValueError):
            raise ProcessControlError(f"process control ({what}) gave no answer", process=name,
                                      fix="run `invoke shell` and check sysproduction imports") from None
        return answer

    def record(self, name: str) -> ProcessRecord:
        return ProcessRecord.from_fields(name, self._call("record", name)["record"])

    def stop(self, name: str) -> ProcessRecord:
        return ProcessRecord.from_fields(name, self._call("stop", name)["record"])

    def go(self, name: str) -> ProcessRecord:
        return ProcessRecord.from_fields(name, self._call("go", name)["record"])

    def no_run(self, name: str) -> ProcessRecord:
        return ProcessRecord.from_fields(name, self._call("no_run", name)["record"])

    def pause(self, name: str) -> ProcessRecord:
        return ProcessRecord.from_fields(name, self._call("pause", name)["record"])

    def finish(self, name: str) -> ProcessRecord:
        """Mark ``name`` finished (after a crash), leaving every other record alone. A record that
        is not marked running (upstream's finish_process raises processNotRunning) is left as it is."""
        return ProcessRecord.from_fields(name, self._call("finish", name)["record"])

    def records(self) -> dict[str, ProcessRecord]:
        """Return every process's record (one call); a process with none yet is absent (status GO)."""
        return {name: ProcessRecord.from_fields(name, fields)
                for name, fields in self._call("records")["records"].items()}

    def startup(self) -> None:
        """Run pysystemtrade's cold start: every process marked finished, IB client ids cleared."""
        self._call("startup")


def compose_runner(project, service: str = "daily_processes", *, timeout: float = 120) -> Runner:
    """Return a runner that executes argv in a one-off container of ``service`` (same image, volumes, network)."""
    def run(argv: Sequence[str]) -> str:
        return project.run_once(service, argv, timeout=timeout, labels={CONTROL_LABEL: "control"})
    return run


def exec_runner(client, container: str, *, timeout: float = 120) -> Runner:
    """Return a runner that executes argv in the running ``container`` (pysys_runtime: same image,
    volumes, network and environment as the processes), through the engine API: far cheaper
    than a one-off container, which matters when every step of a chain reads its record."""
    from .engine import failures as engine_failures
    from .errors import CommandFailed

    def run(argv: Sequence[str]) -> str:
        previous = client.api.timeout  # exec_start waits for the program: the client's read timeout bounds it
        client.api.timeout = max(previous or 0, timeout)
        try:
            created = client.api.exec_create(container, list(argv))
            out = client.api.exec_start(created["Id"]).decode("utf-8", "replace")
            code = client.api.exec_inspect(created["Id"]).get("ExitCode")
        except engine_failures() as exc:  # engine or container gone: the caller's error names the operation
            raise CommandFailed(f"running in {container} failed ({type(exc).__name__})", returncode=-1,
                                fix="check `invoke status`: is pysys_runtime running?") from None
        finally:
            client.api.timeout = previous
        if code == 137:  # SIGKILL: from outside, or the kernel at the runtime's memory limit
            raise CommandFailed(f"{argv[0]} in {container} was killed (exit code 137)", returncode=code,
                                output=out[-2000:], fix="if the runtime ran out of memory (docker inspect "
                                f"{container}: OOMKilled), raise RUNTIME_MEMORY_LIMIT in .env and `invoke up`")
        if code != 0:
            raise CommandFailed(f"{argv[0]} in {container} exited with code {code}", returncode=code or -1,
                                output=out[-2000:], fix="run `invoke shell` and check sysproduction imports")
        return out
    return run

