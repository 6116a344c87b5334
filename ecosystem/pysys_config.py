"""What the ecosystem reads of pysystemtrade's own configuration, and the one file it may write.

- the private config (``private_config.yaml`` in PRIVATE_CONFIG_DIR): ``ib_ipaddress``,
  ``ib_port``, ``broker_account``, ... It holds secrets: values read here are never printed
  except the few this module names as safe to show.
- what the containers need of it: ``CONTAINER_KEYS`` declares every key whose value depends on
  the containers' layout (the paths on the volumes, mongo_host, the gateway's address and port);
  ``review`` judges a private config against it and ``starter_text`` renders a starter that
  passes. ``write_starter`` writes that starter where there is no private config yet, never
  over one.
- the process windows: upstream's ``syscontrol/control_config.yaml`` in the clone, overridden
  by the trader's ``private_control_config.yaml``, merged the way pysystemtrade merges them
  (the private value wins, key by key).
"""
from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass
from datetime import time
from pathlib import Path, PurePosixPath
from urllib.parse import quote, unquote, urlsplit

from .errors import EcosystemError
from .secrets import MASK

DEFAULT_START, DEFAULT_STOP = time(0, 1), time(23, 50)  # pysystemtrade's defaults


def _load_yaml(path: Path) -> dict:
    import yaml

    try:
        data = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        return {}
    except (OSError, yaml.YAMLError) as exc:
        raise EcosystemError(f"cannot read {path}: {type(exc).__name__}",
                             fix="check that it is valid YAML and readable by this user") from None
    if not isinstance(data, dict):
        raise EcosystemError(f"{path} is not a mapping of keys to values", fix="compare it with upstream's example")
    return data


PRIVATE_CONFIG = "private_config.yaml"


def private_config_path(settings) -> Path:
    return Path(settings.private_config_dir) / PRIVATE_CONFIG


def private_config(settings) -> dict:
    """Return the private config as a dict ({} if there is none yet)."""
    return _load_yaml(private_config_path(settings))


def _parse_time(text) -> time:
    hours, _, minutes = str(text).strip().strip("'\"").partition(":")
    return time(int(hours), int(minutes or 0))


@dataclass(frozen=True)
class Window:
    process: str
    start: time
    stop: time


def process_windows(settings) -> dict[str, Window]:
    """Return each configured process's effective start and stop time (private overrides upstream).
    The two files are read again only when one of them changed (a week's plan asks for every day)."""
    upstream = Path(settings.pysystemtrade_clone_dir) / "syscontrol" / "control_config.yaml"
    private = Path(settings.private_config_dir) / "private_control_config.yaml"
    return dict(_windows(upstream, _stamp(upstream), private, _stamp(private)))


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        found = path.stat()
    except OSError:
        return None
    return found.st_mtime_ns, found.st_size


@functools.lru_cache(maxsize=8)
def _windows(upstream_path: Path, _upstream_stamp, private_path: Path,
             _private_stamp) -> tuple[tuple[str, Window], ...]:
    upstream, private = _load_yaml(upstream_path), _load_yaml(private_path)
    merged: dict[str, dict] = {}
    for source in (upstream, private):
        for key in ("process_configuration_start_time", "process_configuration_stop_time"):
            merged.setdefault(key, {}).update(source.get(key) or {})
    starts, stops = merged["process_configuration_start_time"], merged["process_configuration_stop_time"]
    default_start = _parse_time(starts.get("default", "00:01"))
    default_stop = _parse_time(stops.get("default", "23:50"))
    names = sorted((set(starts) | set(stops)) - {"default"})
    return tuple((name, Window(name, _parse_time(starts[name]) if name in starts else default_start,
                               _parse_time(stops[name]) if name in stops else default_stop)) for name in names)


def dead_time(windows: dict[str, Window]) -> tuple[time, time]:
    """Return (from, to): the stretch around midnight after the last stop and before the first start."""
    if not windows:
        return DEFAULT_STOP, DEFAULT_START
    return max(w.stop for w in windows.values()), min(w.start for w in windows.values())


def in_dead_time(moment: time, windows: dict[str, Window]) -> bool:
    """Say whether ``moment`` (a wall-clock time) falls in the dead time, which wraps midnight."""
    begin, end = dead_time(windows)
    return moment > begin or moment < end


SECRET_KEY_WORDS = ("password", "pwd", "token", "secret", "account", "mongo_host")


def secret_values(settings, *, users: bool = True) -> list[str]:
    """Return the private config's values that must never be shown: accounts, passwords, tokens,
    and the credentials inside mongo_host (its user name too, unless ``users`` is false)."""
    try:
        config = private_config(settings)
    except EcosystemError:
        return []
    values = []
    for key, value in config.items():
        if isinstance(value, (str, int)) and any(word in str(key).lower() for word in SECRET_KEY_WORDS):
            text = str(value)
            if key == "mongo_host":
                parts = urlsplit(text)
                found = [v for v in (parts.password, parts.username if users else None) if v]
                values += found + [unquote(v) for v in found]  # as written (URL-encoded) and as meant
            elif len(text) >= 4:
                values.append(text)
    return values


# --- the keys the containers depend on ------------------------------------------------------

@dataclass(frozen=True)
class ConfigKey:
    """One key of private_config.yaml whose value depends on the containers' layout.

    A path key (``kind="path"``) must be an absolute folder at or under ``root`` (strictly under
    it when ``root_itself`` is false), which is ``on`` as the containers see it; the starter
    writes ``path``. ``upstream`` is pysystemtrade's default, which applies when the key is missing.
    """

    key: str
    kind: str  # "path" | "mongo" | "ib_address" | "ib_port"
    on: str
    upstream: object = None  # None: upstream has no default
    path: str = ""
    root: str = ""
    root_itself: bool = True


MONGO_SERVICE, MONGO_PORT, GATEWAY_SERVICE = "mongo_db", 27017, "ib_gateway"

CONTAINER_KEYS = (
    ConfigKey("parquet_store", "path", "volume parquet", "/home/me/data/parquet", "/data/parquet", "/data/parquet"),
    ConfigKey("backtest_store_directory", "path", "volume backtests", "private.backtests",
              "/data/backtests", "/data/backtests"),
    # BACKUP_DIR itself holds the ecosystem's backup sets: pysystemtrade's files go in folders under it
    ConfigKey("csv_backup_directory", "path", "BACKUP_DIR", "data.backups_csv", "/data/backup/csv", "/data/backup",
              root_itself=False),
    ConfigKey("mongo_dump_directory", "path", "BACKUP_DIR", "data.mongo_dump", "/data/backup/mongo_dump",
              "/data/backup", root_itself=False),
    ConfigKey("offsystem_backup_directory", "path", "BACKUP_DIR", None, "/data/backup/offsystem", "/data/backup",
              root_itself=False),
    ConfigKey("echo_directory", "path", "volume pysys_logs", "data.echos", "/data/logs/echos", "/data/logs"),
    ConfigKey("reporting_directory", "path", "REPORTS_DIR, the reports clone", None, "/data/reports", "/data/reports"),
    ConfigKey("mongo_host", "mongo", f"service {MONGO_SERVICE}", "127.0.0.1"),
    ConfigKey("ib_ipaddress", "ib_address", f"service {GATEWAY_SERVICE}", "127.0.0.1"),
    ConfigKey("ib_port", "ib_port", "the gateway's API relay", 4001),
)
IB_KEYS = ("ib_ipaddress", "ib_port")


def relay_port(settings) -> int:
    from .stack import RELAY_PORTS

    return RELAY_PORTS[settings.trading_mode]


def mongo_url(settings, *, reveal: bool = False) -> str:
    """Return the mongo_host the containers need: with MongoDB auth on, the root user and its
    password (URL-encoded; masked unless ``reveal``)."""
    if not settings.mongo_root_user:
        return f"mongodb://{MONGO_SERVICE}"
    password = settings.mongo_root_password.reveal() if settings.mongo_root_password else ""
    shown = quote(password, safe="") if reveal else MASK
    return f"mongodb://{quote(settings.mongo_root_user, safe='')}:{shown}@{MONGO_SERVICE}"


def wanted_value(item: ConfigKey, settings, *, reveal: bool = False) -> str:
    """Return the value of ``item`` the containers need, as written in YAML (secrets masked unless ``reveal``)."""
    if item.kind == "path":
        return item.path
    if item.kind == "mongo":
        return mongo_url(settings, reveal=reveal)
    if item.kind == "ib_address":
        return GATEWAY_SERVICE
    return str(relay_port(settings))


def wanted_line(item: ConfigKey, settings, *, reveal: bool = False) -> str:
    return f"{item.key}: {wanted_value(item, settings, reveal=reveal)}"


_CREDENTIALS = re.compile(r"(//[^/@:]*:).*@")  # to the last @: a password may hold / or @


def masked(value) -> str:
    """Return ``value`` for display: a password in a URL's user part replaced by the mask."""
    return _CREDENTIALS.sub(rf"\g<1>{MASK}@", str(value))


@dataclass(frozen=True)
class KeyReview:
    """The verdict on one key: ``detail`` follows the key's name ("is /data/parquet (volume
    parquet)", "is not set: ..."), ``line`` is the exact line to write; neither holds a secret."""

    key: str
    ok: bool
    detail: str
    line: str


def _missing(item: ConfigKey) -> str:
    if item.upstream is None:
        return "is not set: pysystemtrade has no default and fails where it needs it"
    return f"is not set: pysystemtrade's default {item.upstream!r} applies, which is wrong in the containers"


def _path_problem(item: ConfigKey, value) -> str:
    if not isinstance(value, str):
        return f"is {value!r}, not a folder path"
    if not value.startswith("/"):
        kind = "package notation" if "." in value and "/" not in value else "a relative path"
        return (f"is {value!r}, {kind}: it resolves inside the image (lost with each container) "
                "or under private/ (mounted read-only)")
    if "." in value:
        return f"is {value!r}: pysystemtrade reads every dot in a path as a folder separator"
    path, root = PurePosixPath(value), PurePosixPath(item.root)
    if not path.is_relative_to(root):
        mounted = any(path.is_relative_to(other.root) for other in CONTAINER_KEYS if other.root)
        return f"is {value}, not on {item.on} (at or under {item.root})" + \
            ("" if mounted else ": it is lost with the container")
    if path == root and not item.root_itself:
        return f"is {item.root} itself, where the ecosystem keeps its backup sets: use a folder under it"
    return ""


def _mongo_problem(value, settings) -> str:
    if not isinstance(value, str) or not value.startswith("mongodb://"):
        return f"is {masked(value)}, not a mongodb:// URL of {MONGO_SERVICE}"
    parts = urlsplit(value)
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        return f"is {masked(value)}: not a valid URL"
    if host != MONGO_SERVICE:
        return f"is {masked(value)}: its host is {host or 'missing'}, not the service {MONGO_SERVICE}"
    if port not in (None, MONGO_PORT):
        return f"is {masked(value)}: {MONGO_SERVICE} listens on {MONGO_PORT}, not {port}"
    user = settings.mongo_root_user
    if user and not (parts.username and parts.password):
        return (f"is {masked(value)} without a user and password, but MongoDB authentication is on "
                f"(MONGO_ROOT_USER={user})")
    if not user and parts.username:
        return (f"is {masked(value)} with a user, but MongoDB authentication is off (MONGO_ROOT_USER not set): "
                "the login would fail")
    password = settings.mongo_root_password.reveal() if settings.mongo_root_password else ""
    if user and unquote(parts.username or "") == user and unquote(parts.password or "") != password:
        return f"is {masked(value)}: the password of user {user} there is not MONGO_ROOT_PASSWORD"
    return ""


def _problem(item: ConfigKey, value, settings) -> str:
    if item.kind == "path":
        return _path_problem(item, value)
    if item.kind == "mongo":
        return _mongo_problem(value, settings)
    if item.kind == "ib_address":
        return "" if str(value) == GATEWAY_SERVICE else f"is {value}, not the gateway ({GATEWAY_SERVICE})"
    want = relay_port(settings)
    return "" if str(value) == str(want) else \
        f"is {value}; the gateway relays the {settings.trading_mode} API on {want}"


def review(settings, config: dict) -> list[KeyReview]:
    """Given the settings and a parsed private config, judge every key of ``CONTAINER_KEYS``:
    ok, or wrong (a missing key is wrong: upstream's default applies) with the line to write."""
    reviews = []
    for item in CONTAINER_KEYS:
        line = wanted_line(item, settings)
        value = config.get(item.key)
        if value is None or value == "":
            reviews.append(KeyReview(item.key, False, _missing(item), line))
            continue
        problem = _problem(item, value, settings)
        shown = masked(value) if item.kind == "mongo" else value
        reviews.append(KeyReview(item.key, not problem, problem or f"is {shown} ({item.on})", line))
    return reviews


# --- the starter ----------------------------------------------------------------------------

_STARTER_HEAD = """\
# pysystemtrade's private config, written by `invoke setup` because this folder had none.
# Edit it freely: setup never overwrites it. `invoke doctor` checks the keys below.
# It holds secrets (broker_account, email_pwd, the MongoDB password in mongo_host): keep it
# out of git and out of images. The containers mount this folder read-only at /opt/private.

# Where pysystemtrade keeps its files, as the containers see them. Every path must be
# absolute and on a volume: package notation ('private.backtests') or a relative path lands
# inside a throw-away container, or under private/, which is read-only.
"""

_STARTER_TAIL = """\

# What only you can set: uncomment and fill in.
#
# Your IB account id; `invoke gateway.login` checks the gateway logged in to it.
# broker_account: 'DU1234567'
#
# Your strategies: run_systems, run_strategy_order_generator and backup_db_to_csv
# (`invoke backup --what csv`) need strategy_list.
# strategy_list:
#   example:
#     load_backtests:
#       object: sysproduction.strategy_code.run_system_classic.runSystemClassic
#       function: system_method
#     reporting_code:
#       function: sysproduction.strategy_code.report_system_classic.report_system_classic
# strategy_capital_allocation:
#   function: sysproduction.strategy_code.strategy_allocation.weighted_strategy_allocation
#   strategy_weights:
#     example: 100.0
#
# Email for pysystemtrade's reports and critical errors (without it, they are only logged).
# email_address: 'you@example.com'
# email_pwd: 'your mail password'
# email_server: 'smtp.example.com'
# email_to: 'you@example.com'
# email_port: 587
#
# Reports written as files into reporting_directory, which `invoke reports` pushes:
# reports:
#   status_report:
#     title: "Status report"
#     function: "sysproduction.reporting.status_report.status_report"
#     output: "file"
"""


def starter_text(settings) -> str:
    """Return the starter private_config.yaml for these settings: every key of ``CONTAINER_KEYS``
    with the value the containers need (mongo_host with the real password when auth is on)."""
    lines = [_STARTER_HEAD.rstrip("\n")]
    for item in CONTAINER_KEYS:
        if item.kind == "mongo":
            lines += ["", "# MongoDB and the IB Gateway, by their service names on the ecosystem's network."]
            if settings.mongo_root_user:
                lines.append("# MongoDB authentication is on: mongo_host carries MONGO_ROOT_USER and its "
                             "password (URL-encoded).")
        if item.kind == "ib_port":
            lines.append(f"# {relay_port(settings)}: the gateway's relay of the {settings.trading_mode} API "
                         "(TRADING_MODE)")
        lines.append(wanted_line(item, settings, reveal=True) + (f"  # {item.on}" if item.kind == "path" else ""))
    return "\n".join(lines) + "\n" + _STARTER_TAIL


@dataclass(frozen=True)
class StarterPlan:
    """What `invoke setup` does about the private config: ``write`` a starter, ``keep`` the
    existing one, or ``wait`` for the clone that brings the folder."""

    action: str
    path: Path

    def intent(self) -> str:
        if self.action == "write":
            return f"write a starter {self.path} (the containers' paths, mongo_host, ib_ipaddress, ib_port)"
        if self.action == "keep":
            return f"keep {self.path} as it is (never overwritten)"
        return f"not write {self.path}: {self.path.parent} comes with the clone; run `invoke build` first"


def plan_starter(settings) -> StarterPlan:
    """Say whether a starter private config is due: not if one exists, and not yet if the folder
    would be made inside a clone that does not exist (the clone would then refuse the folder)."""
    path = private_config_path(settings)
    if path.exists():
        return StarterPlan("keep", path)
    folder, clone = path.parent, Path(settings.pysystemtrade_clone_dir)
    if not folder.exists() and folder.is_relative_to(clone) and not (clone / ".git").exists():
        return StarterPlan("wait", path)
    return StarterPlan("write", path)


def write_starter(settings, plan: StarterPlan | None = None) -> str:
    """Carry out ``plan`` (by default ``plan_starter``): write the starter readable by its owner
    only (owned by the containers' user when run as root), never over an existing file. Return
    one line saying what was done; raise EcosystemError if the folder cannot be written."""
    plan = plan or plan_starter(settings)
    if plan.action != "write":
        return f"{plan.path}: " + ("kept as it is (setup never overwrites it); `invoke doctor` checks it"
                                   if plan.action == "keep" else "not written yet: " + plan.intent().split(": ", 1)[1])
    try:
        plan.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(plan.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return f"{plan.path}: kept as it is (setup never overwrites it); `invoke doctor` checks it"
    except OSError as exc:
        raise EcosystemError(f"cannot write {plan.path}: {exc.strerror}",
                             fix="run `invoke setup` as root or as the owner of PRIVATE_CONFIG_DIR") from None
    with os.fdopen(fd, "w") as handle:
        handle.write(starter_text(settings))
    try:
        os.chown(plan.path, settings.container_uid, -1)
    except PermissionError:  # not root: the 0600 file is yours alone
        pass
    return (f"{plan.path}: wrote a starter with the containers' paths, mongo_host and "
            f"{GATEWAY_SERVICE}:{relay_port(settings)}; edit it, `invoke doctor` checks it")
