"""The Docker engine seam: one client made here and passed to whatever needs it."""
from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from .errors import DISK_FULL_FIX, DiskFull, EcosystemError, EngineUnavailable, ImageMissing

if TYPE_CHECKING:
    import docker

log = logging.getLogger(__name__)

ENGINE_FIX = ("start the Docker engine (sudo systemctl start docker) or run scripts/install.sh; "
              "DOCKER_HOST selects another engine")


def connect(*, timeout: float = 30) -> docker.DockerClient:
    """Return a client for the engine that DOCKER_HOST (or the default socket) names.

    Raise EngineUnavailable if it does not answer a ping.
    """
    import docker
    from docker.errors import DockerException

    try:
        client = docker.from_env(timeout=int(timeout))
        client.ping()
    except (DockerException, OSError) as exc:
        raise EngineUnavailable(f"the Docker engine does not answer ({type(exc).__name__})", fix=ENGINE_FIX) from None
    return client


def listed_containers(project: str, *, timeout: float = 10) -> list[dict]:
    """The engine's own listing (``GET /containers/json``) of every container of compose project
    ``project``: one API call, and without the SDK when DOCKER_HOST is a unix socket (the default),
    so a quick answer (`invoke status`) loads nothing more. Each item has the engine's ``Names``,
    ``State``, ``Status`` ("Up 2 hours (healthy)", "Exited (1) 3 minutes ago"), ``Labels``, ...

    Raise EngineUnavailable if the engine does not answer."""
    import http.client
    import json
    import os
    import socket
    from urllib.parse import urlencode

    filters = {"label": [f"com.docker.compose.project={project}"]}
    host = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    if not host.startswith("unix://") or os.environ.get("DOCKER_TLS_VERIFY"):
        return connect(timeout=timeout).api.containers(all=True, filters=filters)
    path = host[len("unix://"):]

    class UnixConnection(http.client.HTTPConnection):
        def connect(self) -> None:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            self.sock.connect(path)

    connection = UnixConnection("localhost", timeout=timeout)
    try:
        connection.request("GET", "/containers/json?" + urlencode({"all": "1", "filters": json.dumps(filters)}))
        answer = connection.getresponse()
        body = answer.read()
    except OSError as exc:
        raise EngineUnavailable(f"the Docker engine does not answer ({type(exc).__name__})", fix=ENGINE_FIX) from None
    finally:
        connection.close()
    if answer.status != 200:
        raise EcosystemError(f"the Docker engine answered {answer.status} to a container listing: "
                             f"{body[:200].decode(errors='replace')}", fix="check the engine: docker info")
    return json.loads(body)


ENGINE_GONE_FIX = ("check the engine (docker info; sudo systemctl status docker) and start it if needed; then run "
                   "invoke weekly.sync, which records what ended while it was away and relaunches what is due")


def translate(exc: BaseException) -> EcosystemError | None:
    """Given an error from the Docker SDK or its HTTP layer, return it as the known failure it is (the
    engine unreachable or gone mid-run, a missing image), or None if it is none of those."""
    import requests.exceptions
    import urllib3.exceptions
    from docker.errors import APIError, DockerException, ImageNotFound

    if isinstance(exc, ImageNotFound):
        return _image_missing(str(getattr(exc, "explanation", "") or exc))
    if isinstance(exc, (requests.exceptions.ConnectionError, requests.exceptions.Timeout,
                        requests.exceptions.ChunkedEncodingError,
                        urllib3.exceptions.ProtocolError, urllib3.exceptions.NewConnectionError)):
        return EngineUnavailable(f"the Docker engine stopped answering during the run ({type(exc).__name__})",
                                 fix=ENGINE_GONE_FIX)
    if isinstance(exc, APIError):  # the engine answered, with one of the known classes in its words
        said = str(getattr(exc, "explanation", "") or exc)
        if "no space left on device" in said.lower():
            return DiskFull(f"the Docker engine's disk is full: {said[:200]}", fix=DISK_FULL_FIX)
        if any(marker in said for marker in _CLI_IMAGE_MISSING + ("registry", "manifest")):
            return _image_missing(said)
    if isinstance(exc, DockerException) and "Error while fetching server API version" in str(exc):
        return EngineUnavailable(f"the Docker engine does not answer ({type(exc).__name__})", fix=ENGINE_FIX)
    return None


_CLI_ENGINE_GONE = ("Cannot connect to the Docker daemon", "error during connect", "Is the docker daemon running")
_CLI_IMAGE_MISSING = ("pull access denied", "No such image", "repository does not exist", "manifest unknown",
                      "Unable to find image")


def cli_failure(output: str) -> EcosystemError | None:
    """Given what a failed ``docker`` or ``docker compose`` command said, return the known failure it
    is (the engine unreachable, an image missing), or None."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    if any(marker in line for line in lines for marker in _CLI_ENGINE_GONE):
        return EngineUnavailable("the Docker engine does not answer the docker CLI", fix=ENGINE_GONE_FIX)
    pulling = {line.rsplit(" ", 1)[0] for line in lines if line.endswith(" Pulling")}  # compose pulls what is missing
    for line in lines:
        service, _, said = line.partition(" ")
        if any(marker in line for marker in _CLI_IMAGE_MISSING) or (service in pulling and said.startswith("Error")):
            return _image_missing(line)
    return None


def _image_missing(said: str) -> ImageMissing:
    return ImageMissing(f"an image is missing on the Docker engine: {said[:200]}",
                        fix="build it: invoke build (no registry is asked for the images this ecosystem builds "
                            "itself; invoke doctor lists the images each service needs)")


def api_version(client: docker.DockerClient) -> tuple[str, str]:
    """Return the engine's (server version, API version)."""
    info = client.version()
    return info.get("Version", "?"), info.get("ApiVersion", "?")


def project_containers(client: docker.DockerClient, project: str) -> list:
    """Return every container (running or not) of compose project ``project``."""
    return client.containers.list(ignore_removed=True, all=True,
                                  filters={"label": f"com.docker.compose.project={project}"})


def containers_publishing(client: docker.DockerClient, port: int) -> list[tuple[str, str]]:
    """Return (container name, compose project) of each running container publishing host ``port``."""
    found = []
    for container in client.containers.list(ignore_removed=True):
        ports = container.attrs.get("NetworkSettings", {}).get("Ports") or {}
        for bindings in ports.values():
            if any(str(b.get("HostPort")) == str(port) for b in bindings or []):
                found.append((container.name or "", container.labels.get("com.docker.compose.project", "")))
                break
    return found


def parse_time(text: str | None) -> datetime | None:
    """Return an engine timestamp (RFC 3339, nanoseconds) as an aware UTC datetime; None for unset."""
    if not text or text.startswith("0001-"):
        return None
    text = text.rstrip("Z")
    head, _, fraction = text.partition(".")
    return datetime.fromisoformat(head + ("." + fraction[:6] if fraction else "")).replace(tzinfo=UTC)


def failures() -> tuple[type[Exception], ...]:
    """What an SDK call raises when the engine errs or is unreachable, or its object is gone:
    the SDK's own errors, its transport's (requests) and the socket's."""
    import requests.exceptions
    from docker.errors import DockerException

    return (DockerException, requests.exceptions.RequestException, OSError)


# the SDK's errors (and its image-reference parser), reached through this seam: ``from .engine
# import NotFound``. docker is imported on first use, so a task that never touches the engine
# never loads the SDK.
_SDK_ERRORS = ("APIError", "BuildError", "ContainerError", "DockerException", "ImageNotFound", "NotFound")


def __getattr__(name: str):
    if name in _SDK_ERRORS:
        import docker.errors

        return getattr(docker.errors, name)
    if name == "parse_repository_tag":
        from docker.utils import parse_repository_tag

        return parse_repository_tag
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
