"""`invoke history` as a trader runs it: a table of runs, filters, and a clear error for a bad --since."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ecosystem.history import History

ROOT = Path(__file__).resolve().parents[2]


def invoke(tmp_path, *args):
    environ = {**os.environ, "ECOSYSTEM_ENV_FILE": str(tmp_path / ".env"), "STATE_DIR": str(tmp_path / "state"),
               "TIMEZONE": "America/Chicago"}
    return subprocess.run([sys.executable, "-m", "invoke", "history", *args], cwd=ROOT, env=environ,
                          capture_output=True, text=True, timeout=60)


def test_history_lists_runs_and_filters_by_job(tmp_path):
    record = History(tmp_path / "state" / "history.jsonl")
    with record.run("eod", slot="2026-11-27") as run:
        with run.step("systems") as step:
            step.set("declined", "status is STOP")
    record.record("backup", "suspect", "set much smaller than the last good one")
    result = invoke(tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["start", "job", "step", "slot", "outcome", "took", "detail"]
    assert any("systems" in line and "declined" in line and "status is STOP" in line for line in lines)
    assert any("backup" in line and "suspect" in line for line in lines)
    only = invoke(tmp_path, "--job", "backup").stdout
    assert "backup" in only and "eod" not in only
    record.record("weekly.sync", "ok", "launched run_stack_handler", step="run_stack_handler")
    for asked in ("weekly.sync", "weekly", "day"):  # a job, its collection, an earlier version's name of it
        assert "launched run_stack_handler" in invoke(tmp_path, "--job", asked).stdout, asked


def test_history_with_a_bad_since_says_what_is_accepted(tmp_path):
    result = invoke(tmp_path, "--since", "last tuesday")
    assert result.returncode == 2 and "30m, 12h, 3d, 2w" in result.stderr


def test_empty_history_says_so(tmp_path):
    assert "no runs recorded" in invoke(tmp_path).stdout
