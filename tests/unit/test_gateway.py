"""The IB API handshake client against the shipped stand-in gateway, run as a plain process."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ecosystem.gateway import GatewayError, handshake
from tests.support.net import free_port

ROOT = Path(__file__).resolve().parents[2]
STANDIN = ROOT / "standins" / "gateway" / "standin_gateway.py"
PASSWORD = "sentinel-gw-pw-31337"



def start(tmp_path, **env):
    port = free_port()
    secret = tmp_path / "pw"
    secret.write_text(PASSWORD)
    environ = {**os.environ, "STANDIN_PORT": str(port), "TWS_USERID": "u", "TWS_PASSWORD_FILE": str(secret),
               "STANDIN_SESSION_FILE": str(tmp_path / "session.json"), **env}
    process = subprocess.Popen([sys.executable, str(STANDIN)], env=environ, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process, port
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("stand-in gateway did not start")


@pytest.fixture
def gateway(tmp_path, request):
    process, port = start(tmp_path, **getattr(request, "param", {}))
    yield port
    process.terminate()
    output = process.communicate(timeout=60)[0]  # a loaded machine (xdist) can be slow to let it go
    assert PASSWORD not in output


def test_handshake_returns_version_and_managed_accounts(gateway):
    answer = handshake("127.0.0.1", gateway)
    assert answer.server_version == 176 and answer.accounts == ("DU1234567",)


@pytest.mark.parametrize("gateway", [{"STANDIN_ACCOUNTS": "U111,U222"}], indirect=True)
def test_several_accounts(gateway):
    assert handshake("127.0.0.1", gateway).accounts == ("U111", "U222")


@pytest.mark.parametrize("gateway", [{"STANDIN_LOGIN_DELAY": "30"}], indirect=True)
def test_a_gateway_waiting_for_2fa_times_out_with_a_clear_message(gateway):
    with pytest.raises(GatewayError, match="not logged in"):
        handshake("127.0.0.1", gateway, timeout=1)


def test_a_closed_port_is_refused():
    with pytest.raises(GatewayError, match="refuses connections"):
        handshake("127.0.0.1", free_port(), timeout=2)


def test_stand_in_exits_on_sigterm(tmp_path):
    process, _ = start(tmp_path)
    process.terminate()
    assert process.wait(timeout=10) == 0


@pytest.mark.parametrize("gateway", [{"TRADING_MODE": "live"}], indirect=True)
def test_a_live_mode_gateway_with_a_paper_account_is_judged_wrong_mode(gateway):
    from ecosystem.gateway import judge_login

    answer = handshake("127.0.0.1", gateway)
    assert judge_login(answer, broker_account="DU1234567", trading_mode="live") == [
        "the gateway is logged in to a paper account but TRADING_MODE=live"]


def session_command(tmp_path, verb: str) -> dict:
    import json

    done = subprocess.run([sys.executable, str(STANDIN), verb], capture_output=True, text=True, timeout=30, check=True,
                          env={**os.environ, "STANDIN_SESSION_FILE": str(tmp_path / "session.json"),
                               "STANDIN_RESTART_SECONDS": "1"})
    return json.loads(done.stdout)


def logged_in(port) -> bool:
    try:
        handshake("127.0.0.1", port, timeout=1)
        return True
    except GatewayError:
        return False


@pytest.mark.parametrize("gateway", [{"STANDIN_TWOFA": "yes", "STANDIN_TWOFA_TIMEOUT": "1"}], indirect=True)
def test_the_stand_in_session_waits_for_approval_asks_again_logs_out_and_restarts_daily(gateway, tmp_path):
    assert not logged_in(gateway), "a cold start waits for the 2FA approval"
    time.sleep(1.5)
    assert session_command(tmp_path, "state")["request"] >= 2, "an unapproved request expires and a new one is sent"
    session_command(tmp_path, "approve")
    assert logged_in(gateway)
    session_command(tmp_path, "logout")
    assert not logged_in(gateway), "a lost session waits for a new approval"
    session_command(tmp_path, "approve")
    session_command(tmp_path, "daily-restart")
    assert not logged_in(gateway), "logged out during the daily restart"
    time.sleep(1.5)
    assert logged_in(gateway), "and logged in again by itself after it"
