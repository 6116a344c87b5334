"""The scheduler's planner over a simulated week: on time, restarts, a down evening, catch-up or missed, DST."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

import pytest

from ecosystem import plan, scheduling
from ecosystem.settings import load_settings
from standins.pysystemtrade_repo import make_repo

LONDON = ZoneInfo("Europe/London")


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    clone = make_repo(tmp_path_factory.mktemp("clone") / "repo")
    return load_settings(tmp_path_factory.mktemp("eco"), environ={"PYSYSTEMTRADE_CLONE_DIR": str(clone)})


def jobs_of(settings):
    @lru_cache(maxsize=None)
    def plan_of(day):
        return plan.plan_for(settings, day)
    return scheduling.trading_days_jobs(settings, plan_of)


def simulate(settings, start: datetime, end: datetime, down: list[tuple[datetime, datetime]] = ()):
    """Tick every minute from start to end, except while down; the scheduler remembers nothing but
    the history (a restart looks from the last instant it recorded having looked)."""
    jobs = jobs_of(settings)
    done: set[str] = set()
    timeline = []
    looked = start - timedelta(minutes=1)
    now = start
    while now <= end:
        if not any(a <= now < b for a, b in down):
            for decision in scheduling.due(jobs, now, since=looked, done=lambda s: str(s) in done, tz=settings.tz):
                timeline.append((now.astimezone(settings.tz).strftime("%a %H:%M"), decision.action, str(decision.slot)))
                done.add(str(decision.slot))  # run ok, or recorded missed: never again for that slot
            looked = now
        now += timedelta(minutes=1)
    return timeline


MONDAY = datetime(2026, 11, 30, 0, 0, tzinfo=LONDON).astimezone(timezone.utc)


def test_a_week_runs_each_nightly_once_the_weekend_once_and_the_sunday_check(settings):
    timeline = simulate(settings, MONDAY, MONDAY + timedelta(days=7))
    assert timeline == [
        ("Mon 19:55", "run", "nightly@2026-11-30"), ("Tue 19:55", "run", "nightly@2026-12-01"),
        ("Wed 19:55", "run", "nightly@2026-12-02"), ("Thu 19:55", "run", "nightly@2026-12-03"),
        ("Fri 19:55", "run", "nightly@2026-12-04"), ("Sat 10:00", "run", "weekend@2026-W49"),
        ("Sun 20:00", "run", "gateway.status@2026-12-06")]


def test_a_restart_on_wednesday_repeats_nothing_and_a_down_thursday_evening_is_caught_up_or_missed(settings):
    wednesday_restart = (MONDAY + timedelta(days=2, hours=11), MONDAY + timedelta(days=2, hours=11, minutes=3))
    thursday_evening = (MONDAY + timedelta(days=3, hours=18), MONDAY + timedelta(days=4, hours=2))
    timeline = simulate(settings, MONDAY, MONDAY + timedelta(days=7), down=[wednesday_restart, thursday_evening])
    assert ("Fri 02:00", "missed", "nightly@2026-12-03") in timeline, "past the chain's window and the catch-up limit"
    assert [t for t in timeline if t[2] == "nightly@2026-12-02"] == [("Wed 19:55", "run", "nightly@2026-12-02")]
    assert len({t[2] for t in timeline}) == len(timeline), "no slot twice"
    shorter = (MONDAY + timedelta(days=3, hours=18), MONDAY + timedelta(days=3, hours=22))
    timeline = simulate(settings, MONDAY, MONDAY + timedelta(days=7), down=[shorter])
    assert ("Thu 22:00", "catch_up", "nightly@2026-12-03") in timeline, "the chain can still run before 23:50"


def test_a_week_across_the_autumn_dst_change_keeps_wall_clock_times(settings):
    monday = datetime(2026, 10, 19, 0, 0, tzinfo=LONDON).astimezone(timezone.utc)
    timeline = simulate(settings, monday, monday + timedelta(days=8))
    nightly = [t[0] for t in timeline if t[2].startswith("nightly")]
    assert nightly == ["Mon 19:55", "Tue 19:55", "Wed 19:55", "Thu 19:55", "Fri 19:55", "Mon 19:55"]
    assert ("Sun 20:00", "run", "gateway.status@2026-10-25") in timeline


def test_next_runs_lists_the_coming_slots(settings):
    slots = scheduling.next_runs(jobs_of(settings), MONDAY, settings.tz, days=2)
    assert [str(s) for s in slots] == ["nightly@2026-11-30", "nightly@2026-12-01"]
    assert date.fromisoformat(slots[0].key).isoweekday() == 1
