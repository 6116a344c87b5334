"""The private config the containers need: each key judged with the exact line to write, the
starter `invoke setup` writes (accepted by every check, never over an existing file), and the
MongoDB password kept out of every output."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ecosystem import doctor, pysys_config
from ecosystem.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "s3nt1nel/p@ss#word"  # characters that must be URL-encoded in mongo_host
PATHS = {item.key: item.path for item in pysys_config.CONTAINER_KEYS if item.kind == "path"}


def load(tmp_path, **environ):
    return load_settings(tmp_path, environ={"PRIVATE_CONFIG_DIR": str(tmp_path / "private"), **environ})


def with_auth(tmp_path, **environ):
    return load(tmp_path, MONGO_ROOT_USER="admin", MONGO_ROOT_PASSWORD=PASSWORD, **environ)


def good_config(settings) -> dict:
    return yaml.safe_load(pysys_config.starter_text(settings))


def reviewed(settings, config) -> dict:
    return {r.key: r for r in pysys_config.review(settings, config)}


def test_the_table_covers_every_key_the_containers_depend_on():
    assert [item.key for item in pysys_config.CONTAINER_KEYS] == [
        "parquet_store", "backtest_store_directory", "csv_backup_directory", "mongo_dump_directory",
        "offsystem_backup_directory", "echo_directory", "reporting_directory", "mongo_host", "ib_ipaddress", "ib_port"]
    assert PATHS == {"parquet_store": "/data/parquet", "backtest_store_directory": "/data/backtests",
                     "csv_backup_directory": "/data/backup/csv", "mongo_dump_directory": "/data/backup/mongo_dump",
                     "offsystem_backup_directory": "/data/backup/offsystem", "echo_directory": "/data/logs/echos",
                     "reporting_directory": "/data/reports"}


OUTSIDE = {"parquet_store": "/data/reports/parquet", "backtest_store_directory": "/home/me/backtests",
           "csv_backup_directory": "/data/backups_csv", "mongo_dump_directory": "/tmp/mongo_dump",
           "offsystem_backup_directory": "/mnt/offsystem", "echo_directory": "/data/echos",
           "reporting_directory": "/opt/pysystemtrade/reports"}


@pytest.mark.parametrize("key", sorted(PATHS))
@pytest.mark.parametrize("kind, value, says", [
    ("package notation", "private.backtests", "package notation"),
    ("relative", "data/backups", "relative path"),
    ("outside its volume", None, "not on"),
    ("missing", "MISSING", "not set"),
])
def test_each_wrong_path_key_is_flagged_with_its_exact_line(tmp_path, key, kind, value, says):
    settings = load(tmp_path)
    config = good_config(settings)
    if value == "MISSING":
        del config[key]
    else:
        config[key] = OUTSIDE[key] if value is None else value
    results = reviewed(settings, config)
    assert not results[key].ok and says in results[key].detail
    assert results[key].line == f"{key}: {PATHS[key]}"
    assert all(r.ok for name, r in results.items() if name != key)


def test_upstream_defaults_are_all_wrong_and_name_the_default(tmp_path):
    results = reviewed(load(tmp_path), {})
    assert not any(r.ok for r in results.values())
    assert "'private.backtests' applies" in results["backtest_store_directory"].detail
    assert "no default" in results["offsystem_backup_directory"].detail
    assert "'127.0.0.1' applies" in results["ib_ipaddress"].detail
    upstream = {"backtest_store_directory": "private.backtests", "csv_backup_directory": "data.backups_csv",
                "mongo_dump_directory": "data.mongo_dump", "echo_directory": "data.echos",
                "parquet_store": "/home/me/data/parquet", "mongo_host": "127.0.0.1", "ib_ipaddress": "127.0.0.1",
                "ib_port": 4001}
    results = reviewed(load(tmp_path), upstream)
    assert not any(r.ok for r in results.values())


def test_paths_under_their_volume_pass_and_tricky_ones_do_not(tmp_path):
    settings = load(tmp_path)
    config = good_config(settings) | {"parquet_store": "/data/parquet/prod/", "echo_directory": "/data/logs"}
    assert all(r.ok for r in reviewed(settings, config).values())
    for value, says in (("/data/backup", "itself"), ("/data/backup/../etc", "dot"), ("/data/backup/csv.d", "dot"),
                        ("/data/backupcsv", "not on"), (17, "not a folder path")):
        result = reviewed(settings, good_config(settings) | {"csv_backup_directory": value})["csv_backup_directory"]
        assert not result.ok and says in result.detail, value
    outside = reviewed(settings, good_config(settings) | {"mongo_dump_directory": "/tmp/dump"})["mongo_dump_directory"]
    assert "lost with the container" in outside.detail


def test_mongo_host_without_auth(tmp_path):
    settings = load(tmp_path)
    for value in ("mongodb://mongo_db", "mongodb://mongo_db:27017", "mongodb://mongo_db/?retryWrites=true"):
        assert reviewed(settings, {"mongo_host": value})["mongo_host"].ok, value
    for value, says in (("mongo_db", "not a mongodb:// URL"), ("mongodb://127.0.0.1", "not the service mongo_db"),
                        ("mongodb://mongo_db:27018", "listens on 27017"),
                        ("mongodb://admin:pw-1234@mongo_db", "authentication is off")):
        result = reviewed(settings, {"mongo_host": value})["mongo_host"]
        assert not result.ok and says in result.detail and result.line == "mongo_host: mongodb://mongo_db", value
        assert "pw-1234" not in result.detail


def test_mongo_host_with_auth_needs_the_credentials_and_never_shows_the_password(tmp_path):
    settings = with_auth(tmp_path)
    line = "mongo_host: mongodb://admin:********@mongo_db"
    good = good_config(settings)["mongo_host"]
    assert good.startswith("mongodb://admin:") and PASSWORD not in good  # URL-encoded
    assert reviewed(settings, {"mongo_host": good})["mongo_host"].ok
    encoded = good.split(":")[2].split("@")[0]
    for value, says in (("mongodb://mongo_db", "without a user and password"),
                        (f"mongodb://admin:{encoded}@localhost:27017", "not the service mongo_db"),
                        ("mongodb://admin:an-old-password@mongo_db", "not MONGO_ROOT_PASSWORD"),
                        (f"mongodb://admin:{PASSWORD}@elsewhere", "")):  # not even a valid URL
        result = reviewed(settings, {"mongo_host": value})["mongo_host"]
        assert not result.ok and says in result.detail and result.line == line, value
        for secret in (PASSWORD, encoded, "an-old-password"):
            assert secret not in result.detail + result.line
    assert reviewed(settings, {"mongo_host": "mongodb://reader:other-pw@mongo_db"})["mongo_host"].ok  # a user of yours


def test_ib_keys_follow_the_trading_mode(tmp_path):
    live = load(tmp_path, TRADING_MODE="live")
    assert good_config(live)["ib_port"] == 4003
    result = reviewed(live, {"ib_port": 4004})["ib_port"]
    assert not result.ok and result.line == "ib_port: 4003" and "live API on 4003" in result.detail
    assert reviewed(live, {"ib_port": "4003", "ib_ipaddress": "ib_gateway"})["ib_port"].ok


@pytest.mark.parametrize("environ", [{}, {"TRADING_MODE": "live"},
                                     {"MONGO_ROOT_USER": "admin", "MONGO_ROOT_PASSWORD": PASSWORD}])
def test_the_starter_on_an_empty_private_folder_passes_every_check(tmp_path, environ):
    (tmp_path / "private").mkdir()
    settings = load(tmp_path, **environ)
    note = pysys_config.write_starter(settings)
    assert "wrote a starter" in note and "invoke doctor" in note and PASSWORD not in note
    path = tmp_path / "private" / "private_config.yaml"
    text = path.read_text()
    assert "written by `invoke setup`" in text and "# broker_account:" in text and "# strategy_list:" in text
    assert "# email_pwd:" in text
    assert all(r.ok for r in pysys_config.review(settings, pysys_config.private_config(settings)))
    inputs = doctor.DoctorInputs(settings=settings)
    results = doctor.check_private_config(inputs) + doctor.check_ib_settings(inputs)
    assert [r.verdict for r in results] == ["ok"] * 9, results
    assert path.stat().st_mode & 0o777 == 0o600
    if os.geteuid() == 0:
        assert path.stat().st_uid == settings.container_uid


def test_the_starter_carries_the_password_url_encoded_for_pysystemtrade(tmp_path):
    from urllib.parse import unquote, urlsplit

    settings = with_auth(tmp_path)
    pysys_config.write_starter(settings)
    url = urlsplit(pysys_config.private_config(settings)["mongo_host"])
    assert (url.hostname, url.username, unquote(url.password)) == ("mongo_db", "admin", PASSWORD)
    assert PASSWORD in pysys_config.secret_values(settings)  # what the redactor masks, as meant and as written
    assert url.password in pysys_config.secret_values(settings)


def test_an_existing_private_config_is_never_overwritten(tmp_path):
    (tmp_path / "private").mkdir()
    path = tmp_path / "private" / "private_config.yaml"
    path.write_text("broker_account: 'DU1234567'\n")
    settings = load(tmp_path)
    plan = pysys_config.plan_starter(settings)
    assert plan.action == "keep" and "keep" in plan.intent()
    assert "kept as it is" in pysys_config.write_starter(settings)
    assert path.read_text() == "broker_account: 'DU1234567'\n"


def test_no_starter_inside_a_clone_that_does_not_exist_yet(tmp_path):
    settings = load_settings(tmp_path, environ={"PYSYSTEMTRADE_CLONE_DIR": str(tmp_path / "clone")})
    plan = pysys_config.plan_starter(settings)
    assert plan.action == "wait" and "invoke build" in plan.intent()
    assert "not written yet" in pysys_config.write_starter(settings, plan)
    assert not (tmp_path / "clone").exists()  # the clone would refuse a folder that is not a clone


def test_a_missing_private_folder_outside_the_clone_is_made_private(tmp_path):
    settings = load(tmp_path)
    assert pysys_config.plan_starter(settings).action == "write"
    pysys_config.write_starter(settings)
    assert (tmp_path / "private").stat().st_mode & 0o777 == 0o700


def test_masked_hides_a_password_in_any_url():
    assert pysys_config.masked("mongodb://admin:pa/ss@word@mongo_db") == "mongodb://admin:********@mongo_db"
    assert pysys_config.masked("mongodb://mongo_db") == "mongodb://mongo_db"
    assert pysys_config.masked(4004) == "4004"


def run_setup(tmp_path, *args):
    env_file = tmp_path / ".env"
    env_file.write_text(f"STATE_DIR={tmp_path}/state\nBACKUP_DIR={tmp_path}/backup\nREPORTS_DIR={tmp_path}/reports\n"
                        f"PRIVATE_CONFIG_DIR={tmp_path}/private\nNAME_SUFFIX=_pysyscfgtest\n"
                        f"MONGO_ROOT_USER=admin\nMONGO_ROOT_PASSWORD='{PASSWORD}'\n")
    env_file.chmod(0o600)
    drop = {"STATE_DIR", "BACKUP_DIR", "REPORTS_DIR", "PRIVATE_CONFIG_DIR", "NAME_SUFFIX", "MONGO_ROOT_USER",
            "MONGO_ROOT_PASSWORD", "MONGO_ROOT_PASSWORD_FILE", "REPORTS_REMOTE"}
    # no engine answers there: setup gets as far as creating the containers, then stops
    environ = {k: v for k, v in os.environ.items() if k not in drop} | {
        "ECOSYSTEM_ENV_FILE": str(env_file), "DOCKER_HOST": f"unix://{tmp_path}/no.sock"}
    result = subprocess.run([sys.executable, "-m", "invoke", "setup", *args], cwd=ROOT, env=environ,
                            capture_output=True, text=True, timeout=180)
    return result, result.stdout + result.stderr


def test_setup_writes_the_starter_once_and_never_prints_the_password(tmp_path):
    (tmp_path / "private").mkdir()
    path = tmp_path / "private" / "private_config.yaml"
    result, output = run_setup(tmp_path, "--dry-run")
    assert result.returncode == 0, output
    assert f"would write a starter {path}" in output and not path.exists()
    result, output = run_setup(tmp_path)
    assert f"{path}: wrote a starter" in output and "`invoke doctor` checks it" in output
    assert path.exists() and "mongodb://admin:" in path.read_text()
    path.write_text(path.read_text() + "broker_account: 'DU1234567'\n")
    before = path.read_text()
    result, output_again = run_setup(tmp_path)
    assert "kept as it is" in output_again and path.read_text() == before
    encoded = pysys_config.private_config(load(tmp_path))["mongo_host"].split(":")[2].split("@")[0]
    for secret in (PASSWORD, encoded):
        assert secret not in output + output_again
