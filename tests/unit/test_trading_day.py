"""The trading day outside the chain: what weekly sync launches, relaunches and records; its settings."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from ecosystem import locks, plan, trading_day, week
from ecosystem.errors import EcosystemError
from ecosystem.history import History
from ecosystem.process_control import ProcessRecord
from ecosystem.pysys_config import Window
from ecosystem.settings import load_settings
from tests.support.controls import RecordingControl

LONDON = ZoneInfo("Europe/London")
TUESDAY, SATURDAY = date(2026, 12, 1), date(2026, 12, 5)


def record(status="GO", running=False, last_start=None, pid=None):
    return ProcessRecord("p", status, running, last_start, None, pid, {})


def utc(day, hh, mm=0, tz=LONDON):
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=tz).astimezone(UTC)


# -- ran or declined ---------------------------------------------------------------------------


# -- what weekly sync launches -----------------------------------------------------------------

def day_plan(day):
    windows = {"run_stack_handler": Window("run_stack_handler", *(datetime.strptime(t, "%H:%M").time()
                                                                  for t in ("00:01", "19:45"))),
               "run_daily_fx_and_contract_updates": Window("run_daily_fx_and_contract_updates",
                                                           datetime.strptime("07:00", "%H:%M").time(),
                                                           datetime.strptime("23:50", "%H:%M").time())}
    return plan.day_plan(day, windows, LONDON, chain=("run_systems",), morning=("run_daily_fx_and_contract_updates",),
                         margin=timedelta(minutes=5))


def due(now, *, inside=True, running=(), tried=None, limit=2, cleared=(), ended=None, backoff=()):
    """What is due, leaving out the capital update (the same rules as the stack handler's)."""
    return {(d.step.process, d.attempt) for d in trading_day.due_launches(
        day_plan(now.astimezone(LONDON).date()), now, inside_week=inside, running=set(running),
        tried=tried or {}, relaunch_limit=limit, cleared=set(cleared), ended=ended, backoff=backoff)
        if d.step.process != "run_capital_update"}


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


def test_each_relaunch_waits_its_backoff_after_the_crash_then_the_limit_holds():
    crashed = utc(TUESDAY, 12)
    fx_done = {"run_daily_fx_and_contract_updates": ["ok"]}
    ended = {"run_stack_handler": crashed}
    backoff = (1, 5, 15)

    def relaunched(crashes, minutes_after, limit=3):
        tried = {"run_stack_handler": ["failed"] * crashes} | fx_done
        return due(crashed + timedelta(minutes=minutes_after), tried=tried, limit=limit, ended=ended,
                   backoff=backoff) == {("run_stack_handler", crashes + 1)}

    assert not relaunched(1, 0.5) and relaunched(1, 1), "the first relaunch waits 1 min"
    assert not relaunched(2, 4) and relaunched(2, 5), "the second 5 min"
    assert not relaunched(3, 14) and relaunched(3, 15), "the third 15 min"
    assert relaunched(4, 15, limit=5) and not relaunched(4, 14, limit=5), "the last delay repeats"
    assert not relaunched(4, 600), "past CRASH_RELAUNCH_LIMIT it stays down"


def test_a_launch_that_waited_for_the_gateway_is_due_again_and_spent_no_relaunch():
    now = utc(TUESDAY, 12)
    tried = {"run_stack_handler": ["waiting"], "run_daily_fx_and_contract_updates": ["waiting"]}
    assert due(now, tried=tried, limit=0) == {("run_stack_handler", 2), ("run_daily_fx_and_contract_updates", 2)}, \
        "waiting is not a crash: even with no relaunch allowed, it is launched once the gateway is back"


def test_a_launch_by_hand_starts_the_days_relaunch_budget_again(tmp_path):
    history = History(tmp_path / "history.jsonl")
    slot = TUESDAY.isoformat()
    for _ in range(3):
        history.record(trading_day.JOB, "failed", "crashed", step="run_stack_handler", slot=slot)
    history.record(trading_day.JOB, "waiting", "gateway", step="run_capital_update", slot=slot)
    assert trading_day.tried_today(history, slot)["run_stack_handler"] == ["failed"] * 3
    history.record(trading_day.BY_HAND, "ok", "launched by hand", step="run_stack_handler", slot=slot)
    history.record(trading_day.JOB, "failed", "crashed again", step="run_stack_handler", slot=slot)
    tried = trading_day.tried_today(history, slot)
    assert tried == {"run_stack_handler": ["failed"], "run_capital_update": ["waiting"]}
    assert set(trading_day.ended_today(history, slot)) == {"run_stack_handler", "run_capital_update"}


def test_a_declined_continuous_process_is_launched_again_only_once_its_status_is_cleared():
    now = utc(TUESDAY, 12)
    tried = {"run_stack_handler": ["declined"], "run_daily_fx_and_contract_updates": ["ok"]}
    assert due(now, tried=tried) == set()
    assert due(now, tried=tried, cleared={"run_stack_handler"}) == {("run_stack_handler", 2)}
    steps = day_plan(TUESDAY)
    assert trading_day.declined_continuous(steps, now, tried, set()) == ["run_stack_handler"]


# -- the evening chain ---------------------------------------------------------------------------


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

    from ecosystem.context import Context

    settings = load_settings(tmp_path, environ={})
    history = History(tmp_path / "h.jsonl")
    step = next(s for s in day_plan(TUESDAY) if s.process == "run_stack_handler")
    ctx = Context(settings, history, _client=NoEngine(), _project=BrokenProject())
    said = trading_day.launch_or_record(ctx, trading_day.Due(step, 1, "not run yet today"), utc(TUESDAY, 12))
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


def test_process_containers_an_earlier_version_launched_as_day_are_still_this_jobs():
    from types import SimpleNamespace

    from ecosystem.process_runs import CONTROL_LABEL, JOB_LABEL, PROCESS_LABEL

    def container(name, job):
        return SimpleNamespace(name=name, labels={CONTROL_LABEL: "process", PROCESS_LABEL: "run_stack_handler",
                                                  JOB_LABEL: job})

    made = [container("old", "day"), container("new", "weekly.sync"), container("chain", "eod")]
    client = SimpleNamespace(containers=SimpleNamespace(list=lambda **kwargs: made))
    ctx = SimpleNamespace(client=client, settings=SimpleNamespace(compose_project="pysystemtrade"))
    assert [launched.container for launched, _ in trading_day._ours(ctx)] == ["old", "new"]


def test_a_crash_is_quiet_only_when_its_relaunch_will_come(tmp_path):
    """A relaunched crash is recorded without an alert; one whose next relaunch would come after the
    process's stop time, or at all past the limit, is the alert (it stays down)."""
    from types import SimpleNamespace

    from ecosystem.process_runs import Launched, Verdict

    s = load_settings(tmp_path, environ={"STATE_DIR": str(tmp_path / "state"), "TIMEZONE": "Europe/London",
                                         "CRASH_RELAUNCH_LIMIT": "3", "RELAUNCH_BACKOFF_MINUTES": "1,5,15"})
    ctx = SimpleNamespace(settings=s, history=History(s.history_path), control=lambda: RecordingControl())
    step = next(st for st in day_plan(TUESDAY) if st.process == "run_stack_handler")  # stops at 19:45
    launched = Launched(container="c", process="run_stack_handler", job=trading_day.JOB,
                        slot=TUESDAY.isoformat(), kind="continuous", deadline=None)
    crash = Verdict("failed", "exited with code 1")

    verdict, quiet = trading_day._crashed(crash, launched, ctx, record(running=False), utc(TUESDAY, 12), step)
    assert quiet and "relaunch 1 of 3 follows in 1 min" in verdict.detail
    verdict, quiet = trading_day._crashed(crash, launched, ctx, record(running=False), utc(TUESDAY, 19, 44), step)
    assert not quiet and "after its stop time 19:45" in verdict.detail and "invoke launch" in verdict.hint
    for _ in range(3):
        ctx.history.record(trading_day.JOB, "failed", "crashed", step="run_stack_handler", slot=TUESDAY.isoformat())
    verdict, quiet = trading_day._crashed(crash, launched, ctx, record(running=False), utc(TUESDAY, 12), step)
    assert not quiet and "it stays down" in verdict.detail
