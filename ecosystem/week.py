"""The trading week as a pure function of the settings and an instant.

The week opens at 00:00 (local time in TIMEZONE) on WORKFLOW_WEEKDAY_START and closes at
HOUR_TO_STOP_WORKFLOW_ON_END_WEEKDAY:00 on WORKFLOW_WEEKDAY_END (24 meaning midnight at the
end of that day). Weeks may wrap (start Sunday, end Friday). Times are wall-clock times in the
timezone, so a DST change moves the instants, not the hours the trader wrote down.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class WeekWindow:
    """When the trading week opens and closes: weekdays 1 (Monday) to 7 (Sunday), a stop hour 0-24."""

    start_weekday: int
    end_weekday: int
    stop_hour: int
    tz: ZoneInfo

    @classmethod
    def from_settings(cls, settings) -> WeekWindow:
        return cls(settings.workflow_weekday_start, settings.workflow_weekday_end,
                   settings.hour_to_stop_workflow_on_end_weekday, settings.tz)

    @property
    def span_days(self) -> int:
        return (self.end_weekday - self.start_weekday) % 7

    @property
    def always_open(self) -> bool:
        return self.span_days == 6 and self.stop_hour == 24

    @property
    def never_open(self) -> bool:
        return self.span_days == 0 and self.stop_hour == 0


@dataclass(frozen=True)
class WeekPhase:
    """Whether an instant is inside the trading week, and when that next changes (None: never)."""

    inside: bool
    next_change: datetime | None


def _local(day: date, hour: int, tz: ZoneInfo) -> datetime:
    """Return the instant of ``hour``:00 on ``day`` in ``tz`` (24 is midnight at the end of the day)."""
    if hour == 24:
        day, hour = day + timedelta(days=1), 0
    return datetime.combine(day, time(hour), tzinfo=tz).astimezone(UTC)


def _opening(window: WeekWindow, day: date) -> tuple[datetime, datetime]:
    """Return (open, close) of the week that opens on ``day`` (which must be a start weekday)."""
    opens = _local(day, 0, window.tz)
    closes = _local(day + timedelta(days=window.span_days), window.stop_hour, window.tz)
    return opens, closes


def phase(window: WeekWindow, moment: datetime) -> WeekPhase:
    """Given an aware instant, say whether it is inside the trading week and when that next changes.

    Raise ValueError for a naive datetime.
    """
    if moment.tzinfo is None:
        raise ValueError("phase() needs an aware datetime")
    if window.always_open:
        return WeekPhase(True, None)
    if window.never_open:
        return WeekPhase(False, None)
    moment = moment.astimezone(UTC)
    today = moment.astimezone(window.tz).date()
    back = (today.isoweekday() - window.start_weekday) % 7
    latest_start = today - timedelta(days=back)
    for start_day in (latest_start - timedelta(days=7), latest_start):  # the week that may still be open
        opens, closes = _opening(window, start_day)
        if opens <= moment < closes:
            return WeekPhase(True, closes)
    next_start = latest_start if _opening(window, latest_start)[0] > moment else latest_start + timedelta(days=7)
    return WeekPhase(False, _opening(window, next_start)[0])
