"""Backup sets on disk: names, the manifest, and which sets exist and can be trusted.

A set is a folder ``BACKUP_DIR/<name>`` (name ``pst-YYYYMMDDTHHMMSSZ``, UTC, ``-2``, ``-3`` ...
if taken in the same second) holding its archives and ``manifest.json``. It is written as
``.partial-<name>`` and renamed into place only when complete, so a backup killed at any point
leaves nothing that looks like a set. The manifest lists every file with its size and SHA-256,
what the set holds and how it was made, the tools' versions and the record counts; a set whose
manifest says ``suspect`` (empty, or much smaller than the previous good one) is never good.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from .archives import sha256_file
from .errors import EcosystemError
from .state_files import write_json

MANIFEST = "manifest.json"
FORMAT = 1
PARTIAL = ".partial-"
OWN_STATE = "state.tar.age"   # the ecosystem's own state in a set, encrypted (own_state.py)
NAME = re.compile(r"^pst-(\d{8}T\d{6}Z)(?:-(\d+))?(?:-([a-z-]+))?$")


class BackupSetError(EcosystemError):
    """A backup set is missing, incomplete or does not match its manifest."""


@dataclass
class Manifest:
    name: str
    created: str                      # ISO, UTC
    how: str                          # online | cold
    what: list[str]
    files: dict[str, dict] = field(default_factory=dict)     # file -> {"size": n, "sha256": hex}
    counts: dict[str, dict] = field(default_factory=dict)    # "db": {collection: n}, "parquet": {"files": n}
    tools: dict[str, str] = field(default_factory=dict)
    status: str = "good"              # good | suspect
    status_reason: str = ""
    format: int = FORMAT

    @property
    def total_size(self) -> int:
        return sum(int(f["size"]) for f in self.files.values())

    @property
    def created_at(self) -> datetime:
        return datetime.fromisoformat(self.created)

    def write(self, folder: Path) -> None:
        write_json(folder / MANIFEST, asdict(self), indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, data: bytes | str) -> Manifest:
        """A manifest from its JSON text; raise ValueError, TypeError or KeyError if it is not one."""
        loaded = json.loads(data)
        return cls(**{k: loaded[k] for k in cls.__dataclass_fields__ if k in loaded})

    @classmethod
    def read(cls, folder: Path) -> Manifest:
        path = folder / MANIFEST
        try:
            return cls.from_json(path.read_bytes())
        except FileNotFoundError:
            raise BackupSetError(f"{folder.name} has no {MANIFEST}: it is not a complete backup set",
                                 fix="restore another set (invoke restore --from=latest)") from None
        except (OSError, ValueError, TypeError, KeyError) as exc:
            raise BackupSetError(f"{path} cannot be read ({type(exc).__name__})",
                                 fix="restore another set (invoke restore --from=latest)") from None


def new_name(backup_dir: Path, now: datetime, tag: str = "") -> str:
    """Return a set name for ``now`` that no set (complete or partial) in ``backup_dir`` has."""
    base = f"pst-{now.astimezone(UTC):%Y%m%dT%H%M%SZ}"
    for number in range(1, 10000):
        name = base + (f"-{number}" if number > 1 else "") + (f"-{tag}" if tag else "")
        if not (backup_dir / name).exists() and not (backup_dir / f"{PARTIAL}{name}").exists():
            return name
    raise BackupSetError(f"no free set name for {base} in {backup_dir}")


def fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sets(backup_dir: Path) -> list[tuple[str, Manifest | None]]:
    """Return (name, manifest or None if unreadable) of every complete set, oldest first."""
    found: list[tuple[str, Manifest | None]] = []
    for path in sorted(backup_dir.iterdir()) if backup_dir.is_dir() else []:
        if path.is_dir() and NAME.match(path.name):
            try:
                found.append((path.name, Manifest.read(path)))
            except BackupSetError:
                found.append((path.name, None))
    return found


SAFETY_TAG = "pre-restore"


def good_sets(backup_dir: Path, *, safety: bool = True) -> list[Manifest]:
    """Return the manifests of the good sets, oldest first (without restore's safety backups
    unless ``safety``: they hold the state a restore replaced, never the one to go back to)."""
    return [m for _, m in sets(backup_dir) if m is not None and m.status == "good"
            and (safety or not m.name.endswith(f"-{SAFETY_TAG}"))]


def resolve(backup_dir: Path, given: str, *, needs: tuple[str, ...] = ()) -> Path:
    """Given a set name, a path to a set folder, or ``latest`` (the newest good set holding every
    part in ``needs``), return its folder."""
    if given == "latest":
        good = [m for m in good_sets(backup_dir, safety=False) if set(needs) <= set(m.what)]
        if not good:
            raise BackupSetError(f"there is no good backup set in {backup_dir}" +
                                 (f" holding {', '.join(needs)}" if needs else ""), fix="take one: invoke backup")
        return backup_dir / good[-1].name
    if "/" in given:  # a path to a set folder (anywhere: a copy brought back from the share, say)
        if Path(given).is_dir():
            return Path(given)
    elif NAME.match(given) and (backup_dir / given).is_dir():
        return backup_dir / given
    names = [name for name, _ in sets(backup_dir)]
    shown = ", ".join(names[-10:]) if names else "none"
    raise BackupSetError(f"no backup set {given!r} in {backup_dir}; the sets there (newest last): {shown}",
                         fix="give one of those names, a path to a set folder, or --from=latest")


def verify(folder: Path, manifest: Manifest) -> list[str]:
    """Check every file the manifest lists (present, size, SHA-256) and that no file is missing from it."""
    problems = []
    for name, expected in sorted(manifest.files.items()):
        path = folder / name
        if "/" in name or name.startswith("."):
            problems.append(f"the manifest names {name!r}, which is not a file of the set")
            continue
        if not path.is_file():
            problems.append(f"{name} is missing")
            continue
        size, digest = sha256_file(path)
        if size != int(expected.get("size", -1)):
            problems.append(f"{name} is {size} bytes, the manifest says {expected.get('size')} (truncated?)")
        elif digest != expected.get("sha256"):
            problems.append(f"{name} does not match its SHA-256 checksum (changed or corrupt)")
    extra = sorted(p.name for p in folder.iterdir() if p.is_file() and p.name != MANIFEST and p.name not in
                   manifest.files)
    problems += [f"{name} is in the set but not in its manifest" for name in extra]
    return problems


def judge_size(manifest: Manifest, earlier: list[Manifest], ratio: float) -> tuple[str, str]:
    """Return (status, reason): ``suspect`` for a set with an empty part, or a part much smaller
    than in the newest earlier good set made the same way (same parts, online or cold)."""
    documents = sum(manifest.counts.get("db", {}).values()) if "db" in manifest.what else None
    files = {k: manifest.counts.get(k, {}).get("files") for k in manifest.what if k != "db"}
    if documents == 0:
        return "suspect", "empty: MongoDB has no documents"
    if "parquet" in files and files["parquet"] == 0:
        return "suspect", "empty: the Parquet store has no files"
    same = [m for m in earlier if m.status == "good" and set(m.what) == set(manifest.what) and m.how == manifest.how
            and not m.name.endswith(f"-{SAFETY_TAG}")]
    if not same:
        return "good", ""
    previous = same[-1]
    if documents is not None:
        before = sum(previous.counts.get("db", {}).values())
        if before and documents < ratio * before:
            return "suspect", f"{documents} documents, under {ratio:g} of {before} in {previous.name}"
    for name, entry in manifest.files.items():
        if name == OWN_STATE:  # the ecosystem's settings, not trading data: its size says nothing
            continue
        before = int(previous.files.get(name, {}).get("size", 0))
        if before and int(entry["size"]) < ratio * before:
            return "suspect", (f"{name} is {entry['size']} bytes, under {ratio:g} of {before} in the previous good "
                               f"set {previous.name}")
    return "good", ""


def set_infos(found) -> list:
    """Given (name, manifest or None) pairs, return what retention decides on: each set's time
    (from its manifest, else its name) and whether it is good (a readable manifest saying so)."""
    from .retention import SetInfo

    infos = []
    for name, manifest in found:
        named = NAME.match(name)
        if manifest:
            created = manifest.created_at
        elif named:
            created = datetime.strptime(named.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        else:
            continue  # not a set's name: nothing retention may decide on
        infos.append(SetInfo(name, created, bool(manifest and manifest.status == "good")))
    return infos
