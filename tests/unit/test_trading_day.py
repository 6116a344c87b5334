"""The trading day's decisions: ran or declined, what sync launches, how the chain runs and resumes."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from ecosystem import eod, locks, plan, process_runs, trading_day, week
from ecosystem.errors import EcosystemError
from ecosystem.history import History
from ecosystem.process_control import ProcessRecord
from ecosystem.pysys_config import Window
from ecosystem.settings import load_settings

LONDON = ZoneInfo("Europe/London")
TUESDAY, SATURDAY = date(2026, 12, 1), date(2026, 12, 5)


def record(status="GO", running=False, last_start=None, pid=None):
    return ProcessRecord("p", status, running, last_start, None, pid, {})


def utc(day, hh, mm=0, tz=LONDON):
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=tz).astimezone(timezone.utc)


# -- ran or declined ---------------------------------------------------------------------------

STARTED = datetime(2026, 7, 1, 11, 0, 0, 500000, tzinfo=timezone.utc)  # 12:00:00.5 in London (BST)


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
    assert "killed" in process_runs.judge("p", 137, None, STARTED, tz=LONDON).detail


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


# -- what weekly sync launches -----------------------------------------------------------------

def day_plan(day):
    windows = {"run_stack_handler": Window("run_stack_handler", *(datetime.strptime(t, "%H:%M").time()
                                                                  for t in ("00:01", "19:45"))),
               "run_daily_fx_and_contract_updates": Window("run_daily_fx_and_contract_updates",
                                                           datetime.strptime("07:00", "%H:%M").time(),
                                                           datetime.strptime("23:50", "%H:%M").time())}
    return plan.day_plan(day, windows, LONDON, chain=("run_systems",), morning=("run_daily_fx_and_contract_updates",),
                         margin=timedelta(minutes=5))


def due(now, *, inside=True, running=(), tried=None, limit=2, cleared=()):
    """What is due, leaving out the capital update (the same rules as the stack handler's)."""
    return {(d.step.process, d.attempt) for d in trading_day.due_launches(
        day_plan(now.astimezone(LONDON).date()), now, inside_week=inside, running=set(running),
        tried=tried or {}, relaunch_limit=limit, cleared=set(cleared)) if d.step.process != "run_capital_update"}


def test_on_a_trading_day_sync_launches_what_should_run_now_and_never_the_chain():
    assert due(utc(TUESDAY, 0, 30)) == {("run_stack_handler", 1)}
    assert due(utc(TUESDAY, 12)) == {("run_stack_handler", 1), ("run_daily_fx_and_contract_updates", 1)}
    assert due(utc(TUESDAY, 20, 30)) == {("run_daily_fx_and_contract_updates", 1)}, "past 19:45 no stack handler"


def test_on_saturday_sync_launches_nothing():
    window = week.WeekWindow(1, 5, 24, LONDON)
    now = utc(SATURDAY, 12)
    assert not week.phase(window, now).inside
    assert due(now, inside=week.phase(window, now).inside) == set()


def test_a_running_or_finished_process_is_left_alone():
    now = utc(TUESDAY, 12)
    assert ("run_stack_handler", 1) not in due(now, running={"run_stack_handler"})
    tried = {"run_stack_handler": ["ok"], "run_daily_fx_and_contract_updates": ["ok"]}
    assert due(now, tried=tried) == set()


def test_a_crashed_continuous_process_is_relaunched_up_to_the_limit_a_one_shot_never():
    now = utc(TUESDAY, 12)
    fx_done = {"run_daily_fx_and_contract_updates": ["failed"]}
    assert due(now, tried={"run_stack_handler": ["failed"]} | fx_done) == {("run_stack_handler", 2)}
    assert due(now, tried={"run_stack_handler": ["failed", "failed"]} | fx_done) == {("run_stack_handler", 3)}
    assert due(now, tried={"run_stack_handler": ["failed"] * 3} | fx_done) == set(), "limit 2 relaunches reached"


def test_a_declined_continuous_process_is_launched_again_only_once_its_status_is_cleared():
    now = utc(TUESDAY, 12)
    tried = {"run_stack_handler": ["declined"], "run_daily_fx_and_contract_updates": ["ok"]}
    assert due(now, tried=tried) == set()
    assert due(now, tried=tried, cleared={"run_stack_handler"}) == {("run_stack_handler", 2)}
    steps = day_plan(TUESDAY)
    assert trading_day.declined_continuous(steps, now, tried, set()) == ["run_stack_handler"]


# -- the evening chain ---------------------------------------------------------------------------

def chain_steps():
    windows = {}
    return [s for s in plan.day_plan(TUESDAY, windows, LONDON, chain=("a_prices", "b_systems", "c_orders", "d_reports"),
                                     morning=(), margin=timedelta(0)) if s.kind == "evening"]


def scripted(outcomes, calls):
    def execute(step):
        calls.append(step.process)
        outcome = outcomes.get(step.process, "ok")
        if outcome == "raise":
            raise EcosystemError("compose run failed", fix="invoke status")
        return eod.StepResult(process_runs.Verdict(outcome, f"{outcome} on purpose", "a hint"), ("last line",))
    return execute


@pytest.fixture
def history(tmp_path):
    from ecosystem.events import EventBus

    bus = EventBus()
    events = []
    bus.subscribe(events.append)
    made = History(tmp_path / "history.jsonl", bus=bus)
    made.events = events
    return made


def test_every_steps_outcome_is_recorded_and_a_decline_is_a_failure_event(history):
    calls = []
    summary = eod.run_chain(history, "2026-12-01", chain_steps(), execute=scripted({"b_systems": "declined"}, calls),
                            say=lambda _: None)
    assert calls == ["a_prices", "b_systems", "c_orders", "d_reports"], "no stop-on-failure: the chain goes on"
    assert summary.outcomes["b_systems"] == "declined" and not summary.ok
    steps = {r.step: r for r in history.runs(job="eod") if r.step}
    assert steps["b_systems"].outcome == "declined" and steps["b_systems"].log_tail == ("last line",)
    chain = [r for r in history.runs(job="eod") if not r.step][0]
    assert chain.outcome == "failed" and "1 declined" in chain.detail
    assert [(e.step, e.outcome) for e in history.events if e.step] == [("b_systems", "declined")]


def test_a_stop_on_failure_step_skips_the_rest_with_the_reason(history):
    calls = []
    eod.run_chain(history, "s", chain_steps(), execute=scripted({"b_systems": "timed_out"}, calls),
                  stop_on_failure=("b_systems",), say=lambda _: None)
    assert calls == ["a_prices", "b_systems"]
    skipped = [r for r in history.runs(job="eod") if r.outcome == "skipped"]
    assert [r.step for r in skipped] == ["c_orders", "d_reports"]
    assert all("b_systems timed_out" in r.detail for r in skipped)


def test_a_rerun_resumes_at_the_first_step_not_ok_and_force_reruns_all(history):
    eod.run_chain(history, "s", chain_steps(), execute=scripted({"c_orders": "failed"}, []), say=lambda _: None)
    calls = []
    summary = eod.run_chain(history, "s", chain_steps(), execute=scripted({}, calls), say=lambda _: None)
    assert calls == ["c_orders"] and summary.ok and summary.done_earlier == ["a_prices", "b_systems", "d_reports"]
    calls = []
    eod.run_chain(history, "s", chain_steps(), execute=scripted({}, calls), force=True, say=lambda _: None)
    assert calls == ["a_prices", "b_systems", "c_orders", "d_reports"]
    calls = []
    eod.run_chain(history, "another day", chain_steps(), execute=scripted({}, calls), say=lambda _: None)
    assert len(calls) == 4, "resume is per trading day"
    eod.run_chain(history, "s", chain_steps(), execute=scripted({"b_systems": "failed"}, []), force=True,
                  say=lambda _: None)
    calls = []
    eod.run_chain(history, "s", chain_steps(), execute=scripted({}, calls), say=lambda _: None)
    assert calls == ["b_systems"], "a step's latest outcome counts: ok earlier, failed in a forced rerun"


def test_a_step_that_cannot_be_launched_fails_with_the_reason_and_an_interrupt_is_recorded(history):
    summary = eod.run_chain(history, "s", chain_steps(), execute=scripted({"a_prices": "raise"}, []),
                            say=lambda _: None)
    assert summary.outcomes["a_prices"] == "failed"
    assert [r.detail for r in history.runs(job="eod") if r.step == "a_prices"] == ["compose run failed"]

    def interrupted(step):
        raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        eod.run_chain(history, "t", chain_steps(), execute=interrupted, say=lambda _: None)
    last = [r for r in history.runs(job="eod") if r.slot == "t"]
    assert {r.outcome for r in last} == {"failed"} and all("interrupted" in r.detail for r in last)


# -- one run at a time -----------------------------------------------------------------------

def test_a_second_run_of_a_job_is_refused_naming_the_holder(tmp_path):
    import os

    with locks.exclusive(tmp_path, "eod"):
        with pytest.raises(locks.Busy) as busy:
            with locks.exclusive(tmp_path, "eod"):
                pass
        assert f"pid {os.getpid()}" in busy.value.message
        with locks.exclusive(tmp_path, "weekly"):
            pass  # another job's lock is another lock
    with locks.exclusive(tmp_path, "eod"):
        pass  # released


# -- settings ---------------------------------------------------------------------------------

def test_trading_day_settings_parse_and_bad_ones_are_named(tmp_path):
    s = load_settings(tmp_path, environ={"EOD_STEP_TIMEOUTS": "run_systems=240, run_reports=30",
                                         "EOD_STOP_ON_FAILURE": "none"})
    assert s.eod_step_timeouts == {"run_systems": 240, "run_reports": 30} and s.eod_stop_on_failure == ()
    assert load_settings(tmp_path, environ={}).eod_stop_on_failure == ("run_daily_prices_updates", "run_systems")
    from ecosystem.errors import SettingsError
    with pytest.raises(SettingsError) as bad:
        load_settings(tmp_path, environ={"EOD_STEP_TIMEOUTS": "run_systems=soon", "CRASH_RELAUNCH_LIMIT": "-1"})
    text = str(bad.value)
    assert "EOD_STEP_TIMEOUTS" in text and "CRASH_RELAUNCH_LIMIT" in text


# -- fixes after review: DST, external stops, launch failures, statuses left at STOP ---------------

def test_a_start_in_the_repeated_autumn_hour_is_read_as_the_later_one_when_that_fits():
    # 2026-10-25 01:30 happens twice in London; the container started at the second one (00:30 UTC)
    started = datetime(2026, 10, 25, 0, 30, 0, tzinfo=timezone.utc)
    assert process_runs.judge("p", 0, record(last_start="2026-10-25T01:30:01"), started, tz=LONDON).ok


def test_the_reason_for_a_decline_uses_when_the_container_ended_not_when_it_is_judged():
    ended = STARTED + timedelta(seconds=3)
    verdict = process_runs.judge("p", 0, record(), STARTED, tz=LONDON, window_stop=STARTED + timedelta(hours=2),
                                 ended=ended)
    assert "after its stop time" not in verdict.detail


class RecordingControl:
    def __init__(self, status="GO"):
        self.calls, self.status = [], status

    def record(self, name):  # it started just now (a naive local time, as pysystemtrade writes it)
        return ProcessRecord(name, self.status, False, datetime.now(LONDON).replace(tzinfo=None).isoformat(),
                             None, None, {})

    def go(self, name):
        self.calls.append(("go", name))

    def no_run(self, name):
        self.calls.append(("no_run", name))

    def pause(self, name):
        self.calls.append(("pause", name))


def test_a_step_that_ended_through_someone_elses_stop_is_not_ok(tmp_path):
    settings = load_settings(tmp_path, environ={"TIMEZONE": "Europe/London"})
    history = History(tmp_path / "h.jsonl")
    step = chain_steps()[0]
    runner = eod.ContainerStep(settings, None, None, RecordingControl(), history=history)
    started = datetime.now(timezone.utc) - timedelta(seconds=1)
    assert runner._judge(step, 0, started).ok
    with history.run("stop") as run:
        with run.step(step.process):
            pass
    verdict = runner._judge(step, 0, started)
    assert verdict.outcome == "failed" and "stopped by `invoke stop`" in verdict.detail


def test_a_launch_that_fails_is_recorded_as_that_processs_failure_and_counts(tmp_path):
    class BrokenProject:
        def run_detached(self, *args, **kwargs):
            raise EcosystemError("compose run: no such service", fix="invoke build")

    class NoEngine:
        class api:
            @staticmethod
            def remove_container(*args, **kwargs):
                from docker.errors import NotFound
                raise NotFound("gone")

    settings = load_settings(tmp_path, environ={})
    history = History(tmp_path / "h.jsonl")
    step = next(s for s in day_plan(TUESDAY) if s.process == "run_stack_handler")
    said = trading_day.launch_or_record(BrokenProject(), NoEngine(), settings, history,
                                        trading_day.Due(step, 1, "not run yet today"), utc(TUESDAY, 12))
    assert "could not be launched" in said
    assert trading_day.tried_today(history, "2026-12-01") == {"run_stack_handler": ["failed"]}


def test_a_status_left_at_stop_by_a_killed_run_is_put_back_and_a_live_ones_is_not(tmp_path):
    import os
    import subprocess
    import sys

    from ecosystem import processes

    ledger = processes.StatusLedger(tmp_path)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    ledger.note("run_systems", "NO-RUN", "eod timeout")
    (tmp_path / "pending-status" / "run_systems.json").write_text(
        (tmp_path / "pending-status" / "run_systems.json").read_text().replace(
            f'"pid": {os.getpid()}', f'"pid": {int(dead.stdout)}'))
    ledger.note("run_cleaners", "GO", "invoke stop")  # this process is alive: its stop is in progress
    ledger.note("run_reports", "GO", "invoke stop")
    control = RecordingControl()
    said = processes.repair_statuses(ledger, control, running=set())
    assert control.calls == [("no_run", "run_systems")] and "NO-RUN" in said[0]
    assert [e["process"] for e in ledger.pending()] == ["run_cleaners", "run_reports"]
    ledger.done("run_cleaners")
    assert [e["process"] for e in ledger.pending()] == ["run_reports"]
