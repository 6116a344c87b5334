"""Named pipelines (ecosystem/pipelines.py, through the tasks of tasks/pipelines.py): dependents of a
failed step are skipped, the others run, cleanup always runs."""
from __future__ import annotations

import pytest
from invoke import Context, Exit

from ecosystem import pipelines as plans
from ecosystem.history import History
from ecosystem.outcomes import Outcome
from ecosystem.steps import Result
from tasks import pipelines


@pytest.fixture
def context(tmp_path, monkeypatch):
    monkeypatch.setenv("ECOSYSTEM_ENV_FILE", str(tmp_path / "none.env"))
    monkeypatch.setenv("STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("SMB_SERVER", "nas.local")
    monkeypatch.setenv("SMB_SHARE", "backups")
    monkeypatch.setenv("SMB_USER", "u")
    monkeypatch.setenv("SMB_PASSWORD", "sentinel-pw")
    monkeypatch.setenv("REPORTS_REMOTE", "")
    return Context()


def fake_tasks(monkeypatch, failing: set[str], calls: list):
    def call_task(c, name, **kwargs):
        calls.append((name, kwargs))
        if name in failing:
            raise Exit(f"{name} failed on purpose", code=1)
    monkeypatch.setattr(pipelines, "call_task", call_task)


def test_a_failed_backup_skips_offload_but_not_the_rest_and_the_pipeline_fails(context, monkeypatch, tmp_path):
    calls: list = []
    fake_tasks(monkeypatch, {"backup"}, calls)
    with pytest.raises(plans.PipelineFailed) as failed:
        pipelines._run(context, "nightly", plans.NIGHTLY)
    assert [name for name, _ in calls] == ["eod", "backup"], "offload needs backup; reports has no remote"
    assert "backup failed" in failed.value.message and "offload skipped" in failed.value.message
    runs = History(tmp_path / "state" / "history.jsonl").runs(job="nightly")
    steps = {r.step: r for r in runs if r.step}
    assert steps["backup"].outcome == "failed" and steps["offload"].outcome == "skipped"
    assert steps["backup"].detail == "exit 1: backup failed on purpose"
    assert "backup did not end ok" in steps["offload"].detail
    assert steps["reports"].outcome == "skipped" and "REPORTS_REMOTE" in steps["reports"].detail
    assert next(r for r in runs if not r.step).outcome == "failed"


def test_the_weekend_drills_the_cold_backup_and_cleanup_runs_even_after_a_failure(context, monkeypatch):
    calls: list = []
    cleaned: list = []
    fake_tasks(monkeypatch, {"restore"}, calls)
    with pytest.raises(plans.PipelineFailed):
        pipelines._run(context, "weekend", plans.WEEKEND, cleanup=lambda: cleaned.append(True))
    assert calls == [("backup", {"cold": True}), ("restore", {"verify": True, "from_": "latest"}), ("offload", {})]
    assert cleaned == [True]


def test_all_ok_is_ok(context, monkeypatch):
    calls: list = []
    fake_tasks(monkeypatch, set(), calls)
    outcomes = pipelines._run(context, "weekend", plans.WEEKEND)
    assert set(outcomes.values()) == {"ok"}


def test_nightly_runs_the_chain_of_the_day_it_is_given_and_records_that_day(context, monkeypatch, tmp_path):
    from datetime import date, timedelta

    calls: list = []
    fake_tasks(monkeypatch, set(), calls)
    day = (date.today() - timedelta(days=2)).isoformat()   # the settings' timezone is London: near enough
    pipelines.nightly(context, day=day)
    assert calls[0] == ("eod", {"day": day}), "a late run is booked to the evening it belongs to"
    assert ("backup", {}) in calls
    parent = next(r for r in History(tmp_path / "state" / "history.jsonl").runs(job="nightly") if not r.step)
    assert parent.slot == day and parent.outcome == "ok"
    for bad, says in (("Thursday", "YYYY-MM-DD"), ("20261201", "YYYY-MM-DD"),
                      ((date.today() + timedelta(days=2)).isoformat(), "today or one of the last 7 days"),
                      ((date.today() - timedelta(days=30)).isoformat(), "today or one of the last 7 days")):
        with pytest.raises(Exit) as refused:
            pipelines.nightly(context, day=bad)
        assert says in refused.value.message


def test_a_nightly_caught_up_after_the_chains_windows_records_the_chain_missed_and_runs_the_rest(
        context, monkeypatch, tmp_path):
    calls: list = []
    fake_tasks(monkeypatch, set(), calls)
    with pytest.raises(Exit) as failed:
        pipelines.nightly(context, skip_eod=True)
    assert [name for name, _ in calls] == ["backup", "offload"], "no chain; backup and offload still run"
    assert "eod missed" in failed.value.message
    steps = {r.step: r for r in History(tmp_path / "state" / "history.jsonl").runs(job="nightly") if r.step}
    assert steps["eod"].outcome == "missed" and "windows had closed" in steps["eod"].detail


def test_a_step_interrupted_ends_the_step_and_the_pipeline_failed_and_cleanup_still_runs(tmp_path):
    record = History(tmp_path / "history.jsonl")
    cleaned: list = []

    def call(step, kwargs):
        if step.name == "backup":
            raise KeyboardInterrupt
        return Result(Outcome.OK)

    from types import SimpleNamespace

    from ecosystem.context import Context

    ctx = Context(SimpleNamespace(smb_server="", reports_remote=""), record, say_line=lambda line: None)
    with pytest.raises(KeyboardInterrupt):
        plans.run(ctx, "nightly", plans.NIGHTLY, call=call, cleanup=lambda: cleaned.append(1))
    runs = {r.step: r for r in record.runs(job="nightly")}
    assert runs["eod"].outcome == "ok"
    assert runs["backup"].outcome == "failed" and runs["backup"].detail == "interrupted (KeyboardInterrupt)"
    assert runs[None].outcome == "failed" and runs[None].detail == "interrupted (KeyboardInterrupt) after: 1 ok"
    assert "offload" not in runs and cleaned == [1]


def test_a_pipelines_dry_run_prints_each_step_with_its_own_plan_and_changes_nothing(tmp_path):
    from tests.support.invoking import run_invoke

    values = {"STATE_DIR": str(tmp_path / "state"), "BACKUP_DIR": str(tmp_path / "backup")}
    result = run_invoke(tmp_path, values, "nightly", "--dry-run", "--skip-eod", timeout=120)
    said = result.stdout + result.stderr
    assert result.returncode == 0, said
    assert "nightly: eod: would be recorded missed" in result.stdout
    assert "nightly: backup: would run invoke backup\nwould write a online set" in result.stdout, "backup's own plan"
    assert "nightly: offload: would be recorded skipped (not configured (SMB_SERVER is empty))" in result.stdout
    weekend = run_invoke(tmp_path, values, "--dry", "weekend", timeout=120)
    assert weekend.returncode == 0 and "weekend: restore drill: would run invoke restore --verify --from=latest" \
        in weekend.stdout
    assert not (tmp_path / "backup").exists() or not any((tmp_path / "backup").iterdir())
    assert History(tmp_path / "state" / "history.jsonl").runs() == [], "a dry run records nothing"
