"""The one runner of recorded steps: a parent run, each step a child of it, interruptions recorded."""
from __future__ import annotations

import pytest

from ecosystem.events import EventBus
from ecosystem.history import History
from ecosystem.outcomes import FAILING, Outcome
from ecosystem.steps import Result, StepRun, tally


@pytest.fixture
def record(tmp_path):
    bus = EventBus()
    made = History(tmp_path / "history.jsonl", bus=bus)
    made.events = []
    bus.subscribe(made.events.append)
    return made


def test_each_step_is_a_child_of_one_parent_and_the_caller_ends_the_parent(record):
    with StepRun(record, "nightly", slot="2026-12-01") as run:
        assert run.run("eod", lambda: Result(Outcome.OK, "3 ok")).ok
        run.note("offload", Outcome.SKIPPED, "not configured")
        failed = run.run("backup", lambda: Result(Outcome.FAILED, "exit 1", hint="look", log_tail=("last",)))
        run.finish(Outcome.FAILED, run.counts())
    assert not failed.ok and run.outcomes == {"eod": "ok", "offload": "skipped", "backup": "failed"}
    runs = {r.step: r for r in record.runs(job="nightly")}
    parent = runs.pop(None)
    assert parent.outcome == "failed" and parent.detail == "1 failed, 1 ok, 1 skipped" and parent.slot == "2026-12-01"
    assert all(r.parent == parent.id and r.slot == "2026-12-01" for r in runs.values())
    assert runs["backup"].log_tail == ("last",) and runs["offload"].detail == "not configured"
    assert [(e.step, e.outcome, e.hint) for e in record.events] == [("backup", "failed", "look"),
                                                                    (None, "failed", "")]


def test_an_interrupt_ends_the_step_and_the_parent_failed_and_goes_on_up(record):
    def interrupted():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        with StepRun(record, "eod") as run:
            run.run("a", lambda: Result(Outcome.OK))
            run.run("b", interrupted)
            run.run("c", lambda: Result(Outcome.OK))
    runs = {r.step: r for r in record.runs(job="eod")}
    assert runs["b"].outcome == "failed" and runs["b"].detail == "interrupted (KeyboardInterrupt)"
    assert runs[None].detail == "interrupted (KeyboardInterrupt) after: 1 ok" and "c" not in runs


def test_a_parent_already_ended_is_not_ended_again_by_a_later_exception(record):
    with pytest.raises(RuntimeError):
        with StepRun(record, "eod") as run:
            run.finish(Outcome.OK, "done")
            raise RuntimeError("after the end")
    assert [r.outcome for r in record.runs(job="eod")] == ["ok"]


def test_the_outcomes_are_strings_and_the_failing_ones_are_named_once():
    assert Outcome.OK == "ok" and f"{Outcome.TIMED_OUT}" == "timed_out"
    assert {o for o in Outcome if o.failing} == FAILING == {"failed", "declined", "timed_out", "suspect", "missed"}
    assert tally(["ok", Outcome.OK, "declined"]) == "1 declined, 2 ok"
