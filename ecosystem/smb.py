"""The SMB session helper: one short-lived, private session per job, errors translated.

Uses smbprotocol's ``smbclient`` (SMB 2/3). Each session has its own connection
cache, so jobs never share or leak a connection, and closes it on exit.
"""
from __future__ import annotations

import errno
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from .errors import SmbError
from .secrets import Secret

log = logging.getLogger(__name__)


def _failures() -> tuple[type[Exception], ...]:
    """What a call into smbclient raises when the share, the network or the credentials fail:
    smbprotocol's own errors, spnego's (authentication), sockets and files (OSError) and a
    malformed answer (ValueError). Imported late, as smbclient is."""
    from smbprotocol.exceptions import SMBException
    from spnego.exceptions import SpnegoError

    return (SMBException, SpnegoError, OSError, ValueError)


@dataclass(frozen=True)
class ShareAddress:
    """Where offloaded backups go: server, port, share, folder and the login for it."""

    server: str
    port: int
    share: str
    folder: str
    username: str
    password: Secret | None
    encrypt: bool = False

    @classmethod
    def from_settings(cls, settings) -> ShareAddress:
        return cls(settings.smb_server, settings.smb_port, settings.smb_share, settings.smb_folder,
                   settings.smb_user, settings.smb_password, settings.smb_encrypt)

    def unc(self, *parts: str) -> str:
        """Return the UNC path of ``parts`` inside the target folder."""
        pieces = [p for p in (self.folder, *parts) if p]
        return "\\".join([f"\\\\{self.server}", self.share, *pieces])

    def __str__(self) -> str:
        return f"{self.unc()} (port {self.port}, user {self.username or '?'})"


def _kind(exc: BaseException) -> str:
    """Name what went wrong, from smbprotocol's exception class or the NT status it carries."""
    from smbprotocol import exceptions as smbexc
    from smbprotocol.header import NtStatus

    by_status = {NtStatus.STATUS_LOGON_FAILURE: "login", NtStatus.STATUS_PASSWORD_EXPIRED: "login",
                 NtStatus.STATUS_BAD_NETWORK_NAME: "share", NtStatus.STATUS_OBJECT_NAME_NOT_FOUND: "missing",
                 NtStatus.STATUS_OBJECT_PATH_NOT_FOUND: "missing", NtStatus.STATUS_NOT_A_DIRECTORY: "file",
                 NtStatus.STATUS_ACCESS_DENIED: "denied", NtStatus.STATUS_DISK_FULL: "full"}
    status = getattr(exc, "ntstatus", None) or getattr(exc, "status", None)
    if status in by_status:
        return by_status[status]
    for cls, kind in ((smbexc.LogonFailure, "login"), (smbexc.SMBAuthenticationError, "login"),
                      (smbexc.BadNetworkName, "share"), (smbexc.ObjectNameNotFound, "missing"),
                      (FileNotFoundError, "missing"), (NotADirectoryError, "file"), (smbexc.AccessDenied, "denied"),
                      (PermissionError, "denied"), (smbexc.DiskFull, "full")):
        if isinstance(exc, cls):
            return kind
    if isinstance(exc, (smbexc.SMBConnectionClosed, ConnectionError, TimeoutError, ValueError)):
        return "unreachable"
    return "other"


def _translate(exc: BaseException, address: ShareAddress, path: str) -> SmbError:
    where = f"{address.server}:{address.port}"
    kind = _kind(exc)
    if kind == "login":
        return SmbError(f"the SMB server {where} refused the login of user {address.username!r}",
                        fix="check SMB_USER and SMB_PASSWORD (or SMB_PASSWORD_FILE)")
    if kind == "share":
        return SmbError(f"the SMB server {where} has no share named {address.share!r}",
                        fix="check SMB_SHARE against the shares the server offers")
    if kind == "missing":
        return SmbError(f"{path} does not exist on the share", fix="create the folder on the share or fix SMB_FOLDER")
    if kind == "file":
        return SmbError(f"{path} exists on the share as a file, not a folder", fix="rename it or fix SMB_FOLDER")
    if kind == "denied":
        return SmbError(f"the SMB server denied user {address.username!r} access to {path}",
                        fix="give that user read and write access to the share and folder")
    if kind == "full":
        return SmbError(f"the share {address.share!r} on {where} is full", fix="free space on the share")
    if kind == "unreachable" or (isinstance(exc, OSError) and getattr(exc, "ntstatus", None) is None):
        return SmbError(f"cannot reach the SMB server at {where} ({type(exc).__name__})",
                        fix="check SMB_SERVER and SMB_PORT, and that the server is up and reachable")
    return SmbError(f"SMB error on {path}: {type(exc).__name__}: {str(exc)[:200]}", fix="see the SMB server's log")


class SmbSession:
    """An open session to one share; methods take paths relative to the target folder."""

    def __init__(self, address: ShareAddress, cache: dict) -> None:
        self.address = address
        self._cache = cache

    def _kw(self) -> dict:
        return {"port": self.address.port, "connection_cache": self._cache}

    def listdir(self, *parts: str) -> list[str]:
        import smbclient

        path = self.address.unc(*parts)
        try:
            return sorted(smbclient.listdir(path, **self._kw()))
        except _failures() as exc:
            raise _translate(exc, self.address, path) from None

    def _call(self, function, path: str, *args, **kwargs):
        try:
            return function(path, *args, **self._kw(), **kwargs)
        except _failures() as exc:
            raise _translate(exc, self.address, path) from None

    def ensure_folder(self, *parts: str) -> None:
        """Create the folder (and its parents) unless it exists; raise SmbError if a file is in the way."""
        import smbclient

        path = self.address.unc(*parts)
        try:
            info = smbclient.stat(path, **self._kw())
        except _failures():
            self._call(smbclient.makedirs, path, exist_ok=True)
            return
        import stat as stat_module

        if not stat_module.S_ISDIR(info.st_mode):
            raise SmbError(f"{path} exists on the share as a file, not a folder", fix="rename it or fix SMB_FOLDER")

    def size(self, *parts: str) -> int:
        import smbclient

        return self._call(smbclient.stat, self.address.unc(*parts)).st_size

    def rename(self, source: tuple[str, ...], target: tuple[str, ...]) -> None:
        import smbclient

        self._call(smbclient.rename, self.address.unc(*source), self.address.unc(*target))

    def rmtree(self, *parts: str) -> None:
        from smbclient import shutil as smbshutil

        path = self.address.unc(*parts)
        try:
            smbshutil.rmtree(path, **self._kw())
        except _failures() as exc:
            raise _translate(exc, self.address, path) from None

    @contextmanager
    def writer(self, *parts: str, window: int = 8, progress=None) -> Iterator[Writer]:
        """Open ``parts`` for writing (replaced if it exists) and yield a file-like ``Writer`` that
        keeps ``window`` writes in flight (one at a time costs a round trip per chunk); everything
        written is on the share when the block ends. What the block itself raises passes through
        unchanged."""
        import smbclient

        path = self.address.unc(*parts)
        try:
            raw = smbclient.open_file(path, mode="wb", buffering=0, **self._kw())
        except _failures() as exc:
            raise _translate(exc, self.address, path) from None
        block_failure: BaseException | None = None
        try:
            with raw:
                out = Writer(raw.fd, window, progress, lambda exc: _translate(exc, self.address, path))
                try:
                    yield out
                except BaseException as exc:
                    block_failure = exc
                    raise
                out.finish()
        except _failures() as exc:  # the last answers or the close failed: the block's own error wins
            if block_failure is not None:
                raise block_failure from None
            raise _translate(exc, self.address, path) from None

    @contextmanager
    def reader(self, *parts: str) -> Iterator[tuple[object, Callable[[BaseException], SmbError]]]:
        """Open ``parts`` for reading; yield the raw open (smbprotocol's) and how to translate what its
        calls raise."""
        import smbclient

        path = self.address.unc(*parts)
        try:
            raw = smbclient.open_file(path, mode="rb", buffering=0, share_access="r", **self._kw())
        except _failures() as exc:
            raise _translate(exc, self.address, path) from None
        try:
            with raw:
                yield raw.fd, (lambda exc: _translate(exc, self.address, path))
        except _failures() as exc:
            raise _translate(exc, self.address, path) from None

    def upload(self, local, *parts: str, window: int = 8, progress=None) -> int:
        """Write the local file to ``parts``; return the bytes written."""
        import shutil

        with self.writer(*parts, window=window, progress=progress) as out, open(local, "rb") as source:
            shutil.copyfileobj(source, out, out.chunk)
        return out.size

    def read_into(self, sink: Callable[[bytes], None], *parts: str, window: int = 8) -> int:
        """Read the file ``parts`` with ``window`` reads in flight, giving each answer to ``sink`` in
        the order of the file; return its size."""
        import smbclient

        path = self.address.unc(*parts)
        try:
            with smbclient.open_file(path, mode="rb", buffering=0, share_access="r", **self._kw()) as raw:
                handle = raw.fd
                flight = _InFlight(handle, window, on_answer=sink)
                chunk = min(handle.connection.max_read_size, 1024 * 1024)
                size, offset = handle.end_of_file, 0
                while offset < size:
                    length = min(chunk, size - offset)
                    flight.send(*handle.read(offset, length, send=False))
                    offset += length
                flight.drain()
        except _failures() as exc:
            raise _translate(exc, self.address, path) from None
        return size

    def read_bytes(self, *parts: str) -> bytes:
        pieces: list[bytes] = []
        self.read_into(pieces.append, *parts)
        return b"".join(pieces)

    def sha256(self, *parts: str, window: int = 8) -> str:
        """Read the file back from the share and return its SHA-256 (what the server stored); the
        answers are hashed on the other core while the next ones arrive."""
        import hashlib

        digest = _Hasher(hashlib.sha256(), depth=window * 2)
        with digest:
            self.read_into(digest.update, *parts, window=window)
        return digest.hexdigest()

    def download(self, local, *parts: str, window: int = 8) -> tuple[int, str]:
        """Copy the file ``parts`` to the local path ``local``; return its size and SHA-256."""
        import hashlib

        digest = _Hasher(hashlib.sha256(), depth=window * 2)
        local_failure: list[OSError] = []  # this disk's own (a full disk), never said as the share's
        with open(local, "wb") as target, digest:
            def sink(data: bytes) -> None:
                try:
                    target.write(data)
                except OSError as exc:
                    local_failure.append(exc)
                    raise
                digest.update(data)
            try:
                size = self.read_into(sink, *parts, window=window)
            except SmbError:
                if local_failure:
                    raise local_failure[0] from None
                raise
            target.flush()
            os.fsync(target.fileno())
        return size, digest.hexdigest()


class Writer:
    """A file-like writer into an open SMB file: what is written is cut into chunks the server
    takes and sent ``window`` deep; ``size`` counts what was sent. An SMB failure is raised as
    SmbError (and kept in ``failed``: a caller in between, such as age, may wrap it)."""

    def __init__(self, handle, window: int, progress, translate) -> None:
        self.flight = _InFlight(handle, window)
        self.handle = handle
        self.chunk = min(handle.connection.max_write_size, 1024 * 1024)
        self.buffer = bytearray()
        self.size = 0
        self.progress = progress
        self.translate = translate
        self.failed: SmbError | None = None

    def write(self, data) -> int:
        self.buffer += data
        while len(self.buffer) >= self.chunk:
            with memoryview(self.buffer) as view:
                piece = bytes(view[:self.chunk])
            self._send(piece)
            del self.buffer[:self.chunk]
        return len(data)

    def flush(self) -> None:
        """Nothing to do: whole chunks go out as they fill, the rest when the block ends."""

    def _send(self, data: bytes) -> None:
        if self.failed is not None:
            raise self.failed
        try:
            self.flight.send(*self.handle.write(data, self.size, send=False))
        except _failures() as exc:
            self.failed = self.translate(exc)
            raise self.failed from None
        self.size += len(data)
        if self.progress and self.flight.settled:
            self.progress(self.size)

    def finish(self) -> None:
        if self.buffer:
            self._send(bytes(self.buffer))
            self.buffer.clear()
        self.flight.drain()


class _Hasher:
    """A hash fed from a bounded queue by a thread of its own: hashlib releases the GIL on large
    updates, so hashing one answer overlaps receiving the next (each is hashed in order)."""

    def __init__(self, digest, *, depth: int) -> None:
        import queue
        import threading

        self.digest = digest
        self.failed: Exception | None = None
        self.queue: queue.Queue = queue.Queue(maxsize=depth)
        self.thread = threading.Thread(target=self._run, name="smb-read-back-hash", daemon=True)

    def _run(self) -> None:
        while (data := self.queue.get()) is not None:
            if self.failed is None:
                try:
                    self.digest.update(data)
                except Exception as exc:  # noqa: BLE001 - kept, re-raised by __exit__; the queue keeps draining
                    self.failed = exc

    def update(self, data: bytes) -> None:
        self.queue.put(data)

    def __enter__(self) -> _Hasher:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.queue.put(None)
        self.thread.join()
        if self.failed is not None and exc[0] is None:
            raise self.failed

    def hexdigest(self) -> str:
        return self.digest.hexdigest()


class _InFlight:
    """Requests of one open file kept ``window`` deep on the wire, their answers taken in order
    (``on_answer`` gets each one's result). SMB credits bound what may be sent: each request asks
    for more until the window fits, and an echo asks for some when a new connection has one."""

    def __init__(self, handle, window: int, on_answer=None) -> None:
        import collections

        self.connection, self.tree = handle.connection, handle.tree_connect
        self.window = window
        self.on_answer = on_answer
        self.pending: collections.deque = collections.deque()
        self.settled = False  # whether the last send took an answer (a point to report progress)

    def _available(self) -> int:
        credits = self.connection.sequence_window  # SMB credits: high - low may be sent now
        return credits["high"] - credits["low"]

    def _answer(self) -> None:
        request, receive = self.pending.popleft()
        result = receive(request)
        if self.on_answer is not None:
            self.on_answer(result)

    def send(self, message, receive) -> None:
        session_id = self.tree.session.session_id
        charge = self.connection._calculate_credit_charge(message)
        while self._available() < charge and self.pending:  # credits come back with the answers
            self._answer()
        if self._available() < charge:
            self.connection.echo(sid=session_id, credit_request=charge * (self.window + 1))
        # ask for more credits than this request costs until the window can hold ``window`` of them
        extra = charge * 2 if self._available() < charge * (self.window + 1) else charge
        self.pending.append((self.connection.send(message, sid=session_id, tid=self.tree.tree_connect_id,
                                                  credit_request=extra), receive))
        self.settled = len(self.pending) >= self.window
        if self.settled:
            self._answer()

    def take(self) -> None:
        """Wait for the oldest request's answer."""
        self._answer()

    def drain(self) -> None:
        while self.pending:
            self._answer()


@contextmanager
def session(address: ShareAddress, *, timeout: float = 30) -> Iterator[SmbSession]:
    """Open a private session to ``address`` and close it on exit; raise SmbError with a fix on failure."""
    import smbclient

    cache: dict = {}
    try:
        smbclient.register_session(address.server, username=address.username,
                                   password=address.password.reveal() if address.password else None,
                                   port=address.port, encrypt=address.encrypt or None,
                                   connection_timeout=int(timeout), connection_cache=cache)
    except _failures() as exc:
        smbclient.reset_connection_cache(fail_on_error=False, connection_cache=cache)
        raise _translate(exc, address, address.unc()) from None
    share_root = f"\\\\{address.server}\\{address.share}"
    try:
        smbclient.stat(share_root, port=address.port, connection_cache=cache)
    except _failures() as exc:
        smbclient.reset_connection_cache(fail_on_error=False, connection_cache=cache)
        # Samba answers a missing share with STATUS_NOT_FOUND, Windows with BAD_NETWORK_NAME
        kind = _kind(exc)
        if kind in ("missing", "share") or getattr(exc, "errno", None) == errno.ENOENT:
            raise SmbError(f"the SMB server {address.server}:{address.port} has no share named {address.share!r}",
                           fix="check SMB_SHARE against the shares the server offers") from None
        raise _translate(exc, address, share_root) from None
    try:
        yield SmbSession(address, cache)
    finally:
        smbclient.reset_connection_cache(fail_on_error=False, connection_cache=cache)
