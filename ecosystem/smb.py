"""The SMB session helper: one short-lived, private session per job, errors translated.

Uses smbprotocol's ``smbclient`` (SMB 2/3). Each session has its own connection
cache, so jobs never share or leak a connection, and closes it on exit.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

from .errors import SmbError
from .secrets import Secret

log = logging.getLogger(__name__)


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
    def from_settings(cls, settings) -> "ShareAddress":
        return cls(settings.smb_server, settings.smb_port, settings.smb_share, settings.smb_folder,
                   settings.smb_user, settings.smb_password)

    def unc(self, *parts: str) -> str:
        """Return the UNC path of ``parts`` inside the target folder."""
        pieces = [p for p in (self.folder, *parts) if p]
        return "\\".join([f"\\\\{self.server}", self.share, *pieces])

    def __str__(self) -> str:
        return f"{self.unc()} (port {self.port}, user {self.username or '?'})"


def _translate(exc: BaseException, address: ShareAddress, path: str) -> SmbError:
    from smbprotocol import exceptions as smbexc

    where = f"{address.server}:{address.port}"
    if isinstance(exc, (smbexc.LogonFailure, smbexc.SMBAuthenticationError)):
        return SmbError(f"the SMB server {where} refused the login of user {address.username!r}",
                        fix="check SMB_USER and SMB_PASSWORD (or SMB_PASSWORD_FILE)")
    if isinstance(exc, smbexc.BadNetworkName):
        return SmbError(f"the SMB server {where} has no share named {address.share!r}",
                        fix="check SMB_SHARE against the shares the server offers")
    if isinstance(exc, smbexc.ObjectNameNotFound) or isinstance(exc, FileNotFoundError):
        return SmbError(f"{path} does not exist on the share", fix="create the folder on the share or fix SMB_FOLDER")
    if isinstance(exc, NotADirectoryError):
        return SmbError(f"{path} exists on the share as a file, not a folder", fix="rename it or fix SMB_FOLDER")
    if isinstance(exc, (smbexc.AccessDenied, PermissionError)):
        return SmbError(f"the SMB server denied access to {path} for user {address.username!r}",
                        fix="give that user write access to the share and folder")
    if isinstance(exc, smbexc.DiskFull):
        return SmbError(f"the share {address.share!r} on {where} is full", fix="free space on the share")
    if isinstance(exc, (smbexc.SMBConnectionClosed, ConnectionError, OSError, ValueError)):
        return SmbError(f"cannot reach the SMB server at {where} ({type(exc).__name__})",
                        fix="check SMB_SERVER and SMB_PORT, and that the server is up and reachable")
    return SmbError(f"SMB error on {path}: {type(exc).__name__}")


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
        except Exception as exc:
            raise _translate(exc, self.address, path) from None


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
    except Exception as exc:
        smbclient.reset_connection_cache(fail_on_error=False, connection_cache=cache)
        raise _translate(exc, address, address.unc()) from None
    try:
        yield SmbSession(address, cache)
    finally:
        smbclient.reset_connection_cache(fail_on_error=False, connection_cache=cache)
