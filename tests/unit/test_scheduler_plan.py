"""The scheduler's planner over a simulated week: on time, restarts, a down evening, catch-up or missed, DST."""
from __future__ import annotations

import shlex
from datetime import UTC, date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import pytest

from ecosystem import plan, scheduler_plan
from ecosystem.settings import load_settings
from standins.pysystemtrade_repo import make_repo

LONDON = ZoneInfo("Europe/London")


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    clone = make_repo(tmp_path_factory.mktemp("clone") / "repo")
    return load_settings(tmp_path_factory.mktemp("eco"), environ={"PYSYSTEMTRADE_CLONE_DIR": str(clone)})


def jobs_of(settings):
    @cache
    def plan_of(day):
        return plan.plan_for(settings, day)
    return scheduler_plan.trading_days_jobs(settings, plan_of)


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
            for decision in scheduler_plan.due(jobs, now, since=looked, done=lambda s: str(s) in done, tz=settings.tz):
                timeline.append((now.astimezone(settings.tz).strftime("%a %H:%M"), decision.action, str(decision.slot)))
                done.add(str(decision.slot))  # run ok, or recorded missed: never again for that slot
            looked = now
        now += timedelta(minutes=1)
    return timeline


MONDAY = datetime(2026, 11, 30, 0, 0, tzinfo=LONDON).astimezone(UTC)


def test_a_week_runs_each_nightly_once_the_weekend_once_and_the_sunday_check(settings):
    timeline = simulate(settings, MONDAY - timedelta(hours=1), MONDAY + timedelta(days=7))
    days = (("Mon", "11-30"), ("Tue", "12-01"), ("Wed", "12-02"), ("Thu", "12-03"), ("Fri", "12-04"))
    eves = ("Sun", "Mon", "Tue", "Wed", "Thu")  # the opening runs OPEN_LEAD before the first launch (00:00)
    opens = [(f"{eve} 23:50", "run", f"weekly.open@2026-{k}") for eve, (_, k) in zip(eves, days, strict=True)]
    nights = [(f"{d} 19:55", "run", f"nightly@2026-{k}") for d, k in days]
    assert timeline == [x for pair in zip(opens, nights, strict=True) for x in pair] + [
        ("Sat 00:00", "run", "weekly.close@2026-W49"), ("Sat 10:00", "run", "weekend@2026-W49"),
        ("Sun 18:00", "run", "gateway.weekly-login@2026-12-06"),
        ("Sun 20:00", "run", "gateway.status@2026-12-06"), ("Sun 23:50", "run", "weekly.open@2026-12-07")]


def test_the_nightly_slot_carries_its_trading_day_so_a_catch_up_after_midnight_runs_that_day(settings):
    slot = next(s for s in scheduler_plan.next_runs(jobs_of(settings), MONDAY, settings.tz, days=1)
                if s.job == "nightly")
    assert slot.command == ("nightly", "--day", "2026-11-30")
    assert slot.command_at(slot.at + timedelta(hours=3)) == ("nightly", "--day", "2026-11-30"), "23:50: still in time"
    assert slot.command_at(slot.at + timedelta(hours=4)) == ("nightly", "--day", "2026-11-30", "--skip-eod"), \
        "after the chain's last window (23:50) pysystemtrade would not run it: backup, offload, reports only"


def test_a_traders_own_jobs_come_from_settings(tmp_path):
    clone = make_repo(tmp_path / "repo")
    s = load_settings(tmp_path, environ={"PYSYSTEMTRADE_CLONE_DIR": str(clone), "SCHEDULER_JOBS":
                                         "backup --what=csv @ sat,sun 12:30; history @ trading 07:15"})
    slots = scheduler_plan.next_runs(jobs_of(s), MONDAY, s.tz, days=7)
    mine = [(x.job, x.at.astimezone(LONDON).strftime("%a %H:%M"), x.command) for x in slots
            if x.job not in ("nightly", "weekly.open", "weekly.close", "weekend", "gateway.status",
                             "gateway.weekly-login")]
    assert mine == [("own:history", f"{d} 07:15", ("history",)) for d in ("Mon", "Tue", "Wed", "Thu", "Fri")] + [
        ("own:backup --what=csv", "Sat 12:30", ("backup", "--what=csv")),
        ("own:backup --what=csv", "Sun 12:30", ("backup", "--what=csv"))]


def test_an_own_job_of_a_builtin_task_never_takes_the_builtin_slot(tmp_path):
    clone = make_repo(tmp_path / "repo")
    s = load_settings(tmp_path, environ={"PYSYSTEMTRADE_CLONE_DIR": str(clone),
                                         "SCHEDULER_JOBS": "gateway.status @ daily 07:30"})
    timeline = simulate(s, MONDAY, MONDAY + timedelta(days=7))
    sunday = [t for t in timeline if t[0].startswith("Sun")]
    assert ("Sun 07:30", "run", "own:gateway.status@2026-12-06") in sunday
    assert ("Sun 20:00", "run", "gateway.status@2026-12-06") in sunday, "the Sunday-evening check still runs"


@pytest.mark.parametrize("bad", ["backup sat 12:00", "backup @ funday 12:00", "backup @ sat 25:00", "@ sat 10:00",
                                 "backup @ sat 10:00; backup @ sun 10:00", "backup @ monkey 10:00",
                                 "backup @ sat 7:5", "backup @ sunny,wedge 10:00"])
def test_a_malformed_own_job_is_refused_with_the_format(tmp_path, bad):
    from ecosystem.settings import SettingsError

    with pytest.raises(SettingsError) as caught:
        load_settings(tmp_path, environ={"SCHEDULER_JOBS": bad})
    assert "SCHEDULER_JOBS" in str(caught.value)


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
    monday = datetime(2026, 10, 19, 0, 0, tzinfo=LONDON).astimezone(UTC)
    timeline = simulate(settings, monday, monday + timedelta(days=8))
    nightly = [t[0] for t in timeline if t[2].startswith("nightly")]
    assert nightly == ["Mon 19:55", "Tue 19:55", "Wed 19:55", "Thu 19:55", "Fri 19:55", "Mon 19:55"]
    assert ("Sun 20:00", "run", "gateway.status@2026-10-25") in timeline


def test_next_runs_lists_the_coming_slots(settings):
    slots = scheduler_plan.next_runs(jobs_of(settings), MONDAY, settings.tz, days=2)
    assert [str(s) for s in slots] == ["nightly@2026-11-30", "weekly.open@2026-12-01", "nightly@2026-12-01",
                                       "weekly.open@2026-12-02"]
    assert date.fromisoformat(slots[0].key).isoweekday() == 1


@pytest.mark.parametrize("job, says", [("backpu @ sat 10:00", "no task 'backpu'"),
                                       ("run-scheduler @ daily 10:00", "not for the scheduler"),
                                       ("weekly.sync @ daily 10:00", "every minute already"),
                                       ("backup --wat=csv @ sat 10:00", "backup has no flag --wat")])
def test_an_own_job_naming_no_task_or_an_unattended_one_is_refused_before_the_loop_starts(tmp_path, job, says):
    from ecosystem.errors import UsageError
    from tasks._common import task_flags

    s = load_settings(tmp_path, environ={"SCHEDULER_JOBS": job})
    with pytest.raises(UsageError) as refused:
        scheduler_plan.check_own_jobs(s, task_flags)
    assert says in refused.value.message and "SCHEDULER_JOBS" in refused.value.message
    assert refused.value.exit_code == 2  # asked wrongly: a task ending with it exits 2
    scheduler_plan.check_own_jobs(load_settings(tmp_path, environ={
        "SCHEDULER_JOBS": "history --job backup @ sat 10:00; backup --what csv --cold @ sun 12:00"}), task_flags)


def test_own_jobs_keep_quoted_arguments_and_read_day_ranges_with_spaces(tmp_path):
    s = load_settings(tmp_path, environ={"SCHEDULER_JOBS": "history --job 'a b' @ mon - wed 07:00; "
                                                            "backup @ Friday,sunday 08:00"})
    first, second = s.scheduler_jobs
    assert first.days == (1, 2, 3) and first.name == "history --job 'a b'"
    assert second.days == (5, 7)
    slot = scheduler_plan.Slot("own:" + first.name, "k", MONDAY, MONDAY, runs=tuple(shlex.split(first.name)))
    assert slot.command == ("history", "--job", "a b")


def test_the_brief_goes_at_brief_at_on_trading_days_only_with_alert_urls_and_a_stale_one_is_dropped(tmp_path):
    clone = make_repo(tmp_path / "repo")
    base = {"PYSYSTEMTRADE_CLONE_DIR": str(clone), "TIMEZONE": "Europe/London"}
    quiet = load_settings(tmp_path, environ=base)
    assert scheduler_plan.BRIEF not in [j.name for j in jobs_of(quiet)], "no ALERT_URLS: nowhere to send it"
    never = load_settings(tmp_path, environ={**base, "ALERT_URLS": "mailto://u:p@localhost", "BRIEF_AT": "none"})
    assert scheduler_plan.BRIEF not in [j.name for j in jobs_of(never)], "BRIEF_AT=none: no brief"
    s = load_settings(tmp_path, environ={**base, "ALERT_URLS": "mailto://u:p@localhost", "BRIEF_AT": "07:00,22:00"})
    jobs = jobs_of(s)
    monday = datetime(2026, 12, 7, tzinfo=LONDON)
    week = scheduler_plan.slots_between(jobs, monday.astimezone(UTC), (monday + timedelta(days=7)).astimezone(UTC),
                                        LONDON)
    briefs = [x for x in week if x.job == scheduler_plan.BRIEF]
    assert [x.key for x in briefs][:2] == ["2026-12-07T07:00", "2026-12-07T22:00"]
    assert {x.at.astimezone(LONDON).isoweekday() for x in briefs} == {1, 2, 3, 4, 5}, "trading days only"
    assert briefs[0].command == ("brief", "--send")
    late = briefs[0].at + timedelta(minutes=30)
    assert [d.action for d in scheduler_plan.due(jobs, late, since=briefs[0].at - timedelta(minutes=1),
                                                 done=lambda slot: False, tz=LONDON)
            if d.slot.job == scheduler_plan.BRIEF] == ["catch_up"]
    stale = briefs[0].at + timedelta(hours=3)
    assert not [d for d in scheduler_plan.due(jobs, stale, since=briefs[0].at - timedelta(minutes=1),
                                              done=lambda slot: False, tz=LONDON)
                if d.slot.job == scheduler_plan.BRIEF], "a stale brief is neither caught up nor recorded missed"
