"""The ecosystem's own state, carried in every backup set so a new host can be rebuilt from the share.

``state.tar.age`` in a set holds, encrypted to the backup key (never in the clear, not even here):
- ``env``: the ``.env`` the ecosystem ran with;
- ``secrets/<NAME>``: the value of every secret setting that is set (wherever it came from:
  the ``.env``, a ``NAME_FILE`` file or the environment);
- ``private/...``: every file of PRIVATE_CONFIG_DIR (private_config.yaml, the control config, ...);
- ``about.json``: where it came from (project, suffix, which secrets were files), for the record.
The backup key itself is in no set. ``put_back`` writes it all onto this host without losing
anything here: this host's ``.env`` wins key by key (the old one is kept beside it), secrets that
were files become files under STATE_DIR/recovered-secrets, and a private file that differs here
is kept, the set's copy written beside it.
"""
from __future__ import annotations

import io
import json
import os
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from . import backup_key
from .backup_key import BackupKey
from .backup_sets import OWN_STATE as FILE
from .backup_sets import BackupSetError

MAX_PRIVATE_BYTES = 64 << 20   # a private config folder is text; more than this is not config
RECOVERED_SECRETS = "recovered-secrets"


@dataclass
class OwnState:
    """What ``read`` found in a set's state archive."""

    env_text: str = ""
    secrets: dict[str, str] = field(default_factory=dict)
    private: dict[str, bytes] = field(default_factory=dict)   # relative path -> content
    about: dict = field(default_factory=dict)


def _env_values(text: str) -> dict[str, str]:
    from dotenv import dotenv_values

    return {k: (v if v is not None else "") for k, v in dotenv_values(stream=io.StringIO(text)).items()}


def _private_files(settings) -> tuple[dict[str, bytes], list[str]]:
    """The private config folder's files (relative path -> content), and what could not be read:
    a folder or file this user may not read is said, never skipped in silence."""
    folder = Path(settings.private_config_dir)
    found: dict[str, bytes] = {}
    unread: list[str] = []
    if not folder.is_dir():
        return found, [f"{folder} (no such folder)"]
    key_file = Path(settings.backup_key_file).resolve()
    total = 0
    for here, folders, files in os.walk(folder, onerror=lambda exc: unread.append(f"{exc.filename} "
                                                                                   f"({exc.strerror})")):
        folders[:] = sorted(f for f in folders if not f.startswith(".git"))
        for name in sorted(files):
            path = Path(here) / name
            if path.is_symlink() or not path.is_file() or path.resolve() == key_file:
                continue
            try:
                data = path.read_bytes()
            except OSError as exc:
                unread.append(f"{path} ({exc.strerror})")
                continue
            total += len(data)
            if total > MAX_PRIVATE_BYTES:
                unread.append(f"{folder}: more than {MAX_PRIVATE_BYTES >> 20} MB, the rest left out (keep only "
                              "the private config there)")
                return found, unread
            found[path.relative_to(folder).as_posix()] = data
    return found, unread


def collect(settings) -> OwnState:
    """Read this ecosystem's state from its settings and files."""
    from .settings import VARIABLES

    env_file = settings.env_file
    env_text = env_file.read_text() if env_file is not None and env_file.is_file() else ""
    secrets = {}
    for var in VARIABLES:
        if var.secret:
            value = getattr(settings, var.attr, None)
            if value:
                secrets[var.name] = value.reveal()
    given = _env_values(env_text)
    about = {"made": datetime.now(UTC).isoformat(timespec="seconds"), "name_suffix": settings.name_suffix,
             "compose_project": settings.compose_project,
             "secret_files": sorted(n[:-5] for n in given if n.endswith("_FILE") and n[:-5] in secrets)}
    private, unread = _private_files(settings)
    about["unread"] = unread
    return OwnState(env_text, secrets, private, about)


def archive(settings, key: BackupKey, target: Path) -> dict:
    """Write this ecosystem's state, encrypted to ``key``, as ``target``; return what the manifest
    records of it: {"files": n, "size": bytes, "sha256": hex, "unread": what could not be read}."""
    state = collect(settings)
    members: dict[str, bytes] = {"about.json": json.dumps(state.about, indent=1).encode(),
                                 "env": state.env_text.encode()}
    members |= {f"secrets/{name}": value.encode() for name, value in state.secrets.items()}
    members |= {f"private/{name}": data for name, data in state.private.items()}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o600, int(datetime.now(UTC).timestamp())
            tar.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    from .archives import sha256_file

    with open(target, "wb") as out:
        backup_key.encrypt(buffer, out, key)
        out.flush()
        os.fsync(out.fileno())
    size, digest = sha256_file(target)
    return {"files": len(members), "size": size, "sha256": digest, "unread": state.about["unread"]}


def read(path: Path, key: BackupKey) -> OwnState:
    """Decrypt and read a set's state archive; refuse any member that is not one ``archive`` writes."""
    with open(path, "rb") as source:
        plain = io.BytesIO()
        backup_key.decrypt(source, plain, key, f"{path.parent.name}/{FILE}")
    plain.seek(0)
    state = OwnState()
    with tarfile.open(fileobj=plain, mode="r:") as tar:
        for member in tar.getmembers():
            name = PurePosixPath(member.name)
            if not member.isfile() or name.is_absolute() or ".." in name.parts:
                raise BackupSetError(f"{FILE} of {path.parent.name} holds {member.name!r}, which it never writes",
                                     fix="recover from another set")
            handle = tar.extractfile(member)
            data = handle.read() if handle is not None else b""
            if member.name == "env":
                state.env_text = data.decode()
            elif member.name == "about.json":
                state.about = json.loads(data)
            elif name.parts[0] == "secrets" and len(name.parts) == 2:
                state.secrets[name.parts[1]] = data.decode()
            elif name.parts[0] == "private" and len(name.parts) > 1:
                state.private[PurePosixPath(*name.parts[1:]).as_posix()] = data
    return state


def merged_env(state: OwnState, here_text: str, secrets_folder: Path,
               pinned: dict[str, str] | None = None) -> tuple[dict[str, str], list[str]]:
    """The ``.env`` this host gets (pure): the set's, with each secret that was a file (or came from
    the old host's environment, so is in no ``.env``) pointed at its recovered file in
    ``secrets_folder``, then this host's own keys on top (they win), then ``pinned`` (what this
    run already uses: its STATE_DIR, BACKUP_DIR and BACKUP_KEY_FILE must not move under it); and
    the names of the secrets written as files."""
    old = _env_values(state.env_text)
    here = _env_values(here_text)
    as_files = []
    for name in sorted(state.secrets):
        given_here = name in here or f"{name}_FILE" in here
        if given_here or (name in old and f"{name}_FILE" not in old):
            continue  # this host gives it, or the old .env holds its value (kept as it is)
        old.pop(name, None)
        old[f"{name}_FILE"] = str(secrets_folder / name.lower())
        as_files.append(name)
    for name in here:  # this host's way of giving a secret replaces the set's (a value or a file)
        base = name[:-5] if name.endswith("_FILE") else name
        old.pop(base, None)
        old.pop(f"{base}_FILE", None)
    return old | here | (pinned or {}), as_files


def put_back_env(state: OwnState, settings, say: Callable[[str], None]) -> Path:
    """Write the merged ``.env`` (and the secret files it names) for this host; keep the one that was
    here beside it. Return the ``.env``'s path."""
    from .settings import write_env_file
    from .state_files import write_text

    env_file = settings.env_file or (settings.root / ".env")
    kept = env_file.with_name(env_file.name + ".before-recover")
    if kept.is_file():  # recovered before: this host's own keys are those it had then
        here_text = kept.read_text()
    else:
        here_text = env_file.read_text() if env_file.is_file() else ""
    folder = Path(settings.state_dir) / RECOVERED_SECRETS
    pinned = {"STATE_DIR": str(settings.state_dir), "BACKUP_DIR": str(settings.backup_dir),
              "BACKUP_KEY_FILE": str(settings.backup_key_file)}
    values, as_files = merged_env(state, here_text, folder, pinned)
    if as_files:
        folder.mkdir(parents=True, exist_ok=True)
        os.chmod(folder, 0o700)
        for name in as_files:
            write_text(folder / name.lower(), state.secrets[name], mode=0o600)
        say(f"secret files put back in {folder}: {', '.join(n.lower() for n in as_files)}")
    if here_text and not kept.exists():  # a second recover keeps the first one's original
        write_text(kept, here_text, mode=0o600)
        say(f"this host's {env_file.name} kept as {kept.name}; its keys win over the set's")
    write_env_file(env_file, values)
    say(f"{env_file}: {len(values)} settings from the set and this host")
    return env_file


def put_back_private(state: OwnState, settings, set_name: str, say: Callable[[str], None]) -> list[str]:
    """Write the set's private config files into PRIVATE_CONFIG_DIR: missing ones written, equal ones
    left, one that differs here kept (the set's copy written beside it). Return what differs."""
    from .state_files import write_bytes

    folder = Path(settings.private_config_dir)
    differs = []
    for relative, data in sorted(state.private.items()):
        path = folder / relative
        if path.is_file():
            if path.read_bytes() != data:
                write_bytes(path.with_name(f"{path.name}.from-{set_name}"), data, mode=0o600)
                differs.append(relative)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes(path, data, mode=0o600)
    say(f"private config put back in {folder}: {len(state.private)} file(s)"
        + (f"; kept this host's differing {', '.join(differs)} (the set's copies beside them, "
           f".from-{set_name})" if differs else ""))
    return differs
