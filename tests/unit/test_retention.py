"""Retention of backup sets: keep-last / daily / weekly, the newest good set always, never everything."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from ecosystem.retention import SetInfo, decide

UTC = UTC
LONDON = ZoneInfo("Europe/London")
START = datetime(2026, 9, 1, 22, 30, tzinfo=UTC)  # a Tuesday evening


def sixty_days(bad=()):
    """Two sets a day for 60 days: a manual one at 13:00 UTC and the nightly one at 22:30 UTC."""
    sets = []
    for day in range(60):
        for created in (START + timedelta(days=day, hours=-9.5), START + timedelta(days=day)):
            name = f"pst-{created:%Y%m%dT%H%M%SZ}"
            sets.append(SetInfo(name, created, name not in bad))
    return sets


def kept(decisions):
    return [d.name for d in decisions if d.keep]


def test_sixty_days_keep_the_last_seven_fourteen_days_and_eight_weeks():
    sets = sixty_days()
    decisions = decide(sets, keep_last=7, keep_daily=14, keep_weekly=8, tz=LONDON)
    by_name = {d.name: d for d in decisions}
    newest_first = sorted(sets, key=lambda s: s.created, reverse=True)
    assert all(by_name[s.name].keep for s in newest_first[:7]), "keep-last"
    days = {}
    for s in newest_first:
        days.setdefault(s.created.astimezone(LONDON).date(), s)
    for day in sorted(days, reverse=True)[:14]:
        assert by_name[days[day].name].keep and "daily" in by_name[days[day].name].reason
    weeks = {}
    for s in newest_first:
        weeks.setdefault(s.created.astimezone(LONDON).isocalendar()[:2], s)
    week_keys = sorted(weeks, reverse=True)[:8]
    for week in week_keys:
        assert "weekly" in by_name[weeks[week].name].reason
    expected = {s.name for s in newest_first[:7]} | {days[d].name for d in sorted(days, reverse=True)[:14]} \
        | {weeks[w].name for w in week_keys}
    assert set(kept(decisions)) == expected
    oldest = newest_first[-1]
    assert not by_name[oldest.name].keep and by_name[oldest.name].reason == "outside every keep rule"


def test_told_to_keep_zero_it_still_keeps_the_newest_good_set():
    sets = sixty_days()
    newest = max(sets, key=lambda s: s.created)
    assert kept(decide(sets, keep_last=0, keep_daily=0, keep_weekly=0, tz=LONDON)) == [newest.name]


def test_a_bad_newest_set_does_not_count_and_the_newest_good_one_is_kept():
    sets = sixty_days()
    newest_first = sorted(sets, key=lambda s: s.created, reverse=True)
    bad = {newest_first[0].name, newest_first[5].name}
    sets = sixty_days(bad=bad)
    decisions = {d.name: d for d in decide(sets, keep_last=0, keep_daily=0, keep_weekly=0, tz=LONDON)}
    assert decisions[newest_first[1].name].keep and "newest good" in decisions[newest_first[1].name].reason
    assert decisions[newest_first[0].name].keep and "inspect" in decisions[newest_first[0].name].reason
    assert not decisions[newest_first[5].name].keep and decisions[newest_first[5].name].reason == "not good"


def test_with_no_good_set_nothing_is_deleted():
    sets = [SetInfo(f"s{i}", START + timedelta(days=i), False) for i in range(5)]
    assert all(d.keep for d in decide(sets, keep_last=0, keep_daily=0, keep_weekly=0, tz=LONDON))


@given(st.lists(st.tuples(st.integers(0, 90 * 24 * 60), st.booleans()), min_size=1, max_size=60,
                unique_by=lambda t: t[0]),
       st.integers(0, 10), st.integers(0, 20), st.integers(0, 10))
def test_retention_never_deletes_the_newest_good_set_nor_everything(raw, last, daily, weekly):
    sets = [SetInfo(f"s{minutes}", START + timedelta(minutes=minutes), good) for minutes, good in raw]
    decisions = decide(sets, keep_last=last, keep_daily=daily, keep_weekly=weekly, tz=LONDON)
    assert len(decisions) == len(sets) and any(d.keep for d in decisions)
    good = [s for s in sets if s.good]
    if good:
        newest_good = max(good, key=lambda s: s.created)
        assert next(d for d in decisions if d.name == newest_good.name).keep
        newest_first = sorted(sets, key=lambda s: s.created, reverse=True)
        assert sum(d.keep and s.good for d, s in zip(decisions, newest_first, strict=True)) <= 1 + last + daily + weekly
