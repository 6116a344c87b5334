"""Doctor checks that need no Docker engine, and the doctor task's exit code and masking."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from ecosystem import doctor
from ecosystem.errors import EngineUnavailable, SettingsError
from ecosystem.settings import load_settings
from tests.support.net import free_port

ROOT = Path(__file__).resolve().parents[2]
SENTINEL = "sentinel-doctor-7d2e"


def no_engine():
    raise EngineUnavailable("the Docker engine does not answer (test)", fix="start it")


def inputs_for(tmp_path, **environ):
    return doctor.DoctorInputs(settings=load_settings(tmp_path, environ=environ), connect=no_engine)


def verdicts(results, name):
    return [(r.verdict, r.detail) for r in results if r.check.startswith(name)]


def test_a_check_that_raises_becomes_a_fail_row_and_the_rest_still_run(tmp_path):
    def broken(inputs):
        raise KeyError("boom")

    results = doctor.run_checks(inputs_for(tmp_path), [broken, doctor.check_disk])
    assert results[0].verdict == "fail" and "KeyError" in results[0].detail
    assert results[1].check == "backup disk"
    assert not doctor.healthy(results)


def test_settings_problems_fail_and_skip_the_checks_that_need_them(tmp_path):
    with pytest.raises(SettingsError) as caught:
        load_settings(tmp_path, environ={"WORKFLOW_WEEKDAY_END": "9"})
    results = doctor.run_checks(doctor.DoctorInputs(settings=None, settings_error=caught.value, connect=no_engine),
                                [doctor.check_settings, doctor.check_ports, doctor.check_smb])
    assert results[0].verdict == "fail" and "WORKFLOW_WEEKDAY_END=9" in results[0].detail
    assert [r.verdict for r in results[1:]] == ["skip", "skip"]


def test_settings_warnings_are_warn_rows(tmp_path):
    results = doctor.check_settings(inputs_for(tmp_path))
    assert results[0].verdict == "ok" and results[1].verdict == "warn" and "no .env" in results[1].detail


def test_engine_missing_is_a_fail_with_a_fix(tmp_path):
    [result] = doctor.check_engine(inputs_for(tmp_path))
    assert result.verdict == "fail" and result.fix == "start it"



def test_ports_free_in_use_and_foreign_address(tmp_path):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    try:
        port = busy.getsockname()[1]
        results = doctor.check_ports(inputs_for(tmp_path, IB_API_PORT=str(port), VNC_PORT=str(free_port()),
                                                JUPYTER_PORT=str(free_port()),
                                                STATUS_PAGE_PORT=str(free_port()), DASHBOARD_PORT=str(free_port())))
        assert results[0].verdict == "fail" and "IB_API_PORT is in use by another program" in results[0].detail
        assert "IB_API_PORT" in results[0].fix
        assert [r.verdict for r in results[1:]] == ["ok", "ok", "ok", "ok"]
    finally:
        busy.close()
    results = doctor.check_ports(inputs_for(tmp_path, BIND_ADDRESS="192.0.2.77"))
    assert all(r.verdict == "fail" and "not an address of this host" in r.detail for r in results)


def test_disk_space_against_the_minimum(tmp_path):
    [low] = doctor.check_disk(inputs_for(tmp_path, BACKUP_MIN_FREE_GB="1000000", BACKUP_DIR=str(tmp_path / "a" / "b")))
    assert low.verdict == "fail" and "BACKUP_DIR" in low.fix
    [fine] = doctor.check_disk(inputs_for(tmp_path, BACKUP_MIN_FREE_GB="0"))
    assert fine.verdict == "ok"


def test_unconfigured_smb_and_remote_are_skipped(tmp_path):
    inputs = inputs_for(tmp_path)
    assert doctor.check_smb(inputs)[0].verdict == "skip"
    assert doctor.check_reports_remote(inputs)[0].verdict == "skip"


def run_doctor(tmp_path, env_text: str) -> tuple[int, str]:
    """`invoke doctor` as a process, with ``env_text`` as its .env and no Docker engine; (exit code, output)."""
    env_file = tmp_path / ".env"
    env_file.write_text(env_text)
    env_file.chmod(0o600)
    environ = {**os.environ, "ECOSYSTEM_ENV_FILE": str(env_file), "DOCKER_HOST": f"unix://{tmp_path}/no.sock"}
    result = subprocess.run([sys.executable, "-m", "invoke", "doctor"], cwd=ROOT, env=environ, capture_output=True,
                            text=True, timeout=120)
    return result.returncode, result.stdout + result.stderr


def test_doctor_task_exits_non_zero_on_fail_and_never_prints_a_secret(tmp_path):
    code, output = run_doctor(tmp_path, f"GIT_TOKEN={SENTINEL}\nSMB_PASSWORD={SENTINEL}x\nTWSPASSWORD={SENTINEL}y\n"
                                         f"STATE_DIR={tmp_path}/state\nBACKUP_DIR={tmp_path}/backup\n")
    assert code == 1
    assert "FAIL     docker engine" in output and "How to fix:" in output
    assert SENTINEL not in output
    environ = {**os.environ, "ECOSYSTEM_ENV_FILE": str(tmp_path / ".env")}
    config = subprocess.run([sys.executable, "-m", "invoke", "config"], cwd=ROOT, env=environ, capture_output=True,
                            text=True, timeout=120)
    assert config.returncode == 0 and "********" in config.stdout
    assert SENTINEL not in config.stdout + config.stderr


def test_bad_settings_make_tasks_exit_2_with_every_problem(tmp_path):
    environ = {**os.environ, "ECOSYSTEM_ENV_FILE": str(tmp_path / ".env"), "WORKFLOW_WEEKDAY_START": "8",
               "TIMEZONE": "Nowhere/Land", "GIT_TOKEN": SENTINEL, "GIT_TOKEN_FILE": "/nonexistent"}
    result = subprocess.run([sys.executable, "-m", "invoke", "config"], cwd=ROOT, env=environ, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 2
    assert "WORKFLOW_WEEKDAY_START=8: must be 1 (Monday) to 7 (Sunday)" in result.stderr
    assert "TIMEZONE=Nowhere/Land" in result.stderr and "GIT_TOKEN=<hidden>" in result.stderr
    assert SENTINEL not in result.stdout + result.stderr


def test_mongo_without_auth_warns_with_the_fix(tmp_path):
    [result] = doctor.check_mongo_auth(inputs_for(tmp_path))
    assert result.verdict == "warn" and "MONGO_ROOT_USER" in result.fix
    [result] = doctor.check_mongo_auth(inputs_for(tmp_path, MONGO_ROOT_USER="admin", MONGO_ROOT_PASSWORD="pw-123456"))
    assert result.verdict == "ok" and "pw-123456" not in result.detail


def test_images_check_is_skipped_without_an_engine(tmp_path):
    assert doctor.check_images(inputs_for(tmp_path))[0].verdict == "skip"


def private_inputs(tmp_path, text=None, **environ):
    private = tmp_path / "private"
    private.mkdir(exist_ok=True)
    if text is not None:
        (private / "private_config.yaml").write_text(text)
    return inputs_for(tmp_path, PRIVATE_CONFIG_DIR=str(private), **environ)


def test_no_private_config_warns_and_says_run_setup(tmp_path):
    inputs = private_inputs(tmp_path)
    [result] = doctor.check_private_config(inputs)
    assert result.verdict == "warn" and "invoke setup" in result.fix
    [result] = doctor.check_ib_settings(inputs)
    assert result.verdict == "skip" and "invoke setup" in result.detail


def test_wrong_or_missing_private_config_paths_fail_with_the_exact_line(tmp_path):
    inputs = private_inputs(tmp_path, "backtest_store_directory: 'private.backtests'\n"
                                      "csv_backup_directory: data/backups_csv\nparquet_store: /home/me/data/parquet\n"
                                      "mongo_host: mongodb://mongo_db\n")
    results = {r.detail.split()[0]: r for r in doctor.check_private_config(inputs)}
    assert results["mongo_host"].verdict == "ok"
    for key, line in (("backtest_store_directory", "backtest_store_directory: /data/backtests"),
                      ("csv_backup_directory", "csv_backup_directory: /data/backup/csv"),
                      ("parquet_store", "parquet_store: /data/parquet"),
                      ("reporting_directory", "reporting_directory: /data/reports")):
        assert results[key].verdict == "fail" and f"`{line}`" in results[key].fix, key
    assert not doctor.healthy(list(results.values()))


def test_unreadable_private_config_is_a_fail_not_a_crash(tmp_path):
    [result] = doctor.check_private_config(private_inputs(tmp_path, "parquet_store: [unclosed\n"))
    assert result.verdict == "fail" and "valid YAML" in result.fix


def test_doctor_task_never_prints_the_mongo_password_of_the_private_config(tmp_path):
    private = tmp_path / "private"
    private.mkdir()
    other = "an0ther-Mongo-pw"  # not MONGO_ROOT_PASSWORD: only the private config knows it
    (private / "private_config.yaml").write_text(f"mongo_host: mongodb://admin:{other}@localhost\n"
                                                 "parquet_store: data.parquet\n")
    code, output = run_doctor(tmp_path, f"STATE_DIR={tmp_path}/state\nBACKUP_DIR={tmp_path}/backup\n"
                                         f"PRIVATE_CONFIG_DIR={private}\nMONGO_ROOT_USER=admin\nMONGO_ROOT_PASSWORD={SENTINEL}\n")
    assert code == 1
    assert "`mongo_host: mongodb://admin:********@mongo_db`" in output
    assert "`parquet_store: /data/parquet`" in output
    assert other not in output and SENTINEL not in output


def test_the_logging_config_must_reach_the_log_server(tmp_path):
    private = tmp_path / "private"
    private.mkdir()
    assert verdicts(doctor.check_logging_config(inputs_for(tmp_path)), "pysystemtrade logging")[0][0] == "ok"

    def check(text, path="/opt/private/logging.yaml"):
        if text is not None:
            (private / "logging.yaml").write_text(text)
        return doctor.check_logging_config(inputs_for(tmp_path, PRIVATE_CONFIG_DIR=str(private),
                                                      PYSYS_LOGGING_CONFIG=path))[0]

    upstreams = "handlers:\n  socket:\n    class: logging.handlers.SocketHandler\n    host: localhost\n    port: 9020\n"
    assert check(upstreams).verdict == "ok"
    wrong_port = check(upstreams.replace("9020", "6020"))
    assert wrong_port.verdict == "fail" and "`port: 9020`" in wrong_port.fix
    as_env = check(upstreams.replace("port: 9020", "port: !ENV ${LOG_SERVER_PORT}").replace("!ENV ", ""))
    assert as_env.verdict == "fail", "a port that stays a string does not connect"
    assert check(None, "/opt/private/missing.yaml").verdict == "fail"
    assert "dot in a folder" in check(None, "/opt/private/.config/logging.yaml").detail
    assert check(None, "/etc/logging.yaml").verdict == "warn"


def test_the_gateways_restart_and_weekly_login_must_not_cut_off_a_process(tmp_path):
    from standins.pysystemtrade_repo import make_repo

    clone = str(make_repo(tmp_path / "repo"))
    good = doctor.check_gateway_restart(inputs_for(tmp_path, PYSYSTEMTRADE_CLONE_DIR=clone))
    assert [r.verdict for r in good] == ["ok", "ok"], good
    assert "outside the trading week" in good[1].detail, "sun 18:00 by default"
    noon = doctor.check_gateway_restart(inputs_for(tmp_path, PYSYSTEMTRADE_CLONE_DIR=clone,
                                                   GATEWAY_AUTO_RESTART_TIME="12:00 PM",
                                                   GATEWAY_WEEKLY_LOGIN_AT="wed 12:00"))
    assert [r.verdict for r in noon] == ["fail", "fail"]
    assert "run_stack_handler" in noon[0].detail and "GATEWAY_AUTO_RESTART_TIME" in noon[0].fix
    assert "inside the trading week" in noon[1].detail and "GATEWAY_WEEKLY_LOGIN_AT" in noon[1].fix
    late = doctor.check_gateway_restart(inputs_for(tmp_path, PYSYSTEMTRADE_CLONE_DIR=clone,
                                                   GATEWAY_WEEKLY_LOGIN_AT="sun 22:00", GATEWAY_LOGIN_WINDOW="4h"))
    assert late[1].verdict == "fail" and "run_stack_handler" in late[1].detail, "its window reaches Monday 00:01"
    overlap = doctor.check_gateway_restart(inputs_for(tmp_path, PYSYSTEMTRADE_CLONE_DIR=clone,
                                                      GATEWAY_LOGIN_WINDOW="3h"))
    assert [r.verdict for r in overlap] == ["ok", "ok", "warn"] and "GATEWAY_CHECK_AT" in overlap[2].detail
    unset = doctor.check_gateway_restart(inputs_for(tmp_path, PYSYSTEMTRADE_CLONE_DIR=clone,
                                                    GATEWAY_WEEKLY_LOGIN_AT="none"))
    assert unset[1].verdict == "warn" and "sun 18:00" in unset[1].fix
