"""Preflight checks: each turns the settings and the host into verdicts with a fix.

A check is a function of ``DoctorInputs`` returning one or more ``CheckResult``.
``CHECKS`` is the table ``invoke doctor`` runs; later capabilities append theirs.
A check that raises becomes a ``fail`` row instead of stopping the others.
"""
from __future__ import annotations

import errno
import functools
import logging
import shutil
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from . import commands, compose, engine, gitremote, smb
from .errors import EcosystemError, SettingsError
from .settings import Settings

log = logging.getLogger(__name__)

VERDICTS = ("ok", "warn", "fail", "skip")


@dataclass(frozen=True)
class CheckResult:
    """One line of the doctor's table."""

    check: str
    verdict: str
    detail: str
    fix: str = ""


@dataclass
class DoctorInputs:
    """What the checks look at: the settings (or why they failed) and how to reach the engine."""

    settings: Settings | None
    settings_error: SettingsError | None = None
    connect: Callable[[], object] = engine.connect
    runner: Callable = commands.run
    _client: object = field(default=None, repr=False)
    _client_error: EcosystemError | None = field(default=None, repr=False)

    def client(self):
        """Return the engine client, connecting once; raise the same EngineUnavailable every time."""
        if self._client is None and self._client_error is None:
            try:
                self._client = self.connect()
            except EcosystemError as exc:
                self._client_error = exc
        if self._client_error is not None:
            raise self._client_error
        return self._client


Check = Callable[[DoctorInputs], "list[CheckResult]"]


def _with_settings(name: str) -> Callable[[Callable[[DoctorInputs, Settings], list[CheckResult]]], Check]:
    """Make a check of the settings' values: skipped, saying why, when the settings did not load."""
    def wrap(check: Callable[[DoctorInputs, Settings], list[CheckResult]]) -> Check:
        @functools.wraps(check)
        def checked(inputs: DoctorInputs) -> list[CheckResult]:
            if inputs.settings is None:
                return [CheckResult(name, "skip", "settings did not load", "fix the settings first")]
            return check(inputs, inputs.settings)
        return checked
    return wrap


def check_settings(inputs: DoctorInputs) -> list[CheckResult]:
    if inputs.settings_error is not None:
        problems = "; ".join(str(p) for p in inputs.settings_error.problems)
        return [CheckResult("settings", "fail", problems, inputs.settings_error.fix)]
    settings = inputs.settings
    if settings is None:
        return [CheckResult("settings", "fail", "not loaded", "run `invoke config` to see why")]
    where = str(settings.env_file) if settings.env_file else "built-in defaults"
    results = [CheckResult("settings", "ok", f"loaded ({where})")]
    results += [CheckResult("settings", "warn", warning) for warning in settings.warnings]
    return results


def check_engine(inputs: DoctorInputs) -> list[CheckResult]:
    try:
        client = inputs.client()
    except EcosystemError as exc:
        return [CheckResult("docker engine", "fail", exc.message, exc.fix)]
    server, api = engine.api_version(client)
    return [CheckResult("docker engine", "ok", f"Docker {server}, API {api}")]


def check_compose(inputs: DoctorInputs) -> list[CheckResult]:
    try:
        found = compose.version(runner=inputs.runner)
    except EcosystemError as exc:
        return [CheckResult("docker compose", "fail", exc.message, exc.fix)]
    return [CheckResult("docker compose", "ok", f"v{found}")]


def port_is_free(address: str, port: int) -> tuple[bool, str]:
    """Say whether ``address:port`` can be bound now, and if not, why."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((address, port))
        except OSError as exc:
            if exc.errno == errno.EADDRNOTAVAIL:
                return False, f"{address} is not an address of this host"
            if exc.errno == errno.EACCES:
                return False, f"this user may not bind port {port}"
            return False, "in use"
    return True, ""


@_with_settings("host ports")
def check_ports(inputs: DoctorInputs, settings: Settings) -> list[CheckResult]:
    results = []
    for variable, port in settings.host_ports.items():
        name = f"port {settings.bind_address}:{port}"
        free, why = port_is_free(settings.bind_address, port)
        if free:
            results.append(CheckResult(name, "ok", f"free ({variable})"))
            continue
        if why != "in use":
            results.append(CheckResult(name, "fail", why, "set BIND_ADDRESS to an address of this host"))
            continue
        try:
            holders = engine.containers_publishing(inputs.client(), port)
        except EcosystemError:
            holders = []
        ours = [n for n, project in holders if project == settings.compose_project]
        if ours:
            results.append(CheckResult(name, "ok", f"held by this ecosystem ({', '.join(ours)})"))
        elif holders:
            who = ", ".join(f"{n} (project {p or 'none'})" for n, p in holders)
            results.append(CheckResult(name, "fail", f"{variable} is published by another container: {who}",
                                       f"stop that container or set {variable} to a free port in .env"))
        else:
            results.append(CheckResult(name, "fail", f"{variable} is in use by another program",
                                       f"stop that program or set {variable} to a free port in .env"))
    return results


def _existing_ancestor(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


@_with_settings("backup disk")
def check_disk(inputs: DoctorInputs, settings: Settings) -> list[CheckResult]:
    where = _existing_ancestor(settings.backup_dir)
    free_gb = shutil.disk_usage(where).free / 1e9
    need = settings.backup_min_free_gb
    detail = f"{free_gb:.1f} GB free at {where} (BACKUP_MIN_FREE_GB={need:g})"
    if free_gb < need:
        return [CheckResult("backup disk", "fail", detail, "free disk space, or point BACKUP_DIR at a larger disk")]
    if free_gb < 2 * need:
        return [CheckResult("backup disk", "warn", detail, "free disk space soon")]
    return [CheckResult("backup disk", "ok", detail)]


@_with_settings("smb share")
def check_smb(inputs: DoctorInputs, settings: Settings) -> list[CheckResult]:
    if not settings.smb_configured:
        return [CheckResult("smb share", "skip", "SMB_SERVER not set: offload is off")]
    address = smb.ShareAddress.from_settings(settings)
    try:
        with smb.session(address, timeout=15) as share:
            entries = share.listdir()
    except EcosystemError as exc:
        return [CheckResult("smb share", "fail", exc.message, exc.fix)]
    return [CheckResult("smb share", "ok", f"logged in to {address.unc()} as {address.username}; "
                                          f"{len(entries)} entries in the folder")]


@_with_settings("backup key")
def check_backup_key(inputs: DoctorInputs, settings: Settings) -> list[CheckResult]:
    from . import backup_key

    try:
        key = backup_key.load_for(settings)
    except backup_key.BackupKeyError as exc:
        verdict = "fail" if settings.smb_configured else "warn"  # offload refuses without it; a set lacks its state
        return [CheckResult("backup key", verdict, exc.message, exc.fix)]
    return [CheckResult("backup key", "ok", f"{key.path} (public {key.public}); keep a copy off this box")]


@_with_settings("reports remote")
def check_reports_remote(inputs: DoctorInputs, settings: Settings) -> list[CheckResult]:
    if not settings.reports_remote:
        return [CheckResult("reports remote", "skip", "REPORTS_REMOTE not set: reports stay local")]
    try:
        refs = gitremote.ls_remote(settings.reports_remote, token=settings.git_token,
                                   username=settings.git_username, timeout=30, runner=inputs.runner)
    except EcosystemError as exc:
        return [CheckResult("reports remote", "fail", exc.message, exc.fix)]
    branch = f"refs/heads/{settings.reports_branch}"
    note = "present" if branch in refs else "not there yet (the first push creates it)"
    return [CheckResult("reports remote", "ok", f"answers; branch {settings.reports_branch} {note}")]


@_with_settings("images")
def check_images(inputs: DoctorInputs, settings: Settings) -> list[CheckResult]:
    try:
        client = inputs.client()
    except EcosystemError:
        return [CheckResult("images", "skip", "the Docker engine does not answer")]
    from . import images

    missing = [tag for tag in images.image_names(settings).values() if not images.image_created(client, tag)]
    mongo = settings.mongo_image
    if not images.image_created(client, mongo):
        missing.append(f"{mongo} (pulled on first `invoke up`)")
    if missing:
        return [CheckResult("images", "warn", "not here yet: " + ", ".join(missing), "run `invoke build`")]
    return [CheckResult("images", "ok", "pysystemtrade, Jupyter, gateway and MongoDB images are here")]


@_with_settings("mongodb auth")
def check_mongo_auth(inputs: DoctorInputs, settings: Settings) -> list[CheckResult]:
    if settings.mongo_root_user:
        return [CheckResult("mongodb auth", "ok", f"on (user {settings.mongo_root_user})")]
    return [CheckResult("mongodb auth", "warn", "off: anything on the ecosystem's network can change orders",
                        "set MONGO_ROOT_USER and MONGO_ROOT_PASSWORD_FILE, and the same credentials in "
                        "mongo_host of private_config.yaml (README: MongoDB authentication)")]


@_with_settings("gateway restart")
def check_gateway_restart(inputs: DoctorInputs, settings: Settings) -> list[CheckResult]:
    """The gateway's daily restart and its weekly login fall where no process is connected to the
    broker: a restart inside a process window cuts it off. (A launch due while the gateway logs in
    again waits for it: BROKER_PROCESSES.)"""
    from datetime import datetime, timedelta

    from . import pysys_config, session, week

    windows = pysys_config.process_windows(settings)
    restart = session.daily_restart(settings)
    begin, end = pysys_config.dead_time(windows)
    where = f"the dead time {begin:%H:%M}-{end:%H:%M} (in {settings.timezone})"

    def inside(moment) -> list[str]:
        return sorted(w.process for w in windows.values() if w.start <= moment < w.stop)

    cut = inside(restart)
    found = [CheckResult("gateway restart", "ok", f"{restart:%H:%M} falls in {where}") if not cut else
             CheckResult("gateway restart", "fail", f"{restart:%H:%M} is outside {where}; it would cut off "
                         f"{', '.join(cut)}",
                         f"set GATEWAY_AUTO_RESTART_TIME to a time in the dead time, e.g. {_suggest(begin, end)}")]
    if settings.gateway_weekly_login_at is None:
        found.append(CheckResult("weekly login", "warn", "GATEWAY_WEEKLY_LOGIN_AT=none: IBKR's weekly full login "
                                 "happens when IBKR forces it, maybe at night with nobody to approve it",
                                 "set GATEWAY_WEEKLY_LOGIN_AT to a time you can approve it, e.g. sun 18:00"))
        return found
    weekday, moment = settings.gateway_weekly_login_at
    span = timedelta(seconds=settings.gateway_login_window)
    today = datetime.now(settings.tz).date()
    day = today + timedelta(days=(weekday - today.isoweekday()) % 7)
    at = datetime.combine(day, moment, tzinfo=settings.tz)
    window = week.WeekWindow.from_settings(settings)
    # the restart at its start, and the approval it may wait for until its end: neither may meet a process
    cut = sorted({p for t in (at, at + span) if week.phase(window, t).inside
                  for p in inside(t.astimezone(settings.tz).time())})
    said = f"{at:%a %H:%M} for up to {span.seconds // 60} min"
    trading = any(week.phase(window, t).inside for t in (at, at + span))
    found.append(CheckResult("weekly login", "ok", f"{said}: " + ("in " + where if trading else
                                                                  "outside the trading week")) if not cut else
                 CheckResult("weekly login", "fail", f"{said} falls inside the trading week and the window of "
                             f"{', '.join(cut)}: the restart would cut it off",
                             "set GATEWAY_WEEKLY_LOGIN_AT outside the trading week (e.g. sun 18:00) or in "
                             f"{where}"))
    check_day, check_time = settings.gateway_check_at
    check = datetime.combine(day, check_time, tzinfo=settings.tz) if check_day == weekday else None
    if check is not None and at <= check < at + span:
        found.append(CheckResult("weekly login", "warn", f"GATEWAY_CHECK_AT ({check:%a %H:%M}) falls in the weekly "
                                 f"login's window ({said}): it checks a login you may still be approving",
                                 "move GATEWAY_CHECK_AT after the window, or shorten GATEWAY_LOGIN_WINDOW"))
    return found


def _suggest(begin, end) -> str:
    from datetime import datetime

    start = datetime.combine(datetime(2000, 1, 1), begin)
    stop = datetime.combine(datetime(2000, 1, 2) if end <= begin else datetime(2000, 1, 1), end)
    middle = start + (stop - start) / 2
    return middle.strftime("%I:%M %p").lstrip("0")


def _private_config_reviews(inputs: DoctorInputs, name: str):
    """Return (reviews, None), or (None, the row to show instead) when there is nothing to review
    (no settings, no private config yet, one that cannot be read)."""
    from . import pysys_config

    settings = inputs.settings
    if settings is None:
        return None, CheckResult(name, "skip", "settings did not load", "fix the settings first")
    path = pysys_config.private_config_path(settings)
    if not path.is_file():
        return None, CheckResult(name, "warn", f"no {path.name} in {path.parent} yet",
                                 "run `invoke setup`: it writes a starter with the containers' paths")
    try:
        config = pysys_config.private_config(settings)
    except EcosystemError as exc:
        return None, CheckResult(name, "fail", exc.message, exc.fix)
    return pysys_config.review(settings, config), None


def _fix(review, path) -> str:
    fix = f"put the line `{review.line}` in {path}"
    if review.key == "mongo_host" and "********" in review.line:
        fix += " (******** is MONGO_ROOT_PASSWORD, URL-encoded)"
    return fix


def check_private_config(inputs: DoctorInputs) -> list[CheckResult]:
    """Every path key and mongo_host of pysystemtrade's private config, as the containers need them."""
    from . import pysys_config

    name = "private config"
    reviews, instead = _private_config_reviews(inputs, name)
    if instead:
        return [instead]
    path = pysys_config.private_config_path(inputs.settings)
    return [CheckResult(name, "ok", f"{r.key} {r.detail}") if r.ok else
            CheckResult(name, "fail", f"{r.key} {r.detail}", _fix(r, path))
            for r in reviews if r.key not in pysys_config.IB_KEYS]


def check_ib_settings(inputs: DoctorInputs) -> list[CheckResult]:
    from . import pysys_config

    name = "pysystemtrade IB settings"
    reviews, instead = _private_config_reviews(inputs, name)
    if instead:
        return [CheckResult(name, "skip", f"{instead.detail}; run `invoke setup`") if instead.verdict == "warn"
                else instead]
    settings = inputs.settings
    if settings is None or reviews is None:  # _private_config_reviews said why already
        return []
    path = pysys_config.private_config_path(settings)
    wrong = [r for r in reviews if r.key in pysys_config.IB_KEYS and not r.ok]
    results = []
    for review in wrong:
        fix = _fix(review, path) + (" (or change TRADING_MODE)" if review.key == "ib_port" else "")
        results.append(CheckResult(name, "fail", f"{review.key} {review.detail}", fix))
    return results or [CheckResult(name, "ok", f"{pysys_config.GATEWAY_SERVICE}:{pysys_config.relay_port(settings)} "
                                               f"({settings.trading_mode})")]


def check_logging_config(inputs: DoctorInputs) -> list[CheckResult]:
    """The logging config pysystemtrade's processes read (PYSYS_LOGGING_CONFIG): it must send to
    the log server on localhost at LOG_SERVER_PORT, or every record stays on the console."""
    name = "pysystemtrade logging"
    s = inputs.settings
    if s is None:
        return [CheckResult(name, "skip", "settings did not load", "fix the settings first")]
    import yaml

    port = s.log_server_port
    chosen = s.pysys_logging_config
    if not chosen:
        return [CheckResult(name, "ok", f"the ecosystem's config (STATE_DIR/etc): socket handler to localhost:{port}")]
    folders = chosen.rsplit("/", 1)[0]
    if "." in folders:  # upstream's resolve_path_and_filename_for_package reads every dot as a separator
        return [CheckResult(name, "fail", f"PYSYS_LOGGING_CONFIG={chosen} has a dot in a folder name, which "
                            "pysystemtrade reads as a path separator (it then falls back to console-only logging)",
                            "move the file to a folder without dots, e.g. /opt/private/logging_prod.yaml")]
    host = None
    for inside in ("/opt/private/", f"{s.pysys_code}/private/"):
        if chosen.startswith(inside):
            host = Path(s.private_config_dir) / chosen[len(inside):]
    if host is None:
        return [CheckResult(name, "warn", f"PYSYS_LOGGING_CONFIG={chosen} is not in the private folder, so it "
                            "cannot be checked from the host", "keep your logging config in PRIVATE_CONFIG_DIR "
                            "(/opt/private/... inside the containers), or leave PYSYS_LOGGING_CONFIG empty")]
    try:
        config = yaml.safe_load(host.read_text()) or {}
        socket_handler = (config.get("handlers") or {}).get("socket") or {}
    except FileNotFoundError:
        return [CheckResult(name, "fail", f"PYSYS_LOGGING_CONFIG={chosen}: {host} does not exist (pysystemtrade "
                            "then falls back to console-only logging)", f"create {host}, or leave PYSYS_LOGGING_CONFIG "
                            "empty for the ecosystem's config")]
    except (OSError, yaml.YAMLError, AttributeError) as exc:
        return [CheckResult(name, "fail", f"{host} cannot be read as a logging config ({type(exc).__name__})",
                            "compare it with upstream's syslogging/logging_prod.yaml")]
    wrong = []
    if str(socket_handler.get("host", "")) not in ("localhost", "127.0.0.1"):
        wrong.append("host: localhost")
    if str(socket_handler.get("port", "")) != str(port) or not isinstance(socket_handler.get("port"), int):
        wrong.append(f"port: {port}")
    if wrong:
        return [CheckResult(name, "fail", f"{host}: its socket handler does not reach the log server on "
                            f"localhost:{port} (LOG_SERVER_PORT)", "under handlers: socket: write " +
                            " and ".join(f"`{line}`" for line in wrong) + " (a literal number: pysystemtrade "
                            "does not convert an !ENV port)")]
    return [CheckResult(name, "ok", f"{chosen}: socket handler to localhost:{port}")]


CHECKS: list[Check] = [check_settings, check_engine, check_compose, check_ports, check_disk, check_smb,
                       check_backup_key, check_reports_remote, check_images, check_mongo_auth, check_gateway_restart,
                       check_ib_settings, check_private_config, check_logging_config]


def run_checks(inputs: DoctorInputs, checks: list[Check] | None = None) -> list[CheckResult]:
    """Run every check in order; a check that raises becomes a ``fail`` row naming the error."""
    results: list[CheckResult] = []
    for check in checks if checks is not None else CHECKS:
        try:
            results += check(inputs)
        except Exception as exc:  # a broken check must not hide the others
            log.exception("doctor check %s raised", check.__name__)
            name = check.__name__.removeprefix("check_").replace("_", " ")
            results.append(CheckResult(name, "fail", f"the check itself failed: {type(exc).__name__}: {exc}",
                                       "report this as a bug"))
    return results


def healthy(results: list[CheckResult]) -> bool:
    return not any(r.verdict == "fail" for r in results)
