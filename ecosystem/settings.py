"""One validated, immutable settings object, read from .env, the environment and secret files.

Precedence for every variable: the process environment, then ``.env``, then the
built-in default. Every secret ``X`` can instead be given as ``X_FILE``, a path
whose content is the value. All problems are collected and raised together in
one ``SettingsError``; secret values never appear in it.
"""
from __future__ import annotations

import difflib
import io
import ipaddress
import logging
import os
import re
import stat
import string
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, field, fields, replace
from datetime import time
from pathlib import Path, PurePosixPath
from types import MappingProxyType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values
from dotenv.parser import parse_stream

from .errors import SettingProblem, SettingsError
from .secrets import MASK, Redactor, Secret

if TYPE_CHECKING:
    from .scheduler_plan import ScheduledJob

log = logging.getLogger(__name__)

ENV_FILE_VARIABLE = "ECOSYSTEM_ENV_FILE"
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


# --- parsers: text in, value out, ValueError with the problem otherwise -----------------

def _int_in(lo: int, hi: int, problem: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise ValueError(problem) from None
        if not lo <= value <= hi:
            raise ValueError(problem)
        return value
    return parse


_port = _int_in(1, 65535, "must be a port number from 1 to 65535")


def _non_negative_float(text: str) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        raise ValueError("must be a number of 0 or more") from None
    if value < 0 or value != value:
        raise ValueError("must be a number of 0 or more")
    return value


def _positive_minutes(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError("must be a number of minutes, e.g. 5 or 0.5") from None
    if not 0.05 <= value <= 1440:
        raise ValueError("must be from 0.05 (3 seconds, for tests) to 1440 minutes")
    return value


def _name_suffix(text: str) -> str:
    if not re.fullmatch(r"[a-z0-9_-]{0,32}", text):
        raise ValueError(
            "may only hold lowercase letters, digits, '_' and '-' (up to 32), "
            "because Docker and compose refuse other characters in names")
    return text


def _network_part(text: str) -> str:
    parts = text.strip().split(".")
    if len(parts) != 3 or not all(p.isdigit() and 0 <= int(p) <= 255 and str(int(p)) == p for p in parts):
        raise ValueError("must be the first three numbers of an IPv4 /24 network")
    network = ipaddress.ip_network(f"{text.strip()}.0/24")
    if not network.is_private:
        raise ValueError("must be a private network (10.x.x, 172.16-31.x or 192.168.x)")
    return text.strip()


def _timezone(text: str) -> str:
    name = text.strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError("is not a known IANA timezone name") from None
    return name


def _choice(*choices: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        value = text.strip().lower()
        if value not in choices:
            raise ValueError(f"must be one of: {', '.join(choices)}")
        return value
    return parse


def _log_level(text: str) -> str:
    value = text.strip().upper()
    if value not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ValueError("must be one of: DEBUG, INFO, WARNING, ERROR")
    return value


def _ip_address(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        raise ValueError("must be an IP address of this host") from None


def _container_path(text: str) -> str:
    path = text.strip()
    if not path.startswith("/") or any(c.isspace() for c in path) or ".." in PurePosixPath(path).parts:
        raise ValueError("must be an absolute path inside the containers, without spaces or '..'")
    return path.rstrip("/") or "/"


def _optional_container_path(text: str) -> str:
    return _container_path(text) if text.strip() else ""


def _host_path(text: str) -> str:
    if not text.strip():
        raise ValueError("must not be empty")
    return text.strip()


def _git_url(text: str) -> str:
    url = text.strip()
    if not url:
        return ""
    if "://" in url:
        parts = urlsplit(url)
        if parts.password is not None or (parts.username and parts.scheme in ("http", "https")):
            raise ValueError(
                "holds credentials; use the plain URL and put the token in GIT_TOKEN or GIT_TOKEN_FILE")
        if parts.scheme not in ("https", "http", "ssh", "git", "file"):
            raise ValueError("must be an https://, ssh://, git://, file:// URL, user@host:path or a local path")
    elif any(c.isspace() for c in url):
        raise ValueError("must not contain spaces")
    return url


def _branch(text: str) -> str:
    name = text.strip()
    if (not name or name.startswith(("-", "/")) or name.endswith((".", "/", ".lock")) or ".." in name
            or "//" in name or "@{" in name or re.search(r"[\s~^:?*\[\\\x00-\x1f\x7f]", name)):
        raise ValueError("is not a valid git branch name")
    return name


def _clock_12h(text: str) -> str:
    value = " ".join(text.strip().upper().split())
    if not re.fullmatch(r"(0?[1-9]|1[0-2]):[0-5][0-9] (AM|PM)", value):
        raise ValueError("must be a 12-hour time as IBC writes it, like 11:55 PM")
    return value


def _image_ref(text: str) -> str:
    ref = text.strip()
    if not re.fullmatch(r"[a-z0-9][a-z0-9._/:@-]*", ref) or ref.endswith((":", "/", "@")):
        raise ValueError("must be an image reference like name:tag or registry/name:tag")
    return ref


def _process_list(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    bad = [n for n in names if not re.fullmatch(r"run_[a-z_]+", n)]
    if bad:
        raise ValueError("must be pysystemtrade process names like run_systems, separated by commas")
    if len(set(names)) != len(names):
        raise ValueError("names a process twice")
    return names


def _process_list_or_none(text: str) -> tuple[str, ...]:
    return () if text.strip().lower() == "none" else _process_list(text)


def _process_minutes(text: str) -> dict[str, int]:
    found: dict[str, int] = {}
    for item in (i.strip() for i in text.split(",") if i.strip()):
        name, _, minutes = item.partition("=")
        name = name.strip()
        if not re.fullmatch(r"run_[a-z_]+", name) or not minutes.strip().isdigit() or int(minutes) < 1:
            raise ValueError("must be process=minutes pairs like run_systems=180,run_reports=30")
        if name in found:
            raise ValueError(f"names {name} twice")
        found[name] = int(minutes)
    return found


_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _weekday_time(text: str):
    from datetime import time as clock

    day, _, moment = text.strip().lower().partition(" ")
    hours, _, minutes = moment.strip().partition(":")
    if day[:3] not in _WEEKDAYS or not hours.isdigit() or not (minutes or "0").isdigit() \
            or int(hours) > 23 or int(minutes or 0) > 59:
        raise ValueError("must be a weekday and a 24-hour time, like sat 10:00")
    return _WEEKDAYS.index(day[:3]) + 1, clock(int(hours), int(minutes or 0))


def _weekday_time_or_none(text: str):
    return None if text.strip().lower() in ("", "none") else _weekday_time(text)


def _duration(lo: int, hi: int) -> Callable[[str], int]:
    """A duration like 30m, 90s or 1h, in seconds, from ``lo`` to ``hi``."""
    def parse(text: str) -> int:
        found = re.fullmatch(r"\s*(\d+)\s*([smh])\s*", text.lower())
        if not found:
            raise ValueError("must be a duration like 30m, 90s or 1h")
        seconds = int(found.group(1)) * {"s": 1, "m": 60, "h": 3600}[found.group(2)]
        if not lo <= seconds <= hi:
            raise ValueError(f"must be from {lo}s to {hi // 60}m")
        return seconds
    return parse


def _minutes_list(text: str) -> tuple[int, ...]:
    try:
        found = tuple(int(p) for p in text.split(",") if p.strip())
    except ValueError:
        raise ValueError("must be whole numbers of minutes separated by commas, like 1,5,15") from None
    if not found or any(not 0 <= m <= 1440 for m in found):
        raise ValueError("must be whole numbers of minutes from 0 to 1440 separated by commas, like 1,5,15")
    return found


def _times_of_day(text: str):
    from datetime import time as clock

    found = []
    if text.strip().lower() == "none":
        return ()
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        hours, colon, minutes = part.partition(":")
        if not colon or not hours.isdigit() or not minutes.isdigit() or int(hours) > 23 or int(minutes) > 59:
            raise ValueError("must be 24-hour times separated by commas, like 07:00,22:00 (none: no brief)")
        found.append(clock(int(hours), int(minutes)))
    return tuple(sorted(set(found)))


def _scheduled_jobs(text: str) -> tuple[ScheduledJob, ...]:
    from .scheduler_plan import parse_own_jobs  # the grammar of SCHEDULER_JOBS is the planner's

    return parse_own_jobs(text)


def _yes_no(text: str) -> bool:
    value = text.strip().lower()
    if value in ("yes", "true", "1", "on"):
        return True
    if value in ("no", "false", "0", "off"):
        return False
    raise ValueError("must be yes or no")


def _optional_text(text: str) -> str:
    return text.strip()


_MEMORY = re.compile(r"(\d+(?:\.\d+)?)\s*([kmg]?)b?", re.IGNORECASE)
_MEMORY_UNITS = {"": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}


def memory_bytes(text: str) -> int:
    """Given a memory size as compose writes it (512m, 2g, 1.5g; 0 for none), return bytes."""
    match = _MEMORY.fullmatch(text.strip())
    if not match:
        raise ValueError("must be a size like 512m or 2g (0: no limit)")
    return int(float(match.group(1)) * _MEMORY_UNITS[match.group(2).lower()])


def _memory(text: str) -> str:
    size = memory_bytes(text)
    if 0 < size < 64 * 1024 ** 2:
        raise ValueError("is under 64m, too little for any service (0: no limit)")
    return text.strip().lower().removesuffix("b")


def _cpus(text: str) -> str:
    try:
        value = float(text.strip())
    except ValueError:
        raise ValueError("must be a number of CPUs like 1.5 (0: no limit)") from None
    if value < 0:
        raise ValueError("must be 0 (no limit) or more")
    return f"{value:g}"


def _file_list(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _smb_server(text: str) -> str:
    server = text.strip()
    if server and (re.search(r"[\\/\s]", server)):
        raise ValueError("must be a host name or IP address only, without \\\\ or the share")
    return server


def _smb_share(text: str) -> str:
    share = text.strip()
    if share and re.search(r"[\\/]", share):
        raise ValueError("must be the share's name only; put sub-folders in SMB_FOLDER")
    return share


def _smb_folder(text: str) -> str:
    parts = [p for p in re.split(r"[\\/]+", text.strip()) if p]
    if ".." in parts or "." in parts:
        raise ValueError("must be a folder inside the share, without '.' or '..'")
    return "\\".join(parts)


def _secret(text: str) -> Secret | None:
    return Secret(text) if text else None


def _http_url_secret(text: str) -> Secret | None:
    from urllib.parse import urlsplit

    text = text.strip()
    url = urlsplit(text)
    if text and (url.scheme not in ("http", "https") or not url.netloc):
        raise ValueError("must be an http:// or https:// URL (a Healthchecks.io check or an Uptime Kuma push URL)")
    return _secret(text)


# --- the variables ------------------------------------------------------------------------

@dataclass(frozen=True)
class Variable:
    """One setting: its environment name, attribute, default text, parser, example and help."""

    name: str
    attr: str
    default: str
    parse: Callable[[str], Any]
    example: str
    help: str
    secret: bool = False
    group: str = ""
    compose: bool = False   # docker-compose.yml reads it under its own name, as it is


def _v(group: str, name: str, default: str, parse: Callable[[str], Any], example: str, help: str,
       secret: bool = False, compose: bool = False):
    """Declare a setting's variable, as the field of ``Settings`` that holds its value; ``compose``:
    docker-compose.yml reads it too (``stack.compose_env``)."""
    example = example if "=" in example else f"{name}={example}"
    return field(metadata={"variable": Variable(name, "", default, parse, example, help, secret, group, compose)})



FOREIGN_PREFIXES = ("COMPOSE_", "DOCKER_", "BUILDKIT_")


@dataclass(frozen=True, init=False, eq=False, repr=False)  # generated over ~110 fields, __init__, __eq__,
class Settings:                                # __hash__ and __repr__ cost every invoke's start ~8 ms to compile
    """The effective settings. Build with ``load_settings``; never mutate.

    Each setting is declared here once: its field is its attribute and type, and ``_v`` gives its
    variable (group, name, default, parser, example, help). ``VARIABLES``, the ``config`` table and
    ``.env.example`` are derived from these fields, in this order."""

    def __init__(self, **given: Any) -> None:
        for f in fields(self):
            if f.name in given:
                value = given.pop(f.name)
            elif f.default is not MISSING:
                value = f.default
            elif f.default_factory is not MISSING:
                value = f.default_factory()
            else:
                raise TypeError(f"Settings() needs {f.name}")
            object.__setattr__(self, f.name, value)
        if given:
            raise TypeError(f"Settings() has no field {', '.join(sorted(given))}")

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and all(getattr(self, f.name) == getattr(other, f.name) for f in fields(self))

    __hash__ = None  # type: ignore[assignment]  # equal by value, so not hashable by identity

    def __repr__(self) -> str:  # where it came from, not its values (secrets among them)
        return f"Settings(root={self.root!r}, env_file={self.env_file!r}, name_suffix={self.name_suffix!r})"

    root: Path
    env_file: Path | None
    name_suffix: str = _v(
        "Ecosystem", "NAME_SUFFIX", "", _name_suffix, "_prod",
        "appended to every container, network and volume name, so several ecosystems share one host", compose=True)
    ipv4_network_part: str = _v(
        "Ecosystem", "IPV4_NETWORK_PART", "172.28.0", _network_part, "172.28.0",
        "first three numbers of the ecosystem network's /24 subnet", compose=True)
    timezone: str = _v(
        "Ecosystem", "TIMEZONE", "Europe/London", _timezone, "Europe/London",
        "the one timezone for the trading window, every container's clock and the gateway", compose=True)
    state_dir: Path = _v(
        "Ecosystem", "STATE_DIR", ".state", _host_path, ".state",
        "where run history and scheduler state live (relative to the project folder, or absolute)")
    pysystemtrade_repo_url: str = _v(
        "pysystemtrade", "PYSYSTEMTRADE_REPO_URL", "", _git_url,
        "https://github.com/you/pysystemtrade.git", "your private pysystemtrade repository (no credentials in it)")
    pysystemtrade_clone_dir: Path = _v(
        "pysystemtrade", "PYSYSTEMTRADE_CLONE_DIR", "${STATE_DIR}/pysystemtrade", _host_path,
        ".state/pysystemtrade", "where `invoke build` keeps the clone of your repository on this host")
    private_config_dir: Path = _v(
        "pysystemtrade", "PRIVATE_CONFIG_DIR", "${PYSYSTEMTRADE_CLONE_DIR}/private", _host_path,
        "/srv/pysystemtrade-private",
        "host folder with private_config.yaml, mounted read-only into the containers", compose=True)
    pysystemtrade_branch: str = _v(
        "pysystemtrade", "PYSYSTEMTRADE_BRANCH", "master", _branch, "master",
        "the branch of that repository to build")
    git_token: Secret | None = _v(
        "pysystemtrade", "GIT_TOKEN", "", _secret, "GIT_TOKEN_FILE=/run/secrets/git_token",
        "token for the private repository and the reports remote; never stored in a clone or image", secret=True)
    git_username: str = _v(
        "pysystemtrade", "GIT_USERNAME", "x-access-token", _optional_text, "x-access-token",
        "user name git sends with GIT_TOKEN (GitHub: x-access-token, GitLab: oauth2)")
    pysys_code: str = _v(
        "pysystemtrade", "PYSYS_CODE", "/opt/pysystemtrade", _container_path, "/opt/pysystemtrade",
        "where the pysystemtrade code lives inside its containers", compose=True)
    script_path: str = _v(
        "pysystemtrade", "SCRIPT_PATH", "${PYSYS_CODE}/sysproduction/linux/scripts", _container_path,
        "/opt/pysystemtrade/sysproduction/linux/scripts",
        "pysystemtrade's launcher scripts inside its containers", compose=True)
    echo_path: str = _v(
        "pysystemtrade", "ECHO_PATH", "/data/logs/echos", _container_path, "/data/logs/echos",
        "where the processes' echo files go inside their containers (on the logs volume)", compose=True)
    log_server_port: int = _v(
        "pysystemtrade", "LOG_SERVER_PORT", "9020",
        _int_in(1024, 65535, "must be a port number from 1024 to 65535"), "LOG_SERVER_PORT=9020",
        "port of pysystemtrade's socket log server, on the processes' shared localhost (upstream's "
        "syslogging/logging_prod.yaml uses 9020)", compose=True)
    pysys_logging_config: str = _v(
        "pysystemtrade", "PYSYS_LOGGING_CONFIG", "", _optional_container_path,
        "PYSYS_LOGGING_CONFIG=/opt/private/logging_prod.yaml",
        "your own logging config inside the containers (upstream's format); empty: the ecosystem's, which sends "
        "every record to the log server on LOG_SERVER_PORT")
    pysys_build_constraints: str = _v(
        "pysystemtrade", "PYSYS_BUILD_CONSTRAINTS", "", _optional_text,
        "PYSYS_BUILD_CONSTRAINTS=/srv/pysystemtrade/constraints.txt",
        "pip constraints for installing your repository's dependencies into its image; empty: "
        "docker/pysystemtrade/build-constraints.txt (cython<3, so PyYAML 5.x builds); none: no constraints")
    pysys_run_logs_keep: int = _v(
        "pysystemtrade", "PYSYS_RUN_LOGS_KEEP", "60",
        _int_in(1, 10000, "must be a whole number from 1 to 10000"), "PYSYS_RUN_LOGS_KEEP=60",
        "how many runs' complete output are kept per process on the logs volume "
        "(invoke logs run_X --run)", compose=True)
    stop_grace_seconds: int = _v(
        "pysystemtrade", "STOP_GRACE_SECONDS", "300",
        _int_in(0, 86400, "must be a whole number of seconds from 0 to 86400"), "STOP_GRACE_SECONDS=300",
        "how long a process may take to finish after its status is set to STOP, before SIGTERM")
    stop_term_seconds: int = _v(
        "pysystemtrade", "STOP_TERM_SECONDS", "120",
        _int_in(0, 86400, "must be a whole number of seconds from 0 to 86400"), "STOP_TERM_SECONDS=120",
        "how long after SIGTERM before SIGKILL, the last resort")
    eod_chain: tuple[str, ...] = _v(
        "Trading day", "EOD_CHAIN",
        "run_daily_prices_updates,run_systems,run_strategy_order_generator,run_cleaners,run_reports,"
        "run_daily_update_multiple_adjusted_prices", _process_list,
        "EOD_CHAIN=run_daily_prices_updates,run_systems,run_strategy_order_generator,run_cleaners,run_reports",
        "the evening chain, in order (add run_backups to keep pysystemtrade's own backups)")
    morning_processes: tuple[str, ...] = _v(
        "Trading day", "MORNING_PROCESSES", "run_daily_fx_and_contract_updates", _process_list_or_none,
        "MORNING_PROCESSES=run_daily_fx_and_contract_updates", "one-shot processes launched in the morning; none: no "
        "morning process")
    launch_margin_minutes: int = _v(
        "Trading day", "LAUNCH_MARGIN_MINUTES", "5",
        _int_in(0, 120, "must be a whole number of minutes from 0 to 120"), "LAUNCH_MARGIN_MINUTES=5",
        "how long before its window opens a process is launched (it waits for its start time)")
    eod_step_timeout_minutes: int = _v(
        "Trading day", "EOD_STEP_TIMEOUT_MINUTES", "120",
        _int_in(1, 1440, "must be a whole number of minutes from 1 to 1440"), "EOD_STEP_TIMEOUT_MINUTES=120",
        "how long a one-shot process may run after its window opens before it is stopped (timed_out)")
    eod_step_timeouts: Mapping[str, int] = _v(
        "Trading day", "EOD_STEP_TIMEOUTS", "", _process_minutes,
        "EOD_STEP_TIMEOUTS=run_systems=240,run_reports=30", "per-process timeouts in minutes, overriding the one above")
    eod_stop_on_failure: tuple[str, ...] = _v(
        "Trading day", "EOD_STOP_ON_FAILURE", "run_daily_prices_updates,run_systems",
        _process_list_or_none, "EOD_STOP_ON_FAILURE=run_daily_prices_updates,run_systems",
        "chain steps whose failure (or decline, or timeout) skips the rest of the chain; others let it go on; "
        "none: nothing stops it")
    order_generator_wait_minutes: int = _v(
        "Trading day", "ORDER_GENERATOR_WAIT_MINUTES", "60",
        _int_in(0, 1440, "must be a whole number of minutes from 0 to 1440"), "ORDER_GENERATOR_WAIT_MINUTES=60",
        "how long the order generator waits for the day's stack handler to end before it fails")
    crash_relaunch_limit: int = _v(
        "Trading day", "CRASH_RELAUNCH_LIMIT", "3",
        _int_in(0, 50, "must be a whole number from 0 to 50"), "CRASH_RELAUNCH_LIMIT=3",
        "how many times a day a crashed stack handler or capital update is launched again")
    relaunch_backoff_minutes: tuple[int, ...] = _v(
        "Trading day", "RELAUNCH_BACKOFF_MINUTES", "1,5,15", _minutes_list, "RELAUNCH_BACKOFF_MINUTES=1,5,15",
        "how long after its crash each relaunch of a continuous process waits: the first, the second, ...; "
        "the last repeats")
    broker_processes: tuple[str, ...] = _v(
        "Trading day", "BROKER_PROCESSES",
        "run_stack_handler,run_capital_update,run_daily_prices_updates,run_daily_fx_and_contract_updates",
        _process_list_or_none, "BROKER_PROCESSES=run_stack_handler,run_capital_update",
        "processes that need the broker: not launched while the gateway is not logged in (they wait, spending "
        "no relaunch); upstream's stack handler, capital, price and FX updates talk to IB; none: no wait")
    scheduler_catchup_hours: int = _v(
        "Scheduler", "SCHEDULER_CATCHUP_HOURS", "6",
        _int_in(0, 72, "must be a whole number of hours from 0 to 72"), "SCHEDULER_CATCHUP_HOURS=6",
        "how long after its time a missed backup, offload or reports run is still caught up")
    offload_max_age_hours: int = _v(
        "Scheduler", "OFFLOAD_MAX_AGE_HOURS", "36",
        _int_in(1, 720, "must be a whole number of hours from 1 to 720"), "OFFLOAD_MAX_AGE_HOURS=36",
        "the scheduler alerts when no offload has succeeded for this long (with SMB configured)")
    weekend_pipeline_at: tuple[int, time] = _v(
        "Scheduler", "WEEKEND_PIPELINE_AT", "sat 10:00", _weekday_time,
        "WEEKEND_PIPELINE_AT=sat 10:00", "when the weekend pipeline (cold backup, restore drill, offload) runs")
    gateway_check_at: tuple[int, time] = _v(
        "Scheduler", "GATEWAY_CHECK_AT", "sun 20:00", _weekday_time, "GATEWAY_CHECK_AT=sun 20:00",
        "when the gateway's login is checked before the week (IBKR asks for a full login every Sunday)")
    scheduler_jobs: tuple[ScheduledJob, ...] = _v(
        "Scheduler", "SCHEDULER_JOBS", "", _scheduled_jobs,
        "SCHEDULER_JOBS=backup --what=csv @ sat 12:00; gateway.status @ trading 07:30",
        "your own scheduled jobs, no code needed: 'TASK [ARGS] @ DAYS HH:MM' separated by ';' "
        "(DAYS: daily, trading, mon,wed or mon-fri); each runs once a day at most, with catch-up as above")
    alert_urls: Secret | None = _v(
        "Alerts", "ALERT_URLS", "", _secret, "ALERT_URLS_FILE=/run/secrets/alert_urls",
        "where failure alerts go: Apprise URLs separated by spaces (mailto://, tgram://, slack://, ...); "
        "they may hold passwords", secret=True)
    alert_throttle_minutes: int = _v(
        "Alerts", "ALERT_THROTTLE_MINUTES", "60",
        _int_in(0, 10080, "must be a whole number of minutes from 0 to 10080"), "ALERT_THROTTLE_MINUTES=60",
        "the same alert is sent at most once in this many minutes (the next one says how many were held back)")
    brief_at: tuple[time, ...] = _v(
        "Alerts", "BRIEF_AT", "07:00,22:00", _times_of_day, "BRIEF_AT=07:00,22:00",
        "when, on trading days, the brief goes to ALERT_URLS (all good, or the problems; the last chain, the "
        "gateway, the last good backup, offload and drill, free disk, the alerts since the last brief); none: "
        "never (an empty value is the default)")
    heartbeat_url: Secret | None = _v(
        "Alerts", "HEARTBEAT_URL", "", _http_url_secret, "HEARTBEAT_URL_FILE=/run/secrets/heartbeat_url",
        "a dead-man's switch: a Healthchecks.io check URL (or an Uptime Kuma push URL) that the scheduler pings "
        "every HEARTBEAT_INTERVAL_MINUTES and at the start, success or failure of each nightly and weekend "
        "pipeline, so a dead box or a stopped scheduler alerts from outside; it is a secret", secret=True)
    heartbeat_interval_minutes: float = _v(
        "Alerts", "HEARTBEAT_INTERVAL_MINUTES", "5", _positive_minutes, "HEARTBEAT_INTERVAL_MINUTES=5",
        "how often the scheduler pings HEARTBEAT_URL while it runs (the check's period should be a little longer)")
    log_level: str = _v(
        "Alerts", "LOG_LEVEL", "WARNING", _log_level, "LOG_LEVEL=WARNING",
        "what the tasks' own log lines show on stderr (and in STATE_DIR/logs/scheduler.log for run-scheduler, "
        "at INFO or finer); DEBUG also prints the traceback behind a known failure")
    lock_wait_seconds: int = _v(
        "Alerts", "LOCK_WAIT_SECONDS", "60",
        _int_in(0, 86400, "must be a whole number of seconds from 0 to 86400"), "LOCK_WAIT_SECONDS=60",
        "how long backup, restore, offload and eod wait for another run of themselves to end before they give up, "
        "recorded busy with exit code 75")
    python_base_image: str = _v(
        "Images", "PYTHON_BASE_IMAGE", "python:3.10-slim-bookworm", _image_ref,
        "python:3.10-slim-bookworm", "base of the pysystemtrade, Jupyter and stand-in images")
    mongo_image: str = _v(
        "Images", "MONGO_IMAGE", "mongo:7.0", _image_ref, "mongo:7.0",
        "the MongoDB image (pinned major version)", compose=True)
    gateway_base_image: str = _v(
        "Images", "GATEWAY_BASE_IMAGE", "ghcr.io/gnzsnz/ib-gateway:stable", _image_ref,
        "ghcr.io/gnzsnz/ib-gateway:stable", "the IB Gateway image ib_gateway/Dockerfile builds on")
    container_uid: int = _v(
        "Images", "CONTAINER_UID", "1000",
        _int_in(1, 65534, "must be a non-root user id from 1 to 65534"), "CONTAINER_UID=1000",
        "user id the pysystemtrade, Jupyter and gateway processes run as; owns their secret files")
    jupyterlab_version: str = _v(
        "Images", "JUPYTERLAB_VERSION", "4.4.9", _optional_text, "4.4.9",
        "JupyterLab version installed in the Jupyter image")
    workflow_weekday_start: int = _v(
        "Trading week", "WORKFLOW_WEEKDAY_START", "1",
        _int_in(1, 7, "must be 1 (Monday) to 7 (Sunday)"), "WORKFLOW_WEEKDAY_START=1",
        "first day of the trading week, 1 (Monday) to 7 (Sunday)")
    workflow_weekday_end: int = _v(
        "Trading week", "WORKFLOW_WEEKDAY_END", "5",
        _int_in(1, 7, "must be 1 (Monday) to 7 (Sunday)"), "WORKFLOW_WEEKDAY_END=5",
        "last day of the trading week, 1 (Monday) to 7 (Sunday)")
    hour_to_stop_workflow_on_end_weekday: int = _v(
        "Trading week", "HOUR_TO_STOP_WORKFLOW_ON_END_WEEKDAY", "24",
        _int_in(0, 24, "must be a whole hour from 0 to 24 (24 means the end of that day)"),
        "HOUR_TO_STOP_WORKFLOW_ON_END_WEEKDAY=24", "hour the window closes on its last day; 24 is midnight at its end")
    trading_mode: str = _v(
        "Gateway", "TRADING_MODE", "paper", _choice("paper", "live"), "TRADING_MODE=paper",
        "paper or live", compose=True)
    twsuserid: Secret | None = _v(
        "Gateway", "TWSUSERID", "", _secret, "TWSUSERID_FILE=/run/secrets/tws_user",
        "IB user name for the gateway", secret=True)
    twspassword: Secret | None = _v(
        "Gateway", "TWSPASSWORD", "", _secret, "TWSPASSWORD_FILE=/run/secrets/tws_password",
        "IB password for the gateway", secret=True)
    gateway_auto_restart_time: str = _v(
        "Gateway", "GATEWAY_AUTO_RESTART_TIME", "11:55 PM", _clock_12h, "11:55 PM",
        "the gateway's daily restart (IBC), in TIMEZONE; must fall in pysystemtrade's dead time", compose=True)
    gateway_restart_grace_minutes: int = _v(
        "Gateway", "GATEWAY_RESTART_GRACE_MINUTES", "10",
        _int_in(1, 120, "must be a whole number of minutes from 1 to 120"), "GATEWAY_RESTART_GRACE_MINUTES=10",
        "how long after its daily restart the gateway may be logged out without an alert (it logs in by itself)")
    gateway_weekly_login_at: tuple[int, time] | None = _v(
        "Gateway", "GATEWAY_WEEKLY_LOGIN_AT", "sun 18:00", _weekday_time_or_none, "GATEWAY_WEEKLY_LOGIN_AT=sun 18:00",
        "when the scheduler restarts the gateway for IBKR's weekly full login (2FA), at a time you can approve it "
        "(TIMEZONE; after IBKR's Sunday reset); you are told to approve it then; none: IBKR's own time")
    gateway_login_window: int = _v(
        "Gateway", "GATEWAY_LOGIN_WINDOW", "30m", _duration(10, 4 * 3600), "GATEWAY_LOGIN_WINDOW=30m",
        "how long the weekly login waits for your approval (a duration: 30m, 1h, 90s)")
    gateway_twofa_retry: int = _v(
        "Gateway", "GATEWAY_TWOFA_RETRY", "3m", _duration(5, 3600), "GATEWAY_TWOFA_RETRY=3m",
        "how often the weekly login reminds you to approve: an IBKR 2FA request lasts about 3 min, then the "
        "gateway (RELOGIN_AFTER_TWOFA_TIMEOUT) sends a new one")
    vnc_password: Secret | None = _v(
        "Gateway", "VNC_PASSWORD", "", _secret, "VNC_PASSWORD_FILE=/run/secrets/vnc_password",
        "password of the gateway's VNC; without one the gateway runs no VNC server", secret=True)
    mongo_root_user: str = _v(
        "MongoDB", "MONGO_ROOT_USER", "", _optional_text, "MONGO_ROOT_USER=admin",
        "MongoDB root user; with MONGO_ROOT_PASSWORD it turns authentication on", compose=True)
    mongo_root_password: Secret | None = _v(
        "MongoDB", "MONGO_ROOT_PASSWORD", "", _secret,
        "MONGO_ROOT_PASSWORD_FILE=/run/secrets/mongo_root_password", "MongoDB root password", secret=True)
    jupyter_token: Secret | None = _v(
        "Jupyter", "JUPYTER_TOKEN", "", _secret, "JUPYTER_TOKEN_FILE=/run/secrets/jupyter_token",
        "token Jupyter asks for; when unset, `invoke setup` generates one under STATE_DIR", secret=True)
    status_page_token: Secret | None = _v(
        "Status page", "STATUS_PAGE_TOKEN", "", _secret, "STATUS_PAGE_TOKEN_FILE=/run/secrets/status_page_token",
        "token the status page asks for (as ?token=...) when BIND_ADDRESS is not loopback; when unset there, "
        "`invoke setup` generates one under STATE_DIR (on loopback none is asked for)", secret=True)
    bind_address: str = _v(
        "Host ports", "BIND_ADDRESS", "127.0.0.1", _ip_address, "BIND_ADDRESS=127.0.0.1",
        "the host address every published port binds to; anyone reaching the IB API port can trade", compose=True)
    ib_api_port: int = _v(
        "Host ports", "IB_API_PORT", "4001",
        _port, "IB_API_PORT=4001",
        "host port of the IB API", compose=True)
    vnc_port: int = _v(
        "Host ports", "VNC_PORT", "5900",
        _port, "VNC_PORT=5900",
        "host port of the gateway's VNC", compose=True)
    jupyter_port: int = _v(
        "Host ports", "JUPYTER_PORT", "8888",
        _port, "JUPYTER_PORT=8888",
        "host port of Jupyter", compose=True)
    status_page_port: int = _v(
        "Host ports", "STATUS_PAGE_PORT", "8787",
        _port, "STATUS_PAGE_PORT=8787",
        "host port of the status page", compose=True)
    dashboard_port: int = _v(
        "Host ports", "DASHBOARD_PORT", "8050",
        _port, "DASHBOARD_PORT=8050",
        "host port of upstream's dashboard (invoke up --services dashboard), published by pysys_runtime",
        compose=True)
    backup_dir: Path = _v(
        "Backups", "BACKUP_DIR", "backup", _host_path, "backup",
        "where backup sets are written (relative to the project folder, or absolute)", compose=True)
    backup_keep_last: int = _v(
        "Backups", "BACKUP_KEEP_LAST", "7",
        _int_in(0, 100000, "must be a whole number of 0 or more"), "BACKUP_KEEP_LAST=7", "newest sets always kept")
    backup_keep_daily: int = _v(
        "Backups", "BACKUP_KEEP_DAILY", "14",
        _int_in(0, 100000, "must be a whole number of 0 or more"), "BACKUP_KEEP_DAILY=14",
        "days that keep their last set")
    backup_keep_weekly: int = _v(
        "Backups", "BACKUP_KEEP_WEEKLY", "8",
        _int_in(0, 100000, "must be a whole number of 0 or more"), "BACKUP_KEEP_WEEKLY=8",
        "weeks that keep their last set")
    backup_min_free_gb: float = _v(
        "Backups", "BACKUP_MIN_FREE_GB", "10", _non_negative_float, "BACKUP_MIN_FREE_GB=10",
        "free disk space below which doctor fails")
    backup_suspect_ratio: float = _v(
        "Backups", "BACKUP_SUSPECT_RATIO", "0.5", _non_negative_float,
        "BACKUP_SUSPECT_RATIO=0.5", "a set smaller than this share of the previous good one is suspect, never good")
    backup_wait_minutes: int = _v(
        "Backups", "BACKUP_WAIT_MINUTES", "60",
        _int_in(0, 1440, "must be a whole number of minutes from 0 to 1440"), "BACKUP_WAIT_MINUTES=60",
        "how long a backup waits for running pysystemtrade processes to end before it fails (unless --force)")
    backup_key_file: Path = _v(
        "Backups", "BACKUP_KEY_FILE", "${STATE_DIR}/backup-key.txt", _host_path,
        "BACKUP_KEY_FILE=.state/backup-key.txt",
        "the age key (0600) the sets on the share and each set's ecosystem state are encrypted to; `invoke setup` "
        "makes it when there is none and shows it once: keep a copy off this box")
    smb_server: str = _v(
        "SMB offload", "SMB_SERVER", "", _smb_server, "SMB_SERVER=nas.local",
        "host name or address of the SMB server; empty turns offload off")
    smb_port: int = _v(
        "SMB offload", "SMB_PORT", "445",
        _port, "SMB_PORT=445", "SMB server port")
    smb_share: str = _v(
        "SMB offload", "SMB_SHARE", "", _smb_share, "SMB_SHARE=backups", "share name")
    smb_folder: str = _v(
        "SMB offload", "SMB_FOLDER", "", _smb_folder, "SMB_FOLDER=pysystemtrade",
        "folder inside the share")
    smb_user: str = _v(
        "SMB offload", "SMB_USER", "", _optional_text, "SMB_USER=trader", "SMB user name")
    smb_password: Secret | None = _v(
        "SMB offload", "SMB_PASSWORD", "", _secret, "SMB_PASSWORD_FILE=/run/secrets/smb_password",
        "SMB password", secret=True)
    smb_encrypt: bool = _v(
        "SMB offload", "SMB_ENCRYPT", "no", _yes_no, "SMB_ENCRYPT=yes",
        "require SMB3 encryption of the session (the server must support it)")
    smb_verify: bool = _v(
        "SMB offload", "SMB_VERIFY", "yes", _yes_no, "SMB_VERIFY=yes",
        "read every uploaded file back, decrypt it and compare its SHA-256 with the manifest")
    offload_keep_last: int = _v(
        "SMB offload", "OFFLOAD_KEEP_LAST", "14",
        _int_in(0, 100000, "must be a whole number of 0 or more"), "OFFLOAD_KEEP_LAST=14",
        "newest sets always kept on the share")
    offload_keep_daily: int = _v(
        "SMB offload", "OFFLOAD_KEEP_DAILY", "30",
        _int_in(0, 100000, "must be a whole number of 0 or more"), "OFFLOAD_KEEP_DAILY=30",
        "days that keep their last set on the share")
    offload_keep_weekly: int = _v(
        "SMB offload", "OFFLOAD_KEEP_WEEKLY", "26",
        _int_in(0, 100000, "must be a whole number of 0 or more"), "OFFLOAD_KEEP_WEEKLY=26",
        "weeks that keep their last set on the share")
    drill_from_share_every: int = _v(
        "SMB offload", "DRILL_FROM_SHARE_EVERY", "4",
        _int_in(0, 52, "must be a whole number of weeks from 0 to 52"), "DRILL_FROM_SHARE_EVERY=4",
        "every this many weeks the weekend pipeline's drill fetches its set back from the share (after the "
        "offload) instead of reading the local copy; 0: never")
    reports_dir: Path = _v(
        "Reports", "REPORTS_DIR", "reports", _host_path, "reports",
        "where pysystemtrade writes its reports (relative to the project folder, or absolute)", compose=True)
    reports_remote: str = _v(
        "Reports", "REPORTS_REMOTE", "", _git_url, "REPORTS_REMOTE=https://github.com/you/reports.git",
        "git remote the daily reports are pushed to; empty turns it off")
    reports_branch: str = _v(
        "Reports", "REPORTS_BRANCH", "main", _branch, "REPORTS_BRANCH=main",
        "branch of the reports remote")
    extra_compose_files: tuple[Path, ...] = _v(
        "Limits and compose", "EXTRA_COMPOSE_FILES", "", _file_list,
        "EXTRA_COMPOSE_FILES=compose.monitoring.yml",
        "more compose files, after docker-compose.yml and docker-compose.override.yml (which is read when it "
        "exists, as `docker compose` does): comma-separated, relative to the project folder, or absolute")
    mongo_memory_limit: str = _v(
        "Limits and compose", "MONGO_MEMORY_LIMIT", "2g", _memory, "MONGO_MEMORY_LIMIT=4g",
        "memory limit of MongoDB (and of the backup and restore tools' containers); 0: none", compose=True)
    mongo_cpus: str = _v(
        "Limits and compose", "MONGO_CPUS", "0", _cpus, "MONGO_CPUS=1.5",
        "CPU limit of MongoDB; 0: none", compose=True)
    gateway_java_heap_mb: int = _v(
        "Limits and compose", "GATEWAY_JAVA_HEAP_MB", "768",
        _int_in(256, 65536, "must be a whole number of megabytes from 256 to 65536"), "GATEWAY_JAVA_HEAP_MB=1024",
        "the gateway's Java heap (the image's JAVA_HEAP_SIZE, default 768)", compose=True)
    gateway_memory_limit: str = _v(
        "Limits and compose", "GATEWAY_MEMORY_LIMIT", "1536m", _memory, "GATEWAY_MEMORY_LIMIT=2g",
        "memory limit of the gateway's container: its Java heap plus at least 512m; 0: none", compose=True)
    gateway_cpus: str = _v(
        "Limits and compose", "GATEWAY_CPUS", "0", _cpus, "GATEWAY_CPUS=1",
        "CPU limit of the gateway; 0: none", compose=True)
    process_memory_limit: str = _v(
        "Limits and compose", "PROCESS_MEMORY_LIMIT", "6g", _memory, "PROCESS_MEMORY_LIMIT=8g",
        "memory limit of each pysystemtrade process's container (a run over it is reported out of memory); 0: none",
        compose=True)
    process_cpus: str = _v(
        "Limits and compose", "PROCESS_CPUS", "0", _cpus, "PROCESS_CPUS=1",
        "CPU limit of each pysystemtrade process; 0: none", compose=True)
    runtime_memory_limit: str = _v(
        "Limits and compose", "RUNTIME_MEMORY_LIMIT", "2g", _memory, "RUNTIME_MEMORY_LIMIT=4g",
        "memory limit of pysys_runtime: the log server, and the process-control operations the tasks run in it "
        "(each imports pysystemtrade, a few hundred MB, several at once); 0: none", compose=True)
    jupyter_memory_limit: str = _v(
        "Limits and compose", "JUPYTER_MEMORY_LIMIT", "4g", _memory, "JUPYTER_MEMORY_LIMIT=8g",
        "memory limit of Jupyter; 0: none", compose=True)
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)
    warnings: tuple[str, ...] = ()

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def job_stop_seconds(self) -> int:
        """How long a job asked to stop (SIGTERM) may take: a process's graceful stop (STOP, then
        SIGTERM, then SIGKILL) and a minute for the job to record it and release its locks."""
        return self.stop_grace_seconds + self.stop_term_seconds + 60

    @property
    def compose_project(self) -> str:
        return f"pysystemtrade{self.name_suffix}"

    @property
    def subnet(self) -> str:
        return f"{self.ipv4_network_part}.0/24"

    @property
    def history_path(self) -> Path:
        return self.state_dir / "history.jsonl"

    @property
    def smb_configured(self) -> bool:
        return bool(self.smb_server)

    @property
    def host_ports(self) -> dict[str, int]:
        return {"IB_API_PORT": self.ib_api_port, "VNC_PORT": self.vnc_port, "JUPYTER_PORT": self.jupyter_port,
                "STATUS_PAGE_PORT": self.status_page_port, "DASHBOARD_PORT": self.dashboard_port}

    def secret_values(self) -> list[str]:
        """Every secret's value, and the secret parts of the URLs among them (a password, a token in the
        path), which a library may print on their own."""
        values = [s.reveal() for v in VARIABLES if v.secret and (s := getattr(self, v.attr))]
        return values + [part for value in values for part in _url_secrets(value)]

    def redactor(self) -> Redactor:
        return Redactor(self.secret_values())

    def changed(self) -> list[tuple[str, str, str]]:
        """Return the rows of ``shown`` that the trader set to something else than the built-in default
        (a value given at its default is not a change)."""
        defaults = load_settings(self.root, env_file=self.root / ".env.none", environ={})
        differs = {v.name for v in VARIABLES if getattr(self, v.attr) != getattr(defaults, v.attr)}
        return [row for row in self.shown() if row[0] in differs and row[2] != "default"]

    def shown(self) -> list[tuple[str, str, str]]:
        """Return (variable, value as shown, source) for every setting, secrets masked."""
        rows = []
        for var in VARIABLES:
            value = getattr(self, var.attr)
            if var.secret:
                text = MASK if value else "(not set)"
            elif isinstance(value, Path):
                text = str(value)
            else:
                text = str(value) if value != "" else "(empty)"
            rows.append((var.name, text, self.sources.get(var.name, "default")))
        return rows


VARIABLES: tuple[Variable, ...] = tuple(replace(f.metadata["variable"], attr=f.name) for f in fields(Settings)
                                        if "variable" in f.metadata)
SECRET_NAMES = frozenset(v.name for v in VARIABLES if v.secret)
KNOWN_NAMES = frozenset(v.name for v in VARIABLES) | {f"{n}_FILE" for n in SECRET_NAMES} | {ENV_FILE_VARIABLE}


def _url_secrets(value: str) -> list[str]:
    from urllib.parse import urlsplit

    found = []
    for word in value.split():
        if "://" not in word:
            continue
        try:
            url = urlsplit(word)
            credentials = "@" in url.netloc or not url.netloc.rpartition(":")[2].isdigit()  # tgram://bot:token/
            found += [url.password or "", url.netloc if credentials and ":" in url.netloc else ""]
        except ValueError:
            continue
        found += [seg for seg in url.path.split("/") if len(seg) >= 8 and any(ch.isdigit() for ch in seg)]
    return [part for part in found if len(part) >= 4]


# --- loading ------------------------------------------------------------------------------

def _read_env_file(path: Path, problems: list[SettingProblem], warnings: list[str]) -> dict[str, str]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        warnings.append(f"no .env at {path}: built-in defaults apply (copy .env.example to .env to configure)")
        return {}
    except OSError as exc:
        problems.append(SettingProblem("", "", f"cannot read {path}: {exc.strerror}; check its permissions"))
        return {}
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        problems.append(SettingProblem("", "", f"{path} is not UTF-8 text; save it as UTF-8"))
        return {}
    for binding in parse_stream(io.StringIO(text)):
        if binding.error:
            problems.append(SettingProblem(
                "", "", f"{path.name} line {binding.original.line}: cannot be read as NAME=value",
                "WORKFLOW_WEEKDAY_START=1 or GIT_TOKEN='value with spaces'"))
    dotenv_logger = logging.getLogger("dotenv.main")
    previous = dotenv_logger.disabled
    dotenv_logger.disabled = True
    try:
        values = {k: (v if v is not None else "") for k, v in dotenv_values(stream=io.StringIO(text)).items()}
    finally:
        dotenv_logger.disabled = previous
    return values


def _unknown_names(names: list[str]) -> list[str]:
    notes = []
    for name in names:
        if name in KNOWN_NAMES or name.startswith(FOREIGN_PREFIXES):
            continue
        guess = difflib.get_close_matches(name, sorted(KNOWN_NAMES), n=1)
        hint = f"; did you mean {guess[0]}?" if guess else "; it is ignored"
        notes.append(f".env sets {name}, which is not a setting{hint}")
    return notes


def _read_secret_file(var: Variable, path_text: str, root: Path, problems: list[SettingProblem]) -> str | None:
    path = Path(path_text).expanduser()
    if not path.is_absolute():
        path = root / path
    shown = str(path)
    try:
        content = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        problems.append(SettingProblem(f"{var.name}_FILE", shown,
                                       "file does not exist; create it or unset the variable",
                                       var.example))
        return None
    except IsADirectoryError:
        problems.append(SettingProblem(f"{var.name}_FILE", shown, "is a folder, not a file", var.example))
        return None
    except PermissionError:
        problems.append(SettingProblem(f"{var.name}_FILE", shown, "cannot be read by this user; check its permissions"))
        return None
    except UnicodeDecodeError:
        problems.append(SettingProblem(f"{var.name}_FILE", shown, "is not UTF-8 text"))
        return None
    value = content.rstrip("\r\n")
    if not value:
        problems.append(SettingProblem(f"{var.name}_FILE", shown, "file is empty; write the secret into it"))
        return None
    return value


def env_line(name: str, value: str) -> str:
    """One ``.env`` line that python-dotenv reads back as exactly ``value`` (single-quoted, so
    nothing in it is expanded; double-quoted with escapes where it holds a quote, a backslash or a
    line break). Raise ValueError for what no line can hold: ``${`` together with one of those."""
    if not any(c in value for c in "'\\\n"):
        return f"{name}='{value}'\n"
    if "${" in value:
        raise ValueError(f"{name}: a value with ${{ and a quote, backslash or line break cannot be written to a "
                         ".env unchanged")
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'{name}="{escaped}"\n'


def write_env_file(path: Path, values: Mapping[str, str]) -> Path:
    """Write ``values`` as the ``.env`` at ``path`` (atomically, readable only by its owner: it
    holds secrets); return the path."""
    from .state_files import write_text

    write_text(Path(path), "".join(env_line(k, str(v)) for k, v in values.items()), mode=0o600)
    return Path(path)


def load_settings(root: Path, *, env_file: Path | None = None,
                  environ: Mapping[str, str] | None = None) -> Settings:
    """Given the project folder, read .env, the environment and secret files into one Settings.

    Raise SettingsError listing every problem if any value is bad.
    """
    environ = os.environ if environ is None else environ
    root = Path(root).resolve()
    if env_file is None:
        env_file = Path(environ[ENV_FILE_VARIABLE]) if environ.get(ENV_FILE_VARIABLE) else root / ".env"
    env_file = env_file if env_file.is_absolute() else root / env_file

    problems: list[SettingProblem] = []
    warnings: list[str] = []
    from_file = _read_env_file(env_file, problems, warnings)
    warnings += _unknown_names(list(from_file))

    raw: dict[str, str] = {}
    sources: dict[str, str] = {}
    for var in VARIABLES:
        if environ.get(var.name, "") != "":
            raw[var.name], sources[var.name] = environ[var.name], "environment"
        elif from_file.get(var.name, "") != "":
            raw[var.name], sources[var.name] = from_file[var.name], ".env"

    values: dict[str, Any] = {}
    bad: set[str] = set()
    texts: dict[str, str] = {}  # each variable's text once resolved, for defaults that name it
    for var in VARIABLES:
        if var.secret:
            values[var.attr] = _resolve_secret(var, environ, from_file, root, raw, sources, problems)
            continue
        text = raw.get(var.name)
        if text is None:
            template = string.Template(var.default)
            if set(template.get_identifiers()) & bad:
                continue  # derived from a bad value: that value's problem is already listed
            text = template.safe_substitute(raw | texts)
        texts[var.name] = text
        try:
            values[var.attr] = var.parse(text)
        except ValueError as exc:
            bad.add(var.name)
            problems.append(SettingProblem(var.name, _shown_bad_value(var, text), str(exc), var.example))

    if not problems:
        _cross_checks(values, problems, warnings)
    if not problems and from_file and any(n in from_file and from_file[n] for n in SECRET_NAMES):
        mode = env_file.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            warnings.append(f"{env_file} holds secrets and other users can read it; run: chmod 600 {env_file}")
    if problems:
        raise SettingsError(problems, source=str(env_file))

    for attr in ("state_dir", "backup_dir", "reports_dir", "pysystemtrade_clone_dir", "private_config_dir",
                 "backup_key_file"):
        path = Path(values[attr]).expanduser()
        values[attr] = path if path.is_absolute() else root / path
    files = [Path(name).expanduser() for name in values["extra_compose_files"]]
    values["extra_compose_files"] = tuple(path if path.is_absolute() else root / path for path in files)
    missing = [str(path) for path in values["extra_compose_files"] if not path.is_file()]
    if missing:
        raise SettingsError([SettingProblem("EXTRA_COMPOSE_FILES", ", ".join(missing), "names no file there; create "
                                            "it or remove it from the list", "EXTRA_COMPOSE_FILES=compose.extra.yml")],
                            source=str(env_file))
    if not ipaddress.ip_address(values["bind_address"]).is_loopback:
        warnings.append(f"BIND_ADDRESS={values['bind_address']} publishes the IB API, VNC and Jupyter beyond this "
                        "host; anyone who reaches the IB API port can trade the account")
    return Settings(root=root, env_file=env_file if env_file.exists() else None,
                    sources=MappingProxyType(sources), warnings=tuple(warnings), **values)


def _shown_bad_value(var: Variable, text: str) -> str:
    if var.parse is _git_url and "@" in text:
        return "<hidden: holds credentials>"
    return repr(text) if (not text or any(c.isspace() for c in text)) else text


def _resolve_secret(var: Variable, environ: Mapping[str, str], from_file: Mapping[str, str], root: Path,
                    raw: dict[str, str], sources: dict[str, str], problems: list[SettingProblem]) -> Secret | None:
    file_name = f"{var.name}_FILE"
    file_path = environ.get(file_name) or from_file.get(file_name) or ""
    direct = raw.get(var.name, "")
    if direct and file_path:
        problems.append(SettingProblem(var.name, "<hidden>", f"is set both directly and as {file_name}; keep one",
                                       f"{file_name}=/run/secrets/{var.name.lower()} alone"))
        return None
    if file_path:
        value = _read_secret_file(var, file_path, root, problems) or ""
        sources[var.name] = f"file ({file_name})"
    else:
        value = direct
    try:
        return var.parse(value)  # a secret's own rules (a URL's form); its value is never shown
    except ValueError as exc:
        problems.append(SettingProblem(var.name, "<hidden>", str(exc), var.example))
        return None


def _cross_checks(values: dict[str, Any], problems: list[SettingProblem], warnings: list[str]) -> None:
    limit = memory_bytes(values["gateway_memory_limit"])
    needed = (values["gateway_java_heap_mb"] + 512) * 1024 ** 2
    if limit and limit < needed:
        problems.append(SettingProblem("GATEWAY_MEMORY_LIMIT", values["gateway_memory_limit"],
                                       f"leaves too little beside the Java heap (GATEWAY_JAVA_HEAP_MB="
                                       f"{values['gateway_java_heap_mb']}): it needs the heap plus 512m",
                                       f"GATEWAY_MEMORY_LIMIT={-(-needed // 1024 ** 2)}m"))
    ports = {"IB_API_PORT": values["ib_api_port"], "VNC_PORT": values["vnc_port"],
             "JUPYTER_PORT": values["jupyter_port"], "STATUS_PAGE_PORT": values["status_page_port"],
             "DASHBOARD_PORT": values["dashboard_port"]}
    seen: dict[int, str] = {}
    for name, port in ports.items():
        if port in seen:
            problems.append(SettingProblem(name, str(port), f"is the same port as {seen[port]}; each needs its own",
                                           f"{name}={port + 1}"))
        seen.setdefault(port, name)
    if bool(values["mongo_root_user"]) != bool(values["mongo_root_password"]):
        problems.append(SettingProblem("MONGO_ROOT_USER", values["mongo_root_user"] or "''",
                                       "and MONGO_ROOT_PASSWORD go together: set both (authentication on) or neither",
                                       "MONGO_ROOT_USER=admin with MONGO_ROOT_PASSWORD_FILE=/run/secrets/mongo"))
    if values["smb_server"]:
        for name, attr in (("SMB_SHARE", "smb_share"), ("SMB_USER", "smb_user"), ("SMB_PASSWORD", "smb_password")):
            if not values[attr]:
                problems.append(SettingProblem(name, "''", "is required when SMB_SERVER is set",
                                               next(v.example for v in VARIABLES if v.name == name)))
    elif values["smb_share"] or values["smb_user"] or values["smb_password"]:
        warnings.append("SMB_SHARE, SMB_USER or SMB_PASSWORD is set but SMB_SERVER is empty: offload stays off")


ENV_EXAMPLE_HEADER = """\
# Settings of the pysystemtrade ecosystem. Copy to .env (which git ignores), chmod 600 it, and edit.
# Every setting is commented out at its built-in default: uncomment and change only what you need, so
# a later release's better default still reaches you (`invoke config --changed` lists what you set).
# The process environment wins over this file.
# Any secret X can instead be given as X_FILE=/path/to/file (the file's content is the value);
# set one or the other, never both. Quote values with spaces; single quotes keep '$' literal.
# `invoke config` shows the effective values (secrets masked); `invoke doctor` checks them.
# This file is generated from ecosystem/settings.py: `python -m ecosystem.settings > .env.example`.
"""


def render_env_example() -> str:
    """Return the text of .env.example: every variable, grouped, with its help and default."""
    lines = [ENV_EXAMPLE_HEADER.rstrip("\n")]
    group = None
    for var in VARIABLES:
        if var.group != group:
            group = var.group
            lines += ["", f"# --- {group} " + "-" * (60 - len(group))]
        lines.append(f"# {var.help}" + (" [secret]" if var.secret else ""))
        lines.append(f"# {var.name}={var.default}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render_env_example(), end="")
