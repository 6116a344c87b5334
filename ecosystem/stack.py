"""The ecosystem's compose project: its variables, its secret files, its services and their state.

``docker-compose.yml`` reads only variables; this module derives them from the settings, so
the command line, the scheduler and plain ``docker compose`` (given the same variables) run
the same stack. Secrets reach containers as files under ``$STATE_DIR/secrets`` (a folder only
its owner can enter), each owned by the user of the one container that reads it.
"""
from __future__ import annotations

import json
import logging
import os
import re
import shlex
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from . import images
from .compose import Compose
from .errors import EcosystemError
from .settings import Settings
from .state_files import write_text

if TYPE_CHECKING:
    from .context import Context
    from .history import RunHandle

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"

GATEWAY_UID = 1000   # fixed by the gateway image (gnzsnz/ib-gateway-docker and the stand-in)
MONGO_UID = 999      # the official mongo image's mongodb user (and the stand-in's)
RELAY_PORTS = {"live": 4003, "paper": 4004}

# every service of docker-compose.yml; a unit test pins this against `docker compose config`
SERVICES = ("mongo_db", "ib_gateway", "pysys_runtime", "jupyter", "status_page", "stack_handler", "capital_update",
            "daily_processes", "db_backup", "csv_backup", "db_restore", "dashboard")
ALWAYS_ON = ("mongo_db", "ib_gateway", "pysys_runtime", "jupyter", "status_page")
TRADING = ("stack_handler", "capital_update", "daily_processes")
ONE_SHOT = ("db_backup", "csv_backup", "db_restore")
ON_DEMAND = ("dashboard",)  # `up --services dashboard` only: upstream's dashboard


def page_dir(settings: Settings) -> Path:
    """The folder the status page is written to and served from (``status_page``)."""
    return settings.state_dir / "page"


def loopback_only(settings: Settings) -> bool:
    """Whether every port is published on a loopback address only (BIND_ADDRESS)."""
    import ipaddress

    return ipaddress.ip_address(settings.bind_address).is_loopback


def page_needs_token(settings: Settings) -> bool:
    """The status page asks for a token unless it is published on a loopback address only."""
    return not loopback_only(settings)


def secrets_dir(settings: Settings) -> Path:
    return settings.state_dir / "secrets"


def etc_dir(settings: Settings) -> Path:
    """The host folder mounted read-only at /opt/ecosystem/etc in every pysystemtrade container."""
    return settings.state_dir / "etc"


LOGGING_CONFIG = "/opt/ecosystem/etc/logging_prod.yaml"  # PYSYS_LOGGING_CONFIG unless the trader names theirs


def logging_config_text(settings: Settings) -> str:
    """Return the ecosystem's logging config, in the format of upstream's syslogging/logging_prod.yaml
    (read by syslogging/logger.py when PYSYS_LOGGING_CONFIG names it): the console, pysystemtrade's
    CRITICAL e-mails, and a socket handler to the log server on localhost at LOG_SERVER_PORT."""
    return f"""\
# Written by the pysystemtrade ecosystem (invoke setup / up) from LOG_SERVER_PORT: edits are overwritten.
# Name your own with PYSYS_LOGGING_CONFIG (a path inside the containers, e.g. /opt/private/logging.yaml).
version: 1
disable_existing_loggers: true
formatters:
  simple:
    format: '%(asctime)s %(levelname)s %(name)s %(message)s'
    datefmt: '%Y-%m-%d %H:%M:%S'
handlers:
  console:
    class: logging.StreamHandler
    level: DEBUG
    stream: ext://sys.stdout
    formatter: simple
  email:
    class: syslogging.handlers.PstSMTPHandler
    level: CRITICAL
    formatter: simple
  socket:
    class: logging.handlers.SocketHandler
    host: localhost
    port: {settings.log_server_port}
    level: DEBUG
    formatter: simple
loggers:
  ib_insync:
    level: WARNING
  arctic:
    level: INFO
  matplotlib:
    level: INFO
root:
  level: DEBUG
  handlers:
    - console
    - email
    - socket
"""


def write_logging_config(settings: Settings) -> Path:
    """Write the ecosystem's logging config into ``etc_dir`` (readable by the containers), replacing
    it atomically when it changed; return its path. Raise EcosystemError if it cannot be written."""
    folder = etc_dir(settings)
    path = folder / "logging_prod.yaml"
    text = logging_config_text(settings)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        os.chmod(folder, 0o755)
        if path.exists() and path.read_text() == text:
            return path
        write_text(path, text, mode=0o644)
    except OSError as exc:
        raise EcosystemError(f"cannot write the logging config in {folder}: {exc.strerror}",
                             fix="run the task as the user that ran `invoke setup` (or root), "
                                 "or fix STATE_DIR") from None
    return path


def compose_env(settings: Settings) -> dict[str, str]:
    """Return every variable docker-compose.yml reads, derived from the settings (no secret values): those
    declared ``compose`` as they are, and those computed from them."""
    from .settings import VARIABLES

    names = images.image_names(settings)
    declared = {v.name: str(getattr(settings, v.attr)) for v in VARIABLES if v.compose}  # as they are
    return declared | {
        "IB_RELAY_PORT": str(RELAY_PORTS[settings.trading_mode]),
        "PYSYSTEMTRADE_IMAGE": names["pysystemtrade"],
        "JUPYTER_IMAGE": names["jupyter"],
        "GATEWAY_IMAGE": names["ib_gateway"],
        "PYSYS_LOGGING_CONFIG": settings.pysys_logging_config or LOGGING_CONFIG,
        "ECOSYSTEM_ETC_DIR": str(etc_dir(settings)),
        "SECRETS_DIR": str(secrets_dir(settings)),
        "STATUS_PAGE_DIR": str(page_dir(settings)),
    }


def compose_files(settings: Settings) -> list[Path]:
    """Return the compose files, in the order compose merges them: docker-compose.yml, then
    docker-compose.override.yml when it exists (as plain `docker compose` reads it), then
    EXTRA_COMPOSE_FILES."""
    override = COMPOSE_FILE.with_name("docker-compose.override.yml")
    return [COMPOSE_FILE, *([override] if override.is_file() else []), *settings.extra_compose_files]


def own_services(settings: Settings) -> list[str]:
    """Return the services the trader's own compose files add (docker-compose.override.yml,
    EXTRA_COMPOSE_FILES) that a plain ``up`` starts: `invoke up` starts them with the always-on ones."""
    if compose_files(settings) == [COMPOSE_FILE]:
        return []
    return [name for name in compose(settings).services() if name not in SERVICES]


def compose(settings: Settings) -> Compose:
    """Return the compose project of these settings."""
    return Compose(project=settings.compose_project, files=compose_files(settings), env=compose_env(settings),
                   cwd=ROOT, ignore_env_file=True)


def runtime_container(settings: Settings) -> str:
    return f"pysys_runtime{settings.name_suffix}"


def gateway_container(settings: Settings) -> str:
    return f"ib_gateway{settings.name_suffix}"


def gateway_state(ctx: Context) -> str:
    """The gateway container's state (running, exited, ...; "not created")."""
    from .engine import NotFound

    try:
        return ctx.client.api.inspect_container(gateway_container(ctx.settings))["State"]["Status"]
    except NotFound:
        return "not created"


def gateway_change_pending(ctx: Context, secrets_changed: bool = False) -> str | None:
    """Why the running gateway's container is not what its configuration now says (its compose
    configuration, or its secret files, changed since it was created), or None."""
    from .engine import NotFound

    try:
        container = ctx.client.api.inspect_container(gateway_container(ctx.settings))
    except NotFound:
        return None
    created = datetime.fromisoformat(container["Created"][:26].rstrip("Z") + "+00:00")
    folder = secrets_dir(ctx.settings)
    # a secret file is replaced only when its content changes: one newer than the container is not in it
    changed = [name for name, service in SECRET_SERVICES.items() if service == "ib_gateway"
               and (folder / name).exists()
               and datetime.fromtimestamp((folder / name).stat().st_mtime, UTC) > created]
    if secrets_changed or changed:
        return "its credentials changed"
    try:  # the image its tag names now (a build or a rollback moves the tag, not the container)
        if ctx.client.api.inspect_image(container["Config"]["Image"])["Id"] != container["Image"]:
            return "its image was rebuilt"
    except NotFound:
        pass
    created_with = (container["Config"]["Labels"] or {}).get("com.docker.compose.config-hash", "")
    if created_with and created_with != ctx.project.config_hash("ib_gateway"):
        return "its configuration changed"
    return None


def restart_gateway(ctx: Context) -> str:
    """Restart the gateway for a full login: its container restarted (the same container, id and
    all: IBC starts cold and asks for the login), or recreated when a change waits for it, or
    started when it does not run. Return what was done, as "was restarted"."""

    settings = ctx.settings
    written = write_mounted_files(settings)
    state = gateway_state(ctx)
    pending = gateway_change_pending(ctx, "ib_gateway" in written.services_to_recreate()) \
        if state != "not created" else None
    if state == "not created" or pending:
        ctx.project.up(["ib_gateway"], wait=False, force_recreate=bool(pending), no_deps=True)
        return f"was recreated ({pending}, now applied)" if pending else "was started"
    from .engine import APIError

    try:
        ctx.client.api.restart(gateway_container(settings), timeout=30)
    except APIError as exc:
        raise EcosystemError(f"the engine could not restart {gateway_container(settings)}: "
                             f"{exc.explanation or exc}", fix="see `invoke logs ib_gateway` and `docker ps -a`; "
                             "`invoke up --services ib_gateway` starts it afresh") from None
    return "was restarted"


def runtime_running(ctx: Context) -> bool:
    """Say whether pysys_runtime (the processes' namespaces and log server) is running; an engine
    that does not answer raises EngineUnavailable (with its fix), it is not a stopped runtime."""
    client = ctx.client
    from .engine import NotFound

    try:
        return client.api.inspect_container(runtime_container(ctx.settings))["State"]["Status"] == "running"
    except NotFound:  # not created
        return False


@dataclass(frozen=True)
class SecretFile:
    name: str
    attr: str
    owner: str  # "gateway" | "mongo" | "container"


SECRET_FILES = (SecretFile("tws_userid", "twsuserid", "gateway"), SecretFile("tws_password", "twspassword", "gateway"),
                SecretFile("vnc_password", "vnc_password", "gateway"),
                SecretFile("mongo_root_password", "mongo_root_password", "mongo"),
                # the same password as the MongoDB tools read it (--config): never on a command line
                SecretFile("mongo_tools_config", "mongo_root_password", "mongo"),
                SecretFile("jupyter_token", "jupyter_token", "container"),
                SecretFile("status_page_token", "status_page_token", "container"))


def _owner_uid(settings: Settings, owner: str) -> int:
    return {"gateway": GATEWAY_UID, "mongo": MONGO_UID}.get(owner, settings.container_uid)


@dataclass(frozen=True)
class SecretsWritten:
    """What ``write_secret_files`` did: a note per file, and the files whose content changed."""

    notes: dict
    changed: frozenset

    def services_to_recreate(self) -> set[str]:
        """The services whose mounted secret changed: a running container keeps the old file."""
        return {SECRET_SERVICES[name] for name in self.changed}


SECRET_SERVICES = {"tws_userid": "ib_gateway", "tws_password": "ib_gateway", "vnc_password": "ib_gateway",
                   "mongo_root_password": "mongo_db", "mongo_tools_config": "mongo_db", "jupyter_token": "jupyter",
                   "status_page_token": "status_page"}


def write_mounted_files(settings: Settings) -> SecretsWritten:
    """Write every file the containers mount from STATE_DIR: the logging config, then the secret
    files (``write_secret_files``, whose result is returned); and make the status page's folder."""
    write_logging_config(settings)
    try:
        page_dir(settings).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EcosystemError(f"cannot make the status page's folder {page_dir(settings)}: {exc.strerror}",
                             fix="run the task as the user that ran `invoke setup` (or root), "
                                 "or fix STATE_DIR") from None
    return write_secret_files(settings)


def write_secret_files(settings: Settings) -> SecretsWritten:
    """Write each secret the containers read into its own file; say what was written and what changed.

    An unset secret is an empty file (the service then runs without it: no VNC, no MongoDB
    auth). An unset Jupyter token is generated once and kept. A file is replaced (atomically)
    only when its content changes. Raise EcosystemError naming the folder if it cannot be written.
    """
    try:
        return _write_secret_files(settings)
    except OSError as exc:
        raise EcosystemError(f"cannot write the secret files in {secrets_dir(settings)}: {exc.strerror}",
                             fix="run the task as the user that ran `invoke setup` (or root), "
                                 "or fix STATE_DIR") from None


def _write_secret_files(settings: Settings) -> SecretsWritten:
    folder = secrets_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    written, changed = {}, set()
    for item in SECRET_FILES:
        path = folder / item.name
        secret = getattr(settings, item.attr)
        value = secret.reveal() if secret else ""
        note = "set" if value else "empty"
        if item.name == "status_page_token" and not value and not page_needs_token(settings):
            note = "empty: BIND_ADDRESS is loopback"
        elif item.name in ("jupyter_token", "status_page_token") and not value:
            value = path.read_text().strip() if path.exists() and path.stat().st_size else ""
            note = "generated earlier"
            if not value:
                import secrets as random_secrets  # here: every `invoke status` imports this module

                value, note = random_secrets.token_urlsafe(32), "generated"
        if item.name == "mongo_tools_config" and value:
            value = f"password: {json.dumps(value)}\n"  # YAML, as mongodump --config reads it
        if path.exists() and path.read_text() == value:
            written[item.name] = note
            continue
        changed.add(item.name)
        temporary = folder / f".{item.name}.{os.getpid()}"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(value)
        try:
            os.chown(temporary, _owner_uid(settings, item.owner), -1)
            os.chmod(temporary, 0o400)
        except PermissionError:  # not root: the 0700 folder keeps other host users out
            os.chmod(temporary, 0o444)
        os.replace(temporary, path)
        written[item.name] = note
    return SecretsWritten(written, frozenset(changed))


def secure_private_config(settings: Settings) -> str:
    """Make the private config folder readable by the containers' user and by nobody else; say what was done."""
    folder = settings.private_config_dir
    if not folder.is_dir():
        return f"{folder} does not exist yet (it comes with the clone, or set PRIVATE_CONFIG_DIR)"
    try:
        for dirpath, _dirnames, filenames in os.walk(folder):
            os.chown(dirpath, settings.container_uid, -1)
            os.chmod(dirpath, 0o700)
            for name in filenames:
                os.chown(os.path.join(dirpath, name), settings.container_uid, -1)
                os.chmod(os.path.join(dirpath, name), 0o600)
    except PermissionError:
        return f"{folder}: not root, left as it is; make it readable by uid {settings.container_uid} only"
    return f"{folder}: owned by uid {settings.container_uid}, no access for others"


LOG_FILE = "/data/logs/pysystemtrade.log"


_LOG_NAME = re.compile(r"""dataBlob\([^)]*log_name\s*=\s*["'](\w+)["']""")


def logger_names(settings: Settings, process: str) -> list[str]:
    """Return the logger names ``process`` logs under: its own, and those its methods' data blobs
    use, read from its module in the clone (upstream: ``dataBlob(log_name="stack_handler")`` in
    sysproduction/run_stack_handler.py, for example)."""
    from .plan import LAUNCHERS

    names = [process]
    module = Path(settings.pysystemtrade_clone_dir) / "sysproduction" / f"{LAUNCHERS.get(process, process)}.py"
    try:
        names += [name for name in _LOG_NAME.findall(module.read_text(errors="replace")) if name not in names]
    except OSError:
        pass
    return names


def process_log(settings: Settings, process: str, *, tail: int = 200) -> str:
    """Return the last ``tail`` records of ``process`` in the log server's files (read in pysys_runtime).

    A record's logger name follows its level (upstream's format ``%(asctime)s %(levelname)s
    %(name)s %(message)s``); every logger name of the process counts."""
    patterns = " ".join(f"-e {shlex.quote(f' {name} ')}" for name in logger_names(settings, process))
    script = (f"cat $(ls -tr {LOG_FILE}* 2>/dev/null) 2>/dev/null | grep -F {patterns} "
              f"| tail -n {int(tail)}")
    return compose(settings).exec("pysys_runtime", ["sh", "-c", script])


@dataclass(frozen=True)
class ServiceState:
    """One row of `invoke status`."""

    service: str
    container: str
    state: str
    health: str
    since: datetime | None
    exit_code: int | None
    image_created: datetime | None
    oom_killed: bool = False  # the engine says the kernel killed it at its memory limit
    said: str = ""            # the engine's status line, when the row comes from a listing (listed_states)

    @property
    def exit_shown(self) -> str:
        if self.exit_code is None:
            return ""
        return f"{self.exit_code} (out of memory)" if self.oom_killed else str(self.exit_code)


def listed_states(settings: Settings) -> list[ServiceState]:
    """Every service's state from one engine listing (``engine.listed_containers``): what `status`,
    the brief and the page need, quickly. No start time or image age (``service_states`` has them);
    health and exit code as the engine's status line says them."""
    import re

    from .engine import listed_containers

    by_service: dict[str, list[dict]] = {}
    for item in listed_containers(settings.compose_project):
        by_service.setdefault((item.get("Labels") or {}).get("com.docker.compose.service", "?"), []).append(item)
    rows = []
    for service in SERVICES + tuple(sorted(set(by_service) - set(SERVICES))):
        items = by_service.get(service, [])
        if not items:
            rows.append(ServiceState(service, "", "not created", "", None, None, None))
        for item in items:
            said = str(item.get("Status") or "")
            health = re.search(r"\((healthy|unhealthy|health: starting)\)", said)
            code = re.search(r"Exited \((-?\d+)\)", said)
            rows.append(ServiceState(
                service=service, container=(item.get("Names") or ["?"])[0].lstrip("/"),
                state=str(item.get("State") or "?"),
                health=health.group(1).replace("health: ", "") if health else "", since=None,
                exit_code=int(code.group(1)) if code and item.get("State") != "running" else None,
                image_created=None, said=said))
    return rows


def service_states(ctx: Context) -> list[ServiceState]:
    """Return the state of every service of the stack, from the engine's view of its containers."""
    from .engine import NotFound, parse_time, project_containers

    client, settings = ctx.client, ctx.settings
    by_service: dict[str, list] = {}
    for container in project_containers(client, settings.compose_project):
        by_service.setdefault(container.labels.get("com.docker.compose.service", "?"), []).append(container)
    image_times: dict[str, datetime | None] = {}
    rows = []
    for service in SERVICES + tuple(sorted(set(by_service) - set(SERVICES))):
        containers = by_service.get(service, [])
        if not containers:
            rows.append(ServiceState(service, "", "not created", "", None, None, None))
            continue
        for container in containers:
            attrs = container.attrs
            state = attrs.get("State", {})
            running = state.get("Status") == "running"
            image_id = attrs.get("Image", "")
            if image_id not in image_times:
                try:
                    image_times[image_id] = parse_time(client.images.get(image_id).attrs.get("Created"))
                except NotFound:  # image removed under a stopped container
                    image_times[image_id] = None
            rows.append(ServiceState(
                service=service, container=container.name, state=state.get("Status", "?"),
                health=(state.get("Health") or {}).get("Status", ""),
                since=parse_time(state.get("StartedAt") if running else state.get("FinishedAt")),
                exit_code=None if running else state.get("ExitCode"), image_created=image_times[image_id],
                oom_killed=bool(state.get("OOMKilled"))))
    return rows


def ensure_always_on(ctx: Context) -> list[str]:
    """Start whichever always-on service is not running (never recreating a running one), and
    recreate Jupyter if it joined an earlier start of pysys_runtime (after the runtime restarted
    by itself, Jupyter's network namespace is a dead one). Return what was done."""
    settings = ctx.settings
    states = {r.service: r for r in service_states(ctx)}
    # "restarting" is Docker's restart policy at work: starting it again would not help
    missing = [name for name in ALWAYS_ON if states.get(name) is None or states[name].state not in
               ("running", "restarting")]
    done = []
    if "ib_gateway" in missing and not (settings.twsuserid and settings.twspassword):
        missing.remove("ib_gateway")
        log.warning("the gateway is not running and cannot log in without TWSUSERID and TWSPASSWORD")
    project = ctx.project
    needed = [name for name in missing if name in ("mongo_db", "pysys_runtime")]
    if missing:
        write_mounted_files(settings)
        # the processes need MongoDB and the runtime healthy; the gateway (maybe waiting for a
        # 2FA nobody approves) and Jupyter are started without holding up the trading day
        if needed:
            project.up(needed, wait=True, no_recreate=True)
        others = [name for name in missing if name not in needed]
        if others:
            project.up(others, wait=False, no_recreate=True)
        done.append("started " + ", ".join(missing))
        states = {r.service: r for r in service_states(ctx)}
    runtime, jupyter = states.get("pysys_runtime"), states.get("jupyter")
    if runtime and jupyter and runtime.since and jupyter.since and jupyter.state == "running" \
            and jupyter.since < runtime.since:
        # joined to an earlier start of pysys_runtime: its network namespace is gone
        project.up(["jupyter"], wait=False, force_recreate=True, no_deps=True)
        done.append("recreated jupyter (it had joined an earlier start of pysys_runtime)")
    return done


def up(ctx: Context, names: list[str], *, timeout: int, gateway_named: bool = False) -> str:
    """Bring ``names`` up and healthy (after repairing a killed cold backup), recreating those whose
    secret files changed unless processes run; then the cold start and the STOP repair. Return
    what was done, for the run's detail.

    A running gateway is left as it is unless ``gateway_named`` (``up --services ib_gateway``):
    recreating it logs it out and asks for a 2FA approval, and health would wait for that. A
    change waiting for it is said instead: it takes effect at the next weekly login."""
    from . import backup as backups
    from . import backup_job, locks, processes, startup

    s = ctx.settings
    if backups.ColdMarker(s.state_dir).read() is not None and locks.is_held(s.state_dir, "backup"):
        raise EcosystemError("a cold backup is running: MongoDB is stopped on purpose and it starts it again "
                             "itself", fix="wait for it (invoke history --job backup)")
    for line in backup_job.restart_after_cold(ctx):  # a cold backup killed outright
        ctx.say(line)
    written = write_mounted_files(s)
    pending, kept = None, False
    if "ib_gateway" in names and not gateway_named and gateway_state(ctx) in ("running", "restarting"):
        pending = gateway_change_pending(ctx, "ib_gateway" in written.services_to_recreate())
        names, kept = [n for n in names if n != "ib_gateway"], True
        if pending:
            ctx.say(f"ib_gateway: {pending}; left running (a new container needs a new 2FA login). It takes "
                    "effect at the next weekly login (GATEWAY_WEEKLY_LOGIN_AT), or now with `invoke gateway.login "
                    "--restart` when you can approve the login")
    named_change = "ib_gateway" in names and gateway_state(ctx) in ("running", "restarting") and not kept \
        and gateway_change_pending(ctx, "ib_gateway" in written.services_to_recreate()) is not None
    running = ctx.running()
    recreate = sorted((written.services_to_recreate() | ({"ib_gateway"} if named_change else set())) & set(names))
    if running:  # recreating pysys_runtime would kill every process in its PID namespace
        ctx.say("pysystemtrade processes are running (" + ", ".join(r.process for r in running) +
                "): no container is recreated; stop them first to apply changes")
        ctx.project.up(names, wait=True, timeout=timeout, no_recreate=True)
    else:
        if recreate:  # a running container keeps the secret file it was started with
            ctx.project.up(recreate, wait=False, force_recreate=True)
        ctx.project.up(names, wait=True, timeout=timeout)
    startup.cold_start(ctx)
    for line in processes.repair_statuses(processes.StatusLedger(s.state_dir), ctx.control(),
                                          {r.process for r in ctx.running()}):
        ctx.say(line)
    return ", ".join(names) + (f" (recreated {', '.join(recreate)}: secrets changed)" if recreate and not running
                               else "") + (f"; ib_gateway left running as it is ({pending}: takes effect at the "
                                           "next weekly login)" if pending else
                                           "; ib_gateway left running as it is" if kept else "")


def down(ctx: Context, run: RunHandle) -> None:
    """Stop each running process through its STOP status (never compose's kill), each a step of
    ``run``; then remove every container of the project (volumes are kept)."""
    from . import processes

    running = ctx.running()
    if running:
        processes.stop_each(ctx, running, run)
    ctx.project.down()
