"""The scheduler's systemd unit: rendered for this checkout, a chosen user and the settings'
folders (deciding), then written and enabled (doing).

The unit is a notify service the loop's watchdog feeds, sandboxed: the user's own rights and
no capabilities, the file system read-only but for the folders the ecosystem writes, a private
/tmp, files created private (UMask 0077), and a stop timeout longer than a job's graceful stop
of its processes (STOP, then SIGTERM, then SIGKILL) so systemd never cuts one short.
"""
from __future__ import annotations

import grp
import os
import pwd
import shlex
from dataclasses import dataclass
from pathlib import Path

from .errors import EcosystemError
from .settings import ENV_FILE_VARIABLE, Settings

UNIT_DIR = Path("/etc/systemd/system")
DOCKER_GROUP = "docker"
ROOT_CAPABILITIES = "CAP_CHOWN CAP_DAC_OVERRIDE CAP_DAC_READ_SEARCH CAP_FOWNER CAP_KILL"


@dataclass(frozen=True)
class Account:
    """Who the scheduler runs as."""

    name: str
    group: str
    home: Path
    groups: frozenset[str]

    @property
    def reaches_the_engine(self) -> bool:
        """Whether the user may use the Docker socket (root, or a member of its group)."""
        return self.name == "root" or DOCKER_GROUP in self.groups


def account(name: str) -> Account:
    """Return the account ``name``; raise EcosystemError (with the fix) if there is none."""
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise EcosystemError(f"there is no user {name!r} on this host",
                             fix=f"create it (adduser --disabled-password {name}) or pass --user NAME") from None
    primary = grp.getgrgid(entry.pw_gid).gr_name
    groups = frozenset({primary} | {g.gr_name for g in grp.getgrall() if name in g.gr_mem})
    return Account(name, primary, Path(entry.pw_dir), groups)


def owner_of(path: Path) -> str:
    """Return the name of the user owning ``path`` (the checkout: who installed it)."""
    return pwd.getpwuid(path.stat().st_uid).pw_name


def unit_name(settings: Settings) -> str:
    """``pysystemtrade-scheduler`` plus the ecosystem's name suffix: one unit per ecosystem on a host."""
    return f"pysystemtrade-scheduler{settings.name_suffix}.service"


def writable_paths(settings: Settings) -> list[Path]:
    """The folders the scheduler's jobs write (every other path is read-only to it)."""
    paths = [settings.state_dir, settings.backup_dir, settings.reports_dir, settings.pysystemtrade_clone_dir,
             settings.private_config_dir]
    seen: list[Path] = []
    for path in paths:
        resolved = Path(os.path.abspath(path))
        if not any(resolved == kept or resolved.is_relative_to(kept) for kept in seen):
            seen = [kept for kept in seen if not kept.is_relative_to(resolved)] + [resolved]
    return sorted(seen)


def _quoted(path: Path) -> str:
    text = str(path)
    if any(c.isspace() or c in "\"'\\" for c in text):
        raise EcosystemError(f"{text!r} holds a space or a quote, which a systemd unit's path list cannot carry",
                             fix="move the checkout or that folder to a path without spaces")
    return text


def render(settings: Settings, *, checkout: Path, user: Account, env_file: Path | None = None) -> str:
    """Given the settings, this checkout and the account, return the unit's text."""
    checkout = Path(os.path.abspath(checkout))
    invoke = checkout / ".venv" / "bin" / "invoke"
    stop_seconds = settings.job_stop_seconds + 60  # the loop's own grace for its jobs, then a minute to exit
    readwrite = " ".join(f"-{_quoted(p)}" for p in writable_paths(settings))  # "-": a folder not made yet is fine
    environment = (f"Environment={ENV_FILE_VARIABLE}={_quoted(Path(os.path.abspath(env_file)))}\n"
                   if env_file else "")
    # a user has no capabilities anyway; root keeps only what it needs for files the containers wrote
    # (owned by CONTAINER_UID in BACKUP_DIR and REPORTS_DIR) and to signal its jobs
    capabilities = ROOT_CAPABILITIES if user.name == "root" else ""
    return f"""\
# Rendered by `invoke install-service` for {checkout} (user {user.name}); render it again after
# moving the checkout or changing STATE_DIR, BACKUP_DIR, REPORTS_DIR or the stop graces.
# Its output: journalctl -u {unit_name(settings)} (and STATE_DIR/logs/scheduler.log).
[Unit]
Description=pysystemtrade ecosystem scheduler (invoke run-scheduler, {settings.compose_project})
Wants=docker.service network-online.target
After=docker.service network-online.target

[Service]
# notify: the loop says READY=1 once it runs and WATCHDOG=1 at each turn (every few seconds);
# a loop that stops turning for WatchdogSec is killed and restarted (Restart=always)
Type=notify
NotifyAccess=main
WatchdogSec=120
User={user.name}
Group={user.group}
WorkingDirectory={_quoted(checkout)}
{environment}ExecStart={shlex.quote(_quoted(invoke))} run-scheduler
# SIGTERM: running jobs are asked to finish cleanly (a process through its STOP status, then
# SIGTERM, then SIGKILL: STOP_GRACE_SECONDS + STOP_TERM_SECONDS), so systemd waits longer
KillSignal=SIGTERM
KillMode=mixed
TimeoutStopSec={stop_seconds}
Restart=always
RestartSec=30

# sandbox: the user's rights only; nothing writable but the ecosystem's own folders
UMask=0077
NoNewPrivileges=yes
CapabilityBoundingSet={capabilities}
AmbientCapabilities=
ProtectSystem=strict
ProtectHome=read-only
ReadWritePaths={readwrite}
PrivateTmp=yes
PrivateDevices=yes
DevicePolicy=closed
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
PrivateMounts=yes
ProtectProc=invisible
RestrictSUIDSGID=yes
RestrictRealtime=yes
RestrictNamespaces=yes
LockPersonality=yes
KeyringMode=private
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallErrorNumber=EPERM
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6

[Install]
WantedBy=multi-user.target
"""


@dataclass(frozen=True)
class Installed:
    path: Path
    enabled: bool
    said: tuple[str, ...]


def install(text: str, *, name: str, unit_dir: Path, systemctl) -> Installed:
    """Write the unit ``name`` into ``unit_dir`` (0644) and, where systemd runs (``systemctl`` not None),
    reload it and enable and (re)start the unit; return what was done."""
    from .state_files import write_text

    path = unit_dir / name
    try:
        write_text(path, text, mode=0o644)
    except PermissionError:
        raise EcosystemError(f"cannot write {path}", fix="run it as root: sudo .venv/bin/invoke install-service") \
            from None
    if systemctl is None:
        return Installed(path, False, (f"systemd is not running here: {name} is written but not enabled; "
                                       f"on a host with systemd: systemctl daemon-reload && systemctl enable --now "
                                       f"{name}",))
    said = []
    for argv in (("daemon-reload",), ("enable", name), ("restart", name)):
        systemctl(argv)
        said.append("systemctl " + " ".join(argv))
    return Installed(path, True, tuple(said))
