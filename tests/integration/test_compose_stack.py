"""A two-service stand-in compose project on the real engine: up, healthy, down, nothing left."""
from __future__ import annotations

import pytest

from ecosystem.compose import Compose
from ecosystem.errors import ComposeError
from tests.support.stacks import leftovers

STANDIN_COMPOSE = """
services:
  server:
    image: ${BUSYBOX_IMAGE:?see the test}
    container_name: server${NAME_SUFFIX}
    command: ["sh", "-c", "mkdir -p /www && echo stand-in-ok > /www/index.html && echo kept > /data/kept && exec httpd -f -p 8080 -h /www"]
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"]
      interval: 1s
      timeout: 2s
      retries: 30
    stop_grace_period: 2s
    volumes: [data:/data]
    networks: [net]
  client:
    image: ${BUSYBOX_IMAGE:?see the test}
    container_name: client${NAME_SUFFIX}
    command: ["sh", "-c", "wget -q -O - http://server:8080/ && exec sleep 3600"]
    depends_on:
      server:
        condition: service_healthy
    stop_grace_period: 1s
    networks: [net]
  oneshot:
    image: ${BUSYBOX_IMAGE:?see the test}
    container_name: oneshot${NAME_SUFFIX}
    profiles: [oneshot]
    command: ["true"]
    networks: [net]
networks:
  net:
    name: net${NAME_SUFFIX}
    ipam:
      config:
        - subnet: ${IPV4_NETWORK_PART:?see the test}.0/24
volumes:
  data:
    name: data${NAME_SUFFIX}
"""  # noqa: E501 - the server's one-line command stays as written


@pytest.fixture
def standin(tmp_path, stack, busybox):
    compose_file = tmp_path / "docker-compose.yml"
    compose_file.write_text(STANDIN_COMPOSE)
    env = {"BUSYBOX_IMAGE": busybox, "NAME_SUFFIX": stack.suffix, "IPV4_NETWORK_PART": stack.network_part}
    return Compose(project=stack.project, files=[compose_file], env=env, cwd=tmp_path)


def test_standin_project_comes_up_healthy_and_goes_down_leaving_nothing(docker_client, stack, standin):
    standin.up(wait=True, timeout=120)
    states = {c["Service"]: c for c in standin.ps()}
    assert set(states) == {"server", "client"}, "a profiled service must not start with up"
    assert states["server"]["Health"] == "healthy"
    assert all(c["State"] == "running" for c in states.values())
    network = docker_client.networks.get(f"net{stack.suffix}")
    assert network.attrs["IPAM"]["Config"][0]["Subnet"] == f"{stack.network_part}.0/24"
    assert "stand-in-ok" in standin.logs("client"), "services must reach each other by name"

    standin.down(volumes=True, stop_grace=2)
    assert leftovers(docker_client, stack) == []


def test_down_removes_profiled_one_shot_containers_too(docker_client, stack, standin):
    standin.up(wait=True, timeout=120)
    standin.up(["oneshot"], wait=False)
    assert docker_client.containers.get(f"oneshot{stack.suffix}").wait(timeout=30)["StatusCode"] == 0
    standin.down(volumes=True, stop_grace=2)
    assert leftovers(docker_client, stack) == []


def test_an_unhealthy_service_fails_up_with_a_clear_error(tmp_path, stack, busybox):
    compose_file = tmp_path / "broken.yml"
    compose_file.write_text(STANDIN_COMPOSE.replace('"http://127.0.0.1:8080/"', '"http://127.0.0.1:9/"')
                            .replace("retries: 30", "retries: 2"))
    broken = Compose(project=stack.project, files=[compose_file], cwd=tmp_path,
                     env={"BUSYBOX_IMAGE": busybox, "NAME_SUFFIX": stack.suffix,
                          "IPV4_NETWORK_PART": stack.network_part})
    with pytest.raises(ComposeError) as caught:
        broken.up(wait=True, timeout=60)
    message = str(caught.value)
    assert stack.project in message and "service" in message and "unhealthy" in message.lower()
    assert caught.value.service in ("server", "client")
    broken.down(volumes=True, stop_grace=1)
