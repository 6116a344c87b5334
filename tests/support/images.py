"""Images the tests need, built here without any registry, cached by the hash of their recipe.

- ``busybox_image``: Debian's static busybox copied into ``FROM scratch`` (about 1 s).
- ``debian_base_image`` / ``debian_python_image``: the product's own local Python base
  (``ecosystem/base_images.py``: debootstrap, then Python in /opt/venv), the same image
  ``invoke demo`` makes on a host that cannot pull ``PYTHON_BASE_IMAGE``.
"""
from __future__ import annotations

from pathlib import Path

from ecosystem import base_images
from ecosystem.images import exists

BUSYBOX = Path("/bin/busybox")

BUSYBOX_DOCKERFILE = """FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
CMD ["/bin/sh"]
"""


def busybox_image(client) -> str:
    tag = base_images.recipe_tag("busybox", BUSYBOX_DOCKERFILE.encode(), BUSYBOX.read_bytes(), repository="pst-test")
    with base_images.build_lock():
        if not exists(client, tag):
            base_images.build_from_text(client, tag, BUSYBOX_DOCKERFILE, {"busybox": BUSYBOX})
    return tag


def debian_base_image(client) -> str:
    return base_images.debian_base(client)


def debian_python_image(client) -> str:
    return base_images.debian_python(client)
