"""Backup sets on disk: names, manifests, checks that refuse corrupt or hostile sets before anything is touched."""
from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ecosystem import archives, backup_sets, mongo
from ecosystem import backup as backups
from ecosystem import restore as restoring
from ecosystem.backup_sets import BackupSetError, Manifest

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 12, 1, 22, 30, tzinfo=UTC)


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
    files = {n: dict(zip(("size", "sha256"), archives.sha256_file(folder / n), strict=True))
             for n in ("parquet.tar.gz", "db.archive.gz")}
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
    with pytest.raises(BackupSetError, match=r"no manifest\.json"):
        restoring.check_set(bare)


def rehash(folder: Path, *, parquet_files: int | None = None) -> None:
    """Make the manifest match the files again (and, given, the Parquet file count): the archive
    checks must then be what refuses a set."""
    manifest = Manifest.read(folder)
    manifest.files = {n: dict(zip(("size", "sha256"), archives.sha256_file(folder / n), strict=True))
                      for n in manifest.files}
    if parquet_files is not None:
        manifest.counts["parquet"]["files"] = parquet_files
    manifest.write(folder)


@pytest.mark.parametrize("members, words", [
    ([file("../../etc/cron.d/evil")], "climbs out"),
    ([file("/etc/passwd")], "absolute path"),
    ([special("./link", tarfile.SYMTYPE, "../../../root"), file("./ok")], "symlink pointing outside"),
    ([special("./abs", tarfile.SYMTYPE, "/etc/shadow")], "symlink pointing outside"),
    ([special("./hard", tarfile.LNKTYPE, "../outside")], "hard link pointing outside"),
    ([special("./d/up", tarfile.SYMTYPE, ".."), special("./s", tarfile.SYMTYPE, "d/up/d/up/..")], "pointing outside"),
    ([special("./lnk", tarfile.SYMTYPE, "sub"), file("./lnk/x")], "written through the symlink"),
    ([special("./dev", tarfile.CHRTYPE)], "device or FIFO"),
    ([special("./fifo", tarfile.FIFOTYPE)], "device or FIFO"),
])
def test_hostile_archives_are_refused_before_anything_is_touched(tmp_path, members, words):
    folder = make_set(tmp_path, "pst-20261201T223000Z", members)
    rehash(folder)
    with pytest.raises(BackupSetError, match=words) as refused:
        restoring.check_set(folder)
    assert "nothing was changed" in refused.value.fix


def _raw_members(path: Path, members, garbage_after: int) -> None:
    """An uncompressed tar with a garbage block after member ``garbage_after``, gzip'ed."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as archive:
        for index, (info, data) in enumerate(members):
            if data is not None:
                info.size = len(data)
            archive.addfile(info, io.BytesIO(data) if data is not None else None)
            if index == garbage_after:
                archive.fileobj.write(b"\x07" * 512)
                archive.offset += 512
    path.write_bytes(gzip.compress(raw.getvalue()))


def test_members_hidden_after_a_damaged_header_are_refused(tmp_path):
    folder = make_set(tmp_path, "pst-20261201T223000Z")
    _raw_members(folder / "parquet.tar.gz", [file("./ok"), special("./abs_link", tarfile.SYMTYPE, "/etc"),
                                             file("./more")], garbage_after=0)
    rehash(folder)
    with pytest.raises(BackupSetError, match=r"after its end|truncated or corrupt"):
        restoring.check_set(folder)


def test_a_hard_link_to_a_symlink_and_a_gnu_header_with_a_prefix_are_refused(tmp_path):
    folder = make_set(tmp_path, "pst-20261201T223000Z", [special("./d/up", tarfile.SYMTYPE, "sub"),
                                                         special("./h", tarfile.LNKTYPE, "d/up")])
    rehash(folder)
    with pytest.raises(BackupSetError, match="hard link"):
        restoring.check_set(folder)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as archive:
        info = tarfile.TarInfo("l")
        info.type, info.linkname = tarfile.SYMTYPE, "x"
        archive.addfile(info)
    data = bytearray(raw.getvalue())
    data[345:352] = b"a/b/c/d"  # GNU magic: these bytes are times for GNU tar, a name prefix for Python
    data[148:156] = b" " * 8
    data[148:155] = f"{sum(data[:512]):06o}\0".encode()
    (folder / "parquet.tar.gz").write_bytes(gzip.compress(bytes(data)))
    rehash(folder)
    with pytest.raises(BackupSetError, match="read differently"):
        restoring.check_set(folder)


def test_hard_links_count_as_files_as_find_does(tmp_path):
    folder = make_set(tmp_path, "pst-20261201T223000Z", [file("./a"), special("./b", tarfile.LNKTYPE, "a")])
    rehash(folder, parquet_files=2)
    restoring.check_set(folder)


def test_a_truncated_archive_with_a_matching_manifest_is_still_refused(tmp_path):
    folder = make_set(tmp_path, "pst-20261201T223000Z", [file(f"./f{i}", os.urandom(50_000)) for i in range(5)])
    with open(folder / "parquet.tar.gz", "r+b") as handle:
        handle.truncate(60_000)
    rehash(folder)
    with pytest.raises(BackupSetError, match="truncated or corrupt"):
        restoring.check_set(folder)


def test_an_inside_symlink_is_fine(tmp_path):
    folder = make_set(tmp_path, "pst-20261201T223000Z",
                      [file("./a/data"), special("./a/link", tarfile.SYMTYPE, "data")])
    rehash(folder, parquet_files=1)
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


def test_empty_parts_or_much_smaller_parts_than_the_same_kind_of_set_are_suspect(tmp_path):
    def made(name, size, documents, files, what=("db", "parquet"), how="online"):
        return Manifest(name, NOW.isoformat(), how, list(what), {"parquet.tar.gz": {"size": size, "sha256": ""}},
                        {"db": {"p.o": documents}, "parquet": {"files": files}})
    good = made("a", 1000, 50, 3)
    assert backup_sets.judge_size(made("b", 1000, 0, 3), [good], 0.5) == ("suspect",
                                                                          "empty: MongoDB has no documents")
    assert backup_sets.judge_size(made("b", 1000, 50, 0), [good], 0.5)[1] == "empty: the Parquet store has no files"
    status, reason = backup_sets.judge_size(made("c", 400, 50, 3), [good], 0.5)
    assert status == "suspect" and "under 0.5" in reason
    assert backup_sets.judge_size(made("c", 400, 50, 3), [good], 0.3) == ("good", "")
    assert backup_sets.judge_size(made("d", 1000, 10, 3), [good], 0.5)[0] == "suspect", "a wiped database"
    cold = made("e", 100000, 50, 3, how="cold")
    assert backup_sets.judge_size(made("f", 1000, 50, 3), [good, cold], 0.5) == ("good", ""), \
        "an online set is compared with the last online one, not a (bigger) cold one"
    safety = made("g-pre-restore", 100000, 50, 3)
    assert backup_sets.judge_size(made("h", 1000, 50, 3), [good, safety], 0.5) == ("good", "")


def test_latest_is_never_a_safety_backup(tmp_path):
    make_set(tmp_path, "pst-20261201T223000Z")
    make_set(tmp_path, "pst-20261202T223000Z-pre-restore")
    assert backup_sets.resolve(tmp_path, "latest").name == "pst-20261201T223000Z"


def test_only_complete_sets_count_and_stale_partials_are_removed(tmp_path):
    make_set(tmp_path, "pst-20261201T223000Z")
    stale = tmp_path / ".partial-pst-20261130T223000Z"
    fresh = tmp_path / ".partial-pst-20261201T230000Z"
    stale.mkdir()
    fresh.mkdir()
    old = (datetime.now(UTC) - timedelta(hours=2)).timestamp()
    os.utime(stale, (old, old))
    assert [name for name, _ in backup_sets.sets(tmp_path)] == ["pst-20261201T223000Z"]
    assert backups.remove_stale_partials(tmp_path, datetime.now(UTC)) == [stale.name]
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


def _stored_tar_gz(path: Path, payload: bytes) -> None:
    """A .tar.gz whose deflate blocks are stored (level 0): a byte of the payload can be changed
    and the stream still inflates; only gzip's CRC-32 at the end says it is damaged."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as archive:
        info = tarfile.TarInfo("./prices/ES.parquet")
        info.size = len(payload)
        archive.addfile(info, io.BytesIO(payload))
    path.write_bytes(gzip.compress(raw.getvalue(), compresslevel=0))


def _damage(path: Path, how: str) -> None:
    data = bytearray(path.read_bytes())
    if how == "payload byte":  # inside the stored payload: inflates fine, CRC-32 differs
        at = data.index(b"PAYLOAD") + 3
        data[at] ^= 0x20
    elif how == "crc":
        data[-8] ^= 0xFF
    elif how == "length":
        data[-1] ^= 0x01
    elif how == "trailer cut":
        del data[-8:]
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("how", ["payload byte", "crc", "length", "trailer cut"])
def test_an_archive_damaged_below_the_tar_members_is_refused_as_gnu_tar_would_fail(tmp_path, how):
    """Damage a member walk does not see (its checksum in the manifest taken after the damage):
    the pre-check reads the compressed stream to its end and its own integrity check."""
    folder = make_set(tmp_path, "pst-20261201T223000Z")
    _stored_tar_gz(folder / "parquet.tar.gz", b"PAYLOAD" + os.urandom(40_000))
    rehash(folder, parquet_files=1)
    restoring.check_set(folder)  # undamaged: fine
    walked = list(tarfile.open(folder / "parquet.tar.gz", "r|*"))
    _damage(folder / "parquet.tar.gz", how)
    assert [m.name for m in tarfile.open(folder / "parquet.tar.gz", "r|*")] == [m.name for m in walked], \
        "a member walk does not see this damage"
    rehash(folder)
    with pytest.raises(BackupSetError, match="truncated or corrupt"):
        restoring.check_set(folder)
    gnu = subprocess.run(["tar", "-xzf", str(folder / "parquet.tar.gz"), "-C", str(tmp_path)], capture_output=True,
                         timeout=60)
    assert gnu.returncode != 0, "GNU tar (what the restore's helper runs) fails on it too"


def _zstd_set(tmp_path: Path, payload: bytes) -> Path:
    """A set whose Parquet archive is a .tar.zst made by the zstd tool, as the helper image makes it
    (random payload: zstd stores it raw, so a changed byte still decompresses; only the frame's
    content checksum says it is damaged)."""
    folder = make_set(tmp_path, "pst-20261201T223000Z")
    raw = folder / "parquet.tar"
    with tarfile.open(raw, "w") as archive:
        info = tarfile.TarInfo("./prices/ES.parquet")
        info.size = len(payload)
        archive.addfile(info, io.BytesIO(payload))
    subprocess.run(["zstd", "-3", "-T0", "-q", "--rm", str(raw), "-o", str(folder / "parquet.tar.zst")], check=True,
                   timeout=60)
    (folder / "parquet.tar.gz").unlink()
    manifest = Manifest.read(folder)
    manifest.files.pop("parquet.tar.gz")
    manifest.files["parquet.tar.zst"] = {}
    manifest.write(folder)
    rehash(folder, parquet_files=1)
    return folder


@pytest.mark.skipif(not shutil.which("zstd"), reason="the zstd tool (apt-get install zstd; scripts/test.sh does it)")
@pytest.mark.parametrize("how", ["payload byte", "checksum", "cut", "last byte cut", "3 bytes cut"])
def test_a_zstd_archive_damaged_below_the_tar_members_is_refused_as_zstd_would_fail(tmp_path, how):
    folder = _zstd_set(tmp_path, b"PAYLOAD" + os.urandom(200_000))
    assert restoring.check_set(folder).files.keys() >= {"parquet.tar.zst"}, "an undamaged zstd set is fine"
    path = folder / "parquet.tar.zst"
    data = bytearray(path.read_bytes())
    if how == "payload byte":
        data[data.index(b"PAYLOAD") + 3] ^= 0x20
    elif how == "checksum":
        data[-1] ^= 0xFF
    elif how == "last byte cut":  # inside the frame's checksum: zstandard's own stream reader lets it pass
        del data[-1:]
    elif how == "3 bytes cut":
        del data[-3:]
    else:
        del data[-100:]
    path.write_bytes(bytes(data))
    rehash(folder)
    with pytest.raises(BackupSetError, match="truncated or corrupt"):
        restoring.check_set(folder)
    tool = subprocess.run(["zstd", "-t", "-q", str(path)], capture_output=True, timeout=60)
    assert tool.returncode != 0, "zstd -d (what the restore's helper runs) fails on it too"


@pytest.mark.skipif(not shutil.which("zstd"), reason="the zstd tool (apt-get install zstd; scripts/test.sh does it)")
def test_a_hostile_member_in_a_zstd_archive_is_refused_and_old_gzip_sets_still_name_their_archives(tmp_path):
    folder = _zstd_set(tmp_path, b"x")
    raw = folder / "parquet.tar"
    with tarfile.open(raw, "w") as archive:
        archive.addfile(tarfile.TarInfo("../../etc/cron.d/evil"), io.BytesIO(b""))
    (folder / "parquet.tar.zst").unlink()
    subprocess.run(["zstd", "-q", "--rm", str(raw), "-o", str(folder / "parquet.tar.zst")], check=True, timeout=60)
    rehash(folder)
    with pytest.raises(BackupSetError, match="climbs out"):
        restoring.check_set(folder)
    from ecosystem import volumes

    assert volumes.archive_file("parquet", {"parquet.tar.zst": {}}) == "parquet.tar.zst"
    assert volumes.archive_file("parquet", {"parquet.tar.gz": {}}) == "parquet.tar.gz", "sets made before zstd"


def test_the_inventory_tells_here_share_both_and_kinds_apart():
    from ecosystem import inventory

    def manifest(name, how="online", status="good"):
        return Manifest(name, NOW.isoformat(), how, ["db"], {"db.archive.gz": {"size": 10, "sha256": "x"}},
                        {}, {}, status)

    here = [("pst-20261201T223000Z", manifest("pst-20261201T223000Z")),
            ("pst-20261202T223000Z", manifest("pst-20261202T223000Z", how="cold")),
            ("pst-20261203T223000Z-pre-restore", manifest("pst-20261203T223000Z-pre-restore")),
            ("pst-20261204T223000Z", None)]
    remote = {"pst-20261130T223000Z": manifest("pst-20261130T223000Z"),
              "pst-20261201T223000Z": manifest("pst-20261201T223000Z")}
    drills = {"pst-20261202T223000Z": NOW}
    found = {e.name: e for e in inventory.entries(here, remote, drills)}
    assert [e.where for e in found.values()] == ["share", "both", "here", "here", "here"]
    assert found["pst-20261202T223000Z"].kind == "cold" and found["pst-20261202T223000Z"].last_drilled == NOW
    assert found["pst-20261203T223000Z-pre-restore"].kind == "pre-restore"
    assert found["pst-20261204T223000Z"].status == "unreadable" and found["pst-20261204T223000Z"].size is None
    unknown = inventory.entries(here, None, {})
    assert {e.where for e in unknown} == {"here"} and all(e.on_share is None for e in unknown)


def test_a_helper_that_ends_without_a_word_is_said_with_how_it_ended():
    from ecosystem import volumes
    from ecosystem.errors import CommandFailed

    killed = CommandFailed("docker exited with code 137: ", returncode=137, output="files=62")
    assert volumes._said(killed) == "exit code 137 (killed: SIGKILL): files=62"
    silent = CommandFailed("docker exited with code 1: ", returncode=1, output="")
    assert volumes._said(silent) == "exit code 1"
