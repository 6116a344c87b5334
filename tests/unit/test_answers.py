"""`--json` on history, config, schedule and doctor: each answer parses and matches its versioned schema."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from ecosystem import answers
from ecosystem.history import History
from tests.support.invoking import run_invoke

SECRET = "sentinel-GIT-json-5521"
NO_ENGINE = "unix:///nonexistent/docker.sock"


@pytest.fixture
def values(tmp_path):
    return {"STATE_DIR": str(tmp_path / "state"), "BACKUP_DIR": str(tmp_path / "backup"), "GIT_TOKEN": SECRET,
            "NAME_SUFFIX": "_json"}


def answer(tmp_path, values, *args, code=0):
    result = run_invoke(tmp_path, values, *args, "--json", timeout=120)
    assert result.returncode == code, result.stdout + result.stderr
    assert SECRET not in result.stdout + result.stderr
    parsed = json.loads(result.stdout)
    assert answers.problems(parsed) == [], parsed
    return parsed


def test_history_json_lists_the_runs_with_their_outcomes_and_durations(tmp_path, values):
    history = History(tmp_path / "state" / "history.jsonl")
    history.record("backup", "ok", "pst-20261201T223000Z: db, parquet")
    history.record("offload", "failed", "SmbError: cannot reach the SMB server")
    got = answer(tmp_path, values, "history")
    assert got["schema"] == "pysystemtrade-ecosystem/history/1"
    assert [(r["job"], r["outcome"]) for r in got["runs"]] == [("backup", "ok"), ("offload", "failed")]
    assert datetime.fromisoformat(got["runs"][0]["start"]).tzinfo is not None
    assert got["runs"][1]["detail"].startswith("SmbError")


def test_config_json_masks_secrets_and_says_where_each_setting_came_from(tmp_path, values):
    got = answer(tmp_path, values, "config")
    by_name = {s["variable"]: s for s in got["settings"]}
    assert by_name["GIT_TOKEN"]["value"] == "********" and by_name["GIT_TOKEN"]["source"].startswith(".env")
    assert by_name["NAME_SUFFIX"]["value"] == "_json" and got["compose_project"] == "pysystemtrade_json"
    changed = answer(tmp_path, values, "config", "--changed")
    assert changed["changed_only"] and {s["variable"] for s in changed["settings"]} >= {"NAME_SUFFIX", "GIT_TOKEN"}


def test_schedule_json_lists_slots_and_reads_a_heartbeat_from_the_future_as_not_running(tmp_path, values):
    got = answer(tmp_path, values, "schedule", "--days", "2")
    assert got["scheduler"]["state"] == "no heartbeat" and got["slots"]
    assert all(datetime.fromisoformat(s["at"]).tzinfo is not None for s in got["slots"])
    from ecosystem.scheduler_loop import heartbeat_path
    from ecosystem.settings import load_settings

    beat = heartbeat_path(load_settings(tmp_path, environ=values))
    beat.parent.mkdir(parents=True, exist_ok=True)
    beat.write_text(json.dumps({"looked": (datetime.now(UTC) + timedelta(days=2)).isoformat()}))
    future = answer(tmp_path, values, "schedule", "--days", "1")
    assert future["scheduler"]["state"].startswith("not running"), "a heartbeat from the future is no heartbeat"


def test_doctor_json_lists_every_check_and_keeps_its_exit_code(tmp_path, values, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", NO_ENGINE)
    got = answer(tmp_path, values, "doctor", code=1)
    assert got["healthy"] is False and got["failed"] >= 1
    engine = next(c for c in got["checks"] if c["check"].startswith("docker engine") or "engine" in c["check"])
    assert engine["verdict"] == "fail" and engine["fix"]


@pytest.mark.parametrize("age, state", [(None, "no heartbeat"), (timedelta(seconds=30), "running"),
                                        (timedelta(minutes=10), "not running"),
                                        (-timedelta(days=2), "not running (its heartbeat is from the future)")])
def test_the_schedulers_heartbeat_is_read_honestly(age, state):
    now = datetime(2026, 12, 7, 7, 0, tzinfo=UTC)
    looked = None if age is None else now - age
    assert answers.scheduler_state(looked, now, stale=timedelta(minutes=3))[0] == state


def test_the_schema_check_finds_a_missing_an_unknown_and_a_mistyped_field():
    good = {"schema": answers.DOCTOR, "healthy": True, "failed": 0, "warned": 0,
            "checks": [{"check": "x", "verdict": "ok", "detail": "", "fix": ""}]}
    assert answers.problems(good) == []
    bad = {**good, "healthy": "yes", "extra": 1, "checks": [{"check": "x", "verdict": "ok", "detail": ""}]}
    del bad["warned"]
    found = answers.problems(bad)
    assert "warned is missing" in found and "extra is not in the schema" in found
    assert "healthy is str, not bool" in found and "checks[0].fix is missing" in found
    assert answers.problems({"schema": "nope/1"}) == ["unknown schema 'nope/1'"]


def test_status_and_brief_answer_in_their_schemas_and_say_the_engine_is_down(tmp_path, values, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", NO_ENGINE)
    History(tmp_path / "state" / "history.jsonl").record("offload", "failed", f"could not log in with {SECRET}")
    status = answer(tmp_path, values, "status", code=3)
    assert status["schema"] == answers.STATUS and status["degraded"] and status["services"] == []
    assert status["problems"][0]["what"].startswith("the Docker engine: the Docker engine does not answer")
    assert [a["job"] for a in status["alerts"]] == ["offload"]
    brief = answer(tmp_path, values, "brief")
    assert brief["schema"] == answers.BRIEF and brief["headline"] == status["headline"]
    assert brief["text"].startswith(brief["headline"].upper()) and "DATA SAFETY" in brief["text"]
    said = run_invoke(tmp_path, values, "status", timeout=120)
    assert said.returncode == 3 and "1. the Docker engine" in said.stdout and "what to do:" in said.stdout
