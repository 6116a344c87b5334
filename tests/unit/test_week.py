"""The trading week: wrap-around weeks, the stop hour, DST, and properties over every instant."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from ecosystem.week import WeekWindow, phase

LONDON, CHICAGO = ZoneInfo("Europe/London"), ZoneInfo("America/Chicago")


def at(tz, *args):
    return datetime(*args, tzinfo=tz)


def test_monday_to_friday_until_midnight():
    window = WeekWindow(1, 5, 24, LONDON)
    assert phase(window, at(LONDON, 2026, 11, 30, 0, 0)).inside  # Monday 00:00
    friday_late = phase(window, at(LONDON, 2026, 12, 4, 23, 59))
    assert friday_late.inside and friday_late.next_change == at(LONDON, 2026, 12, 5, 0, 0)
    saturday = phase(window, at(LONDON, 2026, 12, 5, 10, 0))
    assert not saturday.inside and saturday.next_change == at(LONDON, 2026, 12, 7, 0, 0)


def test_the_stop_hour_on_the_end_weekday():
    window = WeekWindow(1, 5, 22, LONDON)
    assert phase(window, at(LONDON, 2026, 12, 4, 21, 59)).inside
    assert not phase(window, at(LONDON, 2026, 12, 4, 22, 0)).inside
    assert phase(window, at(LONDON, 2026, 12, 3, 23, 0)).inside, "the stop hour only applies on the end weekday"


def test_a_week_that_wraps_from_sunday_to_friday():
    window = WeekWindow(7, 5, 18, LONDON)
    assert phase(window, at(LONDON, 2026, 11, 29, 0, 30)).inside  # Sunday
    assert phase(window, at(LONDON, 2026, 12, 2, 12, 0)).inside   # Wednesday
    closed = phase(window, at(LONDON, 2026, 12, 5, 12, 0))         # Saturday
    assert not closed.inside and closed.next_change == at(LONDON, 2026, 12, 6, 0, 0)


def test_one_day_windows_and_the_degenerate_ones():
    assert phase(WeekWindow(3, 3, 12, LONDON), at(LONDON, 2026, 12, 2, 11, 0)).inside
    assert not phase(WeekWindow(3, 3, 12, LONDON), at(LONDON, 2026, 12, 2, 12, 0)).inside
    assert phase(WeekWindow(1, 7, 24, LONDON), at(LONDON, 2026, 12, 2, 12, 0)) == phase(
        WeekWindow(1, 7, 24, LONDON), at(LONDON, 2026, 6, 1, 0, 0))
    assert phase(WeekWindow(1, 7, 24, LONDON), at(LONDON, 2026, 12, 2)).next_change is None
    assert not phase(WeekWindow(2, 2, 0, LONDON), at(LONDON, 2026, 12, 1, 0, 0)).inside


def test_dst_moves_the_instant_not_the_wall_clock_hour():
    # Europe/London leaves summer time on Sunday 2026-10-25; the week opens Monday 00:00 GMT
    opened = phase(WeekWindow(1, 5, 24, LONDON), at(LONDON, 2026, 10, 24, 12, 0)).next_change
    assert opened == datetime(2026, 10, 26, 0, 0, tzinfo=UTC)
    # America/Chicago starts summer time on Sunday 2026-03-08 at 02:00; a Sunday 02:00 close still closes
    window = WeekWindow(1, 7, 2, CHICAGO)
    assert phase(window, at(CHICAGO, 2026, 3, 8, 1, 30)).inside
    assert not phase(window, at(CHICAGO, 2026, 3, 8, 3, 30)).inside


def test_a_naive_datetime_is_refused():
    with pytest.raises(ValueError, match="aware"):
        phase(WeekWindow(1, 5, 24, LONDON), datetime(2026, 12, 1))


windows = st.builds(WeekWindow, st.integers(1, 7), st.integers(1, 7), st.integers(0, 24),
                    st.sampled_from([LONDON, CHICAGO, ZoneInfo("UTC"), ZoneInfo("Asia/Tokyo")]))
instants = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1),
                        timezones=st.just(UTC))


@hsettings(max_examples=400, deadline=None)
@given(windows, instants)
def test_the_next_change_is_a_real_change_and_nothing_changes_before_it(window, moment):
    now = phase(window, moment)
    if now.next_change is None:
        assert window.always_open or window.never_open
        return
    assert now.next_change > moment
    assert phase(window, now.next_change).inside != now.inside
    assert phase(window, now.next_change - timedelta(seconds=1)).inside == now.inside
    midway = moment + (now.next_change - moment) / 2
    assert phase(window, midway).inside == now.inside


@hsettings(max_examples=200, deadline=None)
@given(windows, instants)
def test_every_week_is_open_for_its_configured_span(window, moment):
    if window.always_open or window.never_open:
        return
    now = phase(window, moment)
    if now.inside:
        return
    opened = now.next_change
    closing = phase(window, opened).next_change
    local_open = opened.astimezone(window.tz)
    assert local_open.isoweekday() == window.start_weekday and (local_open.hour, local_open.minute) == (0, 0)
    local_close = closing.astimezone(window.tz)
    expected_day = (window.end_weekday % 7) + 1 if window.stop_hour == 24 else window.end_weekday
    assert local_close.isoweekday() == expected_day
    wall = datetime.combine(local_close.date(), datetime.min.time().replace(hour=window.stop_hour % 24),
                            tzinfo=window.tz)
    exists = wall.astimezone(UTC).astimezone(window.tz).replace(tzinfo=None) == wall.replace(tzinfo=None)
    assert local_close.hour == window.stop_hour % 24 or not exists  # a stop hour in a DST gap closes at its end
