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

The session, as the real gateway lives it (IBC's login, IBKR's two-factor approval):
- STANDIN_TWOFA=yes, or ``standin_gateway.py twofa-on [SECONDS]`` once (kept in the container,
  across its restarts; SECONDS: the requests' lifetime): each start (a container start or
  restart: IBC's cold login) waits for the trader's approval; until then the API accepts TCP
  and never answers the handshake, as the real one does. ``standin_gateway.py approve`` (run in
  the container: docker exec) approves it.
- An approval request lasts STANDIN_TWOFA_TIMEOUT seconds (IBKR's push, about 3 min); then the
  gateway asks again (RELOGIN_AFTER_TWOFA_TIMEOUT=yes), logging ``2FA request N`` each time.
- ``standin_gateway.py daily-restart``: IBC's daily restart: logged out for STANDIN_RESTART_SECONDS
  (default 3), then logged in again by itself (no approval: the week's token still holds).
- ``standin_gateway.py logout``: the session lost (IBKR dropped it): not logged in until approved.
- ``standin_gateway.py state``: prints the session as JSON; ``accounts A,B``: the managed accounts
  it reports from then on (else STANDIN_ACCOUNTS).
Modelled on IBC (IbcAlpha/IBC): resources/config.ini's SecondFactorAuthenticationTimeout (180 s)
and ReloginAfterSecondFactorAuthenticationTimeout (the image's RELOGIN_AFTER_TWOFA_TIMEOUT, which
ib_gateway sets to yes), AutoRestartTime (the daily restart, the image's AUTO_RESTART_TIME) and
src/ibcalpha/ibc/IbcTws.java (a start logs in with the credentials; 2FA when IBKR asks for it).
The stand-in does not keep IBC's clock (the tests and the demo run simulated weeks): what IBC
does at a time of day, the tests and the demo do by these commands at that instant.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import struct
import sys
import threading
import time

MODE_PORTS = {"live": 4003, "paper": 4004}
SESSION = os.environ.get("STANDIN_SESSION_FILE", "/tmp/standin-gateway-session.json")
LOGGED_IN, AWAITING, RESTARTING = "logged in", "awaiting 2FA", "restarting"


@contextlib.contextmanager
def session_lock():
    """One change of the session at a time (the gateway's clock and a command run in the container)."""
    with open(f"{SESSION}.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def read_session() -> dict:
    try:
        with open(SESSION) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return {"state": LOGGED_IN, "request": 0, "until": 0}


def write_session(session: dict) -> None:
    partial = f"{SESSION}.{os.getpid()}"
    with open(partial, "w") as handle:
        json.dump(session, handle)
    os.replace(partial, SESSION)


def ask_for_approval(request: int) -> dict:
    try:  # twofa-on SECONDS keeps its own request lifetime (the container's environment is compose's)
        with open(f"{SESSION}.twofa") as handle:
            kept = handle.read().split()
    except OSError:
        kept = []
    timeout = float(kept[0]) if kept and kept[0] != "yes" else float(os.environ.get("STANDIN_TWOFA_TIMEOUT", "180"))
    return {"state": AWAITING, "request": request, "until": time.time() + timeout}


def advance(session: dict, *, say=lambda line: None) -> dict:
    """The session after time passed: a daily restart ends logged in; an unapproved request expires
    and a new one is sent."""
    now = time.time()
    if session["state"] == RESTARTING and now >= session["until"]:
        session = {"state": LOGGED_IN, "request": 0, "until": 0}
        say("logged in again after the daily restart")
    elif session["state"] == AWAITING and now >= session["until"]:
        session = ask_for_approval(session["request"] + 1)
        say(f"2FA request {session['request'] - 1} timed out; 2FA request {session['request']} sent")
    return session


def command(verb: str, *args: str) -> None:
    """A session command run in the container (docker exec): approve, logout, daily-restart, state."""
    with session_lock():
        _command(verb, *args)


def _command(verb: str, *args: str) -> None:
    session = read_session()
    if verb == "approve":
        session = {"state": LOGGED_IN, "request": 0, "until": 0}
    elif verb == "logout":
        session = ask_for_approval(1)
    elif verb == "daily-restart":
        session = {"state": RESTARTING, "request": 0,
                   "until": time.time() + float(os.environ.get("STANDIN_RESTART_SECONDS", "3"))}
    elif verb == "accounts":  # the managed accounts it reports from now on (its environment is compose's)
        with open(f"{SESSION}.accounts", "w") as handle:
            handle.write(",".join(args) + "\n")
    elif verb == "twofa-on":
        with open(f"{SESSION}.twofa", "w") as handle:
            handle.write(f"{float(args[0]) if args else 'yes'}\n")
    elif verb != "state":
        fail(f"unknown command {verb!r}: approve, logout, daily-restart, twofa-on, accounts or state")
    if verb not in ("state", "twofa-on", "accounts"):
        write_session(session)
    print(json.dumps(session))


def keep_session() -> None:
    """The gateway's own clock: advance the session every half second, logging what happens."""
    while True:
        with session_lock():
            session = read_session()
            moved = advance(dict(session), say=lambda line: print(f"stand-in gateway: {line}", flush=True))
            if moved != session:
                write_session(moved)
        time.sleep(0.5)


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
        waited = time.monotonic()
        while read_session()["state"] != LOGGED_IN:  # not logged in: it answers nothing until it is
            if time.monotonic() - waited > 30:
                return
            time.sleep(0.2)
        conn.sendall(frame(version, time.strftime("%Y%m%d %H:%M:%S %Z")))
        try:
            message = read_frame(conn)
        except (TimeoutError, ConnectionError):
            return
        if message.split(b"\0")[0] == b"71":  # startApi
            try:
                with open(f"{SESSION}.accounts") as handle:
                    accounts = handle.read().strip() or accounts
            except OSError:
                pass
            conn.sendall(frame("15", "1", accounts) + frame("9", "1", "1"))
        try:
            while read_frame(conn):
                pass
        except (ConnectionError, OSError):
            return


def main() -> None:
    if len(sys.argv) > 1:
        command(sys.argv[1], *sys.argv[2:])
        return
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
    if os.environ.get("STANDIN_TWOFA", "no") == "yes" or os.path.exists(f"{SESSION}.twofa"):
        # every start is a cold login: approve it
        write_session(ask_for_approval(1))
        print("stand-in gateway: 2FA request 1 sent: approve it (standin_gateway.py approve)", flush=True)
    else:
        write_session({"state": LOGGED_IN, "request": 0, "until": 0})
    threading.Thread(target=keep_session, daemon=True).start()
    while True:
        conn, _ = server.accept()
        threading.Thread(target=serve_client, args=(conn, accounts, version, ready_at), daemon=True).start()


if __name__ == "__main__":
    main()
