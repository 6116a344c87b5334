"""Taking a backup set: MongoDB and the Parquet store together, checksummed, renamed into place when complete.

``take`` writes what ``what`` names into ``.partial-<name>``: ``db`` (a ``mongodump --archive
--gzip`` streamed out of the MongoDB container, or with ``cold`` the stopped MongoDB's volumes),
``parquet`` (the Parquet volume), ``volumes`` (notebooks, pysystemtrade's logs and backtest store), ``csv``
(pysystemtrade's CSV export, archived). Each file is hashed as it is written; the manifest
(written last) lists them, with the record counts and the tools' versions; the folder is
fsynced and renamed to its name. Anything that fails, or a kill, leaves only a ``.partial-``
folder, which no reader counts and the next backup removes.
"""
from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from . import backup_sets, mongo, volumes
from .archives import HashingWriter, sha256_file
from .backup_sets import PARTIAL, Manifest

log = logging.getLogger(__name__)

KINDS = ("db", "parquet", "volumes", "csv")
DEFAULT_WHAT = ("db", "parquet")
DB_ARCHIVE = "db.archive.gz"
STATE_FILE = backup_sets.OWN_STATE
STALE_PARTIAL = timedelta(hours=1)


def parse_what(text: str | None) -> tuple[str, ...]:
    """Return the kinds named in ``--what`` (default db,parquet); raise ValueError naming the valid ones."""
    if not text:
        return DEFAULT_WHAT
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    unknown = [n for n in names if n not in KINDS]
    if unknown or not names:
        raise ValueError(f"--what {text!r}: unknown {', '.join(unknown) or 'nothing'}; "
                         f"choose from {', '.join(KINDS)} (default {','.join(DEFAULT_WHAT)})")
    return names


@dataclass(frozen=True)
class Sources:
    """Where a backup reads from: the MongoDB container and user, the helper image, the volumes."""

    mongo_container: str
    mongo_user: str
    image: str
    volume: Callable[[str], str]     # key (parquet, notebooks, ...) -> engine volume name

    @classmethod
    def of(cls, settings) -> Sources:
        return cls(f"mongo_db{settings.name_suffix}", settings.mongo_root_user, volumes.helper_image(settings),
                   lambda key: volumes.volume_name(settings, key))


def remove_stale_partials(backup_dir: Path, now: datetime) -> list[str]:
    """Remove ``.partial-`` folders older than an hour (left by a killed backup); return their names."""
    removed = []
    for path in backup_dir.glob(f"{PARTIAL}*") if backup_dir.is_dir() else []:
        if now.timestamp() - path.stat().st_mtime > STALE_PARTIAL.total_seconds():
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path.name)
    return removed


def take(backup_dir: Path, sources: Sources, what: tuple[str, ...], *, cold: bool = False, tag: str = "",
         suspect_ratio: float = 0.5, now: datetime | None = None, csv_export: Callable[[Path], dict] | None = None,
         db_counts: dict[str, int] | None = None, say: Callable[[str], None] = print,
         progress: Callable[[str, int], None] | None = None,
         own_state: Callable[[Path], dict | None] | None = None) -> Manifest:
    """Write one backup set and return its manifest (``status`` good or suspect).

    A cold set's MongoDB is stopped while it is copied: give its ``db_counts``, taken before the stop.
    ``own_state(path)`` writes the ecosystem's own state (encrypted) there and says what it wrote."""
    now = now or datetime.now(UTC)
    backup_dir.mkdir(parents=True, exist_ok=True)
    name = backup_sets.new_name(backup_dir, now, tag)
    partial = backup_dir / f"{PARTIAL}{name}"
    partial.mkdir()
    manifest = Manifest(name=name, created=now.isoformat(timespec="seconds"), how="cold" if cold else "online",
                        what=list(what))
    try:
        if "db" in what:
            _db(partial, sources, manifest, cold, say, progress)
            if cold:
                manifest.counts["db"] = dict(db_counts or {})
        if "parquet" in what:
            _volume(partial, sources, manifest, volumes.PARQUET, "parquet", say, progress)
        if "volumes" in what:
            for key in volumes.OTHER_VOLUMES:
                _volume(partial, sources, manifest, key, key, say, progress)
        if "csv" in what:
            if csv_export is None:
                raise backup_sets.BackupSetError("csv needs an export to run (csv_export)")
            manifest.counts["csv"] = csv_export(partial)
            manifest.files["csv.tar.gz"] = dict(zip(("size", "sha256"), sha256_file(partial / "csv.tar.gz"),
                                                    strict=True))
        written = own_state(partial / STATE_FILE) if own_state is not None else None
        if written is not None:
            manifest.files[STATE_FILE] = {"size": written["size"], "sha256": written["sha256"]}
            manifest.counts["state"] = {"files": written["files"], "unread": len(written.get("unread", []))}
        manifest.status, manifest.status_reason = backup_sets.judge_size(manifest, backup_sets.good_sets(backup_dir),
                                                                         suspect_ratio)
        for path in partial.iterdir():  # on disk before the manifest says they are there
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
        manifest.write(partial)
        backup_sets.fsync_folder(partial)
        partial.rename(backup_dir / name)
        backup_sets.fsync_folder(backup_dir)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return manifest


def _shown(progress, file_name: str):
    return (lambda size: progress(file_name, size)) if progress else None


def _db(partial: Path, sources: Sources, manifest: Manifest, cold: bool, say, progress) -> None:
    if cold:  # MongoDB is stopped: its data and config volumes, as files
        for key in volumes.MONGO_VOLUMES:
            _volume(partial, sources, manifest, key, key, say, progress)
        manifest.tools["mongo"] = "volume copy of the stopped server"
        return
    started = time.monotonic()
    with open(partial / DB_ARCHIVE, "wb") as handle:
        writer = HashingWriter(handle, _shown(progress, DB_ARCHIVE))
        mongo.dump(sources.mongo_container, sources.mongo_user, writer)
        handle.flush()
    manifest.files[DB_ARCHIVE] = {"size": writer.size, "sha256": writer.sha256}
    manifest.counts["db"] = mongo.counts(sources.mongo_container, sources.mongo_user)
    manifest.tools["mongodump"] = mongo.tool_version(sources.mongo_container)
    say(f"db: {sum(manifest.counts['db'].values())} documents in {len(manifest.counts['db'])} collections, "
        f"{writer.size} bytes in {time.monotonic() - started:.1f}s")


def _volume(partial: Path, sources: Sources, manifest: Manifest, key: str, label: str, say, progress) -> None:
    started = time.monotonic()
    done = volumes.archive(sources.image, sources.volume(key), partial, label,
                           progress=_shown(progress, f"{label}.tar"))
    manifest.files[done["file"]] = {"size": done["size"], "sha256": done["sha256"]}
    manifest.counts[label] = {"files": done["files"]}
    manifest.tools.setdefault("archiver", done["tools"])
    say(f"{label}: {done['files']} files, {done['size']} bytes in {time.monotonic() - started:.1f}s")


class ColdMarker:
    """What a cold backup stopped, written before it stops anything and removed once it is all
    running again: a cold backup killed outright (SIGKILL skips ``finally``) is repaired by the
    next ``backup``, ``up`` or ``weekly sync``, which start the services again and relaunch the processes."""

    def __init__(self, state_dir: Path) -> None:
        self.path = Path(state_dir) / "stopped-by-backup.json"

    def note(self, services: list[str], processes: list[str]) -> None:
        from .state_files import write_json

        write_json(self.path, {"services": services, "processes": processes,
                               "at": datetime.now(UTC).isoformat(timespec="seconds")})

    def read(self) -> dict | None:
        import json

        try:
            return json.loads(self.path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return {"services": ["mongo_db"], "processes": []}  # torn: MongoDB is what a cold backup stops

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)
