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



class _GatewayStep:
    """ContainerStep's decisions with its engine parts replaced: the gateway's login as a script of
    readings, and each run's verdict as a script of outcomes."""

    @staticmethod
    def make(settings, logins, outcomes):
        from types import SimpleNamespace

        from ecosystem import eod
        from ecosystem.process_runs import Verdict

        said, runs = [], []

        class Step(eod.ContainerStep):
            gateway_poll = 0.0

            def status_before(self, process):
                return "GO"

            def _gateway(self):
                return logins.pop(0) if len(logins) > 1 else logins[0]

            def _run_once(self, step):
                runs.append(step.process)
                outcome = outcomes.pop(0)
                if outcome == "stopped":  # ended by `invoke stop`: failed, exit 0
                    return eod.StepResult(Verdict("failed", "stopped by invoke stop"), exit_code=0)
                return eod.StepResult(Verdict(outcome, f"{outcome} run {len(runs)}"),
                                      exit_code=0 if outcome == "ok" else 1)

        ctx = SimpleNamespace(settings=settings, history=None, say=said.append)
        return Step(ctx), said, runs


def _evening_step(settings, process):
    from ecosystem.pysys_config import Window

    windows = {process: Window(process, datetime.strptime("00:01", "%H:%M").time(),
                               datetime.strptime("23:59", "%H:%M").time())}
    return plan.day_plan(date.today(), windows, settings.tz, chain=(process,), morning=(),
                             margin=timedelta(minutes=0))[-1]


def test_a_broker_step_waits_for_the_login_and_one_that_failed_while_it_was_out_runs_again_once(tmp_path):
    settings = load_settings(tmp_path, environ={"STATE_DIR": str(tmp_path / "state")})
    step = _evening_step(settings, "run_daily_prices_updates")
    out, logged_in = ("not logged in", "no answer"), ("logged in", "DU*****67 (paper)")

    execute, said, runs = _GatewayStep.make(settings, [out, out, logged_in], ["ok"])
    assert execute(step).verdict.outcome == "ok" and runs == ["run_daily_prices_updates"]
    assert "waiting for the gateway's login" in said[0], "held until the login, then run"

    execute, said, runs = _GatewayStep.make(settings, [logged_in, out, logged_in], ["failed", "ok"])
    result = execute(step)
    assert runs == ["run_daily_prices_updates"] * 2 and result.verdict.outcome == "ok"
    assert "run again once after the gateway's login; the first run: failed run 1" in result.verdict.detail

    execute, said, runs = _GatewayStep.make(settings, [logged_in, out, logged_in], ["failed", "failed"])
    assert execute(step).verdict.outcome == "failed" and len(runs) == 2, "once, not again and again"

    execute, said, runs = _GatewayStep.make(settings, [logged_in], ["failed"])
    assert execute(step).verdict.outcome == "failed" and len(runs) == 1, "a failure with the gateway in is its own"

    execute, said, runs = _GatewayStep.make(settings, [logged_in, out, logged_in], ["stopped", "ok"])
    assert execute(step).verdict.outcome == "failed" and len(runs) == 1, "a step you stopped is not run again"

    systems = _evening_step(settings, "run_systems")
    execute, said, runs = _GatewayStep.make(settings, [out], ["ok"])
    assert execute(systems).verdict.outcome == "ok" and not said, "a step that does not need the broker never waits"
