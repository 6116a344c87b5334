"""`invoke status`'s scheduler part: the heartbeat, each scheduled job's next run and its last outcome."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from ecosystem.history import History
from ecosystem.settings import load_settings
from standins.pysystemtrade_repo import make_repo
from tasks import stack


def test_status_shows_the_heartbeat_and_each_jobs_next_run_and_last_outcome(tmp_path, capsys):
    clone = make_repo(tmp_path / "repo")
    s = load_settings(tmp_path, environ={"PYSYSTEMTRADE_CLONE_DIR": str(clone), "STATE_DIR": str(tmp_path / "state"),
                                         "TIMEZONE": "Europe/London"})
    now = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    record = History(tmp_path / "state" / "history.jsonl", clock=lambda: now - timedelta(hours=16))
    record.record("run-scheduler", "failed", "invoke nightly exited with code 1", step="nightly", slot="2026-12-01")
    record.record("run-scheduler", "missed", "its slot passed", step="weekend", slot="2026-W48")
    looked = (now - timedelta(minutes=1)).isoformat()
    (tmp_path / "state" / "scheduler-heartbeat.json").write_text(json.dumps({"looked": looked}))
    stack._scheduler_lines(s, now, record.runs())
    out = capsys.readouterr().out
    assert "scheduler: running" in out
    rows = {line.split()[0]: line for line in out.splitlines() if line and line.split()[0] in
            ("nightly", "weekend", "weekly.open", "gateway.status")}
    assert "Wed 02 Dec 19:55" in rows["nightly"] and "2026-12-01" in rows["nightly"] and "failed" in rows["nightly"]
    assert "Sat 05 Dec 10:00" in rows["weekend"] and "missed" in rows["weekend"]
    assert "never" in rows["weekly.open"] and "Wed 02 Dec 23:50" in rows["weekly.open"], "Thursday's opening"
    stack._scheduler_lines(s, now + timedelta(minutes=10), record.runs())
    assert "NOT RUNNING" in capsys.readouterr().out
    stack._scheduler_lines(s, now - timedelta(days=3), record.runs())  # a heartbeat from the future (demo --keep)
    said = capsys.readouterr().out
    assert "NOT RUNNING (ITS HEARTBEAT IS FROM THE FUTURE)" in said and "heartbeat dated" in said
