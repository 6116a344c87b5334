#!/usr/bin/env python3
"""STAND-IN for IB Gateway (gnzsnz/ib-gateway-docker): it is NOT a gateway and cannot trade.

It listens where the real image relays the IB API (4003 live, 4004 paper), reads its
credentials the way that image does (TWS_USERID, TWS_PASSWORD or TWS_PASSWORD_FILE),
and answers the IB API handshake: the server version and connection time, then, after
startApi, the managed accounts and the next valid order id. Enough for healthchecks,
`invoke gateway.login` checks and pysystemtrade-like clients to see a logged-in gateway.

Behaviour knobs (environment): STANDIN_ACCOUNTS (default DU1234567), STANDIN_LOGIN_DELAY
(seconds before it answers the handshake, like a gateway waiting for 2FA),
STANDIN_SERVER_VERSION (default 176).
"""
from __future__ import annotations

import os
import signal
import socket
import struct
import sys
import threading
import time

MODE_PORTS = {"live": 4003, "paper": 4004}


def fail(message: str) -> None:
    print(f"stand-in gateway: {message}", file=sys.stderr, flush=True)
    sys.exit(2)


def read_credentials() -> tuple[str, str]:
    user = os.environ.get("TWS_USERID", "")
    password = os.environ.get("TWS_PASSWORD", "")
    password_file = os.environ.get("TWS_PASSWORD_FILE", "")
    if password and password_file:
        fail("TWS_PASSWORD and TWS_PASSWORD_FILE are both set")
    if password_file:
        try:
            with open(password_file) as handle:
                password = handle.read().strip()
        except OSError as exc:
            fail(f"cannot read TWS_PASSWORD_FILE: {exc.strerror}")
    return user, password


def frame(*fields: str) -> bytes:
    payload = b"".join(f.encode() + b"\0" for f in fields)
    return struct.pack(">I", len(payload)) + payload


def read_frame(conn: socket.socket) -> bytes:
    header = conn.recv(4, socket.MSG_WAITALL)
    if len(header) < 4:
        raise ConnectionError("closed")
    (size,) = struct.unpack(">I", header)
    return conn.recv(size, socket.MSG_WAITALL) if size else b""


def serve_client(conn: socket.socket, accounts: str, version: str, ready_at: float) -> None:
    with conn:
        conn.settimeout(30)
        prefix = conn.recv(4, socket.MSG_WAITALL)
        if prefix != b"API\0":
            return
        read_frame(conn)  # the client's version range, e.g. v100..176
        delay = ready_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)  # not logged in yet: the handshake waits, as a real gateway's does
        conn.sendall(frame(version, time.strftime("%Y%m%d %H:%M:%S %Z")))
        try:
            message = read_frame(conn)
        except (TimeoutError, ConnectionError):
            return
        if message.split(b"\0")[0] == b"71":  # startApi
            conn.sendall(frame("15", "1", accounts) + frame("9", "1", "1"))
        try:
            while read_frame(conn):
                pass
        except (ConnectionError, OSError):
            return


def main() -> None:
    # as PID 1 a process ignores SIGTERM unless it handles it; the real one shuts down cleanly
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    mode = os.environ.get("TRADING_MODE", "paper")
    if mode not in MODE_PORTS:
        fail(f"invalid TRADING_MODE {mode!r}")
    user, password = read_credentials()
    if not user or not password:
        print("stand-in gateway: no credentials given; answering anyway (it is a stand-in)", flush=True)
    accounts = os.environ.get("STANDIN_ACCOUNTS", "DU1234567")
    version = os.environ.get("STANDIN_SERVER_VERSION", "176")
    ready_at = time.monotonic() + float(os.environ.get("STANDIN_LOGIN_DELAY", "0"))
    port = int(os.environ.get("STANDIN_PORT", MODE_PORTS[mode]))  # tests outside a container pick a free one
    server = socket.create_server(("0.0.0.0", port), reuse_port=False)
    print(f"stand-in gateway: {mode} API on port {port}", flush=True)
    while True:
        conn, _ = server.accept()
        threading.Thread(target=serve_client, args=(conn, accounts, version, ready_at), daemon=True).start()


if __name__ == "__main__":
    main()
