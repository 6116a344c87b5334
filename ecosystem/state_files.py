"""The ecosystem's small state files (markers, ledgers, heartbeats, manifests): written whole or not at all.

``write_json`` writes to a temporary file in the same folder, fsyncs it, renames it over the
target and fsyncs the folder, so a reader sees the old content or the new, never a torn one,
and a power cut right after it returns keeps the new one. A writer killed mid-way leaves at
most a ``.NAME.PID`` temporary file beside it, which nothing reads.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def write_json(path: Path, data: Any, *, indent: int | None = None, sort_keys: bool = False) -> None:
    """Replace ``path`` atomically and durably with ``data`` as JSON (creating its folder)."""
    write_text(path, json.dumps(data, indent=indent, sort_keys=sort_keys))


def write_text(path: Path, text: str, *, mode: int | None = None) -> None:
    """Replace ``path`` atomically and durably with ``text`` (creating its folder), with ``mode`` if given."""
    write_bytes(path, text.encode(), mode=mode)


def write_bytes(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Replace ``path`` atomically and durably with ``data`` (creating its folder); with ``mode``, the
    file has that mode from its creation (a secret is never readable by others, not even briefly)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if mode is not None else 0o666)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    if mode is not None:
        os.chmod(temporary, mode)
    os.replace(temporary, path)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
