"""Judging a gateway login, waiting for 2FA, and the doctor checks of the gateway's settings."""
from __future__ import annotations

import socket
import threading
from datetime import time

import pytest

from ecosystem import doctor, gateway, pysys_config
from ecosystem.gateway import GatewayAnswer, GatewayError, judge_login, wait_for_login
from ecosystem.settings import load_settings
from standins.pysystemtrade_repo import make_repo


def answer(*accounts):
    return GatewayAnswer(176, "20261129 10:00:00", tuple(accounts))


def test_the_right_account_in_the_right_mode_is_fine():
    assert judge_login(answer("DU1234567"), broker_account="DU1234567", trading_mode="paper") == []
    assert judge_login(answer("U7654321"), broker_account="U7654321", trading_mode="live") == []


def test_a_wrong_account_is_named_masked():
    [problem] = judge_login(answer("DU1234567"), broker_account="DU7777777", trading_mode="paper")
    assert "DU*****67" in problem and "DU*****77" in problem and "DU1234567" not in problem


def test_a_wrong_mode_is_named():
    [problem] = judge_login(answer("DU1234567"), broker_account=None, trading_mode="live")
    assert "paper account but TRADING_MODE=live" in problem


def test_no_account_at_all():
    assert judge_login(answer(), broker_account="X", trading_mode="paper") == [
        "the gateway reported no managed account"]


def test_waiting_for_a_gateway_that_never_answers_times_out_with_the_fix():
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    accepted = []
    threading.Thread(target=lambda: accepted.append(silent.accept()), daemon=True).start()
    waits = []
    with pytest.raises(GatewayError) as caught:
        wait_for_login("127.0.0.1", silent.getsockname()[1], timeout=1, every=0.2,
                       on_wait=lambda remaining, reason: waits.append(reason))
    silent.close()
    assert "did not complete its login within 1s" in caught.value.message and "2FA" in caught.value.fix
    assert waits and "not logged in" in waits[0]


def test_waiting_ends_when_the_login_completes(monkeypatch):
    calls = []

    def flaky(host, port, timeout):
        calls.append(1)
        if len(calls) < 3:
            raise GatewayError("the IB API at x did not answer: the gateway is not logged in")
        return answer("DU1")

    monkeypatch.setattr(gateway, "handshake", flaky)
    assert wait_for_login("h", 1, timeout=30, every=0, sleep=lambda s: None).accounts == ("DU1",)
    assert len(calls) == 3


@pytest.fixture
def settings_with_repo(tmp_path):
    clone = make_repo(tmp_path / "clone")
    return lambda **env: load_settings(tmp_path, environ={"PYSYSTEMTRADE_CLONE_DIR": str(clone), **env}), clone


def test_windows_merge_the_private_override(settings_with_repo):
    load, clone = settings_with_repo
    (clone / "private" / "private_control_config.yaml").write_text(
        "process_configuration_start_time:\n  run_systems: '21:00'\n")
    windows = pysys_config.process_windows(load())
    assert windows["run_systems"].start == time(21, 0)
    assert windows["run_stack_handler"] == pysys_config.Window("run_stack_handler", time(0, 1), time(19, 45))
    assert pysys_config.dead_time(windows) == (time(23, 50), time(0, 1))
    assert pysys_config.in_dead_time(time(23, 55), windows) and not pysys_config.in_dead_time(time(23, 45), windows)


def test_doctor_fails_a_restart_inside_a_process_window(settings_with_repo):
    load, _ = settings_with_repo
    late = load(GATEWAY_AUTO_RESTART_TIME="08:00 PM")
    result, _login = doctor.check_gateway_restart(doctor.DoctorInputs(settings=late))
    assert result.verdict == "fail" and "run_daily_prices_updates" in result.detail
    assert "11:55 PM" in result.fix
    result, _login = doctor.check_gateway_restart(doctor.DoctorInputs(settings=load()))
    assert result.verdict == "ok"


def test_doctor_checks_pysystemtrades_ib_address_and_port(settings_with_repo):
    load, clone = settings_with_repo
    [result] = doctor.check_ib_settings(doctor.DoctorInputs(settings=load()))
    assert result.verdict == "ok" and "ib_gateway:4004" in result.detail
    results = doctor.check_ib_settings(doctor.DoctorInputs(settings=load(TRADING_MODE="live")))
    assert results[0].verdict == "fail" and "ib_port: 4003" in results[0].fix
    (clone / "private" / "private_config.yaml").write_text("ib_ipaddress: 127.0.0.1\nib_port: 4004\n")
    results = doctor.check_ib_settings(doctor.DoctorInputs(settings=load()))
    assert results[0].verdict == "fail" and "ib_ipaddress: ib_gateway" in results[0].fix
