"""`invoke offload` against a real smbd on loopback (tests/support/samba.py): verified uploads, fault drills,
retention on the share."""
from __future__ import annotations

import hashlib
import os
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ecosystem import backup_key, errors, smb
from ecosystem import offload as offloading
from ecosystem.archives import sha256_file
from ecosystem.backup_sets import Manifest
from ecosystem.errors import SmbError
from ecosystem.settings import load_settings
from tests.support.disks import small_disk
from tests.support.invoking import run_invoke
from tests.support.samba import start_samba

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 12, 1, 22, 30, tzinfo=UTC)
PASSWORD = "sentinel-SMB-offload-pw-7731"


def make_set(backup_dir: Path, created: datetime, sizes: dict[str, int]) -> Manifest:
    name = f"pst-{created:%Y%m%dT%H%M%SZ}"
    folder = backup_dir / name
    folder.mkdir(parents=True)
    for file_name, size in sizes.items():
        with open(folder / file_name, "wb") as handle:
            remaining = size
            while remaining:
                block = os.urandom(min(remaining, 4 << 20))
                handle.write(block)
                remaining -= len(block)
    files = {n: dict(zip(("size", "sha256"), sha256_file(folder / n), strict=True)) for n in sizes}
    manifest = Manifest(name, created.isoformat(), "online", ["db", "parquet"], files,
                        {"db": {"p.o": 1}, "parquet": {"files": 1}})
    manifest.write(folder)
    return manifest


def settings_for(tmp_path, server, **extra):
    values = {"STATE_DIR": str(tmp_path / "state"), "BACKUP_DIR": str(tmp_path / "backup"),
              "SMB_SERVER": "127.0.0.1", "SMB_PORT": str(server.port), "SMB_SHARE": server.share,
              "SMB_USER": server.user, "SMB_PASSWORD": server.password,
              "SMB_FOLDER": f"offload-{tmp_path.name}"} | extra  # a folder of its own on the shared share
    s = load_settings(tmp_path, environ=values)
    backup_key.ensure(s.backup_key_file)  # what `invoke setup` makes
    return values, s


def share_files(server, s, name) -> dict[str, str]:
    """Each file of the set ``name`` on the share, decrypted with the set's key: plain name -> SHA-256
    (and each is an age file: nothing is there in the clear)."""
    key = backup_key.load_for(s)
    found = {}
    for path in (server.share_path / s.smb_folder / name).iterdir():
        data = path.read_bytes()
        assert path.name.endswith(".age") and data.startswith(b"age-encryption.org/v1"), path.name
        plain = backup_key.decrypt_bytes(data, key, path.name)
        found[path.name.removesuffix(".age")] = hashlib.sha256(plain).hexdigest()
    return found


def run_task(tmp_path, values, *args):
    return run_invoke(tmp_path, values, *args)


def test_a_set_with_a_large_file_is_uploaded_verified_and_a_second_run_sends_nothing(tmp_path, samba):
    values, s = settings_for(tmp_path, samba)
    manifest = make_set(s.backup_dir, NOW, {"db.archive.gz": 3 << 20, "parquet.tar.gz": 210 << 20,
                                            "notebooks.tar.gz": 100_000})
    result = run_task(tmp_path, values, "offload")
    assert result.returncode == 0, result.stderr
    assert "sent 1 set(s)" in result.stdout and "verified" in result.stdout
    on_share = share_files(samba, s, manifest.name)
    assert on_share == {**{n: f["sha256"] for n, f in manifest.files.items()},
                        "manifest.json": sha256_file(s.backup_dir / manifest.name / "manifest.json")[1]}
    assert not [p for p in (samba.share_path / s.smb_folder).iterdir() if p.name.startswith(".partial-")]
    again = run_task(tmp_path, values, "offload")
    assert again.returncode == 0 and "nothing to send" in again.stdout and "1 already on the share" in again.stdout
    assert PASSWORD not in result.stdout + result.stderr + (tmp_path / "state" / "history.jsonl").read_text()
    assert offloading.Ledger(s.state_dir).read().keys() == {manifest.name}


def _offload_until_a_partial_grows(s, partial: Path, grown: int = 20 << 20,
                                   seconds: float = 30) -> tuple[threading.Thread, list[BaseException]]:
    """Start an offload in a thread and return once ``partial`` on the share holds ``grown`` bytes (or
    ``seconds`` passed): the thread, and the list its failure goes to."""
    failure: list[BaseException] = []

    def upload():
        try:
            offloading.offload(s, say=lambda _: None, sleep=lambda _: None)
        except BaseException as exc:  # noqa: BLE001 - the drill's failure, whatever it is, goes to the test to assert on
            failure.append(exc)

    worker = threading.Thread(target=upload)
    worker.start()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not (partial.exists() and partial.stat().st_size > grown):
        time.sleep(0.02)
    return worker, failure


def test_smbd_stopped_mid_upload_leaves_no_file_under_a_final_name_and_the_next_run_completes(tmp_path):
    server = start_samba(tmp_path / "smb", PASSWORD)
    try:
        _values, s = settings_for(tmp_path, server)
        manifest = make_set(s.backup_dir, NOW, {"db.archive.gz": 1 << 20, "parquet.tar.gz": 300 << 20})
        worker, failure = _offload_until_a_partial_grows(s, server.share_path / s.smb_folder / f".partial-"
                                                         f"{manifest.name}" / "parquet.tar.gz.age")
        server.halt()
        worker.join(timeout=300)
        assert failure and isinstance(failure[0], SmbError) and "cannot reach" in failure[0].message
        assert not (server.share_path / s.smb_folder / manifest.name).exists(), "nothing under the final name"
        assert sha256_file(s.backup_dir / manifest.name / "parquet.tar.gz")[1] == \
            manifest.files["parquet.tar.gz"]["sha256"], "the local set is untouched"
        assert offloading.Ledger(s.state_dir).read() == {}
        server.resume()
        result = offloading.offload(s, say=lambda _: None)
        assert result.sent == [manifest.name]
        assert share_files(server, s, manifest.name)["parquet.tar.gz"] == manifest.files["parquet.tar.gz"]["sha256"]
    finally:
        server.stop()


@pytest.mark.parametrize("change, words", [
    ({"SMB_PASSWORD": "sentinel-WRONG-pw"}, "refused the login"),
    ({"SMB_SHARE": "no_such_share"}, "no share named"),
])
def test_wrong_password_and_missing_share_are_clear_errors_and_local_sets_stay(tmp_path, samba, change, words):
    values, s = settings_for(tmp_path, samba, **change)
    make_set(s.backup_dir, NOW, {"db.archive.gz": 1000})
    result = run_task(tmp_path, values, "offload")
    assert result.returncode == errors.EXIT_SMB and words in result.stderr and "sentinel-WRONG" not in result.stderr
    assert [p.name for p in s.backup_dir.iterdir()] == [f"pst-{NOW:%Y%m%dT%H%M%SZ}"]


def test_a_share_that_refuses_writes_and_a_file_in_the_way_are_clear_errors(tmp_path, samba):
    folder = samba.share_path / "readonly"
    folder.mkdir()
    os.chown(folder, 0, 0)
    folder.chmod(0o555)
    _values, s = settings_for(tmp_path, samba, SMB_FOLDER="readonly")
    make_set(s.backup_dir, NOW, {"db.archive.gz": 1000})
    with pytest.raises(SmbError, match="denied"):
        offloading.offload(s, say=lambda _: None)
    (samba.share_path / "a_file").write_text("in the way")
    _values, s = settings_for(tmp_path, samba, SMB_FOLDER="a_file")
    with pytest.raises(SmbError, match="as a file"):
        offloading.offload(s, say=lambda _: None)


def test_retention_on_the_share_keeps_the_right_sets_and_always_the_newest_good_one(tmp_path, samba):
    _values, s = settings_for(tmp_path, samba, SMB_FOLDER="retention", OFFLOAD_KEEP_LAST="2", OFFLOAD_KEEP_DAILY="0",
                              OFFLOAD_KEEP_WEEKLY="0", SMB_VERIFY="no")
    names = [make_set(s.backup_dir, NOW + timedelta(days=day), {"db.archive.gz": 100}).name for day in range(5)]
    result = offloading.offload(s, say=lambda _: None)
    assert sorted(result.deleted_remote) == names[:3]
    assert sorted(p.name for p in (samba.share_path / "retention").iterdir()) == names[3:]
    _values, s = settings_for(tmp_path, samba, SMB_FOLDER="retention", OFFLOAD_KEEP_LAST="0", OFFLOAD_KEEP_DAILY="0",
                              OFFLOAD_KEEP_WEEKLY="0")
    offloading.offload(s, say=lambda _: None)
    assert [p.name for p in (samba.share_path / "retention").iterdir()] == [names[-1]], "never the newest good set"


def test_invoke_backups_says_where_each_set_is_and_when_it_was_last_drilled(tmp_path, samba):
    import json

    from ecosystem.history import History

    values, s = settings_for(tmp_path, samba)
    sent = make_set(s.backup_dir, NOW, {"db.archive.gz": 1000, "parquet.tar.gz": 2000})
    assert run_task(tmp_path, values, "offload").returncode == 0
    local_only = make_set(s.backup_dir, NOW + timedelta(days=1), {"db.archive.gz": 1000, "parquet.tar.gz": 3000})
    (s.backup_dir / sent.name).rename(s.backup_dir / ".gone")  # removed here: the share keeps it
    History(s.history_path).record("restore", "ok", f"{local_only.name}: db, parquet restored into scratch and "
                                   "matched its manifest", step="drill")
    listed = run_task(tmp_path, values, "backups", "--json")
    assert listed.returncode == 0, listed.stderr
    answer = json.loads(listed.stdout)
    assert answer["schema"] == "pysystemtrade-ecosystem/backups/1" and answer["share"] == "read"
    by_name = {entry["name"]: entry for entry in answer["sets"]}
    assert by_name[sent.name]["where"] == "share" and by_name[sent.name]["size_bytes"] == 3000
    assert by_name[local_only.name]["where"] == "here" and by_name[local_only.name]["kind"] == "online"
    assert by_name[local_only.name]["last_drilled"] and by_name[sent.name]["last_drilled"] is None
    shown = run_task(tmp_path, values, "backups").stdout
    assert sent.name in shown and "share" in shown and "today" in shown
    unreachable = run_task(tmp_path, values | {"SMB_PORT": "1"}, "backups", "--json")
    assert unreachable.returncode == 0
    answer = json.loads(unreachable.stdout)
    assert answer["share"].startswith("unreachable") and [e["where"] for e in answer["sets"]] == ["here"]


def _plaintext_windows(folder: Path, every: int = 1 << 16, width: int = 48) -> list[bytes]:
    """Slices of every file of a local set, taken across each file: any of them on the share would be plaintext."""
    windows = []
    for path in folder.iterdir():
        data = path.read_bytes()
        windows += [data[at:at + width] for at in range(0, max(len(data) - width, 1), every)]
    return [w for w in windows if len(w) == width or w]


def test_the_share_holds_only_ciphertext_and_a_fetch_brings_the_set_back_verified(tmp_path, samba):
    values, s = settings_for(tmp_path, samba)
    manifest = make_set(s.backup_dir, NOW, {"db.archive.gz": 2 << 20, "parquet.tar.gz": 5 << 20})
    local = s.backup_dir / manifest.name
    assert run_task(tmp_path, values, "offload").returncode == 0
    on_share = b"".join(p.read_bytes() for p in (samba.share_path / s.smb_folder / manifest.name).iterdir())
    assert not [w for w in _plaintext_windows(local) if w in on_share], "no plaintext byte of the set on the share"
    assert manifest.name.encode() not in on_share, "not even the manifest's words"
    key = backup_key.load_for(s)
    assert str(key.identity).encode() not in on_share and key.public.encode() not in on_share, "nor the key"
    with smb.session(smb.ShareAddress.from_settings(s)) as share:
        folder, fetched = offloading.fetch_set(share, manifest.name, s.backup_dir, key, say=lambda _: None)
    assert folder.name == f".fetched-{manifest.name}" and fetched.files == manifest.files
    assert {p.name: sha256_file(p)[1] for p in folder.iterdir() if p.name != "manifest.json"} == \
        {n: f["sha256"] for n, f in manifest.files.items()}


def test_a_wrong_or_missing_key_and_a_damaged_file_on_the_share_are_clear_errors(tmp_path, samba):
    values, s = settings_for(tmp_path, samba)
    manifest = make_set(s.backup_dir, NOW, {"db.archive.gz": 1 << 20})
    assert run_task(tmp_path, values, "offload").returncode == 0
    other = tmp_path / "other-key.txt"
    backup_key.ensure(other)
    wrong = run_task(tmp_path, values | {"BACKUP_KEY_FILE": str(other)}, "offload")
    assert wrong.returncode != 0 and "encrypted to another backup key" in wrong.stderr, wrong.stderr
    assert "BACKUP_KEY_FILE" in wrong.stderr and "Traceback" not in wrong.stderr
    assert (samba.share_path / s.smb_folder / manifest.name).is_dir(), "nothing on the share was touched"
    missing = run_task(tmp_path, values | {"BACKUP_KEY_FILE": str(tmp_path / "none.txt")}, "offload")
    assert missing.returncode != 0 and "there is no backup key" in missing.stderr and "invoke setup" in missing.stderr
    damaged = samba.share_path / s.smb_folder / manifest.name / "db.archive.gz.age"
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0x01
    damaged.write_bytes(bytes(data))
    with smb.session(smb.ShareAddress.from_settings(s)) as share, \
            pytest.raises(backup_key.BackupKeyError, match="does not decrypt whole"):
        offloading.fetch_set(share, manifest.name, s.backup_dir, backup_key.load_for(s), say=lambda _: None)
    assert not list(s.backup_dir.glob(".fetched-*")), "a failed fetch leaves nothing behind"


def test_a_set_sent_before_encryption_is_replaced_by_its_encrypted_copy(tmp_path, samba):
    _values, s = settings_for(tmp_path, samba)
    manifest = make_set(s.backup_dir, NOW, {"db.archive.gz": 100_000})
    plain = samba.share_path / s.smb_folder / manifest.name
    plain.mkdir(parents=True)
    for path in (s.backup_dir / manifest.name).iterdir():  # as an offload before encryption left it
        (plain / path.name).write_bytes(path.read_bytes())
    owner = samba.share_path.stat()
    for path in (plain.parent, plain, *plain.iterdir()):  # the share's user owns what it wrote
        os.chown(path, owner.st_uid, owner.st_gid)
    said: list[str] = []
    result = offloading.offload(s, say=said.append)
    assert result.sent == [manifest.name] and any("sent before encryption" in line for line in said)
    assert set(share_files(samba, s, manifest.name)) == {"db.archive.gz", "manifest.json"}
    assert not [p for p in plain.parent.iterdir() if p.name.startswith(".")], "no partial or replaced folder left"


def _read_back_children() -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if b"ecosystem.read_back" in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_the_read_back_process_killed_mid_upload_is_a_clear_failure_and_nothing_counts_as_offloaded(tmp_path, samba):
    import signal

    _values, s = settings_for(tmp_path, samba)
    manifest = make_set(s.backup_dir, NOW, {"parquet.tar.gz": 400 << 20})
    before = set(_read_back_children())
    worker, failure = _offload_until_a_partial_grows(s, samba.share_path / s.smb_folder / f".partial-{manifest.name}"
                                                     / "parquet.tar.gz.age")
    children = [pid for pid in _read_back_children() if pid not in before]
    assert children, "offload reads back in a process of its own"
    for pid in children:
        os.kill(pid, signal.SIGKILL)
    worker.join(timeout=300)
    assert failure and isinstance(failure[0], SmbError) and "read-back verification" in failure[0].message
    assert not (samba.share_path / s.smb_folder / manifest.name).exists(), "nothing under the final name"
    assert offloading.Ledger(s.state_dir).read() == {}
    assert offloading.offload(s, say=lambda _: None).sent == [manifest.name], "the next run sends it whole"


def test_a_full_local_disk_during_a_fetch_is_said_as_a_full_disk_not_as_the_share(tmp_path, samba):
    import errno

    _values, s = settings_for(tmp_path, samba)
    manifest = make_set(s.backup_dir, NOW, {"db.archive.gz": 3 << 20})
    assert offloading.offload(s, say=lambda _: None).sent == [manifest.name]
    with small_disk(tmp_path / "small", "1m") as small:
        with smb.session(smb.ShareAddress.from_settings(s)) as share, pytest.raises(OSError) as caught:
            offloading.fetch_set(share, manifest.name, small, backup_key.load_for(s), say=lambda _: None)
        assert caught.value.errno == errno.ENOSPC, caught.value
        assert errors.known(caught.value).message.startswith("the disk is full"), "said as this disk, with its fix"
        assert list(small.iterdir()) == [], "the failed fetch leaves nothing behind"
