"""A Python base image for the pysystemtrade, Jupyter and stand-in images, on a host that has none.

``python_base`` returns PYTHON_BASE_IMAGE when the engine has it or can pull it. Where no registry
is reachable (an air-gapped host, a CI machine), it makes a local one instead: ``debootstrap
--variant=minbase bookworm`` imported as an image, then Python 3 in a virtual environment at
/opt/venv, trusting this host's CA bundle (about 70 s, once). Each image's tag is the hash of
everything that goes into it, so an unchanged recipe is reused and a changed one is rebuilt; a
file lock keeps two builds from racing. Making one needs root (debootstrap) and Debian's mirror.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import shlex
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from . import commands
from .errors import EcosystemError
from .images import exists

HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
LOCK = Path(tempfile.gettempdir()) / "pst-base-images.lock"
REPOSITORY = "pst-local"
DEBOOTSTRAP_ARGS = ("--variant=minbase", "bookworm")

DEBIAN_PYTHON_DOCKERFILE = """ARG BASE
FROM ${BASE}
RUN apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 python3-venv \\
 && rm -rf /var/lib/apt/lists/* \\
 && python3 -m venv /opt/venv
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
ENV PATH=/opt/venv/bin:$PATH \\
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \\
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt \\
    REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
"""


def recipe_tag(name: str, *ingredients: bytes, repository: str = REPOSITORY) -> str:
    """Return ``REPOSITORY/NAME:HASH`` where HASH covers every ingredient of the image."""
    digest = hashlib.sha256()
    for part in ingredients:
        digest.update(hashlib.sha256(part).digest())
    return f"{repository}/{name}:{digest.hexdigest()[:16]}"


@contextmanager
def build_lock():
    with open(LOCK, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def build_from_text(client, tag: str, dockerfile: str, files: dict[str, Path], buildargs: dict | None = None) -> None:
    """Build ``tag`` from a Dockerfile text and files copied into a fresh context."""
    with tempfile.TemporaryDirectory(prefix="pst-image-") as context:
        Path(context, "Dockerfile").write_text(dockerfile)
        for name, source in files.items():
            shutil.copy2(source, Path(context, name))
        client.images.build(path=context, tag=tag, buildargs=buildargs or {}, rm=True, forcerm=True, pull=False)


def debian_base(client, repository: str = REPOSITORY) -> str:
    tag = recipe_tag("debian-base", " ".join(DEBOOTSTRAP_ARGS).encode(), repository=repository)
    with build_lock():
        if exists(client, tag):
            return tag
        if os.geteuid() != 0:
            raise EcosystemError("there is no Python base image here, and making one (debootstrap) needs root",
                                 fix="make PYTHON_BASE_IMAGE available (docker pull python:3.10-slim-bookworm), "
                                     "or run this as root with debootstrap installed (scripts/install.sh)")
        if shutil.which("debootstrap") is None:
            raise EcosystemError("there is no Python base image here and debootstrap is not installed",
                                 fix="apt-get install debootstrap (scripts/install.sh does it), or make "
                                     "PYTHON_BASE_IMAGE available (docker pull python:3.10-slim-bookworm)")
        with tempfile.TemporaryDirectory(prefix="pst-debootstrap-") as root:
            commands.run(["debootstrap", *DEBOOTSTRAP_ARGS, root], timeout=900)
            commands.run(["sh", "-c", f"tar -C {shlex.quote(root)} -c . | docker import - {shlex.quote(tag)}"],
                        timeout=600)
    return tag


def debian_python(client, repository: str = REPOSITORY) -> str:
    base = debian_base(client, repository)
    tag = recipe_tag("debian-python", base.encode(), DEBIAN_PYTHON_DOCKERFILE.encode(), HOST_CA_BUNDLE.read_bytes(),
                     repository=repository)
    with build_lock():
        if not exists(client, tag):
            build_from_text(client, tag, DEBIAN_PYTHON_DOCKERFILE, {"ca-certificates.crt": HOST_CA_BUNDLE},
                            buildargs={"BASE": base})
    return tag


def python_base(client, wanted: str, say=print) -> str:
    """Return an image to build from: ``wanted`` if present or pullable, else a locally made Debian with Python."""
    from .engine import DockerException, parse_repository_tag

    if exists(client, wanted):
        return wanted
    repository, tag = parse_repository_tag(wanted)
    try:
        client.images.pull(repository, tag=tag or "latest")
        return wanted
    except DockerException as exc:
        say(f"{wanted} is not on this engine and cannot be pulled ({str(exc).splitlines()[0][:80]}...); "
            "using a local Debian Python base instead (made with debootstrap the first time, about a minute)")
    return debian_python(client)
