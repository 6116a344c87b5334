"""Restoring a backup set: everything checked before anything is touched, then counts compared.

``check_set`` reads the manifest, every file's size and SHA-256, every archive to its end
(a truncated or hostile one is refused: see archives.check_tar) and the MongoDB archive's
compression, and raises with every problem found; nothing has changed by then.
``restore_into`` restores the chosen parts into a target (production or a drill's scratch
MongoDB and volumes) and returns the differences from the manifest's counts.
``Drill`` makes and removes the scratch resources of ``restore --verify``.
"""
from __future__ import annotations

import gzip
import logging
import time
import uuid
from pathlib import Path

from . import backup_sets, commands, mongo, volumes
from .archives import ArchiveRefused, check_tar
from .backup import DB_ARCHIVE, Sources
from .backup_sets import BackupSetError, Manifest
from .errors import EcosystemError

log = logging.getLogger(__name__)

RESTORABLE = ("db", "parquet", "volumes")
CHECKLIST = """after a restore, pysystemtrade's own checklist:
  1. process records and IB client ids were cleared (startup ran); processes are in NO-RUN
  2. run the order stack's end of day: invoke shell --tool interactive_order_stack (or run_stack_handler once)
  3. check roll status: invoke shell --tool interactive_update_roll_status
  4. read the reconcile report: invoke shell --tool interactive_diagnostics (reports -> reconcile)
  5. when all is well: invoke resume (processes back to GO)"""


def parts_of(manifest: Manifest, what: tuple[str, ...] | None) -> tuple[str, ...]:
    """Return the parts to restore: those asked for (default: db and parquet, together), which the set must hold."""
    wanted = what or tuple(k for k in ("db", "parquet") if k in manifest.what)
    if not wanted:
        raise BackupSetError(f"set {manifest.name} holds nothing to restore ({', '.join(manifest.what)})",
                             fix="choose a set holding db or parquet (invoke restore --from=latest picks one)")
    missing = [k for k in wanted if k not in manifest.what]
    bad = [k for k in wanted if k not in RESTORABLE]
    if bad or missing:
        raise BackupSetError(f"set {manifest.name} cannot restore {', '.join(bad + missing)}: it holds "
                             f"{', '.join(manifest.what)}" + (" (csv is an export: copy it by hand)" if "csv" in bad
                                                              else ""),
                             fix=f"choose from {', '.join(k for k in manifest.what if k in RESTORABLE)}")
    return wanted


def _archives_of(manifest: Manifest, parts: tuple[str, ...]) -> dict[str, str]:
    """Return {file: label} of the tar archives the parts need."""
    chosen: dict[str, str] = {}
    labels: list[str] = []
    if "db" in parts and manifest.how == "cold":
        labels += volumes.MONGO_VOLUMES
    if "parquet" in parts:
        labels.append("parquet")
    if "volumes" in parts:  # a set made before the backtest store had its volume has no backtests archive
        labels += [key for key in volumes.OTHER_VOLUMES
                   if key != "backtests" or volumes.archive_file(key, manifest.files) in manifest.files]
    for label in labels:  # LABEL.tar.zst, or LABEL.tar.gz in a set made before zstd
        chosen[volumes.archive_file(label, manifest.files)] = label
    return chosen


def check_set(folder: Path, parts: tuple[str, ...] | None = None) -> Manifest:
    """Check a set completely before anything is touched; return its manifest or raise with every problem."""
    manifest = Manifest.read(folder)
    problems = backup_sets.verify(folder, manifest)
    if problems:
        raise BackupSetError(f"set {folder.name} fails its checks: " + "; ".join(problems),
                             fix="restore another set (invoke restore --from=NAME); nothing was changed")
    parts = parts_of(manifest, parts)
    for file_name, label in _archives_of(manifest, parts).items():
        try:
            files = check_tar(folder / file_name)
        except ArchiveRefused as exc:
            raise BackupSetError(exc.message, fix=exc.fix) from None
        expected = manifest.counts.get(label, {}).get("files")
        if expected is not None and files != expected:
            raise BackupSetError(f"{file_name} holds {files} files, the manifest says {expected}",
                                 fix="restore another set; nothing was changed")
    if "db" in parts and manifest.how != "cold":
        try:
            with gzip.open(folder / DB_ARCHIVE, "rb") as stream:
                while stream.read(1024 * 1024):
                    pass
        except (OSError, EOFError) as exc:
            raise BackupSetError(f"{DB_ARCHIVE} of {folder.name} is truncated or corrupt ({type(exc).__name__})",
                                 fix="restore another set; nothing was changed") from None
    return manifest


def restore_into(folder: Path, manifest: Manifest, parts: tuple[str, ...], target: Sources, *,
                 say=print) -> list[str]:
    """Restore ``parts`` of a checked set into ``target``; return how the result differs from the manifest."""
    differences = []
    if "db" in parts and manifest.how != "cold":  # MongoDB first: if it fails, no volume was touched
        started = time.monotonic()
        mongo.restore(target.mongo_container, target.mongo_user, str(folder / DB_ARCHIVE))
        found = mongo.counts(target.mongo_container, target.mongo_user)
        differences += compare_counts(manifest, found)
        extra = sorted(set(found) - set(manifest.counts.get("db", {})))
        if extra:  # --drop replaces the set's collections only
            say(f"note: collections not in the set were left as they are: {', '.join(extra)}")
        say(f"db: {sum(manifest.counts.get('db', {}).values())} documents restored in "
            f"{time.monotonic() - started:.1f}s")
    for file_name, label in _archives_of(manifest, parts).items():
        started = time.monotonic()
        said = volumes.restore(target.image, target.volume(label), folder / file_name)
        files = next((int(line.split("=", 1)[1]) for line in said.splitlines() if line.startswith("files=")), -1)
        expected = manifest.counts.get(label, {}).get("files")
        if expected is not None and files != expected:
            differences.append(f"{label}: {files} files restored, the manifest says {expected}")
        say(f"{label}: {files} files restored in {time.monotonic() - started:.1f}s")
    return differences


def compare_counts(manifest: Manifest, found: dict[str, int]) -> list[str]:
    expected = manifest.counts.get("db", {})
    return [f"db {name}: {found.get(name, 0)} documents, the manifest says {count}"
            for name, count in sorted(expected.items()) if found.get(name, 0) != count]


class RestoreMarker:
    """Written before a restore changes anything, removed when it completed: while it is there,
    `weekly sync` and `eod` launch nothing (MongoDB and Parquet may be out of step), until the
    restore is run again or the trader says `invoke resume`."""

    def __init__(self, state_dir: Path) -> None:
        self.path = Path(state_dir) / "restore-in-progress.json"

    # production untouched / being changed (mixed if stopped) / wholly the set, startup still to run
    STAGING, SWITCHING, SWITCHED = "staging", "switching", "switched"

    def note(self, name: str, *, phase: str = STAGING, safety: str | None = None) -> None:
        from .state_files import write_json

        write_json(self.path, {"set": name, "phase": phase, "safety": safety})

    def state(self) -> dict | None:
        """Return {"set", "phase", "safety"}, or None when no restore is held."""
        import json

        try:
            found = json.loads(self.path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return {"set": "?", "phase": self.SWITCHING, "safety": None}  # unknown: assume the worst
        return {"set": str(found.get("set", "?")), "phase": found.get("phase", self.SWITCHING),
                "safety": found.get("safety")}

    def read(self) -> str | None:
        state = self.state()
        return None if state is None else state["set"]

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


class Drill:
    """Scratch MongoDB and volumes for a restore drill, named apart from production, always removed."""

    LABEL = "org.pysystemtrade-ecosystem.drill"  # the compose project the scratch belongs to

    def __init__(self, settings) -> None:
        self.settings = settings
        self.container = f"pst-drill-{uuid.uuid4().hex[:8]}{settings.name_suffix}"
        self.volumes: list[str] = []
        self.started = False

    def __enter__(self) -> Drill:
        return self

    @staticmethod
    def remove_stale(settings) -> list[str]:
        """Remove the scratch containers and volumes a killed restore or drill left (run under the
        backup lock, which every restore and drill holds: none of them is in use); return their names."""
        own = f"label={Drill.LABEL}={settings.compose_project}"  # this ecosystem's, never another's
        found = commands.run(["docker", "ps", "--all", "--filter", own, "--format", "{{.Names}}"],
                             timeout=60).stdout.split()
        for name in found:
            commands.run(["docker", "rm", "--force", "--volumes", name], timeout=300, check=False)
        stale = commands.run(["docker", "volume", "ls", "--filter", own, "--format", "{{.Name}}"],
                             timeout=60).stdout.split()
        _remove_helpers_mounting(set(stale))  # a killed task's helper may still hold one
        for name in stale:
            commands.run(["docker", "volume", "rm", "--force", name], timeout=120, check=False)
        return found + stale

    def volume(self, key: str) -> str:
        name = f"{self.container}-{key}"
        if name not in self.volumes:
            commands.run(["docker", "volume", "create", "--label", "org.pysystemtrade-ecosystem.role=drill",
                          "--label", f"{self.LABEL}={self.settings.compose_project}", name], timeout=60)
            self.volumes.append(name)
        return name

    def sources(self) -> Sources:
        return Sources(self.container, self.settings.mongo_root_user if self.cold_auth else "",
                       volumes.helper_image(self.settings), self.volume)

    cold_auth = False

    def start_mongo(self, *, on_restored_volumes: bool = False) -> None:
        """Start the scratch MongoDB: empty, or on the restored volumes of a cold set (with their users)."""
        from .stack import secrets_dir

        mounts = []
        if on_restored_volumes:
            mounts += ["-v", f"{self.volume('mongo_data')}:/data/db",
                       "-v", f"{self.volume('mongo_config')}:/data/configdb"]
            if self.settings.mongo_root_user:  # the restored users: the count query logs in with the password file
                self.cold_auth = True
                mounts += ["-v", f"{secrets_dir(self.settings) / 'mongo_root_password'}:{mongo.PASSWORD_FILE}:ro"]
        commands.run(["docker", "run", "--detach", "--name", self.container, "--network", "none",
                     "--label", "org.pysystemtrade-ecosystem.role=control",
                     "--label", f"{self.LABEL}={self.settings.compose_project}", *mounts, self.settings.mongo_image],
                    timeout=300)
        self.started = True
        for _ in range(240):  # readiness of a fresh server: a bounded wait, not a schedule
            ping = commands.run(["docker", "exec", self.container, "mongosh", "--quiet", "--norc", "--eval",
                                "db.adminCommand('ping').ok"], timeout=30, check=False)
            if ping.returncode == 0 and ping.stdout.strip().endswith("1"):
                return
            time.sleep(0.5)
        raise EcosystemError(f"the drill's scratch MongoDB ({self.settings.mongo_image}) did not start",
                             fix=f"docker logs {self.container}")

    def stop_mongo(self) -> None:
        """Stop the scratch MongoDB cleanly (before its volumes are copied)."""
        if self.started:
            commands.run(["docker", "stop", "--time", "120", self.container], timeout=300)

    def __exit__(self, *exc) -> None:
        commands.run(["docker", "rm", "--force", "--volumes", self.container], timeout=300, check=False)
        for name in self.volumes:
            commands.run(["docker", "volume", "rm", "--force", name], timeout=120, check=False)


def stage(scratch: Drill, folder: Path, manifest: Manifest, parts: tuple[str, ...], *, say=print) -> list[str]:
    """Restore a checked set into the drill's scratch MongoDB and volumes and compare it with its
    manifest; return the differences (none: the set restores as written). Production is not touched."""
    if manifest.how == "cold" and "db" in parts:
        differences = restore_into(folder, manifest, parts, scratch.sources(), say=say)
        scratch.start_mongo(on_restored_volumes=True)
        return differences + compare_counts(manifest, mongo.counts(scratch.container, scratch.sources().mongo_user))
    if "db" in parts:
        scratch.start_mongo()
    return restore_into(folder, manifest, parts, scratch.sources(), say=say)


def drill(settings, folder: Path, manifest: Manifest, parts: tuple[str, ...], *, say=print) -> list[str]:
    """Restore a checked set into scratch MongoDB and volumes, compare with its manifest, remove them.

    Return the differences (none: the set restores). Production is not touched."""
    with Drill(settings) as scratch:
        return stage(scratch, folder, manifest, parts, say=say)


def switch(scratch: Drill, folder: Path, manifest: Manifest, parts: tuple[str, ...], target: Sources, project, *,
           say=print) -> list[str]:
    """Phase two of a restore: production takes what ``stage`` restored and checked, as quickly as
    the engine allows, with nothing running. MongoDB first: an online set's archive (already
    restored once into scratch) through ``mongorestore --drop``; a cold set's volumes copied from
    scratch with MongoDB stopped. Then each volume copied from scratch. Each part is compared:
    the counts with the manifest, each volume's fingerprint with its scratch copy's. Return the
    differences (none: production is the set)."""
    differences: list[str] = []
    if "db" in parts and manifest.how == "cold":
        scratch.stop_mongo()
        project.stop(["mongo_db"], timeout=120)
        for key in volumes.MONGO_VOLUMES:
            volumes.copy(target.image, scratch.volume(key), target.volume(key))
        project.up(["mongo_db"], wait=True, no_recreate=True)
        differences += compare_counts(manifest, mongo.counts(target.mongo_container, target.mongo_user))
        say("db: the restored MongoDB volumes are production's now")
    elif "db" in parts:
        mongo.restore(target.mongo_container, target.mongo_user, str(folder / DB_ARCHIVE))
        # --drop replaces the set's collections only: those it does not hold go too (the safety backup has them)
        extra = sorted(set(mongo.counts(target.mongo_container, target.mongo_user)) -
                       set(manifest.counts.get("db", {})))
        if extra:
            mongo.drop(target.mongo_container, target.mongo_user, extra)
            say(f"db: dropped the collections the set does not hold: {', '.join(extra)}")
        found = mongo.counts(target.mongo_container, target.mongo_user)
        differences += compare_counts(manifest, found)
        differences += [f"db {name}: not in the set, still there" for name in sorted(set(found) -
                                                                                    set(manifest.counts.get("db", {})))]
        say(f"db: {sum(manifest.counts.get('db', {}).values())} documents restored")
    for label in _archives_of(manifest, parts).values():
        if label in volumes.MONGO_VOLUMES:
            continue  # copied above, with MongoDB stopped
        started = time.monotonic()
        files = volumes.copy(target.image, scratch.volume(label), target.volume(label))
        if volumes.fingerprint(target.image, target.volume(label), contents_only=True) != \
                volumes.fingerprint(target.image, scratch.volume(label), contents_only=True):
            differences.append(f"{label}: production differs from the checked copy after the switch")
        say(f"{label}: {files} files switched in {time.monotonic() - started:.1f}s")
    return differences


def _remove_helpers_mounting(volume_names: set[str], *, say=None) -> None:
    """Remove every helper container (running or not) that mounts one of ``volume_names``."""
    if not volume_names:
        return
    listed = commands.run(["docker", "ps", "--all", "--no-trunc", "--filter",
                           "label=org.pysystemtrade-ecosystem.role=control", "--format", "{{.ID}} {{.Mounts}}"],
                          timeout=60).stdout.splitlines()
    for line in listed:
        container, _, mounts = line.partition(" ")
        if set(mounts.split(",")) & volume_names:
            commands.run(["docker", "rm", "--force", container], timeout=120, check=False)
            if say is not None:
                say(f"rollback: stopped a helper still writing production ({container[:12]})")


def stop_writers(settings, project, *, say=print) -> None:
    """End whatever may still write production after a restore was stopped: the helper containers
    mounting a production volume (a killed task's `docker run` leaves its container running) are
    removed, and MongoDB is restarted (which ends a `mongorestore` still running in it)."""
    _remove_helpers_mounting({volumes.volume_name(settings, key)
                              for key in (volumes.PARQUET, *volumes.OTHER_VOLUMES, *volumes.MONGO_VOLUMES)}, say=say)
    project.stop(["mongo_db"], timeout=120)


def roll_back(folder: Path, manifest: Manifest, target: Sources, project, *, say=print) -> list[str]:
    """Put production back as the safety set ``folder`` holds it (the state before a restore):
    MongoDB started if a switch left it stopped (emptied first if it cannot start on half-copied
    volumes: the safety set's dump holds its users too), the collections the failed restore added
    dropped, then each part restored from the safety set's archives. Return how production then
    differs from the safety manifest (none: wholly as before)."""
    parts = tuple(k for k in ("db", "parquet", "volumes") if k in manifest.what)
    check_set(folder, parts)
    try:
        project.up(["mongo_db"], wait=True, no_recreate=True)
    except EcosystemError:
        if "db" not in parts:
            raise
        say("rollback: MongoDB does not start on what the switch left: emptied, started afresh")
        project.stop(["mongo_db"], timeout=120)
        for key in volumes.MONGO_VOLUMES:
            volumes.empty(target.image, target.volume(key))
        project.up(["mongo_db"], wait=True, no_recreate=True)
    if "db" in parts:
        extra = sorted(set(mongo.counts(target.mongo_container, target.mongo_user)) -
                       set(manifest.counts.get("db", {})))
        mongo.drop(target.mongo_container, target.mongo_user, extra)
    differences = restore_into(folder, manifest, parts, target, say=lambda line: say("rollback: " + line))
    if "db" in parts:
        extra = sorted(set(mongo.counts(target.mongo_container, target.mongo_user)) -
                       set(manifest.counts.get("db", {})))
        differences += [f"db {name}: still there after the rollback" for name in extra]
    return differences
