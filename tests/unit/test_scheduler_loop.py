"""The scheduler's loop body with real child processes and an injected clock: no job twice, a long job
delays, a failing job is recorded (an event) and the loop goes on, a hanging job is stopped at its
timeout while weekly sync keeps its minute, a restart repeats nothing."""
from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from ecosystem import scheduler_loop as loop_module
from ecosystem import scheduler_plan
from ecosystem.events import EventBus
from ecosystem.history import History

LONDON = ZoneInfo("Europe/London")
MONDAY_1950 = datetime(2026, 11, 30, 19, 50, tzinfo=LONDON).astimezone(UTC)


def nightly_at_1955(day):
    at = datetime.combine(day, datetime.min.time(), tzinfo=LONDON).replace(hour=19, minute=55).astimezone(UTC)
    if day.isoweekday() > 5:
        return []
    return [scheduler_plan.Slot("nightly", day.isoformat(), at, at + timedelta(hours=4))]


JOBS = [scheduler_plan.JobSpec("nightly", nightly_at_1955)]


class Clock:
    def __init__(self, start):
        self.now = start

    def __call__(self):
        return self.now

    def advance(self, minutes=1):
        self.now += timedelta(minutes=minutes)


def child(seconds: float, code: int = 0) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", f"import time, sys; time.sleep({seconds}); sys.exit({code})"],
                            start_new_session=True)


def make_world(tmp_path):
    """A history whose events are collected, and where the heartbeat file goes: (history, events, path)."""
    bus, events = EventBus(), []
    bus.subscribe(events.append)
    history = History(tmp_path / "history.jsonl", bus=bus)
    return history, events, tmp_path / "heartbeat.json"


@pytest.fixture
def world(tmp_path):
    return make_world(tmp_path)


def make(world, clock, behaviour):
    history, _, heartbeat = world
    started = []

    def launch(command):
        job = command[0]
        started.append(job)
        return behaviour(job)
    return loop_module.Scheduler(JOBS, history, tz=LONDON, heartbeat=heartbeat, launch=launch, clock=clock), started


def wait_all(scheduler):
    for item in scheduler.running.values():
        item.process.wait(timeout=30)


def test_a_job_runs_once_for_its_slot_and_a_restart_repeats_nothing(world):
    clock = Clock(MONDAY_1950)
    scheduler, started = make(world, clock, lambda job: child(0.02))
    for _ in range(10):  # 19:50 .. 19:59
        scheduler.tick()
        wait_all(scheduler)
        clock.advance()
    assert started.count("nightly") == 1 and started.count("weekly.sync") == 10
    scheduler.tick()
    again, started_again = make(world, clock, lambda job: child(0.02))  # a restart: same history and heartbeat
    for _ in range(5):
        clock.advance()
        again.tick()
        wait_all(again)
    assert "nightly" not in started_again
    runs = [r for r in world[0].runs(job="run-scheduler") if r.step == "nightly"]
    assert [(r.slot, r.outcome) for r in runs] == [("2026-11-30", "ok")]


def test_a_failing_job_is_recorded_and_alerted_and_the_loop_goes_on(world):
    clock = Clock(MONDAY_1950 + timedelta(minutes=5))
    scheduler, started = make(world, clock, lambda job: child(0.02, code=3 if job == "nightly" else 0))
    for _ in range(3):
        scheduler.tick()
        wait_all(scheduler)
        clock.advance()
    scheduler.tick()
    failed = [r for r in world[0].runs(job="run-scheduler") if r.step == "nightly"]
    assert failed[0].outcome == "failed" and "code 3" in failed[0].detail
    assert [e.subject for e in world[1]] == ["run-scheduler/nightly failed"]
    assert started.count("weekly.sync") == 4, "weekly sync kept its minute"


def test_a_hanging_job_is_stopped_at_its_timeout_and_never_runs_twice_meanwhile(world, monkeypatch):
    monkeypatch.setitem(loop_module.TIMEOUTS, "nightly", timedelta(minutes=3))
    clock = Clock(MONDAY_1950 + timedelta(minutes=5))
    scheduler, started = make(world, clock, lambda job: child(600 if job == "nightly" else 0.1))
    scheduler.tick()
    hanging = scheduler.running["nightly"].process
    for _ in range(5):
        clock.advance()
        for job, item in scheduler.running.items():
            if job != "nightly":
                item.process.wait(timeout=30)
        scheduler.tick()
    hanging.wait(timeout=30)  # SIGTERM reached it
    clock.advance()
    scheduler.tick()
    assert started.count("nightly") == 1 and started.count("weekly.sync") >= 5
    runs = [r for r in world[0].runs(job="run-scheduler") if r.step == "nightly"]
    assert [r.outcome for r in runs] == ["timed_out"]


def test_a_slot_passed_while_down_beyond_its_limit_is_missed_and_alerted(world):
    _history, events, _heartbeat = world
    clock = Clock(MONDAY_1950 + timedelta(minutes=2))
    scheduler, _ = make(world, clock, lambda job: child(0.02))
    scheduler.tick()
    wait_all(scheduler)
    clock.advance(minutes=60 * 5)  # down from 19:52 to 00:52: the slot's limit (23:55) passed
    later, started = make(world, clock, lambda job: child(0.02))
    later.tick()
    assert "nightly" not in started
    assert [(e.subject, e.slot) for e in events] == [("run-scheduler/nightly missed", "2026-11-30")]


def test_an_offload_older_than_its_limit_is_alerted_once_a_day(world):
    history, events, _ = world
    check = loop_module.offload_age_check(history, max_age=timedelta(hours=36), tz=LONDON)
    history.record("offload", "ok", "sent 1 set")
    now = datetime.now(UTC)
    assert check(now + timedelta(hours=1)) == []
    late = now + timedelta(hours=40)
    assert check(late) and check(late + timedelta(seconds=1)) == [], "once a day"
    assert [e.subject for e in events] == ["run-scheduler/offload-age failed"]
