"""Archive files of backup sets: hashed as they are written, checked whole before anything is extracted.

A restore must never be the thing that does damage. ``check_tar`` reads an archive to its
end, the compressed stream's own integrity check included (a truncated or corrupt one fails
there, before anything is touched) and refuses every
member that could land outside the target or is not plain data, as GNU tar (which extracts
it, in a helper container whose only mount is the target volume) would read it: absolute
names, ``..``, links with an absolute or ``..`` target, members written through an earlier
symlink, hard links to anything but an earlier file, devices and FIFOs, headers GNU tar reads
differently, and anything hidden after a damaged header.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

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


class _CheckedTarInfo(tarfile.TarInfo):
    """A member as GNU tar will see it: a GNU-format header (magic ``ustar  ``) has no name
    prefix field (those bytes are times), but Python prepends them to the name anyway."""

    gnu_prefix = False

    @classmethod
    def frombuf(cls, buf, encoding, errors):
        member = super().frombuf(buf, encoding, errors)
        member.gnu_prefix = buf[257:265] == tarfile.GNU_MAGIC and bool(buf[345:500].strip(b"\0"))
        return member


def _member_problem(member: tarfile.TarInfo, links: set[str], files: set[str]) -> str | None:
    """Say what is wrong with one member, or None. ``links`` holds the symlinks met so far
    (normalised names): a later member must not be written through one of them; ``files`` the
    regular files met so far: the only things a hard link may point at."""
    name = member.name
    if getattr(member, "gnu_prefix", False):
        return f"member {name!r} has a header that tar tools read differently (GNU magic with a name prefix)"
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return f"member {name!r} has an absolute path"
    if ".." in parts:
        return f"member {name!r} climbs out with '..'"
    for depth in range(1, len(parts)):
        if "/".join(parts[:depth]) in links:
            return f"member {name!r} is written through the symlink {'/'.join(parts[:depth])!r}"
    if member.ischr() or member.isblk() or member.isfifo():
        return f"member {name!r} is a device or FIFO"
    if member.issym() or member.islnk():
        target = member.linkname
        kind = "symlink" if member.issym() else "hard link"
        # no '..' at all: whether a chain of links escapes cannot be told from names alone
        if target.startswith("/") or ".." in target.split("/"):
            return f"member {name!r} is a {kind} pointing outside the archive ({target!r})"
        if member.islnk() and "/".join(p for p in target.split("/") if p not in ("", ".")) not in files:
            return f"member {name!r} is a hard link to {target!r}, which is not a file met before it"
        if member.issym():
            links.add("/".join(parts))
    elif member.isfile():
        files.add("/".join(parts))
    elif not member.isdir():
        return f"member {name!r} is not a file or folder"
    return None


GZIP_MAGIC = b"\x1f\x8b"


ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def _decompressed(path: Path) -> BinaryIO:
    """Return the archive's tar stream. A gzip'ed one is read through the gzip module, which checks
    each member's CRC-32 and length at its end, as `gzip -d` under GNU tar does (tarfile's own
    stream reader never checks them: damaged data that still inflates would pass it); a zstd one
    through zstandard, which checks each frame's content checksum (the zstd tool writes one) at
    its end, across every frame, as `zstd -d` does."""
    with open(path, "rb") as probe:
        magic = probe.read(4)
    if magic[:2] == GZIP_MAGIC:
        return gzip.open(path, "rb")  # type: ignore[return-value]
    if magic == ZSTD_MAGIC:
        return _ZstdFrames(path)  # type: ignore[return-value]
    return open(path, "rb")


class _ZstdFrames(io.RawIOBase):
    """A zstd file's content, frame after frame, each frame's content checksum checked by zstandard
    at its end; a stream that ends inside a frame (even in its last bytes, which zstandard's
    stream reader lets pass) raises EOFError, as `zstd -d` fails on it."""

    def __init__(self, path: Path) -> None:
        import zstandard

        super().__init__()
        self._file = open(path, "rb")
        self._context = zstandard.ZstdDecompressor()
        self._frame = self._context.decompressobj()
        self._inside = False  # bytes of a frame were given and it has not ended
        self._ready = bytearray()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._ready:
            data = self._file.read(CHUNK)
            if not data:
                if self._inside:
                    raise EOFError("the zstd stream ends inside a frame (cut short)")
                return 0
            while data:
                self._inside = True
                self._ready += self._frame.decompress(data)
                if not self._frame.eof:
                    break
                data, self._inside = self._frame.unused_data, False
                self._frame = self._context.decompressobj()
        size = min(len(buffer), len(self._ready))
        buffer[:size] = self._ready[:size]
        del self._ready[:size]
        return size

    def close(self) -> None:
        self._file.close()
        super().close()


def _zstd_error() -> type[Exception]:
    import zstandard

    return zstandard.ZstdError


def check_tar(path: Path) -> int:
    """Read the whole archive; return its number of files (regular files and hard links, as
    ``find -type f`` counts them), or raise ArchiveRefused with every problem.

    Anything after the archive's end that is not zero padding is refused: a damaged header
    ends the archive for Python, while GNU tar skips to the next header and extracts what follows.
    """
    problems: list[str] = []
    links: set[str] = set()
    regular: set[str] = set()
    files = 0
    try:
        with _decompressed(Path(path)) as stream, \
                tarfile.open(fileobj=stream, mode="r|", tarinfo=_CheckedTarInfo) as archive:  # every byte, in order
            for member in archive:
                problem = _member_problem(member, links, regular)
                if problem:
                    problems.append(problem)
                elif member.isfile() or member.islnk():
                    files += 1
                    extracted = archive.extractfile(member) if member.isfile() else None
                    while extracted is not None and extracted.read(CHUNK):
                        pass
            while rest := archive.fileobj.read(CHUNK):  # what tarfile buffered, then the rest of the stream
                if rest.strip(b"\0"):
                    problems.append("it has data after its end (a damaged header hides members GNU tar would "
                                    "extract)")
                    break
            while stream.read(CHUNK):  # to the compressed stream's own end and its integrity check
                pass
    except (tarfile.TarError, EOFError, OSError, ValueError, _zstd_error()) as exc:  # zlib's and gzip's: OSError
        problems.append(f"it is truncated or corrupt ({type(exc).__name__}: {exc})")
    if problems:
        raise ArchiveRefused(Path(path), problems)
    return files


def write_tar(folder: Path, target: Path) -> int:
    """Archive a host folder (its content, owners kept) as a gzip'ed tar; return the number of files."""
    files = 0
    with tarfile.open(target, "w:gz", compresslevel=3) as archive:
        for path in sorted(Path(folder).rglob("*")):
            archive.add(path, arcname="./" + str(path.relative_to(folder)), recursive=False)
            files += path.is_file() and not path.is_symlink()
    return files
