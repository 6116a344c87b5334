"""The ecosystem's images: what to build (a plan), building it, and rolling back.

Each image has a ``current`` tag that compose runs and a ``previous`` tag holding the image
``current`` had before the last build, so ``rollback`` can put it back. A build goes to a
temporary tag first: a failed build leaves ``current`` and ``previous`` untouched.

The pysystemtrade image's context is the clone WITHOUT ``.git/`` and ``private/``, streamed
as a tar this module writes itself, so no token, history or private config can reach it.
"""
from __future__ import annotations

import dataclasses
import io
import json
import logging
import os
import re
import tarfile
import tempfile
import tomllib
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .errors import EcosystemError

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
EXCLUDED_TOP = (".git", "private")
CONTEXT_DOCKERFILE = ".ecosystem.Dockerfile"
SHIPPED_CONSTRAINTS = ROOT / "docker" / "pysystemtrade" / "build-constraints.txt"
LAUNCHER = ROOT / "docker" / "pysystemtrade" / "pysys-launch"


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
    constraints: Path | None = None  # pip constraints for the clone's dependencies (None: none)

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
             "PYSYS_CODE": settings.pysys_code, "SCRIPT_PATH": settings.script_path}, strip_private=True,
            constraints=constraints_file(settings)),
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


def constraints_file(settings) -> Path | None:
    """Return the pip constraints file of PYSYS_BUILD_CONSTRAINTS: the shipped one when empty, None for ``none``."""
    chosen = settings.pysys_build_constraints.strip()
    if chosen.lower() == "none":
        return None
    if not chosen:
        return SHIPPED_CONSTRAINTS
    path = Path(chosen).expanduser()
    return path if path.is_absolute() else Path(settings.root) / path


def dependencies(context: Path) -> tuple[str, dict[str, bytes]]:
    """Given a pysystemtrade repository, return where its dependencies come from and the
    requirement files to install (``requirements.txt`` first, with the files it includes).

    A repository with only a ``pyproject.toml`` gets its ``[project] dependencies`` written as
    ``requirements.txt``. Raise EcosystemError if it declares neither.
    """
    requirements = context / "requirements.txt"
    if requirements.is_file():
        files = {path.name: path.read_bytes() for path in sorted(context.glob("requirements*.txt")) if path.is_file()}
        return "requirements.txt", files
    pyproject = context / "pyproject.toml"
    if pyproject.is_file():
        try:
            project = tomllib.loads(pyproject.read_text()).get("project", {})
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise EcosystemError(f"{pyproject} is not valid TOML ({exc})", fix="fix it in your repository") from None
        if "dependencies" in project:
            text = "".join(f"{line}\n" for line in project["dependencies"])
            return "pyproject.toml [project] dependencies", {"requirements.txt": text.encode()}
    raise EcosystemError(f"{context} has neither requirements.txt nor [project] dependencies in pyproject.toml",
                         fix="check PYSYSTEMTRADE_REPO_URL and the branch: pysystemtrade keeps its dependencies "
                             "in requirements.txt")


_STRICT_VERSION_CHECK = re.compile(
    r"StrictVersion\(\s*platform\.python_version\(\)\s*\)\s*(<=|<)\s*StrictVersion\(\s*[\"']([\d.]+)[\"']\s*\)")


def required_python(context: Path) -> tuple[str, str] | None:
    """Return (specifier, where it is declared) of the Python the repository requires, or None.

    Read from ``requires-python`` in pyproject.toml, ``python_requires`` in setup.py, or the
    version check pysystemtrade's own setup.py makes (1.80: it exits on Python 3.10.0 or older).
    """
    pyproject = context / "pyproject.toml"
    if pyproject.is_file():
        try:
            spec = tomllib.loads(pyproject.read_text()).get("project", {}).get("requires-python")
        except (tomllib.TOMLDecodeError, UnicodeDecodeError):
            spec = None
        if spec:
            return str(spec), "requires-python in pyproject.toml"
    setup = context / "setup.py"
    if setup.is_file():
        text = setup.read_text(errors="replace")
        declared = re.search(r"python_requires\s*=\s*[\"']([^\"']+)[\"']", text)
        if declared:
            return declared.group(1), "python_requires in setup.py"
        check = _STRICT_VERSION_CHECK.search(text)
        if check:  # "exit if version <= X" means "requires > X"
            return (">" if check.group(1) == "<=" else ">=") + check.group(2), "the Python version check in setup.py"
    return None


def check_python(required: tuple[str, str] | None, version: str, base_image: str) -> None:
    """Raise EcosystemError if the base image's Python ``version`` does not meet ``required``."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    if required is None:
        return
    spec, where = required
    try:
        ok = SpecifierSet(spec).contains(version, prereleases=True)
    except InvalidSpecifier:
        log.warning("cannot read the Python requirement %r (%s); not checked", spec, where)
        return
    if not ok:
        raise EcosystemError(f"your repository requires Python {spec} ({where}), but the base image {base_image} "
                             f"has Python {version}",
                             fix=f"set PYTHON_BASE_IMAGE to an image with Python {spec} "
                                 "(pysystemtrade targets python:3.10-slim-bookworm)")


_PYYAML_5 = re.compile(r"^\s*(pyyaml\s*==\s*5(?:\.[\w.]*)?)\s*(?:[#;].*)?$", re.IGNORECASE | re.MULTILINE)
_CYTHON_BELOW_3 = re.compile(r"^\s*cython\s*(<\s*3|<=\s*0|==\s*0)", re.IGNORECASE | re.MULTILINE)


def known_pin_problems(requirements: dict[str, bytes], constraints: bytes) -> list[str]:
    """Return what is known to fail in these pins under these constraints (one line each)."""
    text = b"\n".join(requirements.values()).decode("utf-8", "replace")
    problems = []
    pin = _PYYAML_5.search(text)
    if pin and not _CYTHON_BELOW_3.search(constraints.decode("utf-8", "replace")):
        problems.append(f"{pin.group(1).strip()} does not build under Cython 3 and the build constraints do not "
                        "hold Cython below 3")
    return problems


_FAILED = (re.compile(r"Failed to build (?:installable wheels for some pyproject\.toml based projects )?"
                      r"\(?([\w .,-]+)\)?"),
           re.compile(r"Failed building wheel for ([\w.-]+)"))


def diagnose_pip(lines: list[str], requirements: dict[str, bytes], python: str) -> str:
    """Return one line naming the pins pip could not build (from the build's output), or ""."""
    names: list[str] = []
    for line in lines:
        for pattern in _FAILED:
            for found in pattern.findall(line):
                names += [n.strip() for n in re.split(r"[ ,]+", found) if n.strip() and n.strip() not in names]
    if not names:
        return ""
    text = b"\n".join(requirements.values()).decode("utf-8", "replace")
    pins = []
    for name in names:
        pin = re.search(rf"^\s*{re.escape(name).replace('_', '[-_]').replace('-', '[-_]')}\b[^\n#]*", text,
                        re.IGNORECASE | re.MULTILINE)
        pins.append(pin.group(0).strip() if pin else name)
    return (f"pip could not build {', '.join(pins)} for Python {python} (no wheel; compiled from source in the "
            "builder stage, which failed)")


@dataclass(frozen=True)
class PysystemtradeInputs:
    """What a pysystemtrade image's build adds to the clone: its requirement files and constraints."""

    source: str
    requirements: dict[str, bytes]
    constraints: bytes
    python: str = ""

    def files(self) -> dict[str, bytes]:
        added = {f".ecosystem/deps/{name}": data for name, data in self.requirements.items()}
        added[".ecosystem/deps/constraints.txt"] = self.constraints
        added[".ecosystem/pysys-launch"] = LAUNCHER.read_bytes()
        return added


def pysystemtrade_inputs(plan: ImagePlan) -> PysystemtradeInputs:
    """Return what the build of ``plan`` (a pysystemtrade image) adds to its context; raise
    EcosystemError for a missing constraints file or a pin known to fail under them."""
    source, requirements = dependencies(plan.context)
    constraints = b""
    if plan.constraints is not None:
        try:
            constraints = plan.constraints.read_bytes()
        except OSError as exc:
            raise EcosystemError(f"cannot read the build constraints {plan.constraints} ({exc.strerror})",
                                 fix="point PYSYS_BUILD_CONSTRAINTS at a readable file, or set it to none") from None
    problems = known_pin_problems(requirements, constraints)
    if problems:
        raise ImageBuildError(f"image {plan.repository} would not build: {problems[0]} ({source})", image=plan.key,
                              fix="keep `cython<3` in the build constraints (PYSYS_BUILD_CONSTRAINTS empty uses "
                                  "docker/pysystemtrade/build-constraints.txt), or pin pyyaml>=6 in your repository")
    return PysystemtradeInputs(source, requirements, constraints)


def base_python(client, image: str) -> str:
    """Return the Python version of ``image``'s python3 (e.g. 3.11.2)."""
    from .engine import APIError, ContainerError, ImageNotFound

    try:
        out = client.containers.run(image, ["python3", "-c", "import platform; print(platform.python_version())"],
                                    remove=True, network_disabled=True, entrypoint=[])
    except ImageNotFound:
        raise EcosystemError(f"the base image {image} is not on this engine",
                             fix=f"docker pull {image}, or set PYTHON_BASE_IMAGE to an image you have") from None
    except (ContainerError, APIError) as exc:
        raise EcosystemError(f"cannot run python3 in the base image {image} ({type(exc).__name__})",
                             fix="PYTHON_BASE_IMAGE must be a Debian-based image with python3") from None
    return out.decode().strip().splitlines()[-1]


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


def _readable(info: tarfile.TarInfo) -> tarfile.TarInfo:
    """Owned by root and readable by every user in the image, executable bits kept as they are."""
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    if info.isdir():
        info.mode |= 0o555
    elif info.isfile():
        info.mode |= 0o444 | (0o111 if info.mode & 0o100 else 0)
    return info


def write_context(plan: ImagePlan, target, extra: dict[str, bytes] | None = None) -> list[str]:
    """Write the build context of ``plan`` (plus ``extra`` files) as a tar into the binary file
    ``target``; return its member names."""
    if not plan.context.is_dir():
        raise EcosystemError(f"build context {plan.context} does not exist",
                             fix="run `invoke build` without --no-pull-repo to clone the repository first"
                             if plan.strip_private else "restore the project's files (git checkout)")
    names = []
    with tarfile.open(fileobj=target, mode="w") as archive:
        for path in _context_members(plan.context, plan.strip_private):
            arcname = str(path.relative_to(plan.context))
            archive.add(path, arcname=arcname, recursive=False, filter=_readable)
            names.append(arcname)
        added = {CONTEXT_DOCKERFILE: plan.dockerfile.read_bytes(), **(extra or {})}
        for folder in sorted({str(Path(name).parent) for name in added} - {"."}):
            info = tarfile.TarInfo(folder)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            archive.addfile(info)
        for name, data in added.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755 if name.endswith("pysys-launch") else 0o644
            archive.addfile(info, io.BytesIO(data))
    return names


def exists(client, tag: str) -> bool:
    """Say whether the engine has an image called ``tag``."""
    from .engine import ImageNotFound

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
    from .engine import APIError, BuildError

    inputs = None
    if plan.strip_private:  # a pysystemtrade clone: its dependencies, checked before anything builds
        base = plan.buildargs.get("BASE_IMAGE", "")
        python = base_python(client, base)
        check_python(required_python(plan.context), python, base)
        inputs = dataclasses.replace(pysystemtrade_inputs(plan), python=python)
        log.info("installing %s (%s) on Python %s", plan.repository, inputs.source, python)
    temporary = f"{plan.repository}:build-{uuid.uuid4().hex[:8]}"
    lines: list[str] = []
    with tempfile.TemporaryFile() as context:
        write_context(plan, context, inputs.files() if inputs else None)
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
            pins = diagnose_pip(lines, inputs.requirements, inputs.python) if inputs else ""
            if pins and inputs:
                raise ImageBuildError(f"image {plan.repository} did not build: {pins} ({inputs.source})\n{tail}",
                                      image=plan.key, fix="pin versions with wheels for this Python in your "
                                      "repository, or add a constraint to PYSYS_BUILD_CONSTRAINTS") from None
            raise ImageBuildError(f"image {plan.repository} did not build: {redact(str(exc))}\n{tail}",
                                  image=plan.key,
                                  fix=f"read the lines above; the Dockerfile is {plan.dockerfile}") from None
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
    from .state_files import write_json

    write_json(Path(state_dir) / "last_build.json", {"repositories": repositories})


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
    from .engine import ImageNotFound

    try:
        return client.images.get(tag).attrs.get("Created")
    except ImageNotFound:
        return None


def describe(plan: ImagePlan) -> str:
    """One line saying what building ``plan`` means, for --dry-run."""
    args = json.dumps(plan.buildargs, sort_keys=True)
    context = f"{plan.context} without .git/ and private/" if plan.strip_private else str(plan.context)
    return f"build {plan.current} from {plan.dockerfile.relative_to(ROOT)} (context {context}; args {args})"
