#!/usr/bin/env python3
"""STAND-IN for mongosh: the two scripts the ecosystem runs, nothing else.

- `--eval "db.adminCommand('ping').ok"` prints 1 and exits 0 when the stand-in mongod accepts
  connections on 27017; otherwise it prints an error and exits 1 (the healthcheck).
- a script containing the marker `ecosystem-counts` (the backup's count query, see
  ecosystem/mongo.py) prints one JSON object {"database.collection": documents, ...} for every
  database but admin/local/config, read from the stand-in's data directory.
- a script containing the marker `ecosystem-drop` (a rollback's, see ecosystem/mongo.py) drops the
  collections its `const names = [...]` lists, as mongosh's `db.getCollection(c).drop()` does (a
  missing one is no error), and prints the list.
"""
import json
import os
import re
import socket
import sys
from pathlib import Path

STORE = Path(os.environ.get("STANDIN_MONGO_DATA", "/data/db")) / "standin-data"

args = sys.argv[1:]
script = args[args.index("--eval") + 1] if "--eval" in args else ""
if "ping" not in script and "ecosystem-counts" not in script and "ecosystem-drop" not in script:
    print("stand-in mongosh: only the ping healthcheck and the ecosystem's count and drop scripts are implemented",
          file=sys.stderr)
    sys.exit(2)
try:
    with socket.create_connection(("127.0.0.1", 27017), timeout=5):
        pass
except OSError as exc:
    print(f"MongoNetworkError: connect ECONNREFUSED 127.0.0.1:27017 ({exc})", file=sys.stderr)
    sys.exit(1)
if "ecosystem-counts" in script:
    counts = {}
    for path in sorted(STORE.glob("*/*.jsonl")) if STORE.is_dir() else []:
        if path.parent.name not in ("admin", "local", "config"):
            counts[f"{path.parent.name}.{path.stem}"] = sum(1 for line in path.read_text().splitlines() if line.strip())
    print(json.dumps(counts))
elif "ecosystem-drop" in script:
    names = json.loads(re.search(r"const names = (\[.*?\]);", script, re.DOTALL).group(1))
    for name in names:
        database, _, collection = name.partition(".")
        (STORE / database / f"{collection}.jsonl").unlink(missing_ok=True)
    print(json.dumps(names))
else:
    print(1)
