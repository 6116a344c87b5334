"""Compose's own conventions, on the real engine: every task reads docker-compose.override.yml
(and EXTRA_COMPOSE_FILES) as `docker compose` would; the limits and privileges from the settings
reach the containers; a process killed at its memory limit is reported out of memory."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ecosystem.history import History
from tests.support.ecosystem import (
    ROOT,
    build_and_start,
    make_ecosystem,
    noon_zone,
    tear_down,
    windows_open_all_day,
    write_private,
)

OVERRIDE = ROOT / "docker-compose.override.yml"
OVERRIDE_TEXT = """\
# written by tests/integration/test_compose_conventions.py, removed when it ends
services:
  stack_handler:
    environment:
      OVERRIDE_PROBE: from-the-override
  override_probe:
    image: ${PYSYSTEMTRADE_IMAGE}
    container_name: override_probe${NAME_SUFFIX}
    entrypoint: ["python3", "-c", "import time; time.sleep(10**9)"]
    networks: [ecosystem]
"""
EXTRA_TEXT = """\
services:
  mongo_db:
    labels:
      probe.extra-file: "read"
"""
CHAIN = ("run_cleaners",)


@pytest.fixture(scope="module")
def eco(docker_client, debian_python, tmp_path_factory):
    if OVERRIDE.exists():
        pytest.fail(f"{OVERRIDE} exists (a trader's own?): this test writes that file; move it away to run the test")
    folder = tmp_path_factory.mktemp("compose-conventions")
    extra = folder / "extra.yml"
    extra.write_text(EXTRA_TEXT)
    made = make_ecosystem(docker_client, folder, debian_python, extra={
        "TIMEZONE": noon_zone(), "WORKFLOW_WEEKDAY_START": "1", "WORKFLOW_WEEKDAY_END": "7",
        "EOD_CHAIN": ",".join(CHAIN), "EOD_STOP_ON_FAILURE": "none",
        "EXTRA_COMPOSE_FILES": str(extra), "MONGO_CPUS": "1", "GATEWAY_MEMORY_LIMIT": "1280m"})
    OVERRIDE.write_text(OVERRIDE_TEXT)
    try:
        build_and_start(made, {"private_control_config.yaml": windows_open_all_day(CHAIN + ("run_stack_handler",)),
                               "standin_behaviour": "seconds=0.5\nrun_stack_handler=hang\n"})
        yield made
    finally:
        try:
            tear_down(docker_client, made)
        finally:
            OVERRIDE.unlink(missing_ok=True)


def _container(docker_client, eco, name: str):
    return docker_client.containers.get(f"{name}{eco.test_stack.suffix}")


def test_an_override_service_comes_up_with_up_and_its_environment_reaches_a_process(eco, docker_client):
    assert _container(docker_client, eco, "override_probe").status == "running"  # started by `invoke up`
    assert _container(docker_client, eco, "mongo_db").labels.get("probe.extra-file") == "read"  # EXTRA_COMPOSE_FILES
    out = eco.run("weekly.sync").stdout
    assert "launched run_stack_handler" in out
    handler = _container(docker_client, eco, "stack_handler")
    assert "OVERRIDE_PROBE=from-the-override" in handler.attrs["Config"]["Env"]
    eco.run("stop", "--process", "run_stack_handler")


def test_the_limits_and_privileges_from_the_settings_reach_the_containers(eco, docker_client):
    mongo = _container(docker_client, eco, "mongo_db").attrs["HostConfig"]
    assert mongo["Memory"] == 2 * 1024 ** 3 and mongo["MemorySwap"] == mongo["Memory"]
    assert mongo["NanoCpus"] == 1_000_000_000
    assert "no-new-privileges:true" in mongo["SecurityOpt"]
    gateway = _container(docker_client, eco, "ib_gateway").attrs
    assert gateway["HostConfig"]["Memory"] == 1280 * 1024 ** 2 and gateway["HostConfig"]["CapDrop"] == ["ALL"]
    assert "JAVA_HEAP_SIZE=768" in gateway["Config"]["Env"]
    runtime = _container(docker_client, eco, "pysys_runtime").attrs["HostConfig"]
    assert runtime["CapDrop"] == ["ALL"] and "no-new-privileges:true" in runtime["SecurityOpt"]
    assert runtime["Memory"] == 2 * 1024 ** 3 and runtime["NanoCpus"] == 0  # 0: no CPU limit


def test_a_process_killed_at_its_memory_limit_is_reported_out_of_memory(eco, docker_client):
    eco.values["PROCESS_MEMORY_LIMIT"] = "128m"
    eco.write_env()
    write_private(eco, "standin_behaviour", "seconds=0.5\nrun_cleaners=grow\n")
    try:
        since = datetime.now(UTC)
        done = eco.run("eod", "--force", check=False)
        assert done.returncode != 0
        [step] = [r for r in History(eco.settings.history_path).runs(job="eod", since=since)
                  if r.step == "run_cleaners"]
        assert step.outcome == "failed"
        assert step.detail.startswith("out of memory") and "PROCESS_MEMORY_LIMIT=128m" in step.detail, step.detail
        assert "out of memory" in done.stdout and "raise PROCESS_MEMORY_LIMIT" in done.stdout
    finally:
        write_private(eco, "standin_behaviour", "seconds=0.5\nrun_stack_handler=hang\n")
        eco.values.pop("PROCESS_MEMORY_LIMIT")
        eco.write_env()
