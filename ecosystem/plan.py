"""The day's plan, derived from pysystemtrade's own process windows: one schedule, not two.

For a trading day: the continuous processes (stack handler, capital update) launched a margin
before their windows open; the morning one-shots; the evening chain in its order, each step
launched no earlier than a margin before its own window and never before the step ahead of it.
Windows come from upstream's control_config.yaml merged with the trader's private override
(``pysys_config.process_windows``); the settings choose the chain and the margin.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from .pysys_config import DEFAULT_START, DEFAULT_STOP, Window

CONTINUOUS = ("run_stack_handler", "run_capital_update")
# pysystemtrade process name -> the launcher script (sysproduction/linux/scripts/...), where they differ
LAUNCHERS = {"run_daily_prices_updates": "run_daily_price_updates"}


@dataclass(frozen=True)
class PlannedStep:
    """One process of the day: when it is launched, its window, and its place in the evening chain."""

    process: str
    kind: str                 # continuous | morning | evening
    launch_at: datetime       # aware, UTC
    window_start: datetime
    window_stop: datetime
    chain_position: int | None = None

    @property
    def launcher(self) -> str:
        return LAUNCHERS.get(self.process, self.process)


def _at(day: date, moment: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, moment, tzinfo=tz).astimezone(UTC)


def day_plan(day: date, windows: dict[str, Window], tz: ZoneInfo, *, chain: tuple[str, ...],
             morning: tuple[str, ...], margin: timedelta) -> list[PlannedStep]:
    """Given a trading day, the effective windows and the settings' choices, return the day's steps in launch order."""
    midnight = _at(day, time(0, 0), tz)

    def window(process: str) -> tuple[datetime, datetime]:
        w = windows.get(process, Window(process, DEFAULT_START, DEFAULT_STOP))
        return _at(day, w.start, tz), _at(day, w.stop, tz)

    steps = []
    for process in CONTINUOUS:
        start, stop = window(process)
        steps.append(PlannedStep(process, "continuous", max(midnight, start - margin), start, stop))
    for process in morning:
        start, stop = window(process)
        steps.append(PlannedStep(process, "morning", max(midnight, start - margin), start, stop))
    earliest = midnight
    for position, process in enumerate(chain, start=1):
        start, stop = window(process)
        launch = max(earliest, start - margin)
        steps.append(PlannedStep(process, "evening", launch, start, stop, position))
        earliest = launch
    return sorted(steps, key=lambda s: (s.launch_at, s.chain_position or 0))


def plans_of(settings) -> Callable[[date], list[PlannedStep]]:
    """Return ``plan_for`` of these settings, each day's plan computed once (the windows are read
    from the clone and the private folder the first time a day is asked for)."""
    remembered = functools.cache(lambda day: tuple(plan_for(settings, day)))
    return lambda day: list(remembered(day))


def plan_for(settings, day: date) -> list[PlannedStep]:
    """Return the plan of ``day`` from the settings and the clone's control config."""
    from .pysys_config import process_windows

    return day_plan(day, process_windows(settings), settings.tz, chain=settings.eod_chain,
                    morning=settings.morning_processes, margin=timedelta(minutes=settings.launch_margin_minutes))


def known_processes(settings) -> list[str]:
    """Every process the plan launches today (continuous, morning, the chain), plus run_backups:
    the ones a restore holds at NO-RUN and `resume` sets back to GO."""
    today = datetime.now(UTC).astimezone(settings.tz).date()
    return list(dict.fromkeys([p.process for p in plan_for(settings, today)] + ["run_backups"]))
