"""Recovery from the share on the real engine and the loopback smbd: a set fetched back (decrypted and
checked) and drilled, a wrong key refused, and `invoke recover` rebuilding a second, empty ecosystem
(another suffix and folder, given only the SMB settings and the backup key) as the first one was."""
from __future__ import annotations

import shutil

import pytest

from ecosystem import backup_key, backup_sets
from ecosystem.history import History
from tests.integration.test_backup import (
    READ_DB,
    READ_PARQUET,
    SEED_DB,
    SEED_PARQUET,
    run_in,
    store,
)
from tests.support.ecosystem import build_and_start, make_ecosystem, noon_zone, tear_down, windows_open_all_day

MONGO_PASSWORD = "sentinel-MONGO-recover-pw-4417"
TWS_PASSWORD = "sentinel-TWS-recover-pw-6021"
FROM_THE_SET = ("PYSYSTEMTRADE_REPO_URL", "GIT_TOKEN", "TWSUSERID", "TWSPASSWORD", "MONGO_ROOT_USER",
                "MONGO_ROOT_PASSWORD")


def smb_values(samba, folder: str) -> dict[str, str]:
    return {"SMB_SERVER": "127.0.0.1", "SMB_PORT": str(samba.port), "SMB_SHARE": samba.share,
            "SMB_USER": samba.user, "SMB_PASSWORD": samba.password, "SMB_FOLDER": folder}


@pytest.fixture(scope="module")
def first(docker_client, debian_python, tmp_path_factory, samba):
    folder = tmp_path_factory.mktemp("first")
    secret = folder / "tws_password"
    secret.write_text(TWS_PASSWORD)
    made = make_ecosystem(docker_client, folder, debian_python, extra={
        "TIMEZONE": noon_zone(), "BACKUP_WAIT_MINUTES": "0", "MONGO_ROOT_USER": "admin",
        "MONGO_ROOT_PASSWORD": MONGO_PASSWORD, **smb_values(samba, f"recover-{folder.name}")})
    made.values.pop("TWSPASSWORD")
    made.values["TWSPASSWORD_FILE"] = str(secret)  # a secret given as a file comes back as one
    made.write_env()
    try:
        build_and_start(made, {"standin_behaviour": "seconds=0.5\n",
                               "private_control_config.yaml": windows_open_all_day(["run_stack_handler"])})
        run_in(made, docker_client, "mongo_db", SEED_DB, user="999")
        run_in(made, docker_client, "pysys_runtime", SEED_PARQUET)
        made.run("backup")
        made.run("offload")
        yield made
    finally:
        tear_down(docker_client, made)


def newest(made) -> str:
    return backup_sets.good_sets(made.settings.backup_dir, safety=False)[-1].name


def test_a_drill_from_the_share_fetches_decrypts_and_checks_the_set_and_keeps_nothing_extra(first):
    local_before = sorted(p.name for p in first.settings.backup_dir.iterdir())
    result = first.run("restore", "--verify", "--from=smb:latest")
    assert "drill passed" in result.stdout and "fetched from the share" in result.stdout
    assert f"{newest(first)}/db.archive.gz" in result.stdout and "decrypted and checked" in result.stdout
    assert sorted(p.name for p in first.settings.backup_dir.iterdir()) == local_before, "the fetched copy is gone"
    drill = [r for r in History(first.settings.history_path).runs(job="restore") if r.step == "drill"][-1]
    assert drill.outcome == "ok" and drill.detail.startswith(newest(first))
    assert "(fetched from the share)" in drill.detail


def test_a_restore_from_the_share_with_the_wrong_key_is_one_clear_error_and_changes_nothing(first, tmp_path):
    other = tmp_path / "other-key.txt"
    backup_key.ensure(other)
    result = first.run("restore", "--from=smb:latest", "--yes", environ={"BACKUP_KEY_FILE": str(other)}, check=False)
    said = result.stdout + result.stderr
    assert result.returncode != 0 and "encrypted to another backup key" in said and "Traceback" not in said
    assert "BACKUP_KEY_FILE" in said
    assert not [n for n in backup_sets.sets(first.settings.backup_dir) if n[0].endswith("-pre-restore")], \
        "refused before anything was taken or changed"


def test_recover_rebuilds_a_second_empty_ecosystem_from_the_share_with_its_data_and_state_in_no_run(
        first, docker_client, debian_python, tmp_path_factory, samba):
    db_before = run_in(first, docker_client, "mongo_db", READ_DB)
    parquet_before = run_in(first, docker_client, "pysys_runtime", READ_PARQUET)
    folder = tmp_path_factory.mktemp("second")
    second = make_ecosystem(docker_client, folder, debian_python, shared_standins=first.settings,
                            extra=smb_values(samba, first.values["SMB_FOLDER"]))
    for name in FROM_THE_SET:  # a new host knows only its own layout, the share and the key
        second.values.pop(name, None)
    second.write_env()
    key_copy = second.settings.backup_key_file
    key_copy.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(first.settings.backup_key_file, key_copy)
    key_copy.chmod(0o600)
    try:
        planned = second.run("recover", "--dry-run")
        assert f"would fetch {newest(first)}" in planned.stdout
        result = second.run("recover", timeout=1500)
        said = result.stdout + result.stderr
        assert f"recovered from {newest(first)}" in result.stdout and "NO-RUN" in result.stdout, said
        recovered = second.settings
        assert recovered.name_suffix == second.values["NAME_SUFFIX"] != first.values["NAME_SUFFIX"]
        assert recovered.twspassword.reveal() == TWS_PASSWORD and recovered.mongo_root_user == "admin"
        assert recovered.pysystemtrade_repo_url == first.values["PYSYSTEMTRADE_REPO_URL"]
        assert (folder / ".env.before-recover").exists()
        assert run_in(second, docker_client, "mongo_db", READ_DB) == db_before, "the database, record for record"
        assert run_in(second, docker_client, "pysys_runtime", READ_PARQUET) == parquet_before, "the Parquet store"
        control = store(second, docker_client)["processes"]
        assert control and all(p["status"] == "NO-RUN" for p in control.values())
        first_private = first.settings.private_config_dir
        for path in first_private.rglob("*.yaml"):
            mine = recovered.private_config_dir / path.relative_to(first_private)
            assert mine.read_bytes() == path.read_bytes(), f"private config {path.name}"
        for secret in (MONGO_PASSWORD, TWS_PASSWORD, str(backup_key.load_for(recovered).identity)):
            assert secret not in said, "no secret in what recover says"
        runs = History(recovered.history_path).runs(job="recover")
        assert runs and runs[-1].outcome == "ok"
    finally:
        tear_down(docker_client, second)
