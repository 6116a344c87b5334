"""The scheduler loop with real jobs: each a real `invoke` process of this project, on the real engine,
against a NAS that accepts connections and never answers (a real TCP listener on loopback), with
alerts delivered to a real SMTP server on loopback. The clock is injected, so days pass in seconds.

- a job that fails every time (``eod`` with no stack) is recorded and alerted every time, and the
  loop goes on;
- a job that hangs (``offload`` to the silent NAS) is stopped at its timeout, recorded
  ``timed_out`` and alerted, and ``weekly sync`` is started on every tick meanwhile;
- no secret (the SMB password, the mail password) is in any alert.
"""
from __future__ import annotations

import os
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from invoke import Context

from ecosystem import backup, backup_key, commands, locks
from ecosystem import scheduler_loop as loop_module
from tasks._common import history as task_history
from tests.support.invoking import ROOT, write_env
from tests.support.smtp import SmtpServer

SMB_PASSWORD = "sentinel-SMB-sched-8642"
MAIL_PASSWORD = "sentinel-MAIL-sched-9753"
LONDON = ZoneInfo("Europe/London")


class SilentNas:
    """Accepts TCP connections on loopback and never says a word (a hung NAS)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        for conn in self.held:
            conn.close()
        self.sock.close()


@pytest.fixture
def world(tmp_path, monkeypatch):
    smtp, nas = SmtpServer(), SilentNas()
    url = (f"mailto://alerts:{MAIL_PASSWORD}@localhost:{smtp.port}?smtp=127.0.0.1&from=ecosystem@localhost"
           "&to=trader@localhost&mode=insecure")
    values = {"STATE_DIR": str(tmp_path / "state"), "BACKUP_DIR": str(tmp_path / "backup"),
              "NAME_SUFFIX": "_schedtest", "TIMEZONE": "Europe/London", "ALERT_URLS": url,
              "ALERT_THROTTLE_MINUTES": "0", "SMB_SERVER": "127.0.0.1", "SMB_PORT": str(nas.port),
              "SMB_SHARE": "backups", "SMB_USER": "trader", "SMB_PASSWORD": SMB_PASSWORD,
              "SCHEDULER_JOBS": "eod @ daily 08:00; offload @ daily 08:00"}
    env_file = write_env(tmp_path, values)
    environ = {k: v for k, v in os.environ.items() if k not in values} | {"ECOSYSTEM_ENV_FILE": str(env_file)}
    for name in values:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ECOSYSTEM_ENV_FILE", str(env_file))
    # a cold backup "holds" MongoDB: weekly sync then leaves the stack alone and ends at once (its real path)
    backup.ColdMarker(tmp_path / "state").note(["mongo_db"], [])
    backup_key.ensure(tmp_path / "state" / "backup-key.txt")  # what `invoke setup` makes: offload reaches the NAS
    with locks.exclusive(tmp_path / "state", "backup"):
        yield tmp_path, environ, smtp
    nas.close()
    smtp.stop()


def test_a_failing_job_alerts_every_time_a_hanging_one_is_stopped_at_its_timeout_and_sync_never_waits(
        world, monkeypatch):
    folder, environ, smtp = world
    monkeypatch.setitem(loop_module.TIMEOUTS, "own:offload", timedelta(minutes=3))
    c = Context()
    from ecosystem import scheduler_plan
    from tasks._common import settings, task_flags

    s = settings(c)
    jobs = [j for j in scheduler_plan.jobs(s, task_flags) if j.name in ("own:eod", "own:offload")]
    record = task_history(c)   # the scheduler's own history, wired to alerts as `invoke run-scheduler` wires it
    launched: list[tuple[str, ...]] = []

    def launch(command):
        launched.append(command)
        return commands.start_invoke(command, ROOT, env=environ)

    clock = [datetime(2026, 12, 1, 8, 0, tzinfo=LONDON).astimezone(UTC)]
    loop = loop_module.Scheduler(jobs, record, tz=LONDON, heartbeat=folder / "state" / "heartbeat.json",
                                 launch=launch, clock=lambda: clock[0], checks=(), term_grace=timedelta(minutes=1))
    loop.since = clock[0] - timedelta(minutes=1)
    ticks = 0
    hanging_seen_with_sync = 0
    for day in range(3):
        clock[0] = datetime(2026, 12, 1 + day, 8, 0, tzinfo=LONDON).astimezone(UTC)
        for minute in range(7):
            clock[0] += timedelta(minutes=1) if minute else timedelta(0)
            loop.tick()
            ticks += 1
            if "own:offload" in loop.running and loop.running["own:offload"].process.poll() is None:
                hanging_seen_with_sync += 1
            deadline = time.monotonic() + 60   # a real minute has not passed: let this tick's sync end
            while loop_module.SYNC in loop.running and loop.running[loop_module.SYNC].process.poll() is None \
                    and time.monotonic() < deadline:
                time.sleep(0.1)
        loop.settle()

    syncs = [cmd for cmd in launched if cmd == (loop_module.SYNC,)]
    assert len(syncs) == ticks, "weekly sync was started on every tick, also while offload hung"
    assert hanging_seen_with_sync >= 6, "offload really was hanging during those ticks"
    runs = [r for r in record.runs(job=loop_module.JOB)]
    by_job = {job: [(r.slot, r.outcome) for r in runs if r.step == f"own:{job}" and r.slot]
              for job in ("eod", "offload")}
    assert by_job["eod"] == [("2026-12-01", "failed"), ("2026-12-02", "failed"), ("2026-12-03", "failed")]
    assert by_job["offload"] == [("2026-12-01", "timed_out"), ("2026-12-02", "timed_out"),
                                 ("2026-12-03", "timed_out")]
    assert not [r for r in runs if r.step == loop_module.SYNC and r.outcome != "ok"], "every sync ended ok"

    import email
    messages = smtp.wait_for(9, timeout=60)
    texts = []
    for raw in messages:
        message = email.message_from_string(raw)
        body = next(p.get_payload(decode=True).decode() for p in message.walk() if p.get_content_type() == "text/plain")
        texts.append(f"{message['Subject']}\n{body}")
        assert SMB_PASSWORD not in raw and MAIL_PASSWORD not in raw
    eod_own = [t for t in texts if "pysys_runtime is not running" in t]
    assert len(eod_own) == 3, "the failing job's own failure, alerted each of the three days"
    assert len([t for t in texts if "invoke eod exited with code 1" in t]) == 3, "and the scheduler's record of it"
    timed_out = [t for t in texts
                 if "invoke offload exited" in t and "timed_out" in t.replace("timed out", "timed_out")]
    assert len(timed_out) == 3, "each hang stopped at its timeout is alerted"


def test_run_scheduler_on_sigterm_stops_its_running_job_cleanly_records_why_and_exits_0(world):
    """The real `invoke run-scheduler` process: a trader's own job (offload to the silent NAS) is due
    this minute; SIGTERM (systemctl stop) ends the job's whole process group, records the slot as
    stopped with the scheduler, and the loop exits 0."""
    import json
    import signal
    import subprocess
    import sys

    from ecosystem.history import History

    folder, environ, _ = world
    now = datetime.now(LONDON)
    if now.second > 45:            # the slot must still be this minute when the loop first looks
        time.sleep(61 - now.second)
        now = datetime.now(LONDON)
    env_file = Path(environ["ECOSYSTEM_ENV_FILE"])
    env_file.write_text(env_file.read_text().replace("eod @ daily 08:00; offload @ daily 08:00",
                                                     f"offload @ daily {now:%H:%M}"))
    loop = subprocess.Popen([sys.executable, "-m", "invoke", "run-scheduler"], cwd=ROOT, env=environ,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    heartbeat = folder / "state" / "scheduler-heartbeat.json"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if "own:offload" in json.loads(heartbeat.read_text()).get("running", []):
                break
        except (OSError, ValueError):
            pass
        time.sleep(0.2)
    else:
        loop.kill()
        raise AssertionError(f"the own offload job never ran:\n{loop.communicate()[0]}")
    time.sleep(2)  # let it reach its SMB connection
    loop.send_signal(signal.SIGTERM)
    output, _ = loop.communicate(timeout=120)
    assert loop.returncode == 0, output
    assert "stopping" in output
    left = subprocess.run(["pgrep", "-f", "invoke offload"], capture_output=True, text=True).stdout.split()
    assert left == [], "the job's process group was stopped with the loop"
    runs = [r for r in History(folder / "state" / "history.jsonl").runs(job="run-scheduler") if r.step == "own:offload"]
    assert len(runs) == 1 and runs[0].outcome == "failed" and "stopped when the scheduler stopped" in runs[0].detail
