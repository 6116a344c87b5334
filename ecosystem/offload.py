"""Backup sets off the box: copied to an SMB share, verified there, kept by the same retention rules.

A set goes up as ``.partial-<name>/`` (every file, then its manifest), each file's size checked
and (SMB_VERIFY) read back and compared with the manifest's SHA-256, and only then is the
folder renamed to ``<name>``: no partial file is ever under a final name. A set whose folder
exists under its name is on the share; a ``.partial-`` folder left by an interrupted run is
removed and sent again. What was verified is written down in STATE_DIR/offloaded.json, and only
a set there may be deleted locally (by local retention). Retention on the share uses the same
engine as the local one and never deletes the newest good set.
"""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from . import backup_sets, retention, smb
from .backup_sets import MANIFEST, PARTIAL, Manifest
from .errors import SmbError
from .state_files import write_json

log = logging.getLogger(__name__)

TRANSIENT = ("cannot reach", "connection")
ATTEMPTS = 3


class Ledger:
    """The sets verified on the share (STATE_DIR/offloaded.json), written atomically."""

    def __init__(self, state_dir: Path) -> None:
        self.path = Path(state_dir) / "offloaded.json"

    def read(self) -> dict:
        try:
            return json.loads(self.path.read_text())
        except (FileNotFoundError, ValueError):
            return {}

    def add(self, name: str, share: str) -> None:
        data = self.read()
        data[name] = {"share": share, "at": datetime.now(UTC).isoformat(timespec="seconds")}
        self._write(data)

    def forget(self, names: list[str]) -> None:
        data = self.read()
        for name in names:
            data.pop(name, None)
        self._write(data)

    def _write(self, data: dict) -> None:
        write_json(self.path, data, indent=1, sort_keys=True)


@dataclass
class OffloadResult:
    sent: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    bytes_sent: int = 0
    deleted_remote: list[str] = field(default_factory=list)

    def describe(self) -> str:
        parts = [f"sent {len(self.sent)} set(s) ({self.bytes_sent / 1e6:,.1f} MB, verified)" if self.sent
                 else "nothing to send"]
        if self.already:
            parts.append(f"{len(self.already)} already on the share")
        if self.deleted_remote:
            parts.append(f"retention on the share deleted {', '.join(self.deleted_remote)}")
        return "; ".join(parts)


def remote_sets(share: smb.SmbSession) -> dict[str, Manifest | None]:
    """Return the complete sets on the share (name -> manifest, None if unreadable)."""
    found: dict[str, Manifest | None] = {}
    for name in share.listdir():
        if not backup_sets.NAME.match(name):
            continue
        try:
            data = json.loads(share.read_text(name, MANIFEST))
            found[name] = Manifest(**{k: data[k] for k in Manifest.__dataclass_fields__ if k in data})
        except (SmbError, ValueError, TypeError, KeyError):
            found[name] = None
    return found


def send_set(share: smb.SmbSession, folder: Path, manifest: Manifest, *, verify: bool,
             say: Callable[[str], None] = print, progress=None) -> int:
    """Upload one set through ``.partial-<name>``, check every file, rename into place; return the bytes sent."""
    partial = f"{PARTIAL}{manifest.name}"
    if partial in share.listdir():
        share.rmtree(partial)  # left by an interrupted run: sent again from the start
    share.ensure_folder(partial)
    sent = 0
    for name in [*sorted(manifest.files), MANIFEST]:
        local = folder / name
        size = local.stat().st_size
        started = time.monotonic()
        share.upload(local, partial, name, progress=(lambda n, f=name: progress(f, n)) if progress else None)
        remote_size = share.size(partial, name)
        if remote_size != size:
            raise SmbError(f"{manifest.name}/{name} is {remote_size} bytes on the share, {size} here",
                           fix="run offload again; the set stays local until it is verified")
        if verify:
            expected = manifest.files[name]["sha256"] if name != MANIFEST else _sha256(local)
            if share.sha256(partial, name) != expected:
                raise SmbError(f"{manifest.name}/{name} read back from the share does not match its SHA-256",
                               fix="check the share's storage; run offload again")
        sent += size
        say(f"{manifest.name}/{name}: {size / 1e6:,.1f} MB in {time.monotonic() - started:.1f}s"
            + (", read back and verified" if verify else ", size checked"))
    share.rename((partial,), (manifest.name,))
    return sent


def _sha256(path: Path) -> str:
    from .archives import sha256_file

    return sha256_file(path)[1]


def offload(settings, *, dry_run: bool = False, say: Callable[[str], None] = print, progress=None,
            sleep: Callable[[float], None] = time.sleep) -> OffloadResult:
    """Send every good local set not yet on the share, then apply retention on the share."""
    address = smb.ShareAddress.from_settings(settings)
    result = OffloadResult()
    local = [m for m in backup_sets.good_sets(settings.backup_dir)]
    ledger = Ledger(settings.state_dir)
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with smb.session(address) as share:  # a fresh session for each attempt
                share.ensure_folder()
                remote = remote_sets(share)
                for manifest in local:
                    if manifest.name in remote and remote[manifest.name] is not None:
                        if manifest.name not in result.already and manifest.name not in result.sent:
                            result.already.append(manifest.name)
                        if manifest.name not in ledger.read():
                            ledger.add(manifest.name, address.unc())
                        continue
                    if dry_run:
                        say(f"would send {manifest.name} ({manifest.total_size / 1e6:,.1f} MB)")
                        continue
                    result.bytes_sent += send_set(share, settings.backup_dir / manifest.name, manifest,
                                                  verify=settings.smb_verify, say=say, progress=progress)
                    result.sent.append(manifest.name)
                    ledger.add(manifest.name, address.unc())
                    remote[manifest.name] = manifest
                result.deleted_remote = _remote_retention(share, remote, settings, dry_run=dry_run, say=say)
            return result
        except SmbError as exc:
            transient = any(word in exc.message for word in TRANSIENT)
            if not transient or attempt == ATTEMPTS:
                raise
            wait = 2 ** attempt
            say(f"offload: {exc.message}; trying again in {wait}s (attempt {attempt + 1} of {ATTEMPTS})")
            sleep(wait)
    return result


def _remote_retention(share: smb.SmbSession, remote: dict[str, Manifest | None], settings, *, dry_run: bool,
                      say) -> list[str]:
    infos = backup_sets.set_infos(remote.items())
    deleted = []
    for decision in retention.decide(infos, keep_last=settings.offload_keep_last,
                                     keep_daily=settings.offload_keep_daily, keep_weekly=settings.offload_keep_weekly,
                                     tz=settings.tz):
        if decision.keep:
            continue
        if dry_run:
            say(f"retention on the share would delete {decision.name} ({decision.reason})")
        else:
            share.rmtree(decision.name)
        deleted.append(decision.name)
    return deleted
