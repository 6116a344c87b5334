"""Backups and restores on the real engine and real volumes, with the stand-in MongoDB (its contract:
standins/README.md) and stand-in pysystemtrade processes.

Data is written into the stack's own volumes (the Parquet store through pysys_runtime, the
database into the stand-in MongoDB's data directory), backed up, changed, restored and
compared file by file and record by record.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import docker
import pytest

from ecosystem import backup_sets, process_runs, volumes
from ecosystem.history import History
from tests.support.ecosystem import build_and_start, make_ecosystem, noon_zone, tear_down, write_private

STORE_FILES = ("./standin_process_control.json", "./standin_process_control.lock")  # process control (stand-in)


@pytest.fixture(scope="module")
def bk(docker_client, debian_python, tmp_path_factory):
    made = make_ecosystem(docker_client, tmp_path_factory.mktemp("bk"), debian_python, extra={
        "TIMEZONE": noon_zone(), "WORKFLOW_WEEKDAY_START": "1", "WORKFLOW_WEEKDAY_END": "7",
        "BACKUP_WAIT_MINUTES": "0", "MONGO_ROOT_USER": "admin", "MONGO_ROOT_PASSWORD": "sentinel-MONGO-pw-5150"})
    try:
        build_and_start(made, {"standin_behaviour": "seconds=0.5\n"})
        yield made
    finally:
        tear_down(docker_client, made)


def container(bk, docker_client, service):
    return docker_client.containers.get(f"{service}{bk.test_stack.suffix}")


def run_in(bk, docker_client, service, code, user=None):
    result = container(bk, docker_client, service).exec_run(["python3", "-c", code], user=user or "")
    assert result.exit_code == 0, result.output.decode()
    return result.output.decode()


SEED_DB = """
import json, pathlib
root = pathlib.Path('/data/db/standin-data')
for db, coll, n in (('production', 'orders', 40), ('production', 'process_control', 3), ('meta', 'rolls', 7)):
    (root / db).mkdir(parents=True, exist_ok=True)
    (root / db / (coll + '.jsonl')).write_text(''.join(json.dumps({'i': i, 'c': coll}) + '\\n' for i in range(n)))
"""
READ_DB = """
import json, pathlib
root = pathlib.Path('/data/db/standin-data')
print(json.dumps({str(p.relative_to(root)): p.read_text() for p in sorted(root.glob('*/*.jsonl'))}))
"""
SEED_PARQUET = """
import os, pathlib
root = pathlib.Path('/data/parquet')
for folder in ('futures_prices', 'fx', 'capital'):
    (root / folder).mkdir(parents=True, exist_ok=True)
    for i in range(4):
        (root / folder / f'{folder}_{i}.parquet').write_bytes(os.urandom(20000 + i))
link = root / 'fx' / 'latest'
if not link.exists():
    link.symlink_to('fx_0.parquet')
"""
READ_PARQUET = """
import hashlib, json, os, pathlib
root = pathlib.Path('/data/parquet')
seen = {}
for path in sorted(root.rglob('*')):
    name = './' + str(path.relative_to(root))
    if name.startswith('./standin_process_control'):
        continue
    stat = os.lstat(path)
    content = os.readlink(path) if path.is_symlink() else (hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else 'dir')
    seen[name] = [content, oct(stat.st_mode), stat.st_uid]
print(json.dumps(seen))
"""  # noqa: E501 - the script is run as it is written: its one long line stays


def db_state(bk, docker_client):
    return json.loads(run_in(bk, docker_client, "mongo_db", READ_DB))


def parquet_state(bk, docker_client):
    return json.loads(run_in(bk, docker_client, "pysys_runtime", READ_PARQUET))


def store(bk, docker_client):
    return json.loads(container(bk, docker_client, "pysys_runtime").exec_run(
        ["cat", "/data/parquet/standin_process_control.json"]).output)


def sets(bk):
    return backup_sets.sets(bk.settings.backup_dir)


def test_round_trip_restores_files_byte_for_byte_and_records_record_for_record(bk, docker_client):
    run_in(bk, docker_client, "mongo_db", SEED_DB, user="999")
    run_in(bk, docker_client, "pysys_runtime", SEED_PARQUET)
    bk.run("weekly.sync")  # some process records exist
    bk.run("stop", "--all")
    db_before, parquet_before = db_state(bk, docker_client), parquet_state(bk, docker_client)
    result = bk.run("backup")
    name = [n for n, _ in sets(bk)][-1]
    manifest = backup_sets.Manifest.read(bk.settings.backup_dir / name)
    assert manifest.status == "good" and manifest.counts["db"] == {"meta.rolls": 7, "production.orders": 40,
                                                                   "production.process_control": 3}
    assert manifest.counts["parquet"]["files"] >= 12 and "written and checksummed" in result.stdout
    assert backup_sets.verify(bk.settings.backup_dir / name, manifest) == []
    assert "sentinel-MONGO-pw" not in "".join(bk.output), "the password reaches no output"

    run_in(bk, docker_client, "mongo_db",
           "import pathlib; p = pathlib.Path('/data/db/standin-data/production/orders.jsonl');"
           "p.write_text('{\"i\": -1}\\n'); pathlib.Path('/data/db/standin-data/meta/rolls.jsonl').unlink()",
           user="999")
    run_in(bk, docker_client, "pysys_runtime", "import pathlib; r = pathlib.Path('/data/parquet');"
           "(r / 'fx' / 'fx_1.parquet').write_bytes(b'changed'); (r / 'new.parquet').write_bytes(b'new')")
    assert parquet_state(bk, docker_client) != parquet_before
    startups = store(bk, docker_client).get("startups", 0)

    restored = bk.run("restore", f"--from={name}", "--yes")
    assert "checklist" in restored.stdout and "invoke resume" in restored.stdout
    assert db_state(bk, docker_client) == db_before
    assert parquet_state(bk, docker_client) == parquet_before
    after = store(bk, docker_client)
    assert after["startups"] == startups + 1, "startup ran after the restore"
    assert all(not r["currently_running"] for r in after["processes"].values())
    assert after["processes"]["run_stack_handler"]["status"] == "NO-RUN"
    safety = [n for n, m in sets(bk) if n.endswith("-pre-restore")]
    assert safety, "a safety backup of the state before the restore"
    bk.run("resume")
    assert store(bk, docker_client)["processes"]["run_stack_handler"]["status"] == "GO"


def fingerprints(bk):
    image = volumes.helper_image(bk.settings)
    return {key: volumes.fingerprint(image, volumes.volume_name(bk.settings, key))
            for key in ("parquet", "mongo_data", "mongo_config", "notebooks")}


def test_a_restore_drill_changes_no_production_container_or_volume(bk, docker_client):
    if not sets(bk):
        bk.run("backup")
    containers_before = {c.name: c.attrs["State"]["StartedAt"] for c in docker_client.containers.list(
        filters={"label": bk.test_stack.label})}
    before = fingerprints(bk)
    result = bk.run("restore", "--from=latest", "--verify")
    assert "drill passed" in result.stdout
    assert fingerprints(bk) == before
    assert {c.name: c.attrs["State"]["StartedAt"] for c in docker_client.containers.list(
        filters={"label": bk.test_stack.label})} == containers_before
    assert not [c.name for c in docker_client.containers.list(ignore_removed=True, all=True) if "pst-drill" in c.name]
    assert not [v.name for v in docker_client.volumes.list() if "pst-drill" in v.name]


def test_a_restore_dry_run_checks_the_set_says_each_step_and_changes_nothing(bk, docker_client):
    if not sets(bk):
        bk.run("backup")
    before, sets_before, lines_before = fingerprints(bk), sets(bk), bk.settings.history_path.read_text()
    planned = bk.run("restore", "--from=latest", "--dry-run").stdout
    assert "manifest and every checksum verified" in planned
    steps = [line for line in planned.splitlines() if line.startswith("would ")]
    assert [s.split()[1] for s in steps] == ["ask", "hold", "take", "restore", "run", "leave"], planned
    assert "safety backup" in steps[2] and "db, parquet" in steps[3]
    drill = bk.run("restore", "--from=latest", "--verify", "--dry-run").stdout
    assert "would drill db, parquet" in drill and "would take" not in drill
    assert fingerprints(bk) == before and sets(bk) == sets_before
    assert bk.settings.history_path.read_text() == lines_before, "a dry run records nothing"


def test_a_corrupt_or_hostile_set_is_refused_and_production_is_untouched(bk, docker_client, tmp_path):
    import shutil
    import tarfile

    if not sets(bk):
        bk.run("backup")
    good = bk.settings.backup_dir / [n for n, m in sets(bk) if m and m.status == "good"][-1]
    archive_name = volumes.archive_file("parquet", backup_sets.Manifest.read(good).files)
    assert archive_name == "parquet.tar.zst", "the pysystemtrade image has zstd: new sets use it"
    flipped = bk.settings.backup_dir / "pst-20200101T000000Z"
    shutil.copytree(good, flipped)
    data = bytearray((flipped / archive_name).read_bytes())
    data[100] ^= 0x01
    (flipped / archive_name).write_bytes(bytes(data))
    hostile = bk.settings.backup_dir / "pst-20200101T000001Z"
    shutil.copytree(good, hostile)
    evil = tmp_path / "evil"
    evil.write_text("owned")
    (hostile / archive_name).unlink()
    with tarfile.open(hostile / "parquet.tar.gz", "w:gz") as archive:  # as a set made before zstd names it
        archive.add(evil, arcname="../../../tmp/evil")
    manifest = backup_sets.Manifest.read(hostile)
    from ecosystem.archives import sha256_file
    manifest.files.pop(archive_name)
    manifest.files["parquet.tar.gz"] = dict(zip(("size", "sha256"), sha256_file(hostile / "parquet.tar.gz"),
                                                strict=True))
    manifest.write(hostile)
    before = fingerprints(bk)
    try:
        refused = bk.run("restore", f"--from={flipped.name}", "--yes", check=False)
        assert refused.returncode == 1 and "SHA-256" in refused.stderr
        refused = bk.run("restore", f"--from={hostile.name}", "--yes", check=False)
        assert refused.returncode == 1 and "climbs out" in refused.stderr and "nothing was changed" in refused.stderr
        unknown = bk.run("restore", "--from=pst-20991231T000000Z", "--yes", check=False)
        assert unknown.returncode == 1 and good.name in unknown.stderr
        assert fingerprints(bk) == before
    finally:
        shutil.rmtree(flipped)
        shutil.rmtree(hostile)


def test_a_set_made_before_zstd_gzip_archives_still_drills_and_restores(bk, docker_client):
    """Sets taken before the images had zstd hold LABEL.tar.gz: the restore reads them as before."""
    import shutil
    import subprocess

    from ecosystem.archives import sha256_file

    if not sets(bk):
        bk.run("backup")
    good = bk.settings.backup_dir / [n for n, m in sets(bk) if m and m.status == "good" and m.how == "online"][-1]
    old = bk.settings.backup_dir / "pst-20200102T000000Z"
    shutil.copytree(good, old)
    manifest = backup_sets.Manifest.read(old)
    zst = old / "parquet.tar.zst"
    with open(old / "parquet.tar.gz", "wb") as out:
        subprocess.run(f"zstd -d -q -c {zst} | gzip -3", shell=True, check=True, stdout=out, timeout=300)
    zst.unlink()
    manifest.files.pop("parquet.tar.zst")
    manifest.files["parquet.tar.gz"] = dict(zip(("size", "sha256"), sha256_file(old / "parquet.tar.gz"), strict=True))
    manifest.write(old)
    try:
        drilled = bk.run("restore", f"--from={old.name}", "--verify")
        assert "drill passed" in drilled.stdout
    finally:
        shutil.rmtree(old)


def mongo_state(bk, docker_client):
    return docker_client.api.inspect_container(f"mongo_db{bk.test_stack.suffix}")["State"]


def test_a_cold_backup_leaves_the_stack_running_and_its_set_drills(bk, docker_client):
    result = bk.run("backup", "--cold")
    assert mongo_state(bk, docker_client)["Status"] == "running"
    name = [n for n, _ in sets(bk)][-1]
    manifest = backup_sets.Manifest.read(bk.settings.backup_dir / name)
    assert manifest.how == "cold" and "mongo_data.tar.zst" in manifest.files and manifest.counts["db"]
    assert "written" in result.stdout
    assert "drill passed" in bk.run("restore", f"--from={name}", "--verify").stdout
    assert not backup_sets_marker(bk).exists()


def backup_sets_marker(bk) -> Path:
    return bk.settings.state_dir / "stopped-by-backup.json"


def _helpers(docker_client):
    listed = docker_client.containers.list(ignore_removed=True,
                                           filters={"label": "org.pysystemtrade-ecosystem.role=control"})
    return [c for c in listed if c.attrs["HostConfig"]["NetworkMode"] == "none" and "pst-drill" not in c.name]


def _make_notebooks_slow_to_archive(bk, docker_client):
    docker_client.containers.run(volumes.helper_image(bk.settings),
                                 ["bash", "-c", "head -c 200M /dev/urandom > /v/big"],
                                 user="0", volumes={volumes.volume_name(bk.settings, "notebooks"): {"bind": "/v"}},
                                 remove=True, network_mode="none")


def _kill_helpers_until_it_ends(backup, docker_client):
    from docker.errors import APIError

    while backup.poll() is None:
        for helper in _helpers(docker_client):
            try:
                helper.kill()
            except APIError:
                pass  # it ended meanwhile
        time.sleep(0.1)


def _start_cold_backup_and_wait_for_its_helper(bk, docker_client):
    _make_notebooks_slow_to_archive(bk, docker_client)
    backup = bk.start("backup", "--cold", "--what=db,parquet,volumes")
    for _ in range(600):
        helpers = _helpers(docker_client)
        if helpers and mongo_state(bk, docker_client)["Status"] != "running":
            return backup, helpers
        if backup.poll() is not None:
            raise AssertionError("the backup ended before its archive step: " + backup.communicate()[0])
        time.sleep(0.05)
    raise AssertionError("no archive helper seen")


def test_a_cold_backup_whose_archive_step_fails_still_starts_mongodb_again(bk, docker_client):
    count = len(sets(bk))
    backup, _ = _start_cold_backup_and_wait_for_its_helper(bk, docker_client)
    _kill_helpers_until_it_ends(backup, docker_client)
    output, _ = backup.communicate(timeout=300)
    assert backup.returncode != 0, output
    assert mongo_state(bk, docker_client)["Status"] == "running", "started again in the finally"
    assert len(sets(bk)) == count, "no set from a failed backup"
    assert not list(bk.settings.backup_dir.glob(".partial-*")), "its partial folder is removed"
    assert not backup_sets_marker(bk).exists()


def test_after_sigkill_of_a_cold_backup_nothing_counts_as_good_and_weekly_sync_brings_mongodb_back(bk, docker_client):
    good_before = [m.name for m in backup_sets.good_sets(bk.settings.backup_dir)]
    backup, helpers = _start_cold_backup_and_wait_for_its_helper(bk, docker_client)
    os.kill(backup.pid, signal.SIGKILL)
    backup.wait()
    from docker.errors import APIError

    for helper in helpers:
        try:
            helper.kill()
        except APIError:
            pass  # it ended meanwhile
    assert mongo_state(bk, docker_client)["Status"] != "running"
    assert backup_sets_marker(bk).exists(), "what it stopped was written down before it stopped anything"
    assert [m.name for m in backup_sets.good_sets(bk.settings.backup_dir)] == good_before
    assert backup_sets.resolve(bk.settings.backup_dir, "latest").name == good_before[-1]
    out = bk.run("weekly.sync").stdout
    assert "started again after a cold backup" in out
    assert mongo_state(bk, docker_client)["Status"] == "running"
    assert not backup_sets_marker(bk).exists()
    bk.run("backup")  # the next backup removes the partial folder once it is stale; a new set is good
    assert len(backup_sets.good_sets(bk.settings.backup_dir)) == len(good_before) + 1


def test_a_backup_does_not_run_while_a_process_runs_unless_forced_and_then_relaunches_it(bk, docker_client):
    from ecosystem import stack

    write_private(bk, "standin_behaviour", "seconds=0.5\nrun_stack_handler=hang\n")
    try:
        stack.compose(bk.settings).run_detached("stack_handler", process_runs.command("run_stack_handler"),
                                                name=f"sh_by_hand{bk.test_stack.suffix}")
        refused = bk.run("backup", check=False)
        assert refused.returncode == 1 and "still running" in refused.stderr and "--force" in refused.stderr
        forced = bk.run("backup", "--force").stdout
        assert "ended by STOP" in forced and "launched run_stack_handler" in forced
        running = [c for c in docker_client.containers.list(ignore_removed=True, filters={"label": bk.test_stack.label})
                   if c.labels.get("org.pysystemtrade-ecosystem.process") == "run_stack_handler"]
        assert len(running) == 1
    finally:
        bk.run("stop", "--all")
        write_private(bk, "standin_behaviour", "seconds=0.5\n")
        for leftover in docker_client.containers.list(ignore_removed=True, all=True, filters={"name": "sh_by_hand"}):
            leftover.remove(force=True)


def test_a_csv_set_holds_pysystemtraders_own_csv_export_archived(bk, docker_client):
    import tarfile

    bk.run("backup", "--what=csv")
    name = [n for n, _ in sets(bk)][-1]
    manifest = backup_sets.Manifest.read(bk.settings.backup_dir / name)
    assert manifest.what == ["csv"] and manifest.counts["csv"]["files"] >= 2
    with tarfile.open(bk.settings.backup_dir / name / "csv.tar.gz") as archive:
        names = archive.getnames()
    assert "./STANDIN_EXPORT.txt" in names and any(n.endswith("run_stack_handler.csv") for n in names)
    refused = bk.run("restore", f"--from={name}", "--what=csv", "--yes", check=False)
    assert refused.returncode == 1 and "export" in refused.stderr


def test_sigkill_of_a_backup_at_random_points_never_leaves_a_set_that_counts_as_good_and_is_not(bk, docker_client):
    import random

    from ecosystem import restore as restoring

    _make_notebooks_slow_to_archive(bk, docker_client)
    seed = random.randrange(1 << 30)
    delays = [random.Random(seed + i).uniform(0.0, 8.0) for i in range(5)]
    for delay in delays:
        backup = bk.start("backup", "--what=db,parquet,volumes")
        time.sleep(delay)
        os.kill(backup.pid, signal.SIGKILL)
        backup.wait()
        from docker.errors import NotFound

        for helper in _helpers(docker_client):  # its helper may outlive it: it only writes into .partial-
            try:
                helper.wait(timeout=120)
            except NotFound:
                pass  # it ended (and was removed) meanwhile
        for name, manifest in sets(bk):
            assert manifest is not None, f"{name} looks like a set but has no manifest (seed {seed}, {delay:.2f}s)"
            if manifest.status == "good":  # complete and intact, every file as its manifest says
                assert backup_sets.verify(bk.settings.backup_dir / name, manifest) == [], (seed, delay)
    latest = backup_sets.resolve(bk.settings.backup_dir, "latest", needs=("db", "parquet"))
    restoring.check_set(latest)


def test_a_restore_with_mongodb_down_refuses_before_touching_any_volume(bk, docker_client):
    before = fingerprints(bk)
    mongo_db = container(bk, docker_client, "mongo_db")
    mongo_db.stop(timeout=60)
    try:
        refused = bk.run("restore", "--from=latest", "--yes", check=False)
        assert refused.returncode == 1 and "mongo" in refused.stderr.lower()
        assert not (bk.settings.state_dir / "restore-in-progress.json").exists(), "nothing was started"
    finally:
        mongo_db.start()
        for _ in range(120):
            if mongo_state(bk, docker_client).get("Health", {}).get("Status") == "healthy":
                break
            time.sleep(0.5)
    assert fingerprints(bk) == before


def production(bk, docker_client) -> tuple[dict, dict, dict]:
    """What a restore must leave wholly old or wholly new: the database's records, the Parquet
    store file by file (but the stand-in's process-control store, which the restore itself sets
    NO-RUN in), and the fingerprint of every other volume but MongoDB's own files."""
    return db_state(bk, docker_client), parquet_state(bk, docker_client), \
        {k: v for k, v in fingerprints(bk).items() if k not in (*volumes.MONGO_VOLUMES, "parquet")}


BULK_PARQUET = """
import os, pathlib
root = pathlib.Path('/data/parquet/bulk')
root.mkdir(parents=True, exist_ok=True)
for i in range(48):
    (root / f'prices_{i}.parquet').write_bytes(os.urandom(4 * 1024 * 1024))
"""


def _two_states(bk, docker_client, *, cold: bool = False) -> tuple[str, tuple, tuple]:
    """A good set (``cold``: a cold one) holding state A, production changed to state B: (the set,
    A, B). The Parquet store holds 192 MB, so that a switch's copy takes long enough to be stopped
    in the middle."""
    run_in(bk, docker_client, "mongo_db", SEED_DB, user="999")
    run_in(bk, docker_client, "pysys_runtime", SEED_PARQUET)
    run_in(bk, docker_client, "pysys_runtime", BULK_PARQUET)
    bk.run("stop", "--all", check=False)
    bk.run("backup", *(["--cold"] if cold else []))
    name = [n for n, m in sets(bk) if m and m.status == "good" and not n.endswith("-pre-restore")][-1]
    assert backup_sets.Manifest.read(bk.settings.backup_dir / name).how == ("cold" if cold else "online")
    state_a = production(bk, docker_client)
    run_in(bk, docker_client, "mongo_db", "import pathlib; p = pathlib.Path('/data/db/standin-data/production');"
           "(p / 'orders.jsonl').write_text('{\"i\": -1}\\n'); (p / 'extra.jsonl').write_text('{\"x\": 1}\\n')",
           user="999")
    run_in(bk, docker_client, "pysys_runtime", "import os, pathlib; r = pathlib.Path('/data/parquet');"
           "(r / 'fx' / 'fx_1.parquet').write_bytes(os.urandom(3000)); (r / 'only_in_b.parquet').write_bytes(b'b')")
    state_b = production(bk, docker_client)
    assert state_b[0] != state_a[0] and state_b[1] != state_a[1]
    return name, state_a, state_b


def _marker(bk) -> dict:
    path = bk.settings.state_dir / "restore-in-progress.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _kill_first_helper_writing(docker_client, volume: str, stop: list) -> list[str]:
    """Kill the first helper container that mounts ``volume`` writable (a restore's switch copying
    into it): the helper killed mid-switch. Return the names killed."""
    killed: list[str] = []
    since = int(time.time())

    def watch():
        for event in docker_client.events(since=since, decode=True, filters={"event": "start", "type": "container"}):
            if stop:
                return
            try:
                found = docker_client.containers.get(event["id"])
            except Exception:  # noqa: BLE001 - gone already: not the one
                continue
            writes = [m for m in found.attrs.get("Mounts", []) if m.get("Name") == volume and m.get("RW")]
            if writes and found.labels.get("org.pysystemtrade-ecosystem.role") == "control":
                found.kill()
                killed.append(" ".join(found.attrs["Config"]["Cmd"] or []))
                return

    import threading

    threading.Thread(target=watch, daemon=True).start()
    return killed


def _restore_killing_the_first_helper_writing(bk, docker_client, name: str, key: str):
    """Restore the set ``name`` while the first helper writing production's volume ``key`` is killed
    (the switch's copy into it); return the restore's result and what was killed."""
    stop: list = []
    killed = _kill_first_helper_writing(docker_client, volumes.volume_name(bk.settings, key), stop)
    try:
        return bk.run("restore", f"--from={name}", "--yes", check=False), killed
    finally:
        stop.append(True)


def test_a_set_that_does_not_restore_as_written_is_refused_in_scratch_with_production_untouched(bk, docker_client):
    name, _, state_b = _two_states(bk, docker_client)
    folder = bk.settings.backup_dir / name
    copy = bk.settings.backup_dir / f"{name}-2"  # a set of its own
    import shutil

    shutil.copytree(folder, copy)
    manifest = backup_sets.Manifest.read(copy)
    manifest.name = copy.name
    manifest.counts["db"]["production.orders"] += 1  # the files still match their checksums
    manifest.write(copy)
    refused = bk.run("restore", f"--from={copy.name}", "--yes", check=False)
    assert refused.returncode == 1 and "does not restore as written" in refused.stderr, refused.stderr
    assert "production is untouched" in refused.stderr
    assert production(bk, docker_client) == state_b
    assert _marker(bk) == {}
    shutil.rmtree(copy)


def test_a_switch_whose_helper_is_killed_rolls_back_to_the_safety_backup_by_itself(bk, docker_client):
    name, _, state_b = _two_states(bk, docker_client)
    failed, killed = _restore_killing_the_first_helper_writing(bk, docker_client, name, "parquet")
    assert killed and "no-overwrite-dir" in killed[0], f"the switch's helper was killed: {killed}"
    assert failed.returncode == 1 and "rolled back to the safety backup" in failed.stderr, failed.stderr
    assert production(bk, docker_client) == state_b, "wholly as before"
    assert _marker(bk) == {}
    runs = [r for r in History(bk.settings.history_path).runs(job="restore") if r.step == "rollback"]
    assert runs and runs[-1].outcome == "ok" and "checked against its manifest" in runs[-1].detail


def test_a_cold_sets_switch_whose_mongodb_volume_copy_is_killed_rolls_back_by_itself(bk, docker_client):
    """A cold set's switch stops MongoDB and copies its volumes: the helper copying into production's
    MongoDB data volume is killed in the middle of its largest file. MongoDB will not start on what
    was left (the stand-in, as mongod, refuses a data file shorter than its metadata says), so the
    rollback empties its volumes, starts it afresh and restores the safety backup: production
    wholly as before, MongoDB running."""
    # MongoDB's own files are large: the copy takes long enough to be stopped in the middle
    run_in(bk, docker_client, "mongo_db",
           "import os; open('/data/db/standin-bulk.wt', 'wb').write(os.urandom(160 << 20))", user="999")
    name, _, state_b = _two_states(bk, docker_client, cold=True)
    failed, killed = _restore_killing_the_first_helper_writing(bk, docker_client, name, "mongo_data")
    assert killed, "the switch's copy into MongoDB's data volume was killed"
    assert failed.returncode == 1 and "rolled back to the safety backup" in failed.stderr, failed.stderr
    assert "MongoDB does not start on what the switch left: emptied, started afresh" in failed.stdout, failed.stdout
    assert mongo_state(bk, docker_client)["Status"] == "running"
    assert production(bk, docker_client) == state_b, "wholly as before"
    assert _marker(bk) == {}
    runs = [r for r in History(bk.settings.history_path).runs(job="restore") if r.step == "rollback"]
    assert runs and runs[-1].outcome == "ok"


def test_a_restore_killed_while_switching_is_rolled_back_then_finished_by_the_next_one(bk, docker_client):
    name, state_a, _ = _two_states(bk, docker_client)
    started = bk.start("restore", f"--from={name}", "--yes")
    try:
        for _ in range(1200):
            if _marker(bk).get("phase") == "switching":
                break
            time.sleep(0.05)
        assert _marker(bk).get("phase") == "switching", "the restore reached its switch"
        time.sleep(0.3)  # somewhere inside the switch
        started.send_signal(signal.SIGKILL)
        started.wait(timeout=60)
    finally:
        if started.poll() is None:
            started.kill()
    for helper in docker_client.containers.list(filters={"label": "org.pysystemtrade-ecosystem.role=control"}):
        if not helper.name.startswith("pst-drill-"):  # the scratch MongoDB runs on until the next restore
            helper.wait(timeout=300)  # a helper outlives the task it served: let it end as it would
    held = bk.run("resume", check=False)
    assert held.returncode == 1 and "may be mixed" in held.stderr, "nothing resumes a mixed production"
    finished = bk.run("restore", f"--from={name}", "--yes")
    assert "rolling back first" in finished.stdout and "checked: production is as it was before" in finished.stdout
    assert production(bk, docker_client)[:2] == state_a[:2], "wholly as the set"
    assert _marker(bk) == {}
    assert not [c.name for c in docker_client.containers.list(all=True) if c.name.startswith("pst-drill-")
                and c.name.endswith(bk.test_stack.suffix)], "the killed restore's scratch was removed"


def test_an_engine_lost_mid_switch_is_rolled_back_and_finished_by_the_next_restore(bk, docker_client, tmp_path):
    from tests.support.engine_proxy import EngineProxy

    name, state_a, _ = _two_states(bk, docker_client)
    proxy = EngineProxy(tmp_path)
    started = bk.start("restore", f"--from={name}", "--yes", environ={"DOCKER_HOST": proxy.url},
                       stderr=subprocess.PIPE)
    try:
        for _ in range(3600):
            if _marker(bk).get("phase") == "switching" or started.poll() is not None:
                break
            time.sleep(0.05)
        assert _marker(bk).get("phase") == "switching", f"the restore reached its switch: {started.communicate()}"
        time.sleep(0.3)
        proxy.cut()
        _out, err = started.communicate(timeout=600)
    finally:
        if started.poll() is None:
            started.kill()
    assert started.returncode == 3, err  # the engine's exit code, though the rollback failed too
    assert "the rollback failed too" in err and "rolls back first" in err
    assert _marker(bk).get("phase") == "switching", "what the next run needs to roll back"
    finished = bk.run("restore", f"--from={name}", "--yes")
    assert "rolling back first" in finished.stdout and "checked: production is as it was before" in finished.stdout
    assert production(bk, docker_client)[:2] == state_a[:2], "wholly as the set"
    assert _marker(bk) == {}
    suffix = bk.test_stack.suffix
    assert not [v.name for v in docker_client.volumes.list() if v.name.startswith("pst-drill-") and suffix in v.name], \
        "the scratch the cut restore could not remove is gone (its helpers too)"


@contextlib.contextmanager
def _small_parquet_volume(bk, docker_client, megabytes: int):
    """For the block, production's Parquet volume is a loop-mounted ext4 of ``megabytes`` (a disk that
    can fill), with compose's own labels (it then takes it as its own); after, an ordinary volume
    again, and the loop device detached whatever happened. Nothing may run meanwhile: the stack is
    taken down and brought up again."""
    name = volumes.volume_name(bk.settings, "parquet")
    labels = docker_client.volumes.get(name).attrs["Labels"]
    image = bk.settings.state_dir.parent / f"small-parquet-{megabytes}m.img"
    bk.run("down")
    docker_client.volumes.get(name).remove()
    subprocess.run(["truncate", "-s", f"{megabytes}M", str(image)], check=True)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True)
    device = subprocess.run(["losetup", "-f", "--show", str(image)], check=True, capture_output=True,
                            text=True).stdout.strip()
    try:
        docker_client.volumes.create(name, driver="local", driver_opts={"type": "ext4", "device": device},
                                     labels=labels)
        uid = bk.settings.container_uid  # a new file system's root is root's, and holds lost+found
        docker_client.containers.run(volumes.helper_image(bk.settings), ["sh", "-c", f"rm -rf /v/lost+found && "
                                     f"chown {uid}:{uid} /v"], entrypoint=[], user="0", remove=True,
                                     volumes={name: {"bind": "/v", "mode": "rw"}}, network_mode="none")
        bk.run("up")
        yield
    finally:
        bk.run("down", check=False)
        try:
            docker_client.volumes.get(name).remove()
        except docker.errors.NotFound:
            pass
        finally:
            subprocess.run(["losetup", "-d", device], check=False)
            image.unlink(missing_ok=True)
        bk.run("up")


def test_a_disk_that_fills_in_the_middle_of_the_switch_rolls_back_to_the_safety_backup(bk, docker_client):
    """The set is larger than production's disk: the switch's copy fills it (ENOSPC) in the middle.
    The rollback puts back the smaller state it replaced, which fits: production wholly as before."""
    if not shutil.which("losetup") or not shutil.which("mkfs.ext4"):
        pytest.skip("losetup and mkfs.ext4 are needed for a disk that can fill")
    run_in(bk, docker_client, "mongo_db", SEED_DB, user="999")
    run_in(bk, docker_client, "pysys_runtime", SEED_PARQUET)
    run_in(bk, docker_client, "pysys_runtime", BULK_PARQUET)  # the set: 192 MB of Parquet
    bk.run("stop", "--all", check=False)
    bk.run("backup")
    name = [n for n, m in sets(bk) if m and m.status == "good" and not n.endswith("-pre-restore")][-1]
    with _small_parquet_volume(bk, docker_client, 100):
        run_in(bk, docker_client, "pysys_runtime", SEED_PARQUET)  # production now: a small store, on a 100 MB disk
        run_in(bk, docker_client, "mongo_db", "import pathlib; p = pathlib.Path('/data/db/standin-data/production');"
               "(p / 'orders.jsonl').write_text('{\"i\": -1}\\n')", user="999")
        before = production(bk, docker_client)
        failed = bk.run("restore", f"--from={name}", "--yes", check=False)
        said = failed.stdout + failed.stderr
        assert failed.returncode == 1 and "rolled back to the safety backup" in failed.stderr, said
        assert "No space left on device" in said, "the switch failed because the disk filled"
        assert production(bk, docker_client) == before, "wholly as before"
        assert _marker(bk) == {}


def test_runs_are_in_the_history(bk):
    jobs = {r.job for r in History(bk.settings.history_path).runs()}
    assert {"backup", "restore"} <= jobs
