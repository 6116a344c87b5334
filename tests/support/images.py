"""Images the tests need, built here without any registry, cached by the hash of their recipe.

- ``busybox_image``: Debian's static busybox copied into ``FROM scratch`` (about 1 s).
- ``debian_base_image``: ``debootstrap --variant=minbase`` imported as an image (about 35 s).
- ``debian_python_image``: that base with Python 3 in a virtual environment at /opt/venv,
  trusting this host's CA bundle (about 35 s more).

An image's tag is the hash of everything that goes into it (Dockerfile text, the files
copied in, the debootstrap arguments), so an unchanged recipe is reused across test runs
and a changed one is rebuilt. Builds take a file lock so two sessions never race.
"""
from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path

from ecosystem.images import exists

HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
BUSYBOX = Path("/bin/busybox")
LOCK = Path(tempfile.gettempdir()) / "pst-test-images.lock"
REPOSITORY = "pst-test"

BUSYBOX_DOCKERFILE = """FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
CMD ["/bin/sh"]
"""

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


def recipe_tag(name: str, *ingredients: bytes) -> str:
    """Return ``pst-test/NAME:HASH`` where HASH covers every ingredient of the image."""
    digest = hashlib.sha256()
    for part in ingredients:
        digest.update(hashlib.sha256(part).digest())
    return f"{REPOSITORY}/{name}:{digest.hexdigest()[:16]}"


@contextmanager
def _build_lock():
    with open(LOCK, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _build(client, tag: str, dockerfile: str, files: dict[str, Path], buildargs: dict | None = None) -> None:
    """Build ``tag`` from a Dockerfile text and files copied into a fresh context."""
    with tempfile.TemporaryDirectory(prefix="pst-test-image-") as context:
        Path(context, "Dockerfile").write_text(dockerfile)
        for name, source in files.items():
            shutil.copy2(source, Path(context, name))
        client.images.build(path=context, tag=tag, buildargs=buildargs or {}, rm=True, forcerm=True, pull=False)


def busybox_image(client) -> str:
    tag = recipe_tag("busybox", BUSYBOX_DOCKERFILE.encode(), BUSYBOX.read_bytes())
    with _build_lock():
        if not exists(client, tag):
            _build(client, tag, BUSYBOX_DOCKERFILE, {"busybox": BUSYBOX})
    return tag


def debian_base_image(client) -> str:
    tag = recipe_tag("debian-base", " ".join(DEBOOTSTRAP_ARGS).encode())
    with _build_lock():
        if exists(client, tag):
            return tag
        with tempfile.TemporaryDirectory(prefix="pst-test-debootstrap-") as root:
            subprocess.run(["debootstrap", *DEBOOTSTRAP_ARGS, root], check=True, capture_output=True, timeout=900)
            tar = subprocess.Popen(["tar", "-C", root, "-c", "."], stdout=subprocess.PIPE)
            subprocess.run(["docker", "import", "-", tag], stdin=tar.stdout, check=True, capture_output=True,
                           timeout=600)
            tar.stdout.close()
            if tar.wait() != 0:
                raise RuntimeError("tar of the debootstrap tree failed")
    return tag


def debian_python_image(client) -> str:
    base = debian_base_image(client)
    tag = recipe_tag("debian-python", base.encode(), DEBIAN_PYTHON_DOCKERFILE.encode(), HOST_CA_BUNDLE.read_bytes())
    with _build_lock():
        if not exists(client, tag):
            _build(client, tag, DEBIAN_PYTHON_DOCKERFILE, {"ca-certificates.crt": HOST_CA_BUNDLE},
                   buildargs={"BASE": base})
    return tag
