"""Every backup set there is: here in BACKUP_DIR, on the SMB share, or both, with when each was
last drilled. ``entries`` decides the table from what was read (pure); ``collect`` reads it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from . import backup_sets

if TYPE_CHECKING:
    from .backup_sets import Manifest
    from .history import History

SCHEMA = "pysystemtrade-ecosystem/backups/1"


@dataclass(frozen=True)
class SetEntry:
    """One backup set as `invoke backups` shows it."""

    name: str
    created: datetime | None
    kind: str                   # online | cold | pre-restore | ? (no readable manifest)
    size: int | None
    status: str                 # good | suspect | unreadable
    status_reason: str
    here: bool
    on_share: bool | None       # None: the share was not read (not configured, or unreachable)
    last_drilled: datetime | None

    @property
    def where(self) -> str:
        if self.on_share is None:
            return "here" if self.here else "?"
        return "both" if self.here and self.on_share else ("here" if self.here else "share")

    def as_json(self) -> dict:
        return {"name": self.name, "created": self.created.isoformat() if self.created else None,
                "kind": self.kind, "size_bytes": self.size, "status": self.status,
                "status_reason": self.status_reason, "where": self.where, "here": self.here,
                "on_share": self.on_share,
                "last_drilled": self.last_drilled.isoformat() if self.last_drilled else None}


def _kind(name: str, manifest: Manifest | None) -> str:
    if name.endswith(f"-{backup_sets.SAFETY_TAG}"):
        return "pre-restore"
    return manifest.how if manifest else "?"


def entries(local: list[tuple[str, Manifest | None]], remote: dict[str, Manifest | None] | None,
            drills: dict[str, datetime]) -> list[SetEntry]:
    """Given the sets here, those on the share (None: not read) and each set's last good drill,
    return one entry per set, oldest first. A set both here and on the share is described by the
    local manifest (the share's is its copy)."""
    here = dict(local)
    names = sorted(set(here) | set(remote or {}))
    found = []
    for name in names:
        manifest = here.get(name) or (remote or {}).get(name)
        found.append(SetEntry(
            name=name, created=manifest.created_at if manifest else None, kind=_kind(name, manifest),
            size=manifest.total_size if manifest else None,
            status=manifest.status if manifest else "unreadable",
            status_reason=manifest.status_reason if manifest else "no readable manifest",
            here=name in here, on_share=None if remote is None else name in remote,
            last_drilled=drills.get(name)))
    return found


def drilled(history: History) -> dict[str, datetime]:
    """Return each set's last drill that passed (``restore --verify``: its detail starts with the set's name)."""
    last: dict[str, datetime] = {}
    for run in history.runs(job="restore"):
        if run.step == "drill" and run.outcome == "ok" and run.end is not None:
            name = run.detail.split(":", 1)[0].strip()
            if backup_sets.NAME.match(name):
                last[name] = max(last.get(name, run.end), run.end)
    return last


def collect(settings, history: History, *, share: bool = True) -> tuple[list[SetEntry], str]:
    """Read the sets here, on the share (unless ``share`` is False or it is not configured) and the
    drills; return the entries and what became of the share ("read", "not configured", "not read",
    or "unreachable: why")."""
    from . import backup_key, offload, smb
    from .errors import SmbError

    remote: dict[str, Manifest | None] | None = None
    if not settings.smb_configured:
        note = "not configured"
    elif not share:
        note = "not read"
    else:
        key, note = None, "read"
        try:
            key = backup_key.load_for(settings)
        except backup_key.BackupKeyError as exc:
            note = f"read, but its sets cannot be opened: {exc.message}"
        try:
            with smb.session(smb.ShareAddress.from_settings(settings), timeout=15) as session:
                remote = offload.remote_sets(session, key)
        except SmbError as exc:
            note = f"unreachable: {exc.message}"
        except backup_key.WrongKey as exc:
            note = f"not read: {exc.message}; {exc.fix}"
    return entries(backup_sets.sets(settings.backup_dir), remote, drilled(history)), note
