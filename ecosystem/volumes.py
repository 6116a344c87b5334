"""Named volumes archived and restored by a throwaway helper container (no network, root inside
so every owner and mode is kept), the archive streaming between the helper and a host file."""
from __future__ import annotations

from pathlib import Path

from . import process
from .archives import HashingWriter
from .errors import CommandFailed, EcosystemError

# the compose file's volumes, by key; their engine names carry NAME_SUFFIX
PARQUET = "parquet"
OTHER_VOLUMES = ("notebooks", "pysys_logs")
MONGO_VOLUMES = ("mongo_data", "mongo_config")
COMPRESSOR = "gzip -3"


class VolumeError(EcosystemError):
    """A volume could not be archived or restored."""


def volume_name(settings, key: str) -> str:
    return f"{key}{settings.name_suffix}"


def helper_image(settings) -> str:
    from .images import image_names

    return image_names(settings)["pysystemtrade"]


def _helper(image: str, mount: str, script: str, *, interactive: bool = False) -> list[str]:
    return ["docker", "run", "--rm", *(["-i"] if interactive else []), "--network", "none", "--user", "0",
            "--label", "org.pysystemtrade-ecosystem.role=control", "-v", mount, "--entrypoint", "bash", image,
            "-o", "pipefail", "-c", script]


def archive(image: str, volume: str, target: Path, *, timeout: float = 6 * 3600) -> dict:
    """Write ``volume``'s content as a gzip'ed tar to ``target`` as it streams; return size, SHA-256 and file count."""
    script = f"echo files=$(find /v -type f | wc -l) >&2; tar -C /v --numeric-owner -cf - . | {COMPRESSOR}"
    try:
        with open(target, "wb") as handle:
            writer = HashingWriter(handle)
            said = process.stream_out(_helper(image, f"{volume}:/v:ro", script), writer, timeout=timeout)
            handle.flush()
    except CommandFailed as exc:
        raise VolumeError(f"archiving volume {volume} failed: {exc.output or exc.message}",
                          fix="check that the volume exists (docker volume ls) and the pysystemtrade image is built") from None
    files = next((int(line.split("=", 1)[1]) for line in said.splitlines() if line.startswith("files=")), 0)
    return {"size": writer.size, "sha256": writer.sha256, "files": files}


def restore(image: str, volume: str, source: Path, *, timeout: float = 6 * 3600) -> str:
    """Replace ``volume``'s content with the archive ``source`` (already checked: see archives.check_tar)."""
    script = ("find /v -mindepth 1 -delete && tar -C /v --numeric-owner --no-overwrite-dir -xzf - "
              "&& echo files=$(find /v -type f | wc -l)")
    try:
        return process.stream_in(_helper(image, f"{volume}:/v", script, interactive=True), str(source),
                                 timeout=timeout)
    except CommandFailed as exc:
        raise VolumeError(f"restoring volume {volume} failed: {exc.output or exc.message}",
                          fix="the safety backup taken before the restore holds the previous state") from None


def fingerprint(image: str, volume: str, *, timeout: float = 3600) -> str:
    """Return one SHA-256 over every file's path, mode, owner and content in ``volume`` (to prove it unchanged)."""
    script = ("cd /v && find . -print0 | LC_ALL=C sort -z | "
              "xargs -0 -r stat -c '%n %a %u %g %s' | sha256sum; "
              "find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum | sha256sum")
    try:
        return process.run(_helper(image, f"{volume}:/v:ro", script), timeout=timeout).stdout.strip()
    except CommandFailed as exc:
        raise VolumeError(f"reading volume {volume} failed: {exc.output or exc.message}") from None
