"""The ecosystem's images: what to build (a plan), building it, and rolling back.

Each image has a ``current`` tag that compose runs and a ``previous`` tag holding the image
``current`` had before the last build, so ``rollback`` can put it back. A build goes to a
temporary tag first: a failed build leaves ``current`` and ``previous`` untouched.

The pysystemtrade image's context is the clone WITHOUT ``.git/`` and ``private/``, streamed
as a tar this module writes itself, so no token, history or private config can reach it.
"""
from __future__ import annotations

import io
import json
import logging
import os
import tarfile
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from .errors import EcosystemError

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
EXCLUDED_TOP = (".git", "private")
CONTEXT_DOCKERFILE = ".ecosystem.Dockerfile"


class ImageBuildError(EcosystemError):
    """An image did not build; ``image`` names it, the message ends with the build's last lines."""

    def __init__(self, message: str, *, image: str, fix: str = "") -> None:
        super().__init__(message, fix=fix)
        self.image = image


@dataclass(frozen=True)
class ImagePlan:
    """One image to build: its repository name, Dockerfile, context folder and build arguments."""

    key: str                 # pysystemtrade | jupyter | ib_gateway | standin-mongo | standin-gateway
    repository: str          # e.g. pysystemtrade_prod
    dockerfile: Path
    context: Path
    buildargs: dict = field(default_factory=dict)
    strip_private: bool = False  # the context is a pysystemtrade clone: leave out .git/ and private/

    @property
    def current(self) -> str:
        return f"{self.repository}:current"

    @property
    def previous(self) -> str:
        return f"{self.repository}:previous"


def image_names(settings) -> dict[str, str]:
    """Return the ``current`` tag of each image the compose file runs."""
    suffix = settings.name_suffix
    return {"pysystemtrade": f"pysystemtrade{suffix}:current", "jupyter": f"pysystemtrade-jupyter{suffix}:current",
            "ib_gateway": f"pysystemtrade-gateway{suffix}:current"}


# services of docker-compose.yml -> the image they run (mongo_db runs MONGO_IMAGE, not built here)
SERVICE_IMAGES = {"pysys_runtime": "pysystemtrade", "stack_handler": "pysystemtrade", "capital_update": "pysystemtrade",
                  "daily_processes": "pysystemtrade", "csv_backup": "pysystemtrade",
                  "jupyter": "jupyter", "ib_gateway": "ib_gateway"}
BUILD_ORDER = ("pysystemtrade", "jupyter", "ib_gateway")


def plan_build(settings, service: str | None = None) -> list[ImagePlan]:
    """Given the settings (and optionally one service), return the images to build, in order.

    Raise EcosystemError naming the services that can be built if ``service`` is not one.
    """
    suffix = settings.name_suffix
    plans = {
        "pysystemtrade": ImagePlan(
            "pysystemtrade", f"pysystemtrade{suffix}", ROOT / "docker" / "pysystemtrade" / "Dockerfile",
            settings.pysystemtrade_clone_dir,
            {"BASE_IMAGE": settings.python_base_image, "CONTAINER_UID": str(settings.container_uid),
             "PYSYS_CODE": settings.pysys_code, "SCRIPT_PATH": settings.script_path}, strip_private=True),
        "jupyter": ImagePlan(
            "jupyter", f"pysystemtrade-jupyter{suffix}", ROOT / "docker" / "jupyter" / "Dockerfile",
            ROOT / "docker" / "jupyter",
            {"PYSYSTEMTRADE_IMAGE": f"pysystemtrade{suffix}:current",
             "JUPYTERLAB_VERSION": settings.jupyterlab_version}),
        "ib_gateway": ImagePlan(
            "ib_gateway", f"pysystemtrade-gateway{suffix}", ROOT / "ib_gateway" / "Dockerfile", ROOT / "ib_gateway",
            {"GATEWAY_BASE_IMAGE": settings.gateway_base_image}),
    }
    if service is None:
        return [plans[key] for key in BUILD_ORDER]
    if service in plans:
        return [plans[service]]
    if service in SERVICE_IMAGES:
        return [plans[SERVICE_IMAGES[service]]]
    known = ", ".join(sorted(set(SERVICE_IMAGES) | set(plans)))
    raise EcosystemError(f"no image to build for {service!r}", fix=f"use one of: {known} (mongo_db runs MONGO_IMAGE)")


def standin_plans(settings) -> list[ImagePlan]:
    """Return the stand-in images (MongoDB, the gateway's base) built from PYTHON_BASE_IMAGE."""
    suffix = settings.name_suffix
    base = {"BASE_IMAGE": settings.python_base_image}
    return [ImagePlan("standin-mongo", f"pysystemtrade-standin-mongo{suffix}",
                      ROOT / "standins" / "mongo" / "Dockerfile", ROOT / "standins" / "mongo", base),
            ImagePlan("standin-gateway", f"pysystemtrade-standin-gateway{suffix}",
                      ROOT / "standins" / "gateway" / "Dockerfile", ROOT / "standins" / "gateway", base)]


def _context_members(folder: Path, strip_private: bool) -> Iterable[Path]:
    for dirpath, dirnames, filenames in os.walk(folder):
        here = Path(dirpath)
        if here == folder and strip_private:
            dirnames[:] = [d for d in dirnames if d not in EXCLUDED_TOP]
        dirnames.sort()
        for name in sorted(filenames):
            if here == folder and name == CONTEXT_DOCKERFILE:
                continue
            yield here / name
        for name in dirnames:
            yield here / name


def write_context(plan: ImagePlan, target) -> list[str]:
    """Write the build context of ``plan`` as a tar into the binary file ``target``; return its member names."""
    if not plan.context.is_dir():
        raise EcosystemError(f"build context {plan.context} does not exist",
                             fix="run `invoke build` without --no-pull-repo to clone the repository first"
                             if plan.strip_private else "restore the project's files (git checkout)")
    names = []
    with tarfile.open(fileobj=target, mode="w") as archive:
        for path in _context_members(plan.context, plan.strip_private):
            arcname = str(path.relative_to(plan.context))
            archive.add(path, arcname=arcname, recursive=False)
            names.append(arcname)
        data = plan.dockerfile.read_bytes()
        info = tarfile.TarInfo(CONTEXT_DOCKERFILE)
        info.size, info.mode = len(data), 0o644
        archive.addfile(info, io.BytesIO(data))
    return names


def exists(client, tag: str) -> bool:
    """Say whether the engine has an image called ``tag``."""
    from docker.errors import ImageNotFound

    try:
        client.images.get(tag)
        return True
    except ImageNotFound:
        return False


def build(client, plan: ImagePlan, *, redact: Callable[[str], str] = lambda t: t,
          progress: Callable[[str], None] | None = None) -> str:
    """Build ``plan``; on success move ``current`` to ``previous`` and tag the new image ``current``.

    Return the new image id. Raise ImageBuildError with the build's last lines on failure,
    leaving both tags as they were.
    """
    from docker.errors import APIError, BuildError

    temporary = f"{plan.repository}:build-{uuid.uuid4().hex[:8]}"
    lines: list[str] = []
    with tempfile.TemporaryFile() as context:
        write_context(plan, context)
        context.seek(0)
        try:
            for chunk in client.api.build(fileobj=context, custom_context=True, dockerfile=CONTEXT_DOCKERFILE,
                                          tag=temporary, buildargs=plan.buildargs, rm=True, forcerm=True,
                                          decode=True, pull=False):
                text = chunk.get("stream") or chunk.get("status") or ""
                if text.strip():
                    lines.append(redact(text.rstrip()))
                    if progress:
                        progress(lines[-1])
                if "error" in chunk:
                    raise BuildError(redact(chunk["error"]), lines)
        except (BuildError, APIError) as exc:
            tail = "\n".join(lines[-12:])
            raise ImageBuildError(f"image {plan.repository} did not build: {redact(str(exc))}\n{tail}",
                                  image=plan.key, fix=f"read the lines above; the Dockerfile is {plan.dockerfile}") from None
    new = client.images.get(temporary)
    if exists(client, plan.current):
        old = client.images.get(plan.current)
        if old.id != new.id:
            old.tag(plan.repository, "previous")
    new.tag(plan.repository, "current")
    client.images.remove(temporary, noprune=True)
    log.info("built %s as %s", plan.current, new.id)
    return new.id


def record_build(state_dir: Path, repositories: list[str]) -> None:
    """Remember which images the last build replaced, for ``rollback``."""
    path = Path(state_dir) / "last_build.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"repositories": repositories}))


def last_build(state_dir: Path) -> list[str] | None:
    """Return the images the last build replaced, or None if no build was recorded."""
    try:
        return list(json.loads((Path(state_dir) / "last_build.json").read_text())["repositories"])
    except (OSError, ValueError, KeyError):
        return None


def rollback(client, repository: str) -> tuple[str, str]:
    """Swap ``current`` and ``previous`` of ``repository``; return (new current id, new previous id).

    Raise EcosystemError if there is no previous image.
    """
    if not exists(client, f"{repository}:previous") or not exists(client, f"{repository}:current"):
        raise EcosystemError(f"{repository} has no previous image to roll back to",
                             fix="rollback needs two builds; run `invoke build` first")
    current = client.images.get(f"{repository}:current")
    previous = client.images.get(f"{repository}:previous")
    previous.tag(repository, "current")
    current.tag(repository, "previous")
    return previous.id, current.id


def image_created(client, tag: str) -> str | None:
    """Return the ISO creation time of ``tag``, or None if there is no such image."""
    from docker.errors import ImageNotFound

    try:
        return client.images.get(tag).attrs.get("Created")
    except ImageNotFound:
        return None


def describe(plan: ImagePlan) -> str:
    """One line saying what building ``plan`` means, for --dry-run."""
    args = json.dumps(plan.buildargs, sort_keys=True)
    context = f"{plan.context} without .git/ and private/" if plan.strip_private else str(plan.context)
    return f"build {plan.current} from {plan.dockerfile.relative_to(ROOT)} (context {context}; args {args})"
