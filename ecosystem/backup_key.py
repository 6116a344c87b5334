"""The backup key: what keeps the sets on the share ciphertext only (age, through pyrage).

One age X25519 identity (``AGE-SECRET-KEY-1...``) in the file BACKUP_KEY_FILE (0600), made by
`invoke setup` when there is none and shown once for the trader to keep off the box. Everything
offload puts on the share is encrypted to its public half; a fetch from the share decrypts with
it (age authenticates every 64 KiB chunk and the end of the stream, so a changed, cut or foreign
file fails to decrypt). The ecosystem's own state inside a set (``state.tar.age``) is encrypted
to it too. The key itself never goes to the share and is in no set.
"""
from __future__ import annotations

import hashlib
import io
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, cast

from .errors import EcosystemError

if TYPE_CHECKING:
    from pyrage import x25519

SUFFIX = ".age"


class BackupKeyError(EcosystemError):
    """The backup key is missing, unreadable, not a key, or not the one a file was encrypted to."""


class WrongKey(BackupKeyError):
    """A file was encrypted to another key than the one given."""


def _kept(path: Path) -> str:
    return (f"put the key you kept (AGE-SECRET-KEY-1...) into {path} (chmod 600), or set BACKUP_KEY_FILE "
            "to the file that holds it")


@dataclass(frozen=True)
class BackupKey:
    """A loaded key: ``identity`` decrypts, ``recipient`` encrypts. Never printed."""

    path: Path
    identity: x25519.Identity

    @property
    def recipient(self):
        return self.identity.to_public()

    @property
    def public(self) -> str:
        """The public half (``age1...``): safe to show; names which key a set was encrypted to."""
        return str(self.identity.to_public())

    def __repr__(self) -> str:
        return f"BackupKey({self.path}, public {self.public})"


def load(path: Path) -> BackupKey:
    """Read the key at ``path``; raise BackupKeyError saying what is wrong and how to fix it."""
    from pyrage import IdentityError, x25519

    try:
        info = path.stat()
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise BackupKeyError(f"there is no backup key at {path}: the sets on the share are encrypted to it",
                             fix="on this box's first setup run `invoke setup` (it makes one and shows it once); "
                                 "when recovering, " + _kept(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BackupKeyError(f"the backup key {path} cannot be read ({type(exc).__name__})",
                             fix="run as the user that ran `invoke setup`, or " + _kept(path)) from None
    if stat.S_ISREG(info.st_mode) and info.st_mode & 0o077:
        raise BackupKeyError(f"the backup key {path} can be read by other users (mode {stat.S_IMODE(info.st_mode):o})",
                             fix=f"chmod 600 {path}")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    try:
        if len(lines) != 1:
            raise ValueError
        identity = x25519.Identity.from_str(lines[0])
    except (IdentityError, ValueError):
        raise BackupKeyError(f"{path} does not hold one age secret key (a line AGE-SECRET-KEY-1...)",
                             fix=_kept(path)) from None
    return BackupKey(path, identity)


def ensure(path: Path) -> tuple[BackupKey, bool]:
    """Load the key at ``path``, or make one there (0600, its folder 0700) if there is no file;
    return it and whether it was made now."""
    from pyrage import x25519

    if path.exists() or path.is_symlink():
        return load(path), False
    path.parent.mkdir(parents=True, exist_ok=True)
    identity = x25519.Identity.generate()
    text = (f"# the pysystemtrade ecosystem's backup key: the sets on the share are encrypted to it.\n"
            f"# public key: {identity.to_public()}\n{identity}\n")
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    return BackupKey(path, identity), True


def shown_once(key: BackupKey, *, terminal: bool) -> str:
    """What `invoke setup` says when it made the key: the key itself only to a terminal (the one
    time it is shown), never into a file or a log that took the output."""
    said = (f"a backup key was made in {key.path}: every set on the share is encrypted to it.\n"
            "Keep a copy OFF this box (a password manager, paper): without it no set on the share can be "
            "restored, and it is never written to the share or into a set.")
    if terminal:
        return said + f" It is shown this once:\n\n    {key.identity}\n"
    return said + f" This output is not a terminal, so it is not shown here: read it once with `cat {key.path}`."


class _Counted(io.BufferedIOBase):
    """A file-like reader or writer that counts and hashes what passes through it (hashed a MiB at a
    time: age passes 8 KiB pieces, and hashlib is faster, and lets go of the GIL, on large ones),
    and keeps what the file it wraps raised (age reports it as its own error; the caller raises
    the original)."""

    BATCH = 1 << 20

    def __init__(self, inner, *, hashed: bool = True) -> None:
        super().__init__()
        self.inner = inner
        self.size = 0
        self.digest = hashlib.sha256() if hashed else None
        self.pending = bytearray()
        self.failed: BaseException | None = None

    def _hash(self, data) -> None:
        if self.digest is not None:
            self.pending += data
            if len(self.pending) >= self.BATCH:
                self.digest.update(self.pending)
                self.pending.clear()

    def read(self, n: int | None = -1) -> bytes:
        try:
            data = self.inner.read(n)
        except BaseException as exc:
            self.failed = exc
            raise
        self.size += len(data)
        self._hash(data)
        return data

    def write(self, data) -> int:
        self.size += len(data)
        self._hash(data)
        if self.inner is None:  # only counted and hashed
            return len(data)
        try:
            return self.inner.write(data)
        except BaseException as exc:
            self.failed = exc
            raise

    def flush(self) -> None:
        if self.inner is not None:
            self.inner.flush()

    def hexdigest(self) -> str:
        if self.digest is None:
            return ""
        self.digest.update(self.pending)
        self.pending.clear()
        return self.digest.hexdigest()


def _failure_of(*files) -> BaseException | None:
    """What one of the files age read or wrote raised itself (an SMB or a disk error), if any."""
    for handle in files:
        failed = getattr(handle, "failed", None)
        if failed is not None:
            return failed
    return None


def encrypt(source: IO[bytes], target, key: BackupKey, *, hashed: bool = True) -> tuple[int, str]:
    """Encrypt ``source`` into ``target`` for ``key``; return the plaintext's size and SHA-256
    (the caller compares them with the manifest: what was encrypted is what was backed up), or
    with ``hashed`` False its size and "" (when the copy is checked later, by decrypting it)."""
    import pyrage

    counted, out = _Counted(source, hashed=hashed), _Counted(target, hashed=False)
    try:  # unhashed, age reads the file itself (a Python layer per 8 KiB read costs a third of the time)
        pyrage.encrypt_io(counted if hashed else cast(io.BufferedIOBase, source), out, [key.recipient])
    except (pyrage.EncryptError, OSError) as exc:
        failure = _failure_of(counted, out, target)
        if failure is not None:
            raise failure from None
        raise BackupKeyError(f"age could not encrypt ({exc})", fix="see the error; run it again") from None
    return (counted.size if hashed else _size_of(source)), counted.hexdigest()


def _size_of(source) -> int:
    try:
        return os.fstat(source.fileno()).st_size
    except (AttributeError, OSError, io.UnsupportedOperation):
        return source.tell()


def decrypt(source, target, key: BackupKey, what: str) -> tuple[int, str]:
    """Decrypt ``source`` (``what`` names it in errors) into ``target`` (None: nowhere, only counted
    and hashed); return the plaintext's size and SHA-256. Raise BackupKeyError if it was encrypted
    to another key or does not decrypt whole."""
    import pyrage

    counted = _Counted(target)  # a source that keeps its own failure (``failed``) is read as it is
    given = source if hasattr(source, "failed") else _Counted(source, hashed=False)
    try:
        pyrage.decrypt_io(given, counted, [key.identity])
    except pyrage.DecryptError as exc:
        failure = _failure_of(given, counted, source)
        if failure is not None:
            raise failure from None
        if "no matching keys" not in str(exc).lower():
            raise BackupKeyError(f"{what} is not an age file, or its header is damaged ({exc})",
                                 fix="fetch another set; check the share's storage") from None
        raise WrongKey(f"{what} was encrypted to another backup key than the one in {key.path} "
                             f"(public {key.public})",
                             fix="set BACKUP_KEY_FILE to the key of the box that made it") from None
    except OSError:
        failure = _failure_of(given, counted, source)
        if failure is not None:
            raise failure from None
        raise BackupKeyError(f"{what} does not decrypt whole (changed, cut short, or not an age file)",
                             fix="fetch another set; check the share's storage") from None
    return counted.size, counted.hexdigest()


def decrypt_bytes(data: bytes, key: BackupKey, what: str) -> bytes:
    """Decrypt a small file held in memory (a manifest); errors as ``decrypt``."""
    out = io.BytesIO()
    decrypt(io.BytesIO(data), out, key, what)
    return out.getvalue()


def load_for(settings) -> BackupKey:
    """The key BACKUP_KEY_FILE names."""
    return load(Path(settings.backup_key_file))
