"""Talking to the IB Gateway's API port: the handshake and the managed accounts, nothing more.

Healthy means the API completes its handshake (a gateway waiting for 2FA accepts TCP and
never answers); the managed accounts say which account is logged in.
"""
from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

from .errors import EcosystemError

CLIENT_VERSIONS = b"v100..176"
START_API, MANAGED_ACCOUNTS = b"71", b"15"


class GatewayError(EcosystemError):
    """The gateway's API did not answer as a logged-in gateway does."""


@dataclass(frozen=True)
class GatewayAnswer:
    server_version: int
    connection_time: str
    accounts: tuple[str, ...]


def _frame(payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + payload


def _read_frame(conn: socket.socket) -> list[bytes]:
    header = conn.recv(4, socket.MSG_WAITALL)
    if len(header) < 4:
        raise ConnectionError("the gateway closed the connection")
    (size,) = struct.unpack(">I", header)
    payload = conn.recv(size, socket.MSG_WAITALL) if size else b""
    return payload.rstrip(b"\0").split(b"\0")


def handshake(host: str, port: int, *, client_id: int = 999, timeout: float = 10) -> GatewayAnswer:
    """Complete the IB API handshake at ``host:port`` and return the server version and managed accounts.

    Raise GatewayError saying whether the port refused, or the gateway did not answer in time
    (not logged in), or answered something else.
    """
    try:
        conn = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        raise GatewayError(f"the IB API at {host}:{port} refuses connections ({exc.strerror or exc})",
                           fix="start the gateway: invoke up") from None
    with conn:
        try:
            conn.sendall(b"API\0" + _frame(CLIENT_VERSIONS))
            version, connection_time = (_read_frame(conn) + [b""])[:2]
            if not version.isdigit():
                raise GatewayError(f"the IB API at {host}:{port} answered something that is not a handshake")
            conn.sendall(_frame(b"\0".join([START_API, b"2", str(client_id).encode(), b""])))
            accounts: tuple[str, ...] = ()
            for _ in range(20):
                fields = _read_frame(conn)
                if fields[:1] == [MANAGED_ACCOUNTS] and len(fields) >= 3:
                    accounts = tuple(a for a in fields[2].decode().split(",") if a)
                    break
        except (socket.timeout, TimeoutError):
            raise GatewayError(f"the IB API at {host}:{port} accepted the connection but did not answer within "
                               f"{timeout:g}s: the gateway is not logged in (waiting for 2FA?)",
                               fix="approve the login on your phone, or open the gateway's VNC") from None
        except ConnectionError as exc:
            raise GatewayError(f"the IB API at {host}:{port} closed the connection: {exc}") from None
    return GatewayAnswer(int(version), connection_time.decode(errors="replace"), accounts)
