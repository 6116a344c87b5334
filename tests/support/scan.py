"""Search built images for secrets: every file of every layer, the image config and its history."""
from __future__ import annotations

import tarfile
import tempfile
from pathlib import Path


def _scan_tar(archive: tarfile.TarFile, needles: list[bytes], where: str, found: list[str]) -> None:
    for member in archive:
        if not member.isfile():
            continue
        data = archive.extractfile(member).read()
        if member.name.endswith(".tar") or member.name.startswith("blobs/"):
            try:
                with tarfile.open(fileobj=__import__("io").BytesIO(data)) as inner:
                    _scan_tar(inner, needles, f"{where}:{member.name}", found)
                continue
            except tarfile.TarError:
                pass  # a config or manifest blob, scanned as bytes below
        for needle in needles:
            if needle in data:
                found.append(f"{where}:{member.name} holds {needle[:6].decode()}…")


def find_in_image(client, tag: str, needles: list[str]) -> list[str]:
    """Return where any needle occurs in ``docker save`` of ``tag`` (layer files opened), else []."""
    encoded = [n.encode() for n in needles]
    found: list[str] = []
    with tempfile.TemporaryFile() as saved:
        for chunk in client.images.get(tag).save(named=True):
            saved.write(chunk)
        saved.seek(0)
        with tarfile.open(fileobj=saved) as archive:
            _scan_tar(archive, encoded, tag, found)
    history = str(client.api.history(tag)).encode()
    found += [f"{tag}: docker history holds {n[:6].decode()}…" for n in encoded if n in history]
    return found


def find_in_folder(folder: Path, needles: list[str]) -> list[str]:
    """Return the files under ``folder`` that contain any needle."""
    encoded = [n.encode() for n in needles]
    return [str(path) for path in Path(folder).rglob("*") if path.is_file()
            and any(n in path.read_bytes() for n in encoded)]
