"""The evening chain: every outcome recorded, stop-on-failure, resume, force, interrupts, a step judged."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from ecosystem import eod, plan, process_runs
from ecosystem.errors import EcosystemError
from ecosystem.history import History
from ecosystem.settings import load_settings
from tests.support.controls import RecordingControl

LONDON = ZoneInfo("Europe/London")
TUESDAY, SATURDAY = date(2026, 12, 1), date(2026, 12, 5)


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
    chain = next(r for r in history.runs(job="eod") if not r.step)
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


def test_a_step_that_ended_through_someone_elses_stop_is_not_ok(tmp_path):
    settings = load_settings(tmp_path, environ={"TIMEZONE": "Europe/London"})
    history = History(tmp_path / "h.jsonl")
    step = chain_steps()[0]
    from ecosystem.context import Context

    runner = eod.ContainerStep(Context(settings, history, _control=RecordingControl()))
    started = datetime.now(UTC) - timedelta(seconds=1)
    assert runner._judge(step, 0, started, "c").ok
    with history.run("stop") as run:
        with run.step(step.process):
            pass
    verdict = runner._judge(step, 0, started, "c")
    assert verdict.outcome == "failed" and "stopped by `invoke stop`" in verdict.detail

