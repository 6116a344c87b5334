"""The scheduler's signs of life outside: pings to a real loopback HTTP server (a monitoring
service's stand-in), the pipeline's start and end among them, a failing ping a masked warning,
systemd's notify socket, and a slot lost to a held lock recorded missed (alerted)."""
from __future__ import annotations

import logging
import socket
from datetime import timedelta

import pytest

from ecosystem import heartbeat
from ecosystem import scheduler_loop as loop_module
from ecosystem.errors import EXIT_BUSY
from tests.support.net import free_port
from tests.unit.test_scheduler_loop import JOBS, LONDON, MONDAY_1950, Clock, child, make_world, wait_all

TOKEN = "0d2c1b7e-5f4a-4c3b-9e8d-7a6b5c4d3e2f"


@pytest.fixture
def world(tmp_path):
    return make_world(tmp_path)


@pytest.fixture
def sink(http_sink):
    return http_sink


def test_ping_urls_follow_healthchecks_and_uptime_kuma():
    assert heartbeat.ping_url(f"https://hc-ping.com/{TOKEN}", "alive") == f"https://hc-ping.com/{TOKEN}"
    assert heartbeat.ping_url(f"https://hc-ping.com/{TOKEN}/", "start") == f"https://hc-ping.com/{TOKEN}/start"
    assert heartbeat.ping_url(f"https://hc-ping.com/{TOKEN}", "fail") == f"https://hc-ping.com/{TOKEN}/fail"
    assert heartbeat.ping_url(f"https://hc-ping.com/{TOKEN}", "success") == f"https://hc-ping.com/{TOKEN}"
    kuma = "https://kuma.example/api/push/Ab12Cd34?status=up&msg=OK&ping="
    assert heartbeat.ping_url(kuma, "fail", "nightly failed") == \
        "https://kuma.example/api/push/Ab12Cd34?status=down&msg=nightly+failed&ping="
    assert "status=up" in heartbeat.ping_url(kuma, "alive")
    with pytest.raises(ValueError):
        heartbeat.ping_url(kuma, "maybe")


def test_a_ping_reaches_the_service_with_its_message(sink):
    pinger = heartbeat.Pinger(f"{sink.url}/ping/{TOKEN}")
    assert pinger.ping("start", "nightly 2026-11-30 started")
    assert sink.requests == [("POST", f"/ping/{TOKEN}/start", "nightly 2026-11-30 started")]
    assert not heartbeat.Pinger(None).ping("alive") and not heartbeat.Pinger(None)


def test_a_ping_to_a_service_that_is_down_is_a_warning_without_the_url(caplog):
    pinger = heartbeat.Pinger(f"http://127.0.0.1:{free_port()}/ping/{TOKEN}", timeout=2)
    with caplog.at_level(logging.WARNING, logger="ecosystem.heartbeat"):
        assert pinger.ping("alive") is False
    assert "heartbeat ping (alive) to HEARTBEAT_URL failed" in caplog.text
    assert TOKEN not in caplog.text and "127.0.0.1" not in caplog.text
    assert pinger.failures == 1


def test_the_scheduler_pings_the_start_and_the_end_of_each_pipeline_success_or_failure(world, sink):
    history, _events, beat = world
    codes = iter([0, 1])
    clock = Clock(MONDAY_1950)
    scheduler = loop_module.Scheduler(JOBS, history, tz=LONDON, heartbeat=beat, clock=clock,
                                      launch=lambda command: child(0.02, next(codes) if command[0] == "nightly" else 0),
                                      pinger=heartbeat.Pinger(f"{sink.url}/{TOKEN}"))
    for _ in range(7):  # the nightly slot at 19:55, reaped at 19:56
        scheduler.tick()
        wait_all(scheduler)
        clock.advance()
    assert sink.paths() == [f"/{TOKEN}/start", f"/{TOKEN}"]
    assert "nightly 2026-11-30 ended ok" in sink.requests[-1][2]
    clock.now += timedelta(days=1)  # Tuesday: the nightly fails
    for _ in range(7):
        scheduler.tick()
        wait_all(scheduler)
        clock.advance()
    assert sink.paths()[2:] == [f"/{TOKEN}/start", f"/{TOKEN}/fail"]
    assert "ended failed (exit code 1)" in sink.requests[-1][2]


def test_a_slot_lost_to_a_held_lock_is_recorded_missed_and_alerted_but_a_busy_sync_is_not(world):
    history, events, beat = world
    clock = Clock(MONDAY_1950)
    scheduler = loop_module.Scheduler(JOBS, history, tz=LONDON, heartbeat=beat, clock=clock,
                                      launch=lambda command: child(0.02, EXIT_BUSY))
    for _ in range(7):
        scheduler.tick()
        wait_all(scheduler)
        clock.advance()
    (slot,) = [r for r in history.runs(job=loop_module.JOB) if r.step == "nightly"]
    assert slot.outcome == "missed" and "holding its lock" in slot.detail
    assert [e.subject for e in events] == ["run-scheduler/nightly missed"], "the busy syncs alerted nothing"


def test_notify_speaks_systemds_protocol_to_its_socket(tmp_path, monkeypatch):
    address = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind(address)
        monkeypatch.setenv("NOTIFY_SOCKET", address)
        assert heartbeat.notify("READY=1") and heartbeat.notify("WATCHDOG=1")
        assert listener.recv(100) == b"READY=1" and listener.recv(100) == b"WATCHDOG=1"
    monkeypatch.delenv("NOTIFY_SOCKET")
    assert heartbeat.notify("WATCHDOG=1") is False, "without systemd it does nothing"


def test_a_heartbeat_url_that_is_not_http_is_refused_at_load_without_showing_it(tmp_path):
    from ecosystem.errors import SettingsError
    from ecosystem.settings import load_settings

    with pytest.raises(SettingsError) as refused:
        load_settings(tmp_path, env_file=tmp_path / "none.env", environ={"HEARTBEAT_URL": f"hc-ping.com/{TOKEN}"})
    assert "HEARTBEAT_URL=<hidden>: must be an http:// or https:// URL" in str(refused.value)
    assert TOKEN not in str(refused.value)


def test_a_tick_that_fails_is_recorded_so_it_alerts_and_the_loop_goes_on(world):
    history, events, beat = world
    scheduler = loop_module.Scheduler(JOBS, history, tz=LONDON, heartbeat=beat, clock=Clock(MONDAY_1950),
                                      launch=lambda command: child(0.02))
    scheduler.tick_failed(OSError(28, "No space left on device", "/state/scheduler-heartbeat.json"))
    (event,) = events
    assert event.subject == "run-scheduler/tick failed"
    assert "DiskFull: the disk is full writing /state/scheduler-heartbeat.json" in event.detail
