"""The tasks' machine-readable answers (``--json``): one versioned schema each, built here (pure).

Every answer is one JSON object whose ``schema`` names it and its version
(``pysystemtrade-ecosystem/<name>/<version>``). Within a version a field may be added; a field
changed or removed makes the next version. ``FIELDS`` says each schema's fields and their JSON
types (the README documents them; the tests check every answer against them). Times are ISO 8601
with their offset (UTC); secrets are masked as the tables mask them.
"""
from __future__ import annotations

from datetime import datetime, timedelta

PREFIX = "pysystemtrade-ecosystem"
HISTORY = f"{PREFIX}/history/1"
CONFIG = f"{PREFIX}/config/1"
SCHEDULE = f"{PREFIX}/schedule/1"
DOCTOR = f"{PREFIX}/doctor/1"
STATUS = f"{PREFIX}/status/1"
BRIEF = f"{PREFIX}/brief/1"

_RUN = "job:str step:str? slot:str? state:str start:str end:str? detail:str"
_OVERVIEW = {"schema": "str", "at": "str", "trading_day": "str", "inside_week": "bool", "headline": "str",
             "degraded": "bool", "problems": "list", "problems[]": "what:str fix:str",
             "services": "list", "services[]": "service:str container:str state:str health:str exit_code:int?",
             "scheduler": "dict", "scheduler.": "state:str last_looked:str? age_seconds:float?",
             "chain": "dict", "chain.": "slot:str? state:str? start:str? end:str? detail:str",
             "chain_steps": "list", "chain_steps[]": _RUN, "launches": "list", "launches[]": _RUN,
             "gateway": "dict", "gateway.": "state:str detail:str since:str? observed_at:str?",
             "statuses": "dict", "statuses_unread": "str",
             "data_safety": "list", "data_safety[]": "name:str configured:bool last_ok:str? latest_outcome:str? "
                                                    "latest_at:str? latest_detail:str",
             "disks": "list", "disks[]": "label:str path:str free_bytes:int? total_bytes:int?",
             "alerts_since": "str", "alerts": "list", "alerts[]": _RUN}

# field -> JSON type ("str", "int", "float", "bool", "list", "dict"; "?" after it: may be null); a
# list's items, when they are objects, are described under "<field>[]"
FIELDS: dict[str, dict[str, str]] = {
    HISTORY: {"schema": "str", "history": "str", "damaged_lines": "int", "runs": "list",
              "runs[]": "id:str job:str step:str? slot:str? parent:str? start:str end:str? state:str "
                        "outcome:str? duration_seconds:float? detail:str log_tail:list"},
    CONFIG: {"schema": "str", "compose_project": "str", "subnet": "str", "history": "str", "changed_only": "bool",
             "settings": "list", "settings[]": "variable:str value:str source:str"},
    SCHEDULE: {"schema": "str", "sync": "str", "slots": "list", "scheduler": "dict",
               "slots[]": "job:str slot:str at:str command:list",
               "scheduler.": "state:str last_looked:str? age_seconds:float?"},
    STATUS: _OVERVIEW,
    BRIEF: {**_OVERVIEW, "title": "str", "text": "str"},
    DOCTOR: {"schema": "str", "healthy": "bool", "failed": "int", "warned": "int", "checks": "list",
             "checks[]": "check:str verdict:str detail:str fix:str"},
}


def _time(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def history(runs, path, damaged_lines: int) -> dict:
    """`invoke history --json`: the runs shown, oldest first."""
    return {"schema": HISTORY, "history": str(path), "damaged_lines": damaged_lines,
            "runs": [{"id": r.id, "job": r.job, "step": r.step, "slot": r.slot, "parent": r.parent,
                      "start": _time(r.start), "end": _time(r.end), "state": r.state, "outcome": r.outcome,
                      "duration_seconds": r.duration.total_seconds() if r.duration is not None else None,
                      "detail": r.detail, "log_tail": list(r.log_tail)} for r in runs]}


def config(settings, rows: list[tuple[str, str, str]], *, changed_only: bool) -> dict:
    """`invoke config --json`: each setting as the table shows it (secrets masked), and where it came from."""
    return {"schema": CONFIG, "compose_project": settings.compose_project, "subnet": str(settings.subnet),
            "history": str(settings.history_path), "changed_only": changed_only,
            "settings": [{"variable": name, "value": value, "source": source} for name, value, source in rows]}


def scheduler_state(looked: datetime | None, now: datetime, *, stale: timedelta) -> tuple[str, float | None]:
    """Whether the scheduler runs, read from its heartbeat's time (pure): ``running`` only for a
    heartbeat in the past and younger than ``stale``; one from the future (a clock moved, a demo's
    simulated clock) is ``not running``, as is none at all. Return the state and the age in seconds."""
    if looked is None:
        return "no heartbeat", None
    age = (now - looked).total_seconds()
    if age < -5:  # a little skew between writer and reader is not the future
        return "not running (its heartbeat is from the future)", age
    if age > stale.total_seconds():
        return "not running", age
    return "running", age


def schedule(slots, looked: datetime | None, state: str, age: float | None) -> dict:
    """`invoke schedule --json`: the next slots of each job, and the scheduler's heartbeat."""
    return {"schema": SCHEDULE, "sync": "every minute",
            "slots": [{"job": x.job, "slot": x.key, "at": _time(x.at), "command": list(x.command)} for x in slots],
            "scheduler": {"state": state, "last_looked": _time(looked), "age_seconds": age}}


def doctor(results, redact) -> dict:
    """`invoke doctor --json`: every check with its verdict, detail and fix (secrets masked)."""
    failed = sum(r.verdict == "fail" for r in results)
    return {"schema": DOCTOR, "healthy": failed == 0, "failed": failed,
            "warned": sum(r.verdict == "warn" for r in results),
            "checks": [{"check": r.check, "verdict": r.verdict, "detail": redact(r.detail), "fix": redact(r.fix)}
                       for r in results]}


def _run(r) -> dict:
    return {"job": r.job, "step": r.step, "slot": r.slot, "state": r.state, "start": _time(r.start),
            "end": _time(r.end), "detail": r.detail}


def overview(o, *, schema: str = STATUS, redact=lambda text: text, **more) -> dict:
    """`invoke status --json` (and, with ``schema=BRIEF`` and its title and text, `invoke brief --json`):
    the overview's facts; ``statuses`` holds every process status observed, GO ones too."""
    chain = o.chain
    seen = o.observed
    answer = {
        "schema": schema, "at": _time(o.at), "trading_day": o.trading_day, "inside_week": o.inside_week,
        "headline": o.headline, "degraded": o.degraded,
        "problems": [{"what": p.what, "fix": p.fix} for p in o.problems],
        "services": [{"service": r.service, "container": r.container, "state": r.state, "health": r.health,
                      "exit_code": r.exit_code} for r in o.services],
        "scheduler": {"state": o.scheduler.state, "last_looked": _time(o.scheduler.looked),
                      "age_seconds": o.scheduler.age_seconds},
        "chain": {"slot": chain.slot if chain else None, "state": chain.state if chain else None,
                  "start": _time(chain.start) if chain else None, "end": _time(chain.end) if chain else None,
                  "detail": chain.detail if chain else ""},
        "chain_steps": [_run(r) for r in o.chain_steps], "launches": [_run(r) for r in o.launches],
        "gateway": {"state": seen.gateway or "not observed", "detail": seen.gateway_detail,
                    "since": _time(seen.gateway_since), "observed_at": _time(seen.at)},
        "statuses": dict(seen.statuses), "statuses_unread": seen.statuses_unread,
        "data_safety": [{"name": f.name, "configured": f.configured,
                         "last_ok": _time(f.last_ok.end or f.last_ok.start) if f.last_ok else None,
                         "latest_outcome": f.latest.outcome if f.latest else None,
                         "latest_at": _time(f.latest.end or f.latest.start) if f.latest else None,
                         "latest_detail": f.latest.detail if f.latest else ""} for f in o.jobs],
        "disks": [{"label": d.label, "path": d.path, "free_bytes": d.free_bytes, "total_bytes": d.total_bytes}
                  for d in o.disks],
        "alerts_since": _time(o.alerts_since), "alerts": [_run(r) for r in o.alerts], **more}
    return _masked(answer, redact)


def _masked(value, redact):
    """``value`` with every string in it passed through ``redact`` (a secret never leaves in an answer)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: _masked(item, redact) for key, item in value.items()}
    if isinstance(value, list):
        return [_masked(item, redact) for item in value]
    return value


def problems(answer: dict) -> list[str]:
    """How ``answer`` departs from its schema's ``FIELDS`` (pure; the tests use it): a missing or
    unknown field, or a value of another type."""
    kinds: dict[str, type | tuple[type, ...]] = {"str": str, "int": int, "float": (int, float), "bool": bool,
                                                 "list": list, "dict": dict}
    fields = FIELDS.get(answer.get("schema", ""))
    if fields is None:
        return [f"unknown schema {answer.get('schema')!r}"]

    def check(where: str, value, spec: str) -> list[str]:
        optional = spec.endswith("?")
        kind = spec.rstrip("?")
        if value is None:
            return [] if optional else [f"{where} is null"]
        if (kind in ("int", "float") and isinstance(value, bool)) or not isinstance(value, kinds[kind]):
            return [f"{where} is {type(value).__name__}, not {kind}"]
        return []

    def check_object(where: str, value: dict, specs: dict[str, str]) -> list[str]:
        found = [f"{where}{name} is missing" for name in specs if name not in value]
        found += [f"{where}{name} is not in the schema" for name in value if name not in specs]
        for name, spec in specs.items():
            if name in value:
                found += check(f"{where}{name}", value[name], spec)
        return found

    top = {k: v for k, v in fields.items() if not k.endswith("[]") and not k.endswith(".")}
    found = check_object("", answer, top)
    for key, spec in fields.items():
        if key.endswith("[]") or key.endswith("."):
            name = key.rstrip("[].")
            inner = dict(item.split(":", 1) for item in spec.split())
            items = answer.get(name, []) if key.endswith("[]") else [answer.get(name, {})]
            for index, item in enumerate(items):
                if not isinstance(item, dict):
                    found.append(f"{name}[{index}] is not an object")
                    continue
                found += check_object(f"{name}[{index}]." if key.endswith("[]") else f"{name}.", item, inner)
    return found
