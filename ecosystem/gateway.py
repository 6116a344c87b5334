"""Talking to the IB Gateway's API port: the handshake and the managed accounts, nothing more.

Healthy means the API completes its handshake (a gateway waiting for 2FA accepts TCP and
never answers); the managed accounts say which account is logged in.
"""
from __future__ import annotations

import socket
import struct
import time
from dataclasses import dataclass

from .errors import EcosystemError

CLIENT_VERSIONS = b"v100..176"
START_API, MANAGED_ACCOUNTS = b"71", b"15"


class GatewayError(EcosystemError):
    """The gateway's API did not answer as a logged-in gateway does."""


class LoginTimedOut(GatewayError):
    """The gateway did not complete its login in the time given (2FA not approved?)."""


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
        except TimeoutError:
            raise GatewayError(f"the IB API at {host}:{port} accepted the connection but did not answer within "
                               f"{timeout:g}s: the gateway is not logged in (waiting for 2FA?)",
                               fix="approve the login on your phone, or open the gateway's VNC") from None
        except ConnectionError as exc:
            raise GatewayError(f"the IB API at {host}:{port} closed the connection: {exc}") from None
    return GatewayAnswer(int(version), connection_time.decode(errors="replace"), accounts)


def api_address(settings) -> tuple[str, int]:
    """Where this host reaches the gateway's published IB API port (BIND_ADDRESS, or loopback when
    that is the unspecified address)."""
    import ipaddress

    address = ipaddress.ip_address(settings.bind_address)
    return ("127.0.0.1" if address.is_unspecified else settings.bind_address), settings.ib_api_port


def mask_account(account: str) -> str:
    """Show enough of an account id to recognise it, not enough to use it (DU*****67)."""
    return account[:2] + "*" * max(len(account) - 4, 1) + account[-2:] if len(account) > 4 else "****"


def is_paper(account: str) -> bool:
    return account.upper().startswith("D")  # IB paper accounts are DU..., DF...


def judge_login(answer: GatewayAnswer, *, broker_account: str | None, trading_mode: str) -> list[str]:
    """Given a completed handshake, return what is wrong with it for these settings ([] when all is right)."""
    problems = []
    if not answer.accounts:
        problems.append("the gateway reported no managed account")
    elif broker_account and str(broker_account) not in answer.accounts:
        problems.append(f"the gateway is logged in to {', '.join(mask_account(a) for a in answer.accounts)}, "
                        f"not to broker_account {mask_account(str(broker_account))} of private_config.yaml")
    if answer.accounts and all(is_paper(a) != (trading_mode == "paper") for a in answer.accounts):
        kind = "paper" if is_paper(answer.accounts[0]) else "live"
        problems.append(f"the gateway is logged in to a {kind} account but TRADING_MODE={trading_mode}")
    return problems


def wait_for_login(host: str, port: int, *, timeout: float, every: float = 5,
                   on_wait=lambda remaining, reason: None, clock=time.monotonic, sleep=time.sleep) -> GatewayAnswer:
    """Try the handshake until it completes or ``timeout`` passes, calling ``on_wait`` between tries.

    Raise GatewayError saying the gateway never completed the login (2FA not approved?).
    """
    deadline = clock() + timeout
    last = "no answer yet"
    while True:
        remaining = deadline - clock()
        if remaining <= 0:
            raise LoginTimedOut(f"the gateway did not complete its login within {timeout:g}s ({last})",
                               fix="approve the 2FA request in the IBKR Mobile app, or log in through VNC, "
                                   "then run `invoke gateway.login` again")
        try:
            return handshake(host, port, timeout=min(10, max(1, remaining)))
        except GatewayError as exc:
            last = exc.message
            on_wait(remaining, last)
            sleep(min(every, max(0, deadline - clock())))
