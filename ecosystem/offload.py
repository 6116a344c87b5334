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

import contextlib
import json
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from . import backup_key, backup_sets, read_back, retention, smb
from .archives import sha256_file
from .backup_key import BackupKey, BackupKeyError
from .backup_sets import MANIFEST, PARTIAL, BackupSetError, Manifest
from .errors import SmbError
from .state_files import write_json

log = logging.getLogger(__name__)

TRANSIENT = ("cannot reach", "connection")
SEALED_MANIFEST = MANIFEST + backup_key.SUFFIX
REPLACED = ".replaced-"   # a plain set being replaced by its encrypted copy
FETCHED = ".fetched-"     # a set being brought back from the share (BACKUP_DIR/.fetched-<name>)
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
    plain_remote: list[str] = field(default_factory=list)  # sent before encryption, not here to send again

    def describe(self) -> str:
        parts = [f"sent {len(self.sent)} set(s) ({self.bytes_sent / 1e6:,.1f} MB, verified)" if self.sent
                 else "nothing to send"]
        if self.already:
            parts.append(f"{len(self.already)} already on the share")
        if self.deleted_remote:
            parts.append(f"retention on the share deleted {', '.join(self.deleted_remote)}")
        if self.plain_remote:
            parts.append(f"warning: {len(self.plain_remote)} older set(s) on the share are not encrypted and not "
                         f"here to send again ({', '.join(self.plain_remote)}): retention on the share removes them "
                         "in time, or delete them there")
        return "; ".join(parts)


def read_remote(share: smb.SmbSession, name: str, key: BackupKey | None) -> tuple[Manifest | None, bool]:
    """Read the manifest of the set ``name`` on the share; return it (None if it is not a readable
    manifest, or encrypted and no key given) and whether the set is encrypted. A set sent before
    encryption holds a plain ``manifest.json``. Raise WrongKey if it is encrypted to another key,
    and SmbError if the share did not answer: nothing may then be decided on the share (retention
    would take an unread set for a bad one)."""
    listed = set(share.listdir(name))
    try:
        if SEALED_MANIFEST in listed:
            if key is None:
                return None, True
            data = backup_key.decrypt_bytes(share.read_bytes(name, SEALED_MANIFEST), key,
                                            f"{name}/{SEALED_MANIFEST} on the share")
            return Manifest.from_json(data), True
        if MANIFEST in listed:
            return Manifest.from_json(share.read_bytes(name, MANIFEST)), False
    except backup_key.WrongKey:
        raise
    except (BackupKeyError, ValueError, TypeError, KeyError):  # damaged: not a set to count on
        pass
    return None, True


def remote_sets(share: smb.SmbSession, key: BackupKey | None,
                plain: set[str] | None = None) -> dict[str, Manifest | None]:
    """Return the complete sets on the share (name -> manifest, None if unreadable, or encrypted
    and no key given); the names of those sent before encryption are added to ``plain``."""
    found: dict[str, Manifest | None] = {}
    for name in share.listdir():
        if not backup_sets.NAME.match(name):
            continue
        found[name], sealed = read_remote(share, name, key)
        if not sealed and plain is not None:
            plain.add(name)
    return found


def send_set(share: smb.SmbSession, folder: Path, manifest: Manifest, key: BackupKey, *, verify: bool,
             say: Callable[[str], None] = print, progress=None) -> int:
    """Upload one set, every file encrypted to ``key`` (``<file>.age``), through ``.partial-<name>``;
    check each file's size on the share, and what it holds: with ``verify`` a second process reads
    each file back once it is sent (while the next one is sent), decrypts it and compares the
    plaintext with the manifest; without, the plaintext is hashed as it is encrypted. Then the
    folder is renamed into place (a plain copy sent before encryption is replaced). Return the
    bytes sent."""
    partial = f"{PARTIAL}{manifest.name}"
    if partial in share.listdir():
        share.rmtree(partial)  # left by an interrupted run: sent again from the start
    share.ensure_folder(partial)
    sent = 0
    asked: list[tuple[str, tuple[int, str]]] = []  # the file whose read-back the child is doing

    def compare(name: str, found: tuple[int, str], expected: tuple[int, str], where: str) -> None:
        if found != expected:
            raise BackupSetError(f"{manifest.name}/{name} {where} does not match the manifest (SHA-256): not "
                                 "offloaded", fix="check this disk and the share's storage; run offload again; "
                                 f"drill the set (invoke restore --verify --from={manifest.name})")

    with read_back.Verifier(share.address, key.path) if verify else contextlib.nullcontext() as verifier:
        def collect() -> None:
            assert verifier is not None
            name, expected = asked.pop()
            checked = verifier.result(f"{manifest.name}/{name}")
            compare(name, (checked.size, checked.sha256), expected, "read back from the share and decrypted")
            say(f"{manifest.name}/{name}: read back, decrypted and verified")

        for name in [*sorted(manifest.files), MANIFEST]:
            local = folder / name
            remote = name + backup_key.SUFFIX
            started = time.monotonic()
            expected = (int(manifest.files[name]["size"]), manifest.files[name]["sha256"]) if name != MANIFEST \
                else sha256_file(local)
            shown = (lambda n, f=name: progress(f, n)) if progress else None
            with share.writer(partial, remote, progress=shown) as out, open(local, "rb") as source:
                found = backup_key.encrypt(source, out, key, hashed=not verifier)
            remote_size = share.size(partial, remote)
            if remote_size != out.size:
                raise SmbError(f"{manifest.name}/{remote} is {remote_size} bytes on the share, {out.size} were sent",
                               fix="run offload again; the set stays local until it is verified")
            sent += out.size
            say(f"{manifest.name}/{name}: {expected[0] / 1e6:,.1f} MB encrypted and sent in "
                f"{time.monotonic() - started:.1f}s")
            if verifier:
                if asked:
                    collect()  # the previous file, read back while this one was sent
                verifier.check((partial, remote), f"{manifest.name}/{remote} read back from the share", out.size)
                asked.append((name, expected))
            else:
                compare(name, found, expected, "as it was encrypted")
        if asked:
            collect()
    if manifest.name in share.listdir():  # a plain copy sent before encryption: replaced, never mixed
        aside = f"{REPLACED}{manifest.name}"
        share.rename((manifest.name,), (aside,))
        share.rename((partial,), (manifest.name,))
        share.rmtree(aside)
    else:
        share.rename((partial,), (manifest.name,))
    return sent


def fetch_set(share: smb.SmbSession, name: str, backup_dir: Path, key: BackupKey, *,
              say: Callable[[str], None] = print) -> tuple[Path, Manifest]:
    """Bring the set ``name`` back from the share into ``BACKUP_DIR/.fetched-<name>``, each file
    decrypted and checked against the set's manifest (size and SHA-256) as it arrives; return the
    folder and the manifest. A fetch left by a stopped run is removed first."""
    remove_stale_fetches(backup_dir)  # the caller holds the backup lock
    manifest, sealed = read_remote(share, name, key)
    if manifest is None:
        raise BackupSetError(f"{name} on the share has no readable manifest: it cannot be fetched",
                             fix="fetch another set (invoke backups lists them)")
    folder = backup_dir / f"{FETCHED}{name}"
    folder.mkdir(parents=True)
    try:
        for file_name, expected in sorted(manifest.files.items()):
            if "/" in file_name or file_name.startswith("."):
                raise BackupSetError(f"the manifest of {name} names {file_name!r}, which is not a file of a set",
                                     fix="fetch another set")
            started = time.monotonic()
            target = folder / file_name
            if sealed:
                carried = folder / (file_name + backup_key.SUFFIX)
                share.download(carried, name, file_name + backup_key.SUFFIX)
                with open(carried, "rb") as source, open(target, "wb") as out:
                    size, digest = backup_key.decrypt(source, out, key, f"{name}/{file_name} from the share")
                carried.unlink()
            else:
                size, digest = share.download(target, name, file_name)
            if (size, digest) != (int(expected["size"]), expected["sha256"]):
                raise BackupSetError(f"{name}/{file_name} fetched from the share does not match its manifest "
                                     "(SHA-256)", fix="fetch another set; check the share's storage")
            say(f"{name}/{file_name}: {size / 1e6:,.1f} MB fetched, decrypted and checked in "
                f"{time.monotonic() - started:.1f}s")
        manifest.write(folder)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return folder, manifest


def newest_on_share(remote: dict[str, Manifest | None], needs: tuple[str, ...]) -> str:
    """The newest good set on the share holding every part in ``needs`` (restore's safety backups
    are never chosen)."""
    good = [m for m in remote.values() if m is not None and m.status == "good" and set(needs) <= set(m.what)
            and not m.name.endswith(f"-{backup_sets.SAFETY_TAG}")]
    if not good:
        raise BackupSetError("there is no good backup set on the share" +
                             (f" holding {', '.join(needs)}" if needs else "") +
                             (f" that this key opens ({len(remote)} there)" if remote else ""),
                             fix="check SMB_FOLDER and BACKUP_KEY_FILE; `invoke backups` lists the sets")
    return max(good, key=lambda m: (m.created_at, m.name)).name


def offload(settings, *, dry_run: bool = False, say: Callable[[str], None] = print, progress=None,
            sleep: Callable[[float], None] = time.sleep) -> OffloadResult:
    """Send every good local set not yet on the share, then apply retention on the share."""
    address = smb.ShareAddress.from_settings(settings)
    key = backup_key.load_for(settings)  # before anything is sent: nothing goes to the share in the clear
    result = OffloadResult()
    local = [m for m in backup_sets.good_sets(settings.backup_dir)]
    ledger = Ledger(settings.state_dir)
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with smb.session(address) as share:  # a fresh session for each attempt
                share.ensure_folder()
                for line in _finish_replacements(share, dry_run=dry_run):
                    say(line)
                plain: set[str] = set()
                remote = remote_sets(share, key, plain)
                here = {m.name for m in local}
                for manifest in local:
                    if remote.get(manifest.name) is not None and manifest.name not in plain:
                        if manifest.name not in result.already and manifest.name not in result.sent:
                            result.already.append(manifest.name)
                        if manifest.name not in ledger.read():
                            ledger.add(manifest.name, address.unc())
                        continue
                    why = " (its copy there is not encrypted: replaced)" if manifest.name in plain else ""
                    if dry_run:
                        say(f"would send {manifest.name} ({manifest.total_size / 1e6:,.1f} MB, encrypted){why}")
                        continue
                    if why:
                        say(f"{manifest.name}: the copy on the share was sent before encryption: sent again{why}")
                    result.bytes_sent += send_set(share, settings.backup_dir / manifest.name, manifest, key,
                                                  verify=settings.smb_verify, say=say, progress=progress)
                    result.sent.append(manifest.name)
                    plain.discard(manifest.name)
                    ledger.add(manifest.name, address.unc())
                    remote[manifest.name] = manifest
                result.plain_remote = sorted(plain - here)
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


def _finish_replacements(share: smb.SmbSession, *, dry_run: bool) -> list[str]:
    """A plain copy being replaced by its encrypted one is renamed ``.replaced-NAME`` first; a run
    stopped before it was removed leaves it. Remove it if NAME is there again (the encrypted copy
    is in place), else put it back as NAME (it is sent again, encrypted, by this run)."""
    said = []
    entries = share.listdir()
    for entry in entries:
        if not entry.startswith(REPLACED):
            continue
        name = entry[len(REPLACED):]
        if name in entries:
            said.append(f"{'would remove' if dry_run else 'removed'} {entry} (a plain copy left by a stopped run; "
                        f"{name} is on the share encrypted)")
            if not dry_run:
                share.rmtree(entry)
        else:
            said.append(f"{'would put' if dry_run else 'put'} {entry} back as {name} (a stopped run had moved it "
                        "aside): it is sent again, encrypted")
            if not dry_run:
                share.rename((entry,), (name,))
    return said


def remove_stale_fetches(backup_dir: Path) -> list[str]:
    """Remove ``.fetched-`` folders a stopped fetch left (call with the backup lock held: every fetch
    holds it, so none is in use); return their names."""
    removed = []
    for path in sorted(backup_dir.glob(f"{FETCHED}*")) if backup_dir.is_dir() else []:
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path.name)
    return removed


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
