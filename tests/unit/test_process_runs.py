"""One process as its own container, judged: ran, declined (exit 0 without a new start), crashed."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from ecosystem import process_runs
from ecosystem.errors import EcosystemError
from ecosystem.process_control import ProcessRecord

LONDON = ZoneInfo("Europe/London")
TUESDAY, SATURDAY = date(2026, 12, 1), date(2026, 12, 5)


def record(status="GO", running=False, last_start=None, pid=None):
    return ProcessRecord("p", status, running, last_start, None, pid, {})


STARTED = datetime(2026, 7, 1, 11, 0, 0, 500000, tzinfo=UTC)  # 12:00:00.5 in London (BST)


def test_exit_0_with_a_new_start_in_the_record_ran():
    verdict = process_runs.judge("run_systems", 0, record(last_start="2026-07-01T12:00:01"), STARTED, tz=LONDON)
    assert verdict.outcome == "ok"


def test_record_times_are_local_and_whole_seconds():
    # the record says 12:00:00 local, the container started half a second later by the engine's clock
    assert process_runs.judge("p", 0, record(last_start="2026-07-01T12:00:00"), STARTED, tz=LONDON).ok
    # an hour earlier is yesterday's (or this morning's) start, not this one
    assert not process_runs.judge("p", 0, record(last_start="2026-07-01T11:00:00"), STARTED, tz=LONDON).ok


@pytest.mark.parametrize("rec, words", [
    (record(status="STOP", last_start="2026-06-30T20:05:00"), "status is STOP"),
    (record(status="NO-RUN"), "NO-RUN"),
    (record(running=True, pid=4242, last_start="2026-06-30T20:05:00"), "already running (pid 4242)"),
])
def test_exit_0_without_a_new_start_is_declined_with_the_records_reason(rec, words):
    verdict = process_runs.judge("run_systems", 0, rec, STARTED, tz=LONDON)
    assert verdict.outcome == "declined" and words in verdict.detail and verdict.hint


def test_a_launch_after_the_stop_time_is_declined_saying_so():
    stop = STARTED - timedelta(hours=1)
    verdict = process_runs.judge("p", 0, record(), STARTED, tz=LONDON, window_stop=stop)
    assert verdict.outcome == "declined" and "after its stop time (11:00)" in verdict.detail


def test_a_non_zero_exit_is_a_failure_and_137_says_killed():
    assert process_runs.judge("p", 1, record(), STARTED, tz=LONDON).outcome == "failed"
    killed = process_runs.judge("p", 137, None, STARTED, tz=LONDON).detail
    assert "killed by SIGKILL" in killed and "no out-of-memory kill" in killed


def test_137_is_out_of_memory_only_when_the_engine_says_so_with_the_limit_and_the_fix():
    verdict = process_runs.judge("run_systems", 137, None, STARTED, tz=LONDON, oom_killed=True, memory_limit="4g")
    assert verdict.outcome == "failed"
    assert verdict.detail.startswith("out of memory") and "PROCESS_MEMORY_LIMIT=4g" in verdict.detail
    assert "raise PROCESS_MEMORY_LIMIT" in verdict.hint and "invoke logs run_systems --run last" in verdict.hint
    assert not process_runs.judge("p", 0, record(), STARTED, tz=LONDON, oom_killed=True).detail.startswith("out of")


def test_an_unreadable_record_never_passes_for_ok():
    verdict = process_runs.judge("p", 0, None, STARTED, tz=LONDON)
    assert verdict.outcome == "failed" and "unknown" in verdict.detail


class FinishingControl:
    def __init__(self, fail=False):
        self.finished, self.fail = [], fail

    def finish(self, name):
        if self.fail:
            raise EcosystemError("MongoDB does not answer")
        self.finished.append(name)


def test_a_crash_clears_only_its_own_record():
    control = FinishingControl()
    assert "marked finished" in process_runs.clear_after_crash(control, "run_stack_handler", record(running=True))
    assert control.finished == ["run_stack_handler"]
    assert "not left running" in process_runs.clear_after_crash(control, "run_x", record(running=False))
    assert control.finished == ["run_stack_handler"]
    assert "could not be marked" in process_runs.clear_after_crash(FinishingControl(fail=True), "p", None)


def test_a_start_in_the_repeated_autumn_hour_is_read_as_the_later_one_when_that_fits():
    # 2026-10-25 01:30 happens twice in London; the container started at the second one (00:30 UTC)
    started = datetime(2026, 10, 25, 0, 30, 0, tzinfo=UTC)
    assert process_runs.judge("p", 0, record(last_start="2026-10-25T01:30:01"), started, tz=LONDON).ok


def test_the_reason_for_a_decline_uses_when_the_container_ended_not_when_it_is_judged():
    ended = STARTED + timedelta(seconds=3)
    verdict = process_runs.judge("p", 0, record(), STARTED, tz=LONDON, window_stop=STARTED + timedelta(hours=2),
                                 ended=ended)
    assert "after its stop time" not in verdict.detail

