"""The run history: recording, folding, questions, failure events, crashes and concurrency."""
from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ecosystem.events import EventBus
from ecosystem.history import History, RunTimedOut, parse_since
from ecosystem.secrets import Redactor

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def events():
    return []


@pytest.fixture
def history(tmp_path, events):
    bus = EventBus()
    bus.subscribe(events.append)
    return History(tmp_path / "state" / "history.jsonl", bus=bus)


def test_a_run_is_recorded_ok_with_start_end_and_fields(history):
    with history.run("backup", slot="2026-11-27") as run:
        run.detail = "3 files"
    [recorded] = history.runs()
    assert (recorded.job, recorded.slot, recorded.outcome, recorded.detail) == ("backup", "2026-11-27", "ok", "3 files")
    assert recorded.start <= recorded.end and recorded.start.tzinfo is not None
    assert recorded.state == "ok"


def test_steps_are_recorded_under_their_run(history):
    with history.run("eod", slot="d1") as run:
        with run.step("systems") as step:
            step.set("declined", "status STOP")
    records = history.runs()
    step = next(r for r in records if r.step == "systems")
    parent = next(r for r in records if r.step is None)
    assert step.parent == parent.id and step.slot == "d1" and step.outcome == "declined"
    assert history.runs(include_steps=False) == [parent]


def test_an_exception_is_recorded_failed_and_re_raised_unchanged(history, events):
    error = RuntimeError("disk on fire")
    with pytest.raises(RuntimeError) as caught:
        with history.run("backup"):
            raise error
    assert caught.value is error
    assert history.last("backup").outcome == "failed"
    assert "RuntimeError: disk on fire" in history.last("backup").detail
    assert [(e.job, e.outcome) for e in events] == [("backup", "failed")]


def test_a_timeout_is_recorded_timed_out(history, events):
    with pytest.raises(RunTimedOut):
        with history.run("eod", step="systems"):
            raise RunTimedOut("past 3600 s")
    assert history.last("eod", step="systems").outcome == "timed_out"
    assert events[0].outcome == "timed_out" and events[0].step == "systems"


def test_keyboard_interrupt_is_recorded_as_interrupted(history):
    with pytest.raises(KeyboardInterrupt):
        with history.run("offload"):
            raise KeyboardInterrupt
    assert history.last("offload").detail == "interrupted (KeyboardInterrupt)"


@pytest.mark.parametrize("outcome,alerts", [("ok", 0), ("skipped", 0), ("declined", 1), ("suspect", 1),
                                            ("missed", 1), ("failed", 1), ("timed_out", 1)])
def test_failure_outcomes_emit_one_event(history, events, outcome, alerts):
    history.record("nightly", outcome, "why")
    assert len(events) == alerts
    if alerts:
        assert events[0].subject == f"nightly {outcome}" and events[0].detail == "why"


def test_unknown_outcome_is_refused(history):
    with pytest.raises(ValueError, match="unknown outcome"):
        history.record("x", "fine")


def test_a_broken_subscriber_does_not_break_the_run(tmp_path):
    bus = EventBus()
    seen = []
    bus.subscribe(lambda event: 1 / 0)
    bus.subscribe(seen.append)
    History(tmp_path / "h.jsonl", bus=bus).record("x", "failed")
    assert len(seen) == 1


def test_unsubscribe(tmp_path):
    bus, seen = EventBus(), []
    unsubscribe = bus.subscribe(seen.append)
    unsubscribe()
    History(tmp_path / "h.jsonl", bus=bus).record("x", "failed")
    assert seen == []


def test_details_are_redacted_and_bounded(tmp_path):
    record = History(tmp_path / "h.jsonl", redact=Redactor(["hunter2"]))
    record.record("offload", "failed", "login hunter2 refused " + "x" * 2000)
    detail = record.last("offload").detail
    assert "hunter2" not in detail and len(detail) <= 500
    assert "hunter2" not in (tmp_path / "h.jsonl").read_text()


def test_last_and_succeeded_for_slot(history):
    history.record("nightly", "failed", slot="2026-11-26")
    history.record("nightly", "ok", slot="2026-11-27")
    history.record("nightly", "failed", slot="2026-11-28")
    assert history.last("nightly").slot == "2026-11-28"
    assert history.succeeded("nightly", "2026-11-27")
    assert not history.succeeded("nightly", "2026-11-26")
    assert not history.succeeded("nightly", "2026-11-29")
    assert history.last("never") is None


def test_a_run_without_end_is_running_while_its_process_lives_then_interrupted(history):
    run = history.begin("backup")
    assert history.runs()[0].state == "running"
    entry = json.loads(history.path.read_text().splitlines()[0]) | {"pid": 2 ** 22 + 7}
    history.path.write_text(json.dumps(entry) + "\n")
    assert history.runs()[0].state == "interrupted"
    assert history.runs()[0].id == run.id


def test_since_filter(tmp_path):
    now = datetime(2026, 11, 29, 12, tzinfo=UTC)
    clock = iter([now - timedelta(days=3)] * 2 + [now] * 2)
    record = History(tmp_path / "h.jsonl", clock=lambda: next(clock))
    record.record("old", "ok")
    record.record("new", "ok")
    assert [r.job for r in record.runs(since=now - timedelta(days=1))] == ["new"]


@pytest.mark.parametrize("text,expected", [
    ("3d", datetime(2026, 11, 26, 12, tzinfo=UTC)),
    ("12h", datetime(2026, 11, 29, 0, tzinfo=UTC)),
    ("30m", datetime(2026, 11, 29, 11, 30, tzinfo=UTC)),
    ("2w", datetime(2026, 11, 15, 12, tzinfo=UTC)),
    ("2026-11-28", datetime(2026, 11, 28, tzinfo=ZoneInfo("Europe/London"))),
    ("2026-11-28T09:30", datetime(2026, 11, 28, 9, 30, tzinfo=ZoneInfo("Europe/London"))),
])
def test_parse_since(text, expected):
    now = datetime(2026, 11, 29, 12, tzinfo=UTC)
    assert parse_since(text, now=now, tz=ZoneInfo("Europe/London")) == expected


def test_parse_since_names_the_accepted_forms():
    with pytest.raises(ValueError, match="30m, 12h, 3d"):
        parse_since("yesterday", now=datetime.now(UTC), tz=UTC)


def test_a_torn_last_line_is_skipped_and_the_next_record_starts_fresh(history):
    history.record("a", "ok")
    with open(history.path, "ab") as handle:
        handle.write(b'{"v":1,"phase":"end","id":"abc","job":"torn","sta')
    history.record("b", "ok")
    assert [r.job for r in history.runs()] == ["a", "b"]
    assert history.damaged_lines == 1


WRITER = textwrap.dedent("""
    import sys
    sys.path.insert(0, {root!r})
    from ecosystem.history import History
    history = History({path!r})
    name, count = sys.argv[1], int(sys.argv[2])
    print("ready", flush=True)
    for i in range(count):
        with history.run(name, slot=str(i)) as run:
            run.detail = "x" * 400
""")


def _writer(tmp_path, path, name, count):
    script = tmp_path / "writer.py"
    script.write_text(WRITER.format(root=str(ROOT), path=str(path)))
    process = subprocess.Popen([sys.executable, str(script), name, str(count)], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "ready"
    return process


def test_history_survives_writers_killed_mid_write(tmp_path):
    path = tmp_path / "history.jsonl"
    rng = random.Random(7)
    for round_ in range(12):
        process = _writer(tmp_path, path, f"killed{round_}", 100000)
        time.sleep(rng.uniform(0.01, 0.15))
        process.send_signal(signal.SIGKILL)
        process.wait()
        # big writes are where a kill can land mid-line: force some torn tails too
        if round_ % 4 == 0:
            with open(path, "ab") as handle:
                handle.write(b'{"v":1,"phase":"start","id":"x' + b"y" * rng.randint(1, 300))
    history = History(path)
    runs = history.runs()
    assert runs, "the writers recorded nothing"
    assert all(r.job.startswith("killed") for r in runs)
    finished = [r for r in runs if r.outcome]
    assert all(r.outcome == "ok" and r.detail == "x" * 400 for r in finished)
    assert all(r.state == "interrupted" for r in runs if not r.outcome)
    history.record("after", "ok")
    assert history.last("after").outcome == "ok"
    for line in path.read_bytes().split(b"\n")[:-1]:
        assert line.startswith(b"{")  # every record begins on its own line


def test_concurrent_writers_from_two_processes(tmp_path):
    path = tmp_path / "history.jsonl"
    writers = [_writer(tmp_path, path, name, 300) for name in ("left", "right")]
    for process in writers:
        assert process.wait(timeout=120) == 0
    history = History(path)
    runs = history.runs()
    assert history.damaged_lines == 0
    for name in ("left", "right"):
        mine = [r for r in runs if r.job == name]
        assert len(mine) == 300 and all(r.outcome == "ok" for r in mine)
        assert sorted(int(r.slot) for r in mine) == list(range(300))
    assert len(path.read_text().splitlines()) == 2 * 2 * 300


def test_a_process_runs_last_log_lines_are_kept_redacted_and_bounded(tmp_path):
    bus, events = EventBus(), []
    bus.subscribe(events.append)
    record = History(tmp_path / "h.jsonl", bus=bus, redact=Redactor(["hunter2-secret"]))
    start = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)
    lines = tuple(f"line {i}" for i in range(30)) + ("password is hunter2-secret", "x" * 1000)
    record.record("eod", "failed", "exited with code 1", step="run_systems", slot="2026-12-01", start=start,
                  end=start + timedelta(minutes=3), log_tail=lines)
    run = record.runs(job="eod")[0]
    assert run.start == start and run.duration == timedelta(minutes=3), "a run observed afterwards keeps its times"
    assert len(run.log_tail) == 15 and run.log_tail[-2] == "password is ********" and len(run.log_tail[-1]) == 300
    assert "hunter2" not in (tmp_path / "h.jsonl").read_text()
    assert events[0].log_tail == run.log_tail


def test_jobs_are_named_after_their_task_and_an_earlier_versions_names_read_as_todays(tmp_path):
    import json

    path = tmp_path / "history.jsonl"
    old = [("day", "run_stack_handler"), ("weekly", "sync"), ("schedule", "nightly"), ("gateway", "status"),
           ("backup", None)]
    with open(path, "w") as f:
        for n, (job, step) in enumerate(old):
            for phase in ("start", "end"):
                f.write(json.dumps({"v": 1, "phase": phase, "id": str(n), "parent": None, "job": job, "step": step,
                                    "slot": "2026-12-01", "start": "2026-12-01T10:00:00+00:00",
                                    "end": "2026-12-01T10:01:00+00:00" if phase == "end" else None,
                                    "outcome": "ok" if phase == "end" else None, "detail": "", "pid": 1,
                                    "host": "h"}) + "\n")
    runs = History(path).runs()
    assert [(r.job, r.step) for r in runs] == [("weekly.sync", "run_stack_handler"), ("weekly.sync", None),
                                               ("run-scheduler", "nightly"), ("gateway.status", None),
                                               ("backup", None)]
    assert {r.job for r in History(path).runs(job="weekly")} == {"weekly.sync"}, "a collection names its jobs"
    assert [r.step for r in History(path).runs(job="weekly.sync")] == ["run_stack_handler", None]
    assert History(path).runs(job="gateway")[0].job == "gateway.status"
