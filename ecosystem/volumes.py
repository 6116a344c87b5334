"""Named volumes archived and restored by a throwaway helper container (no network, root inside
so every owner and mode is kept), the archive streaming between the helper and a host file."""
from __future__ import annotations

import shlex
from pathlib import Path

from . import commands
from .errors import CommandFailed, EcosystemError

# the compose file's volumes, by key; their engine names carry NAME_SUFFIX
PARQUET = "parquet"
OTHER_VOLUMES = ("notebooks", "pysys_logs", "backtests")  # backtests: pysystemtrade's backtest store
MONGO_VOLUMES = ("mongo_data", "mongo_config")
# a volume's archive: zstd (threads, level 3) where the helper image has it, else gzip -3 (the pysystemtrade
# image before zstd was added); a set may hold either, and a restore reads both
ZSTD, GZIP = "zstd -3 -T0 -q -c", "gzip -3"
SUFFIXES = {".tar.zst": "zstd -d -q -c", ".tar.gz": "gzip -d -c"}


def archive_file(label: str, files) -> str:
    """The file of a set (among ``files``) that holds volume ``label``: ``LABEL.tar.zst``, or
    ``LABEL.tar.gz`` in a set made before zstd (and the name when neither is there)."""
    return next((label + suffix for suffix in SUFFIXES if label + suffix in files), f"{label}.tar.gz")


class VolumeError(EcosystemError):
    """A volume could not be archived or restored."""


def _said(exc: CommandFailed) -> str:
    """What a failed helper said, with how it ended (a helper killed from outside says nothing)."""
    ended = {137: " (killed: SIGKILL)", 143: " (stopped: SIGTERM)", 141: " (a broken pipe)"}.get(
        exc.returncode or 0, "")
    how = f"exit code {exc.returncode}{ended}" if exc.returncode is not None else exc.message
    return f"{how}: {exc.output}" if exc.output else how


def volume_name(settings, key: str) -> str:
    return f"{key}{settings.name_suffix}"


def helper_image(settings) -> str:
    from .images import image_names

    return image_names(settings)["pysystemtrade"]


def _helper(image: str, mount: str, script: str, *, interactive: bool = False) -> list[str]:
    return ["docker", "run", "--rm", *(["-i"] if interactive else []), "--network", "none", "--user", "0",
            "--log-driver", "none",  # the archive streams on stdout: never into a container log
            "--label", "org.pysystemtrade-ecosystem.role=control", "-v", mount, "--entrypoint", "bash", image,
            "-o", "pipefail", "-c", script]


# the helper's last stage: the archive into its file and hashed on the way, with Python's hashlib
# (OpenSSL: six times as fast as coreutils' sha256sum in the image, which made it the bottleneck)
_WRITE_HASHED = """import hashlib, sys
digest, source = hashlib.sha256(), sys.stdin.buffer.raw
with open(sys.argv[1], "wb") as out:
    while data := source.read(1 << 20):
        digest.update(data)
        out.write(data)
print("sha256=" + digest.hexdigest(), file=sys.stderr)
"""


def archive(image: str, volume: str, folder: Path, label: str, *, timeout: float = 6 * 3600, progress=None) -> dict:
    """Write ``volume``'s content as a compressed tar into ``folder`` (``LABEL.tar.zst``, or
    ``LABEL.tar.gz`` where the helper image has no zstd); return its file name, size, SHA-256 and
    file count, and the tools used.

    The helper writes the file through a bind mount of its folder and hashes the same bytes on
    their way (one Python process at the end of the pipe, beside the compressor's threads): one
    pass, nothing held in memory, and no detour through the engine's attach stream (which costs a
    fifth of the speed).
    """
    name = shlex.quote(label)
    script = ("if command -v zstd >/dev/null 2>&1; then suffix=zst; compress=" + shlex.quote(ZSTD) +
              "; echo \"compressor=$(zstd -V)\" >&2; else suffix=gz; compress=" + shlex.quote(GZIP) +
              "; echo \"compressor=$(gzip --version | head -n 1)\" >&2; fi; "
              f"echo file={name}.tar.$suffix >&2; echo tar=$(tar --version | head -n 1) >&2; "
              f"echo files=$(find /v -type f | wc -l) >&2; tar -C /v --numeric-owner -cf - . | $compress "
              f"| python3 -c {shlex.quote(_WRITE_HASHED)} /out/{name}.tar.$suffix")
    argv = _helper(image, f"{volume}:/v:ro", script)
    argv[argv.index("--entrypoint"):argv.index("--entrypoint")] = ["-v", f"{folder}:/out"]
    try:
        said = commands.run(argv, timeout=timeout).stderr
    except CommandFailed as exc:
        raise VolumeError(f"archiving volume {volume} failed: {_said(exc)}",
                          fix="check that the volume exists (docker volume ls) "
                              "and the pysystemtrade image is built") from None
    values = dict(line.split("=", 1) for line in said.splitlines() if "=" in line)
    digest = values.get("sha256", "").split()[0] if values.get("sha256") else ""
    file_name = values.get("file", "").strip()
    target = folder / file_name
    if len(digest) != 64 or not file_name or not target.is_file():
        raise VolumeError(f"archiving volume {volume} gave no checksum or no file", fix="read the helper's output: "
                          + said[-300:])
    return {"file": file_name, "size": target.stat().st_size, "sha256": digest,
            "files": int(values.get("files", "0").strip() or 0),
            "tools": f"{values.get('tar', '?').strip()}; {values.get('compressor', '?').strip()}"}


def restore(image: str, volume: str, source: Path, *, timeout: float = 6 * 3600) -> str:
    """Replace ``volume``'s content with the archive ``source`` (already checked: see archives.check_tar);
    a zstd archive needs zstd in the helper image, checked before anything is removed."""
    suffix = next((s for s in SUFFIXES if source.name.endswith(s)), ".tar.gz")
    tool = SUFFIXES[suffix].split()[0]
    script = (f"command -v {tool} >/dev/null 2>&1 || {{ echo 'the helper image has no {tool}' >&2; exit 3; }}; "
              f"find /v -mindepth 1 -delete && {SUFFIXES[suffix]} | tar -C /v --numeric-owner --no-overwrite-dir "
              "-xf - && echo files=$(find /v -type f | wc -l)")
    try:
        return commands.stream_in(_helper(image, f"{volume}:/v", script, interactive=True), str(source),
                                  timeout=timeout)
    except CommandFailed as exc:
        said = _said(exc)
        if f"has no {tool}" in said:
            raise VolumeError(f"{source.name} is a {tool} archive and the pysystemtrade image has no {tool}",
                              fix="rebuild the images (invoke build): they have zstd since this version") from None
        raise VolumeError(f"restoring volume {volume} failed: {said}",
                          fix="the safety backup taken before the restore holds the previous state") from None


def copy(image: str, source: str, target: str, *, timeout: float = 6 * 3600) -> int:
    """Replace ``target``'s content with a copy of ``source``'s (owners, modes and times kept; the
    volume's own folder keeps its owner, as a restore leaves it); return the number of files
    ``target`` then holds. Nothing may use either volume meanwhile."""
    script = ("find /v -mindepth 1 -delete && (cd /s && tar --numeric-owner -cf - .) | "
              "tar -C /v --numeric-owner --no-overwrite-dir -xf - && echo files=$(find /v -type f | wc -l)")
    argv = _helper(image, f"{target}:/v", script)
    argv[argv.index("--entrypoint"):argv.index("--entrypoint")] = ["-v", f"{source}:/s:ro"]
    try:
        said = commands.run(argv, timeout=timeout).stdout
    except CommandFailed as exc:
        raise VolumeError(f"copying volume {source} into {target} failed: {_said(exc)}") from None
    return next((int(line.split("=", 1)[1]) for line in said.splitlines() if line.startswith("files=")), -1)


def empty(image: str, volume: str, *, timeout: float = 3600) -> None:
    """Remove everything in ``volume``."""
    try:
        commands.run(_helper(image, f"{volume}:/v", "find /v -mindepth 1 -delete"), timeout=timeout)
    except CommandFailed as exc:
        raise VolumeError(f"emptying volume {volume} failed: {_said(exc)}") from None


def fingerprint(image: str, volume: str, *, timeout: float = 3600, contents_only: bool = False) -> str:
    """Return one SHA-256 over every file's path, mode, owner and content in ``volume`` (to prove it
    unchanged); ``contents_only`` leaves out the volume's own folder (its owner is the volume's)."""
    script = (f"cd /v && find . {'-mindepth 1 ' if contents_only else ''}-print0 | LC_ALL=C sort -z | "
              "xargs -0 -r stat -c '%n %a %u %g %s' | sha256sum; "
              "find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum | sha256sum")
    try:
        return commands.run(_helper(image, f"{volume}:/v:ro", script), timeout=timeout).stdout.strip()
    except CommandFailed as exc:
        raise VolumeError(f"reading volume {volume} failed: {_said(exc)}") from None
