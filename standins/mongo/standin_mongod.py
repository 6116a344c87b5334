#!/usr/bin/env python3
"""STAND-IN for mongod (the official `mongo` image cannot be had here). It is NOT MongoDB.

What it does, as the ecosystem relies on it: runs as uid 999 with its data in /data/db,
reads MONGO_INITDB_ROOT_USERNAME and MONGO_INITDB_ROOT_PASSWORD(_FILE) like the official
entrypoint (both or neither; an unreadable password file is fatal), listens on 27017, and
keeps a data directory. The backup contract (mongodump / mongorestore) is added by the
backup capability and written down in standins/README.md.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import sys
import threading
from pathlib import Path

DATA = Path(os.environ.get("STANDIN_MONGO_DATA", "/data/db"))


def fail(message: str) -> None:
    print(f"stand-in mongod: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def init_auth() -> None:
    user = os.environ.get("MONGO_INITDB_ROOT_USERNAME", "")
    password = os.environ.get("MONGO_INITDB_ROOT_PASSWORD", "")
    password_file = os.environ.get("MONGO_INITDB_ROOT_PASSWORD_FILE", "")
    if password and password_file:
        fail("both MONGO_INITDB_ROOT_PASSWORD and MONGO_INITDB_ROOT_PASSWORD_FILE are set")
    if password_file:
        try:
            password = Path(password_file).read_text().strip()
        except OSError as exc:
            fail(f"cannot read MONGO_INITDB_ROOT_PASSWORD_FILE as uid {os.getuid()}: {exc.strerror}")
    if bool(user) != bool(password):
        fail("both MONGO_INITDB_ROOT_USERNAME and MONGO_INITDB_ROOT_PASSWORD must be specified")
    state = DATA / "standin-auth.json"
    if user and not state.exists():
        state.write_text(json.dumps({"user": user, "auth": True}))  # the password itself is not kept


TURTLE = DATA / "WiredTiger.turtle"  # the stand-in's metadata: each data file (*.wt) and its size


def check_data_files() -> None:
    """Refuse to start on a data directory whose files do not match its metadata, as mongod does
    (WiredTiger cannot open a data file that is missing or shorter than its metadata says: a
    half-copied data directory, say). Data files are ``*.wt``; files that grew are fine."""
    files = {p.name: p.stat().st_size for p in DATA.glob("*.wt")}
    if not TURTLE.exists():
        if files:
            fail(f"WiredTiger error: {TURTLE.name} is missing but data files exist ({', '.join(sorted(files))})")
        return
    try:
        listed = json.loads(TURTLE.read_text())
    except (OSError, ValueError):
        fail(f"WiredTiger error: {TURTLE.name} cannot be read")
    for name, size in listed.items():
        if files.get(name, -1) < size:
            fail(f"WiredTiger error: {name} is missing or shorter than its metadata says ({size} bytes)")


def write_metadata() -> None:
    TURTLE.write_text(json.dumps({p.name: p.stat().st_size for p in DATA.glob("*.wt")}))


def shut_down(signum, frame) -> None:
    write_metadata()  # a clean shutdown leaves files and metadata in step
    sys.exit(0)


def serve(conn: socket.socket) -> None:
    with conn:
        try:
            while conn.recv(4096):
                pass
        except OSError:
            return


def main() -> None:
    # as PID 1 a process ignores SIGTERM unless it handles it; the real one shuts down cleanly
    signal.signal(signal.SIGTERM, shut_down)
    try:
        DATA.mkdir(parents=True, exist_ok=True)
        (DATA / ".standin-writable").write_text("ok")
    except OSError as exc:
        fail(f"data directory {DATA} is not writable by uid {os.getuid()}: {exc.strerror}")
    check_data_files()
    write_metadata()
    init_auth()
    server = socket.create_server(("0.0.0.0", 27017))
    print("stand-in mongod: waiting for connections on port 27017", flush=True)
    while True:
        conn, _ = server.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
