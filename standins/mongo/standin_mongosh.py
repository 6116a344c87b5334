#!/usr/bin/env python3
"""STAND-IN for mongosh: answers the healthcheck's ping and nothing else.

`mongosh --quiet --norc --eval "db.adminCommand('ping').ok"` prints 1 and exits 0 when the
stand-in mongod accepts connections on 27017; otherwise it prints an error and exits 1.
"""
import socket
import sys

args = sys.argv[1:]
script = args[args.index("--eval") + 1] if "--eval" in args else ""
if "ping" not in script:
    print("stand-in mongosh: only the ping healthcheck is implemented", file=sys.stderr)
    sys.exit(2)
try:
    with socket.create_connection(("127.0.0.1", 27017), timeout=5):
        pass
except OSError as exc:
    print(f"MongoNetworkError: connect ECONNREFUSED 127.0.0.1:27017 ({exc})", file=sys.stderr)
    sys.exit(1)
print(1)
