"""Never silent, on the real engine with the stand-ins: the engine lost in the middle of `invoke eod`,
a disk that fills during `invoke backup`, an image that is missing, and the heartbeat of a running
scheduler. Each known failure ends in one message with its exit code (no traceback), a history
record and one alert, and the ecosystem recovers once the cause is gone.

The engine is "lost" through a socket proxy the test cuts (``tests/support/engine_proxy.py``): to
the task it is the engine vanishing (the SDK's connection drops, the docker CLI cannot connect),
while the real engine and every other test's containers carry on.
"""
from __future__ import annotations

import signal
import subprocess
import time
from datetime import UTC, datetime

import pytest

from ecosystem import errors
from ecosystem.history import History
from tests.support.disks import small_disk
from tests.support.ecosystem import (
    build_and_start,
    make_ecosystem,
    noon_zone,
    tear_down,
    windows_open_all_day,
    write_private,
)
from tests.support.engine_proxy import EngineProxy
from tests.support.smtp import mail_url

CHAIN = ("run_daily_prices_updates", "run_systems")
PRIVATE_CONTROL = windows_open_all_day(CHAIN)
MAIL_PASSWORD = "sentinel-MAIL-pass-4242"
TOKEN = "5e4d3c2b-1a09-4f8e-8d7c-6b5a4f3e2d1c"


@pytest.fixture(scope="module")
def eco(docker_client, debian_python, tmp_path_factory):
    made = make_ecosystem(docker_client, tmp_path_factory.mktemp("silent"), debian_python, extra={
        "TIMEZONE": noon_zone(), "WORKFLOW_WEEKDAY_START": "1", "WORKFLOW_WEEKDAY_END": "7",
        "EOD_CHAIN": ",".join(CHAIN), "EOD_STOP_ON_FAILURE": "none", "BACKUP_WAIT_MINUTES": "0"})
    try:
        build_and_start(made, {"private_control_config.yaml": PRIVATE_CONTROL, "standin_behaviour": "seconds=0.5\n"})
        yield made
    finally:
        tear_down(docker_client, made)


def mail(smtp) -> str:
    return mail_url(smtp.port, MAIL_PASSWORD)


def history(made) -> History:
    return History(made.settings.history_path)


def running_step(docker_client, made, process: str):
    for container in docker_client.containers.list(filters={"label": made.test_stack.label}):
        if container.labels.get("org.pysystemtrade-ecosystem.process") == process:
            return container
    return None


def test_the_engine_lost_during_eod_is_one_message_one_record_one_alert_and_the_next_runs_recover(
        eco, docker_client, smtp, tmp_path):
    write_private(eco, "standin_behaviour", "seconds=0.5\nrun_daily_price_updates=hang\n")
    since = datetime.now(UTC)
    proxy = EngineProxy(tmp_path)
    chain = eco.start("eod", environ={"DOCKER_HOST": proxy.url, "ALERT_URLS": mail(smtp)}, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 180
        while running_step(docker_client, eco, CHAIN[0]) is None and time.monotonic() < deadline:
            assert chain.poll() is None, chain.communicate()
            time.sleep(0.5)
        assert running_step(docker_client, eco, CHAIN[0]) is not None, "the first step never started"
        time.sleep(2)
        proxy.cut()
        out, err = chain.communicate(timeout=300)
    finally:
        if chain.poll() is None:
            chain.kill()
    said = out + err
    assert chain.returncode == errors.EXIT_ENGINE, said
    assert "Traceback" not in said
    assert "Docker engine" in err and "fix:" in err
    steps = {r.step: r for r in history(eco).runs(job="eod", since=since) if r.step}
    assert steps[CHAIN[0]].outcome == "failed" and "EngineUnavailable" in steps[CHAIN[0]].detail
    assert CHAIN[1] not in steps, "the chain ended: no later step was tried against a lost engine"
    (parent,) = [r for r in history(eco).runs(job="eod", since=since) if r.step is None]
    assert parent.outcome == "failed"
    messages = smtp.wait_for(1)
    time.sleep(3)
    assert len(smtp.messages) == 1, smtp.messages
    assert f"eod/{CHAIN[0]} failed" in messages[0] and MAIL_PASSWORD not in messages[0]

    # the engine is back (the real socket): weekly sync runs clean, and the chain resumes and ends ok
    write_private(eco, "standin_behaviour", "seconds=0.5\n")
    sync = eco.run("weekly.sync", check=False)
    assert sync.returncode == 0, sync.stdout + sync.stderr
    again = eco.run("eod", check=False)
    assert again.returncode == 0, again.stdout + again.stderr
    latest = {r.step: r.outcome for r in history(eco).runs(job="eod", since=since) if r.step}
    assert latest == {CHAIN[0]: "ok", CHAIN[1]: "ok"}, latest


def test_a_disk_that_fills_during_a_backup_is_one_message_recorded_and_alerted_and_leaves_no_partial_set(
        eco, smtp, tmp_path):
    with small_disk(tmp_path / "small", "64k") as small:
        (small / ".filler").write_bytes(b"\0" * 60 * 1024)  # the disk is nearly full: what is left is 4 KB
        since = datetime.now(UTC)
        result = eco.run("backup", check=False, environ={"BACKUP_DIR": str(small), "ALERT_URLS": mail(smtp)})
        said = result.stdout + result.stderr
        assert result.returncode == errors.EXIT_DISK_FULL, said
        assert "Traceback" not in said and "the disk is full" in result.stderr and "fix: free space" in result.stderr
        (run,) = history(eco).runs(job="backup", since=since)
        assert run.outcome == "failed" and "DiskFull" in run.detail
        (message,) = smtp.wait_for(1)
        assert "backup failed" in message and "the disk is full" in message
        assert [p.name for p in small.iterdir()] == [".filler"], "no set is left, whole or partial"
    assert eco.run("weekly.sync", check=False).returncode == 0, "what the backup stopped is running again"


def test_an_image_that_is_missing_is_exit_8_naming_the_fix(eco, docker_client):
    runtime = docker_client.containers.get(f"pysys_runtime{eco.test_stack.suffix}")
    tags = list(runtime.image.tags)
    assert tags, "the runtime's image has a tag"
    for tag in tags:
        docker_client.images.remove(tag, force=True)  # untagged only: the running runtime keeps its image
    try:
        result = eco.run("eod", "--force", check=False)
        said = result.stdout + result.stderr
        assert result.returncode == errors.EXIT_IMAGE, said
        assert "Traceback" not in said and "image is missing" in result.stderr and "invoke build" in result.stderr
    finally:
        for tag in tags:
            repository, _, version = tag.rpartition(":")
            runtime.image.tag(repository, version)


def test_a_running_scheduler_pings_the_heartbeat_feeds_the_watchdog_and_stops_when_its_loop_stops(
        eco, http_sink, tmp_path):
    import socket

    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)  # systemd's side of NOTIFY_SOCKET
    notify.bind(str(tmp_path / "notify.sock"))
    notify.settimeout(30)
    loop = eco.start("run-scheduler", environ={
        "HEARTBEAT_URL": f"{http_sink.url}/{TOKEN}", "HEARTBEAT_INTERVAL_MINUTES": "0.05",
        "NOTIFY_SOCKET": str(tmp_path / "notify.sock"),
        # the week is closed today: the loop's syncs launch nothing
        "WORKFLOW_WEEKDAY_START": str(_tomorrow()), "WORKFLOW_WEEKDAY_END": str(_tomorrow())})
    try:
        assert notify.recv(100) == b"READY=1"
        assert notify.recv(100) == b"WATCHDOG=1", "the loop feeds systemd's watchdog as it turns"
        pings = http_sink.wait_for(3, timeout=60)
        assert len(pings) >= 3 and set(pings) == {f"/{TOKEN}"}, pings
        loop.send_signal(signal.SIGTERM)
        out, _ = loop.communicate(timeout=400)
    finally:
        notify.close()
        if loop.poll() is None:
            loop.kill()
    assert loop.returncode == 0 and "Traceback" not in out, out
    stopped_at = len(http_sink.requests)
    time.sleep(8)
    assert len(http_sink.requests) == stopped_at, "no ping after the loop stopped: the service will alert"
    assert TOKEN not in out


def _tomorrow() -> int:
    from zoneinfo import ZoneInfo

    return datetime.now(ZoneInfo(noon_zone())).isoweekday() % 7 + 1
