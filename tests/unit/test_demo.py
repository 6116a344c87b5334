"""The demo's pure parts: its week fits whatever day it runs on, and it never reads the trader's own settings."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ecosystem import plan, scheduler_plan, week
from ecosystem.settings import load_settings
from standins import demo
from standins.pysystemtrade_repo import make_repo


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    return make_repo(tmp_path_factory.mktemp("clone") / "repo")


@pytest.mark.parametrize("hours", range(0, 7 * 24, 5))
def test_the_demo_week_ends_today_with_now_inside_every_window_whatever_the_day_and_hour(tmp_path, clone, hours):
    now = datetime(2026, 11, 30, 0, 17, tzinfo=UTC) + timedelta(hours=hours)
    values = demo.week_settings(now)
    s = load_settings(tmp_path, environ={**values, "PYSYSTEMTRADE_CLONE_DIR": str(clone)})
    local = now.astimezone(s.tz)
    assert 12 <= local.hour < 13, "about noon: inside the stack handler's, capital update's and morning windows"
    assert week.phase(week.WeekWindow.from_settings(s), now).inside, "the processes it really starts may run"
    first = local.date() - timedelta(days=4)
    start = datetime.combine(first, datetime.min.time(), tzinfo=s.tz).astimezone(UTC)
    slots = scheduler_plan.slots_between(scheduler_plan.trading_days_jobs(s, lambda d: plan.plan_for(s, d)),
                                     start - timedelta(hours=1), start + timedelta(days=7, minutes=-11), s.tz)
    jobs = [x.job for x in slots]
    assert jobs == ["weekly.open", "nightly"] * 5 + ["weekly.close", "weekend", "gateway.weekly-login",
                                                     "gateway.status"]
    assert slots[0].at == start - scheduler_plan.OPEN_LEAD and slots[1].key == first.isoformat()
    assert slots[9].key == local.date().isoformat(), "the last evening is today's: no chain is booked to a future day"


def test_the_demo_runs_its_jobs_on_its_own_env_never_the_traders(tmp_path, monkeypatch):
    monkeypatch.setenv("STATE_DIR", "/srv/my-real-state")
    monkeypatch.setenv("TWSPASSWORD_FILE", "/run/secrets/my-real-password")
    monkeypatch.setenv("ECOSYSTEM_ENV_FILE", "/srv/my-real.env")
    monkeypatch.setenv("PATH", "/usr/bin")
    ws = demo.Workspace(root=Path("."), folder=tmp_path, suffix="_demox", values={}, remote=tmp_path / "r.git")
    env = ws.environ()
    assert "STATE_DIR" not in env and "TWSPASSWORD_FILE" not in env
    assert env["ECOSYSTEM_ENV_FILE"] == str(tmp_path / ".env") and env["PATH"] == "/usr/bin"


def test_without_its_own_env_the_demo_runs_no_task_so_nothing_can_act_on_the_traders_stack(tmp_path):
    ws = demo.Workspace(root=Path("."), folder=tmp_path, suffix="_demox", values={}, remote=tmp_path / "r.git")
    with pytest.raises(demo.DemoFailed) as refused:
        ws.run("down")
    assert "nothing was run" in str(refused.value) and ws.logs == []


def test_the_timeline_names_the_demo_days_mon_to_sun_whatever_calendar_days_they_are():
    from datetime import date
    from zoneinfo import ZoneInfo

    tz = ZoneInfo("Etc/GMT-3")
    first = date(2026, 12, 3)  # a Thursday
    at = datetime(2026, 12, 3, 16, 55, tzinfo=UTC)  # 19:55 there
    entry = demo.Entry(at, "nightly", "2026-12-03", "on time", outcome="ok")
    assert demo.format_entry(entry, tz, first).startswith("Mon 19:55  nightly")
    assert demo.day_label(at + timedelta(days=4), tz, first) == "Fri 19:55"
    assert demo.day_label(at - timedelta(hours=20), tz, first) == "Sun 23:55", "the evening before the week"
    week = demo.SimulatedWeek.__new__(demo.SimulatedWeek)
    week.first = first
    assert week.relabel("only until Wed 23:00 (Sun 20:00 slot)") == "only until Sun 23:00 (Thu 20:00 slot)"
