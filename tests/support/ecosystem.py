"""One ecosystem under test, driven through its tasks as a trader would (``invoke ...``).

Built from a locally made Debian base and a generated stand-in private repository served
from a local path, with sentinel secrets that must not leak anywhere.
"""
from __future__ import annotations

import dataclasses
import os
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path

from ecosystem import images
from ecosystem.commands import invoke_argv
from ecosystem.settings import Settings, load_settings, write_env_file
from standins.demo import noon_zone  # the tests' trading day sits at noon too
from standins.pysystemtrade_repo import make_repo
from tests.support.net import free_ports
from tests.support.stacks import unique_stack

ROOT = Path(__file__).resolve().parents[2]
GIT_TOKEN = "sentinel-GIT-token-a1b2c3"
PRIVATE = "sentinel-PRIVATE-config-d4e5f6"
TWS_PASSWORD = "sentinel-TWS-password-778899"
TWS_USER = "sentinel-TWS-user-112233"
SENTINELS = [GIT_TOKEN, PRIVATE, TWS_PASSWORD, TWS_USER]



@dataclass
class Ecosystem:
    """One ecosystem under test: its folder, .env, settings and a way to run its tasks."""

    folder: Path
    test_stack: object
    values: dict
    output: list[str] = field(default_factory=list)

    @property
    def env_file(self) -> Path:
        return self.folder / ".env"

    def write_env(self) -> None:
        write_env_file(self.env_file, self.values)

    @property
    def settings(self) -> Settings:
        return load_settings(ROOT, env_file=self.env_file, environ={})

    def environ(self) -> dict[str, str]:
        environ = {k: v for k, v in os.environ.items() if k not in self.values}
        return environ | {"ECOSYSTEM_ENV_FILE": str(self.env_file), "HEALTH_INTERVAL": "1s",
                          "GATEWAY_START_PERIOD": "5s"}

    def start(self, *args: str, environ: dict | None = None, stderr=subprocess.STDOUT) -> subprocess.Popen:
        """Start ``invoke ARGS`` in the background (to signal it), output captured as text; ``environ``
        adds to the process environment (DOCKER_HOST, ALERT_URLS for one run)."""
        return subprocess.Popen(invoke_argv(*args), cwd=ROOT, env=self.environ() | (environ or {}),
                                stdout=subprocess.PIPE, stderr=stderr, text=True)

    def run(self, *args: str, check: bool = True, timeout: int = 900,
            environ: dict | None = None) -> subprocess.CompletedProcess:
        result = subprocess.run(invoke_argv(*args), cwd=ROOT, env=self.environ() | (environ or {}),
                                capture_output=True, text=True, timeout=timeout)
        self.output.append(result.stdout + result.stderr)
        if check and result.returncode != 0:
            raise AssertionError(f"invoke {' '.join(args)} exited {result.returncode}:\n"
                                 f"{result.stdout}\n{result.stderr}")
        return result


def make_ecosystem(client, folder: Path, base: str, shared_standins: Settings | None = None,
                   extra: dict | None = None, origin: str | None = None) -> Ecosystem:
    """An ecosystem whose private repository is the stand-in one, or the git URL ``origin``
    (the upstream contract tests give a real pysystemtrade tree)."""
    test_stack = unique_stack(client)
    test_stack = dataclasses.replace(test_stack, project=f"pysystemtrade{test_stack.suffix}")
    origin = origin or f"file://{make_repo(folder / 'origin', private_sentinel=PRIVATE)}"
    # a zone where it is about noon: inside every process's window (the stand-in, as upstream, declines
    # a process launched past its stop time)
    api_port, vnc_port, jupyter_port, page_port, dashboard_port = free_ports(5)
    values = {"TIMEZONE": noon_zone(), "NAME_SUFFIX": test_stack.suffix, "IPV4_NETWORK_PART": test_stack.network_part,
              "STATE_DIR": str(folder / "state"), "BACKUP_DIR": str(folder / "backup"),
              "REPORTS_DIR": str(folder / "reports"), "PYSYSTEMTRADE_REPO_URL": origin,
              "GIT_TOKEN": GIT_TOKEN, "TWSUSERID": TWS_USER, "TWSPASSWORD": TWS_PASSWORD,
              "PYTHON_BASE_IMAGE": base, "IB_API_PORT": str(api_port), "VNC_PORT": str(vnc_port),
              "JUPYTER_PORT": str(jupyter_port), "STATUS_PAGE_PORT": str(page_port),
              "DASHBOARD_PORT": str(dashboard_port), "STOP_GRACE_SECONDS": "20",
              "STOP_TERM_SECONDS": "3"} | (extra or {})
    eco = Ecosystem(folder, test_stack, values)
    eco.write_env()
    standin_source = shared_standins or eco.settings
    plans = {p.key: p for p in images.standin_plans(standin_source)}
    if shared_standins is None:
        for plan in plans.values():
            images.build(client, plan)
    eco.values |= {"MONGO_IMAGE": plans["standin-mongo"].current,
                   "GATEWAY_BASE_IMAGE": plans["standin-gateway"].current}
    eco.write_env()
    return eco


class CreatedContainers:
    """Watch the engine's events live (it keeps only its last 256) and collect the services created."""

    def __init__(self, label: str) -> None:
        import docker

        self._client = docker.from_env()
        self._stream = self._client.events(decode=True, filters={"type": "container", "event": "create",
                                                                 "label": label})
        self.services: list[str] = []
        self.one_offs: list[str] = []  # `docker compose run` containers (process control), not services
        self._thread = threading.Thread(target=self._collect, daemon=True)
        self._thread.start()

    def _collect(self) -> None:
        try:
            for event in self._stream:
                attributes = event["Actor"]["Attributes"]
                if attributes.get("com.docker.compose.oneoff") == "True":
                    self.one_offs.append(attributes.get("com.docker.compose.service", "?"))
                else:
                    self.services.append(attributes.get("com.docker.compose.service", "?"))
        except Exception:  # noqa: BLE001 - background reader: the stream is closed under it at the end
            pass

    def close(self) -> None:
        self._stream.close()
        self._client.close()


def windows_open_all_day(processes) -> str:
    """A private_control_config.yaml whose windows for ``processes`` run 00:01-23:50: nothing waits
    for a wall-clock time while the tests run."""
    return "process_configuration_start_time:\n" + "".join(f"  {p}: '00:01'\n" for p in processes) + \
        "process_configuration_stop_time:\n" + "".join(f"  {p}: '23:50'\n" for p in processes)


def write_private(made, name: str, text: str) -> None:
    """Write a file into the private config folder the containers mount, readable by their user."""
    s = made.settings
    path = Path(s.private_config_dir) / name
    path.write_text(text)
    os.chown(path, s.container_uid, -1)
    path.chmod(0o600)


def set_broker_account(made, account: str) -> None:
    """Set broker_account in the private config (the stand-in gateway's account is DU1234567)."""
    config = made.settings.private_config_dir / "private_config.yaml"
    lines = [line for line in config.read_text().splitlines() if not line.startswith("broker_account:")]
    config.write_text("\n".join(lines + [f"broker_account: '{account}'"]) + "\n")


def build_and_start(made, private: dict[str, str]) -> None:
    """Build the images, write ``private`` (file name -> text) into the private config folder,
    then `invoke setup` and `invoke up`: a module's ecosystem ready for its tests."""
    made.run("build")
    for name, text in private.items():
        write_private(made, name, text)
    made.run("setup")
    made.run("up")


def tear_down(client, made) -> None:
    """Remove everything a module's ecosystem made, and check that nothing is left."""
    from tests.support.stacks import leftovers, remove_everything

    created = getattr(made, "created", None)
    if created is not None:
        created.close()
    made.run("down", check=False)
    remove_everything(client, made.test_stack)
    assert leftovers(client, made.test_stack) == []
