"""Archive files of backup sets: hashed as they are written, checked whole before anything is extracted.

A restore must never be the thing that does damage. ``check_tar`` reads an archive to its
end (a truncated or corrupt one fails there, before anything is touched) and refuses every
member that could land outside the target or is not plain data: absolute names, ``..``,
symlinks or hard links that point outside, devices and FIFOs. ``extract_tar`` extracts only
an archive that passed, and with the standard library's ``data`` filter as a second guard.
"""
from __future__ import annotations

import hashlib
import os
import posixpath
import tarfile
import time
from pathlib import Path
from typing import BinaryIO, Callable

from .errors import EcosystemError

CHUNK = 1024 * 1024


class ArchiveRefused(EcosystemError):
    """An archive is corrupt, truncated or hostile; ``problems`` lists every reason."""

    def __init__(self, archive: Path, problems: list[str]) -> None:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        super().__init__(f"{archive} is refused: {shown}",
                         fix="restore another set (invoke restore --from=NAME; the list shows which exist); "
                             "nothing was changed")
        self.problems = problems


class HashingWriter:
    """A file being written, with its size and SHA-256 kept as the bytes go by (no second read)."""

    def __init__(self, handle: BinaryIO, progress: Callable[[int], None] | None = None) -> None:
        self._handle = handle
        self._hash = hashlib.sha256()
        self._progress = progress
        self._shown = 0.0
        self.size = 0

    def write(self, data: bytes) -> int:
        self._hash.update(data)
        self.size += len(data)
        if self._progress is not None and time.monotonic() - self._shown > 0.5:
            self._shown = time.monotonic()
            self._progress(self.size)
        return self._handle.write(data)

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()


def sha256_file(path: Path) -> tuple[int, str]:
    """Return (size, SHA-256 hex) of a file, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def _member_problem(member: tarfile.TarInfo) -> str | None:
    name = member.name
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return f"member {name!r} has an absolute path"
    if ".." in parts:
        return f"member {name!r} climbs out with '..'"
    if member.ischr() or member.isblk() or member.isfifo():
        return f"member {name!r} is a device or FIFO"
    if member.issym() or member.islnk():
        target = member.linkname
        if member.issym():
            resolved = posixpath.normpath(posixpath.join(posixpath.dirname(name), target))
        else:  # a hard link names another member, from the archive's root
            resolved = posixpath.normpath(target)
        if target.startswith("/") or resolved.startswith("..") or resolved.startswith("/"):
            kind = "symlink" if member.issym() else "hard link"
            return f"member {name!r} is a {kind} pointing outside the archive ({target!r})"
    elif not (member.isfile() or member.isdir()):
        return f"member {name!r} is not a file or folder"
    return None


def check_tar(path: Path) -> int:
    """Read the whole archive; return its number of regular files, or raise ArchiveRefused with every problem."""
    problems: list[str] = []
    files = 0
    try:
        with tarfile.open(path, "r|*") as archive:  # a stream: every byte is read, in order
            for member in archive:
                problem = _member_problem(member)
                if problem:
                    problems.append(problem)
                elif member.isfile():
                    files += 1
                    extracted = archive.extractfile(member)
                    while extracted is not None and extracted.read(CHUNK):
                        pass
    except (tarfile.TarError, EOFError, OSError, ValueError) as exc:  # zlib errors are OSError
        problems.append(f"it is truncated or corrupt ({type(exc).__name__}: {exc})")
    if problems:
        raise ArchiveRefused(Path(path), problems)
    return files


def extract_tar(path: Path, target: Path) -> int:
    """Check the archive, then extract it into ``target``; return the number of files."""
    files = check_tar(path)
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "r:*") as archive:
        archive.extractall(target, filter=_keep_owner_data_filter)
    return files


def _keep_owner_data_filter(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo | None:
    """The standard ``data`` filter (no escapes, no devices, no setuid), but keeping owners:
    a restored Parquet store must stay owned by the containers' user."""
    uid, gid, uname, gname = member.uid, member.gid, member.uname, member.gname
    member = tarfile.data_filter(member, dest)
    if member is not None and os.geteuid() == 0:
        member = member.replace(uid=uid, gid=gid, uname=uname, gname=gname, deep=False)
    return member


def write_tar(folder: Path, target: Path) -> int:
    """Archive a host folder (its content, owners kept) as a gzip'ed tar; return the number of files."""
    files = 0
    with tarfile.open(target, "w:gz", compresslevel=3) as archive:
        for path in sorted(Path(folder).rglob("*")):
            archive.add(path, arcname="./" + str(path.relative_to(folder)), recursive=False)
            files += path.is_file() and not path.is_symlink()
    return files
