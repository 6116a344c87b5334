"""Backup sets on disk: names, manifests, checks that refuse corrupt or hostile sets before anything is touched."""
from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
import tarfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from ecosystem import archives, backup as backups, backup_sets, mongo, restore as restoring
from ecosystem.backup_sets import BackupSetError, Manifest

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 12, 1, 22, 30, tzinfo=timezone.utc)


def tar_gz(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> None:
    with tarfile.open(path, "w:gz") as archive:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            archive.addfile(info, io.BytesIO(data) if data is not None else None)


def file(name: str, data: bytes = b"x") -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), data


def special(name: str, kind: bytes, link: str = "") -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    return info, None


def make_set(backup_dir: Path, name: str, members=None, *, status="good", counts=None) -> Path:
    folder = backup_dir / name
    folder.mkdir(parents=True)
    tar_gz(folder / "parquet.tar.gz", members if members is not None else [file("./prices/ES.parquet", b"p" * 100)])
    (folder / "db.archive.gz").write_bytes(gzip.compress(b"stand-in dump"))
    files = {n: dict(zip(("size", "sha256"), archives.sha256_file(folder / n))) for n in ("parquet.tar.gz",
                                                                                         "db.archive.gz")}
    Manifest(name, NOW.isoformat(), "online", ["db", "parquet"], files,
             counts or {"db": {"production.orders": 3}, "parquet": {"files": 1}}, {}, status).write(folder)
    return folder


def test_set_names_are_utc_and_never_collide_with_complete_or_partial_sets(tmp_path):
    first = backup_sets.new_name(tmp_path, NOW)
    assert first == "pst-20261201T223000Z"
    (tmp_path / first).mkdir()
    (tmp_path / f".partial-{first}-2").mkdir()
    assert backup_sets.new_name(tmp_path, NOW) == f"{first}-3"
    assert backup_sets.new_name(tmp_path, NOW, "pre-restore") == f"{first}-pre-restore"
    assert backup_sets.NAME.match(f"{first}-3-pre-restore")


def test_a_good_set_passes_every_check(tmp_path):
    folder = make_set(tmp_path, "pst-20261201T223000Z")
    assert restoring.check_set(folder).name == folder.name


def test_a_flipped_byte_a_truncated_file_and_a_missing_manifest_are_refused(tmp_path):
    flipped = make_set(tmp_path, "pst-20261201T223000Z")
    data = bytearray((flipped / "parquet.tar.gz").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (flipped / "parquet.tar.gz").write_bytes(bytes(data))
    with pytest.raises(BackupSetError, match="SHA-256"):
        restoring.check_set(flipped)
    truncated = make_set(tmp_path, "pst-20261201T223001Z")
    with open(truncated / "db.archive.gz", "r+b") as handle:
        handle.truncate(5)
    with pytest.raises(BackupSetError, match="truncated"):
        restoring.check_set(truncated)
    bare = make_set(tmp_path, "pst-20261201T223002Z")
    (bare / "manifest.json").unlink()
    with pytest.raises(BackupSetError, match="no manifest.json"):
        restoring.check_set(bare)


def rehash(folder: Path) -> None:
    """Make the manifest match the files again: the archive checks must then be what refuses a set."""
    manifest = Manifest.read(folder)
    manifest.files = {n: dict(zip(("size", "sha256"), archives.sha256_file(folder / n))) for n in manifest.files}
    manifest.write(folder)


@pytest.mark.parametrize("members, words", [
    ([file("../../etc/cron.d/evil")], "climbs out"),
    ([file("/etc/passwd")], "absolute path"),
    ([special("./link", tarfile.SYMTYPE, "../../../root"), file("./ok")], "symlink pointing outside"),
    ([special("./abs", tarfile.SYMTYPE, "/etc/shadow")], "symlink pointing outside"),
    ([special("./hard", tarfile.LNKTYPE, "../outside")], "hard link pointing outside"),
    ([special("./dev", tarfile.CHRTYPE)], "device or FIFO"),
    ([special("./fifo", tarfile.FIFOTYPE)], "device or FIFO"),
])
def test_hostile_archives_are_refused_before_anything_is_touched(tmp_path, members, words):
    folder = make_set(tmp_path, "pst-20261201T223000Z", members)
    rehash(folder)
    with pytest.raises(BackupSetError, match=words) as refused:
        restoring.check_set(folder)
    assert "nothing was changed" in refused.value.fix


def test_a_truncated_archive_with_a_matching_manifest_is_still_refused(tmp_path):
    folder = make_set(tmp_path, "pst-20261201T223000Z", [file(f"./f{i}", os.urandom(50_000)) for i in range(5)])
    with open(folder / "parquet.tar.gz", "r+b") as handle:
        handle.truncate(60_000)
    rehash(folder)
    with pytest.raises(BackupSetError, match="truncated or corrupt"):
        restoring.check_set(folder)


def test_an_inside_symlink_is_fine(tmp_path):
    folder = make_set(tmp_path, "pst-20261201T223000Z", [file("./a/data"), special("./a/link", tarfile.SYMTYPE, "data")])
    rehash(folder)
    Manifest.read(folder)
    manifest = Manifest.read(folder)
    manifest.counts["parquet"]["files"] = 1
    manifest.write(folder)
    restoring.check_set(folder)


def test_an_unknown_name_lists_the_sets_that_exist_and_latest_is_the_newest_good(tmp_path):
    make_set(tmp_path, "pst-20261201T223000Z")
    make_set(tmp_path, "pst-20261202T223000Z")
    make_set(tmp_path, "pst-20261203T223000Z", status="suspect")
    (tmp_path / ".partial-pst-20261204T223000Z").mkdir()
    with pytest.raises(BackupSetError) as unknown:
        backup_sets.resolve(tmp_path, "pst-20991231T000000Z")
    assert "pst-20261201T223000Z" in unknown.value.message and "pst-20261203T223000Z" in unknown.value.message
    assert "partial" not in unknown.value.message
    assert backup_sets.resolve(tmp_path, "latest").name == "pst-20261202T223000Z"


def test_empty_or_much_smaller_sets_are_suspect(tmp_path):
    good = Manifest("a", NOW.isoformat(), "online", ["db", "parquet"], {"x": {"size": 1000, "sha256": ""}},
                    {"db": {"p.o": 5}, "parquet": {"files": 3}})
    empty = Manifest("b", NOW.isoformat(), "online", ["db", "parquet"], {"x": {"size": 10, "sha256": ""}},
                     {"db": {}, "parquet": {"files": 0}})
    assert backup_sets.judge_size(empty, good, 0.5)[0] == "suspect"
    small = Manifest("c", NOW.isoformat(), "online", ["db", "parquet"], {"x": {"size": 400, "sha256": ""}},
                     {"db": {"p.o": 5}, "parquet": {"files": 3}})
    status, reason = backup_sets.judge_size(small, good, 0.5)
    assert status == "suspect" and "under 0.5" in reason
    assert backup_sets.judge_size(small, good, 0.3) == ("good", "")


def test_only_complete_sets_count_and_stale_partials_are_removed(tmp_path):
    make_set(tmp_path, "pst-20261201T223000Z")
    stale = tmp_path / ".partial-pst-20261130T223000Z"
    fresh = tmp_path / ".partial-pst-20261201T230000Z"
    stale.mkdir()
    fresh.mkdir()
    old = (datetime.now(timezone.utc) - timedelta(hours=2)).timestamp()
    os.utime(stale, (old, old))
    assert [name for name, _ in backup_sets.sets(tmp_path)] == ["pst-20261201T223000Z"]
    assert backups.remove_stale_partials(tmp_path, datetime.now(timezone.utc)) == [stale.name]
    assert fresh.exists()


def test_the_mongo_tools_never_get_a_password_on_their_command_line():
    assert "--config" in mongo._auth("admin") and "/run/secrets/mongo_tools_config" in mongo._auth("admin")
    assert mongo._auth("") == []
    assert "readFileSync" in mongo.COUNT_SCRIPT and "ecosystem-counts" in mongo.COUNT_SCRIPT


# -- the stand-in MongoDB tools' contract, run on a real data directory ----------------------------

TOOLS = ROOT / "standins" / "mongo" / "standin_mongotools.py"


def tool(name, tmp_path, *args, stdin=b"", env=None):
    link = tmp_path / "bin" / name
    link.parent.mkdir(exist_ok=True)
    if not link.exists():
        link.symlink_to(TOOLS)
    return subprocess.run([sys.executable, str(link), *args], input=stdin, capture_output=True,
                          env={**os.environ, "STANDIN_MONGO_DATA": str(tmp_path / "db"), **(env or {})})


def test_the_standin_mongodump_and_mongorestore_round_trip_with_drop(tmp_path):
    store = tmp_path / "db" / "standin-data" / "production"
    store.mkdir(parents=True)
    (store / "orders.jsonl").write_text('{"id": 1}\n{"id": 2}\n')
    dumped = tool("mongodump", tmp_path, "--archive", "--gzip")
    assert dumped.returncode == 0 and dumped.stdout[:2] == b"\x1f\x8b"
    (store / "orders.jsonl").write_text('{"id": 99}\n')
    restored = tool("mongorestore", tmp_path, "--archive", "--gzip", "--drop", stdin=dumped.stdout)
    assert restored.returncode == 0
    assert (store / "orders.jsonl").read_text() == '{"id": 1}\n{"id": 2}\n'
    corrupt = tool("mongorestore", tmp_path, "--archive", "--gzip", "--drop", stdin=dumped.stdout[:-20])
    assert corrupt.returncode == 1 and b"Failed" in corrupt.stderr
    assert (store / "orders.jsonl").read_text() == '{"id": 1}\n{"id": 2}\n', "nothing changed"


def test_the_standin_tools_check_the_password_from_the_config_file(tmp_path):
    (tmp_path / "db").mkdir()
    (tmp_path / "db" / "standin-auth.json").write_text(json.dumps({"user": "admin", "auth": True}))
    (tmp_path / "pw").write_text("right-password\n")
    (tmp_path / "tools.yaml").write_text('password: "wrong"\n')
    env = {"MONGO_INITDB_ROOT_PASSWORD_FILE": str(tmp_path / "pw")}
    wrong = tool("mongodump", tmp_path, "--archive", "--gzip", "--username", "admin", "--config",
                 str(tmp_path / "tools.yaml"), env=env)
    assert wrong.returncode == 1 and b"Authentication failed" in wrong.stderr
    (tmp_path / "tools.yaml").write_text('password: "right-password"\n')
    right = tool("mongodump", tmp_path, "--archive", "--gzip", "--username", "admin", "--config",
                 str(tmp_path / "tools.yaml"), env=env)
    assert right.returncode == 0
