"""Fixtures for tests against the real Docker engine, a real smbd and real git remotes."""
from __future__ import annotations

import shutil

import pytest

from tests.support import images
from tests.support.requirements import missing
from tests.support.samba import start_samba
from tests.support.stacks import leftovers, remove_everything, unique_stack

SMB_PASSWORD = "sentinel-smb-Password-41c7"


@pytest.fixture(scope="session")
def docker_client():
    import docker

    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except (docker.errors.DockerException, OSError) as exc:  # requests' errors are OSErrors
        missing("the Docker engine", f"start dockerd or run scripts/test.sh ({type(exc).__name__})")
    yield client
    client.close()


@pytest.fixture(scope="session")
def busybox(docker_client) -> str:
    if not images.BUSYBOX.exists():
        missing("busybox-static", "apt-get install busybox-static (scripts/test.sh does it)")
    return images.busybox_image(docker_client)


@pytest.fixture(scope="session")
def debian_python(docker_client) -> str:
    if not shutil.which("debootstrap"):
        missing("debootstrap", "apt-get install debootstrap (scripts/test.sh does it)")
    return images.debian_python_image(docker_client)


@pytest.fixture
def stack(docker_client):
    """A unique project name, suffix and subnet; everything carrying them is removed afterwards."""
    test_stack = unique_stack(docker_client)
    yield test_stack
    remove_everything(docker_client, test_stack)
    assert leftovers(docker_client, test_stack) == []


@pytest.fixture(scope="session")
def samba(tmp_path_factory):
    if not shutil.which("smbd") and not shutil.which("/usr/sbin/smbd"):
        missing("Samba (smbd)", "apt-get install samba (scripts/test.sh does it)")
    server = start_samba(tmp_path_factory.mktemp("samba"), SMB_PASSWORD)
    yield server
    server.stop()
