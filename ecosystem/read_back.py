"""Read-back verification of an offload, in a second process, overlapping the next file's upload.

A ``Verifier`` is a child process with an SMB session of its own. Once a file of a set is sent
and closed, offload asks the child to ``check`` it: the child opens it on the share, reads it
(several reads in flight), decrypts it with the backup key and hashes the plaintext, so what is
checked is the whole way round: what the share holds decrypts, whole, to the bytes the manifest
names. Meanwhile offload sends the next file; it takes the answer (``result``) before it asks
for the next check. Sending and verifying are each Python on one core; in one process they took
turns, here they overlap, except for the set's last file.

The child never opens a file another session still has open: Samba 4.17 panicked (and logged a
lost share-mode entry at every close) when the child read a file behind its writer.

The child gets the share's address (with its password) and the key's path through an inherited
socket, never on a command line. If the parent dies, the socket closes and the child ends.
"""
from __future__ import annotations

import socket
import sys
from dataclasses import dataclass
from pathlib import Path

from . import commands
from .errors import EcosystemError, SmbError

STARTUP_SECONDS = 60
ANSWER_SECONDS = 600          # the least a file's read-back is given ...
SLOWEST_BYTES_PER_SECOND = 2e6  # ... and more for a large file: read back at 2 MB/s (16 Mbit/s) at the least


@dataclass(frozen=True)
class Checked:
    """What the child read back and decrypted: the plaintext's size and SHA-256."""

    size: int
    sha256: str


class Verifier:
    """The child process: ``check`` a closed file, then ``result`` before the next ``check``.

    The child is ``python -m ecosystem.read_back FD`` (not multiprocessing's spawn, which imports
    the parent's main module again), talking over an inherited socket with multiprocessing's
    Connection (pickled messages, length-prefixed)."""

    def __init__(self, address, key_path: Path) -> None:
        self._address, self._key_path = address, Path(key_path)
        self._process: commands.Child | None = None
        self._deadline = float(ANSWER_SECONDS)

    def __enter__(self) -> Verifier:
        from multiprocessing.connection import Connection

        ours, theirs = socket.socketpair()
        with theirs:
            self._process = commands.start_module("ecosystem.read_back", str(theirs.fileno()),
                                                  pass_fds=(theirs.fileno(),))
        self._conn = Connection(ours.detach())
        try:
            self._conn.send((self._address, str(self._key_path)))
            self._answer(STARTUP_SECONDS, "start")
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc) -> None:
        try:
            self._conn.send(("quit",))
        except OSError:
            pass
        if self._process is not None:
            try:
                self._process.wait(timeout=10)
            except commands.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
        self._conn.close()

    def _gone(self, what: str) -> SmbError:
        code = None
        if self._process is not None:
            try:
                code = self._process.wait(timeout=5)  # its socket closed as it ended: its code follows
            except commands.TimeoutExpired:
                code = None
        return SmbError(f"the read-back verification process ended ({what}, exit code {code})",
                        fix="run offload again; the set stays local until it is verified")

    def _answer(self, timeout: float, what: str):
        try:
            if not self._conn.poll(timeout):
                raise SmbError(f"the read-back verification did not answer ({what}) within {timeout:.0f}s",
                               fix="run offload again; check the SMB server's load")
            answer = self._conn.recv()
        except (EOFError, OSError):
            raise self._gone(what) from None
        if answer[0] == "failed":
            _kind, message, fix, about_the_key = answer
            if about_the_key:
                from .backup_key import BackupKeyError

                raise BackupKeyError(message, fix=fix)
            raise SmbError(message, fix=fix)
        return answer

    def check(self, parts: tuple[str, ...], what: str, size: int) -> None:
        """Ask the child to read back the closed file ``parts`` of ``size`` bytes (``what`` names it
        in errors)."""
        self._deadline = ANSWER_SECONDS + size / SLOWEST_BYTES_PER_SECOND
        try:
            self._conn.send(("file", parts, what))
        except OSError:
            raise self._gone(f"checking {what}") from None

    def result(self, what: str) -> Checked:
        """Wait for the answer to the last ``check``."""
        _kind, size, digest = self._answer(self._deadline, f"checking {what}")
        return Checked(size, digest)


def _serve(conn) -> None:  # pragma: no cover - runs in the child process (covered by the offload tests)
    from . import backup_key, smb

    try:
        address, key_path = conn.recv()
        key = backup_key.load(Path(key_path))
        with smb.session(address) as share:
            conn.send(("ready",))
            while True:
                message = conn.recv()
                if message[0] == "quit":
                    return
                _kind, parts, what = message
                try:
                    size, digest = _check(share, parts, what, key)
                except EcosystemError as exc:
                    conn.send(("failed", exc.message, exc.fix, isinstance(exc, backup_key.BackupKeyError)))
                    continue
                conn.send(("done", size, digest))
    except EcosystemError as exc:
        conn.send(("failed", exc.message, exc.fix, isinstance(exc, backup_key.BackupKeyError)))
    except (EOFError, OSError, KeyboardInterrupt):
        return


def _check(share, parts: tuple[str, ...], what: str, key) -> tuple[int, str]:
    """Read ``parts`` back, decrypt it and hash the plaintext; return its size and SHA-256."""
    from . import backup_key

    with share.reader(*parts) as (handle, translate):
        return backup_key.decrypt(_Reading(handle, translate), None, key, what)


class _Reading:
    """A reader over a file on the share with several reads in flight (age pulls 8 KiB at a time;
    the answers come 1 MiB at a time). What reading raised is kept in ``failed``: age reports it
    as its own error, and ``backup_key.decrypt`` raises the original."""

    WINDOW = 8

    def __init__(self, handle, translate) -> None:
        import collections

        from .smb import _failures, _InFlight

        self.smb_failures = _failures()
        self.handle, self.translate = handle, translate
        self.size = handle.end_of_file
        self.requested = 0
        self.buffer = bytearray()
        self.answers: collections.deque = collections.deque()
        self.flight = _InFlight(handle, self.WINDOW, on_answer=self.answers.append)
        self.chunk = min(handle.connection.max_read_size, 1024 * 1024)
        self.failed: EcosystemError | None = None

    def read(self, n: int | None = -1) -> bytes:
        wanted = -1 if n is None else n
        if 0 < wanted <= len(self.buffer):  # the common case (age asks for 8 KiB): served from what arrived
            with memoryview(self.buffer) as view:
                data = bytes(view[:wanted])
            del self.buffer[:wanted]
            return data
        try:
            while len(self.buffer) < max(wanted, 1) and (self.requested < self.size or self.flight.pending):
                while self.requested < self.size and len(self.flight.pending) + len(self.answers) < self.WINDOW:
                    length = min(self.chunk, self.size - self.requested)
                    self.flight.send(*self.handle.read(self.requested, length, send=False))
                    self.requested += length
                if self.flight.pending:
                    self.flight.take()
                while self.answers:
                    self.buffer += self.answers.popleft()
        except self.smb_failures as exc:
            self.failed = self.translate(exc)
            raise self.failed from None
        size = len(self.buffer) if wanted < 0 else min(wanted, len(self.buffer))
        with memoryview(self.buffer) as view:
            data = bytes(view[:size])
        del self.buffer[:size]
        return data


if __name__ == "__main__":  # the child: python -m ecosystem.read_back FD
    from multiprocessing.connection import Connection

    _serve(Connection(int(sys.argv[1])))
