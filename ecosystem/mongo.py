"""MongoDB's own tools, run inside a MongoDB container: a dump streamed out, a restore streamed in, counts.

The password never goes on a command line: with authentication on, the tools read it from
the ``mongo_tools_config`` secret file (``password: ...``) through ``--config``, and the count
script reads the root password file itself. The archive streams through ``docker exec`` on
stdout (dump) and stdin (restore), straight between the container and a file on the host.
"""
from __future__ import annotations

import json

from . import commands
from .errors import CommandFailed, EcosystemError

TOOLS_CONFIG = "/run/secrets/mongo_tools_config"
PASSWORD_FILE = "/run/secrets/mongo_root_password"
SYSTEM_DATABASES = ("admin", "local", "config")

# the backup's count query; "ecosystem-counts" is the marker the stand-in mongosh answers to
COUNT_SCRIPT = """/* ecosystem-counts */
const fs = require('fs');
const user = %(user)s;
if (user && fs.existsSync(%(password_file)s)) {
  db.getSiblingDB('admin').auth(user, fs.readFileSync(%(password_file)s, 'utf8').trim());
}
const out = {};
db.adminCommand({listDatabases: 1}).databases.forEach(function (d) {
  if (%(system)s.includes(d.name)) return;
  const s = db.getSiblingDB(d.name);
  s.getCollectionNames().forEach(function (c) { out[d.name + '.' + c] = s.getCollection(c).countDocuments({}); });
});
print(JSON.stringify(out));
"""


# drops the named collections (a rollback's: those the restored set added); "ecosystem-drop" marks it
DROP_SCRIPT = """/* ecosystem-drop */
const fs = require('fs');
const user = %(user)s;
if (user && fs.existsSync(%(password_file)s)) {
  db.getSiblingDB('admin').auth(user, fs.readFileSync(%(password_file)s, 'utf8').trim());
}
const names = %(names)s;
names.forEach(function (n) {
  const dot = n.indexOf('.');
  db.getSiblingDB(n.slice(0, dot)).getCollection(n.slice(dot + 1)).drop();
});
print(JSON.stringify(names));
"""


class MongoError(EcosystemError):
    """A MongoDB tool failed; the message says which and what it said."""


def _auth(user: str) -> list[str]:
    return ["--username", user, "--authenticationDatabase", "admin", "--config", TOOLS_CONFIG] if user else []


def dump(container: str, user: str, sink, *, timeout: float = 6 * 3600) -> str:
    """Stream ``mongodump --archive --gzip`` out of ``container`` into ``sink``; return what it said."""
    argv = ["docker", "exec", container, "mongodump", "--archive", "--gzip", *_auth(user)]
    try:
        return commands.stream_out(argv, sink, timeout=timeout)
    except CommandFailed as exc:
        raise MongoError(f"mongodump in {container} failed: {exc.output or exc.message}",
                         fix="check MongoDB (invoke status; invoke logs mongo_db) and "
                             "MONGO_ROOT_USER/PASSWORD") from None


def restore(container: str, user: str, archive: str, *, timeout: float = 6 * 3600) -> str:
    """Stream ``archive`` into ``mongorestore --archive --gzip --drop`` in ``container``; return what it said."""
    argv = ["docker", "exec", "-i", container, "mongorestore", "--archive", "--gzip", "--drop", *_auth(user)]
    try:
        return commands.stream_in(argv, archive, timeout=timeout)
    except CommandFailed as exc:
        raise MongoError(f"mongorestore in {container} failed: {exc.output or exc.message}",
                         fix="the safety backup taken before the restore holds the previous state") from None


def counts(container: str, user: str, *, timeout: float = 300) -> dict[str, int]:
    """Return {"database.collection": documents} of every non-system database in ``container``."""
    script = COUNT_SCRIPT % {"user": json.dumps(user), "password_file": json.dumps(PASSWORD_FILE),
                             "system": json.dumps(list(SYSTEM_DATABASES))}
    try:
        out = commands.run(["docker", "exec", container, "mongosh", "--quiet", "--norc", "--eval", script],
                          timeout=timeout).stdout
        return {str(k): int(v) for k, v in json.loads(out.strip().splitlines()[-1]).items()}
    except CommandFailed as exc:
        raise MongoError(f"counting documents in {container} failed: {exc.output or exc.message}",
                         fix="check MongoDB (invoke status)") from None
    except (ValueError, IndexError, AttributeError):
        raise MongoError(f"the count query in {container} gave no JSON answer", fix="check MongoDB's version") from None


def drop(container: str, user: str, names: list[str], *, timeout: float = 300) -> None:
    """Drop the collections ``names`` ("database.collection", never a system database's) in ``container``."""
    names = [n for n in names if "." in n and n.split(".", 1)[0] not in SYSTEM_DATABASES]
    if not names:
        return
    script = DROP_SCRIPT % {"user": json.dumps(user), "password_file": json.dumps(PASSWORD_FILE),
                            "names": json.dumps(names)}
    try:
        commands.run(["docker", "exec", container, "mongosh", "--quiet", "--norc", "--eval", script], timeout=timeout)
    except CommandFailed as exc:
        raise MongoError(f"dropping {', '.join(names)} in {container} failed: {exc.output or exc.message}",
                         fix="check MongoDB (invoke status)") from None


def tool_version(container: str) -> str:
    try:
        out = commands.run(["docker", "exec", container, "mongodump", "--version"], timeout=60, check=False)
        return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr).strip() else "?"
    except CommandFailed:
        return "?"
