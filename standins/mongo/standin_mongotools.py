#!/usr/bin/env python3
"""STAND-IN for mongodump and mongorestore (installed under both names). It is NOT MongoDB.

Implements exactly the contract in standins/README.md, on the stand-in's data directory
(/data/db/standin-data/<database>/<collection>.jsonl, one JSON document per line):

  mongodump --archive --gzip [--username U --authenticationDatabase admin --config FILE]
      writes one gzip-compressed archive of every database but admin/local/config to stdout.
  mongorestore --archive --gzip --drop [--username U --authenticationDatabase admin --config FILE]
      reads such an archive from stdin; reads all of it and checks it before changing anything;
      with --drop each collection in the archive replaces the one of the same name.

With authentication on (MONGO_INITDB_ROOT_USERNAME set at first start), --username and a
--config file holding `password: ...` are required and checked. Exit 0 on success; 1 with
"Failed: ..." on stderr otherwise (bad credentials, a corrupt or truncated archive).
"""
from __future__ import annotations

import gzip
import io
import json
import os
import sys
import tarfile
from pathlib import Path

DATA = Path(os.environ.get("STANDIN_MONGO_DATA", "/data/db"))
STORE = DATA / "standin-data"
MAGIC = "standin-mongodump-archive-v1"
SYSTEM = ("admin", "local", "config")


def fail(message: str) -> None:
    print(f"Failed: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def options(argv: list[str]) -> dict:
    found = {"flags": set()}
    for arg in argv:
        name, _, value = arg.partition("=")
        if value:
            found[name] = value
        else:
            found["flags"].add(name)
    pairs = iter(argv)
    for arg in pairs:  # also "--config FILE" and "--username U"
        if arg in ("--config", "--username", "--authenticationDatabase"):
            found[arg] = next(pairs, "")
    return found


def check_auth(opts: dict) -> None:
    if not (DATA / "standin-auth.json").exists():
        return
    expected_file = os.environ.get("MONGO_INITDB_ROOT_PASSWORD_FILE", "")
    expected = Path(expected_file).read_text().strip() if expected_file else os.environ.get(
        "MONGO_INITDB_ROOT_PASSWORD", "")
    config = opts.get("--config", "")
    given = ""
    if config:
        for line in Path(config).read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "password":
                value = value.strip()
                given = json.loads(value) if value.startswith('"') else value.strip("'")
    if not opts.get("--username") or not given or given != expected:
        fail("error connecting to db server: (AuthenticationFailed) Authentication failed.")


def dump() -> None:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as archive:
        header = MAGIC.encode()
        info = tarfile.TarInfo("MAGIC")
        info.size = len(header)
        archive.addfile(info, io.BytesIO(header))
        for path in sorted(STORE.glob("*/*.jsonl")) if STORE.is_dir() else []:
            if path.parent.name in SYSTEM:
                continue
            archive.add(path, arcname=f"{path.parent.name}/{path.name}")
            print(f"writing {path.parent.name}.{path.stem} to archive on stdout", file=sys.stderr, flush=True)
    with gzip.GzipFile(fileobj=sys.stdout.buffer, mode="wb") as out:
        out.write(raw.getvalue())
    sys.stdout.buffer.flush()
    print("done dumping", file=sys.stderr, flush=True)


def restore(drop: bool) -> None:
    try:
        data = gzip.decompress(sys.stdin.buffer.read())
        collections = {}
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as archive:
            members = archive.getmembers()
            if not members or members[0].name != "MAGIC" or archive.extractfile(members[0]).read().decode() != MAGIC:
                fail("stream or file does not appear to be a mongodump archive")
            for member in members[1:]:
                database, _, name = member.name.partition("/")
                if not member.isfile() or not name.endswith(".jsonl") or "/" in name or database in ("", "..", "."):
                    fail(f"archive entry {member.name!r} is not a collection")
                text = archive.extractfile(member).read().decode()
                for line in text.splitlines():
                    json.loads(line)  # every document must parse before anything changes
                collections[(database, name)] = text
    except (OSError, EOFError, tarfile.TarError, ValueError, UnicodeDecodeError) as exc:
        fail(f"corruption found in archive; {type(exc).__name__}: {exc}")
    for (database, name), text in collections.items():
        target = STORE / database / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if drop or not target.exists():
            temporary = target.with_suffix(".restoring")
            temporary.write_text(text)
            os.replace(temporary, target)
        else:
            with target.open("a") as handle:
                handle.write(text)
        print(f"restoring {database}.{name[:-6]} from archive", file=sys.stderr, flush=True)
    print(f"{sum(t.count(chr(10)) for t in collections.values())} document(s) restored successfully. "
          "0 document(s) failed to restore.", file=sys.stderr, flush=True)


def main() -> None:
    tool = Path(sys.argv[0]).name
    if "--version" in sys.argv[1:]:
        print(f"{tool} version: stand-in (not MongoDB)")
        return
    opts = options(sys.argv[1:])
    if "--archive" not in opts["flags"] or "--gzip" not in opts["flags"]:
        fail(f"stand-in {tool} implements only --archive --gzip (streamed on stdout/stdin)")
    check_auth(opts)
    if tool == "mongodump":
        dump()
    elif tool == "mongorestore":
        restore("--drop" in opts["flags"])
    else:
        fail(f"unknown tool {tool}")


if __name__ == "__main__":
    main()
