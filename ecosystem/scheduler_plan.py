"""What the scheduler runs, and when: a pure planner over the settings, the day plan, the run history and a clock.

Each job has slots (a trading day's evening, a weekend, a Sunday evening, a minute) and runs
at most once per slot: a slot whose run ended ``ok`` is done for good, so a restarted
scheduler never repeats a day. A slot that passed while the scheduler was down is caught up
once, on start, only while the job can still do its work (the evening chain only before its
last process window closes; backup, offload and reports within SCHEDULER_CATCHUP_HOURS);
otherwise it is ``missed``, recorded and alerted. ``due`` answers for one instant and changes
nothing; the loop (``scheduler_loop.Scheduler``, run by `invoke run-scheduler`) dispatches and records.
"""
from __future__ import annotations

import functools
import re
import shlex
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from .plan import PlannedStep
from .week import WeekWindow, phase

ON_TIME = timedelta(minutes=2)   # a slot seen within this of its time is on time, not a catch-up
OPEN_LEAD = timedelta(minutes=10)  # weekly.open runs this long before the day's first launch, so its `up`
                                   # (which may recreate a service) is done before weekly sync launches anything
BRIEF = "brief --send"            # the morning and evening brief, on trading days at BRIEF_AT (with ALERT_URLS)
WEEKLY_LOGIN = "gateway.weekly-login"  # the gateway restarted for IBKR's weekly 2FA login, at GATEWAY_WEEKLY_LOGIN_AT
OWN = "own:"                     # the prefix of the trader's own jobs (SCHEDULER_JOBS) in the history


@dataclass(frozen=True)
class Slot:
    job: str
    key: str                 # e.g. 2026-12-01 (a trading day), 2026-W49 (a week), 2026-12-01T10:31 (a minute)
    at: datetime             # aware, UTC: when it is due
    runnable_until: datetime  # after this a missed slot cannot do its work any more
    args: tuple[str, ...] = ()  # the job's command-line arguments for this slot (e.g. --day 2026-12-01)
    runs: tuple[str, ...] = ()  # the command, when it is not the job's name (a trader's own job)
    late: tuple[datetime, tuple[str, ...]] | None = None  # dispatched after this instant, add these arguments

    def command_at(self, now: datetime) -> tuple[str, ...]:
        """The task and flags that a dispatch at ``now`` runs."""
        late = self.late[1] if self.late and now > self.late[0] else ()
        return (*(self.runs or shlex.split(self.job)), *self.args, *late)

    @property
    def command(self) -> tuple[str, ...]:
        return self.command_at(self.at)

    def __str__(self) -> str:
        return f"{self.job}@{self.key}"


@dataclass(frozen=True)
class Decision:
    slot: Slot
    action: str              # run | catch_up | missed
    reason: str


@dataclass(frozen=True)
class JobSpec:
    """A scheduled job: a task (or pipeline) name and how its slots are made."""

    name: str
    slots: Callable[[date], list[Slot]]   # the slots whose time falls on a (local) day


def _local(day: date, moment: time, tz) -> datetime:
    return datetime.combine(day, moment, tzinfo=tz).astimezone(UTC)


# --- the trader's own jobs (SCHEDULER_JOBS) ---------------------------------------------------

@dataclass(frozen=True)
class ScheduledJob:
    """A job the trader added to the scheduler (SCHEDULER_JOBS): a task of the tree with its flags, and when it runs."""

    name: str                      # the command as written, e.g. "backup --what=csv"
    days: tuple[int, ...] | str    # ISO weekdays, or "trading" (the trading week's days)
    at: time                       # local


_DAY_WORDS = {**{d: i + 1 for i, d in enumerate(("mon", "tue", "wed", "thu", "fri", "sat", "sun"))},
              **{d: i + 1 for i, d in enumerate(("monday", "tuesday", "wednesday", "thursday", "friday",
                                                 "saturday", "sunday"))}}


def _days(text: str) -> tuple[int, ...] | str:
    text = text.strip().lower()
    if text == "trading":
        return "trading"
    if text in ("daily", ""):
        return tuple(range(1, 8))
    days: list[int] = []
    for part in text.split(","):
        first, dash, last = (x.strip() for x in part.partition("-"))
        if first not in _DAY_WORDS or (dash and last not in _DAY_WORDS):
            raise ValueError(f"{part.strip()!r} is not a day or a range of days")
        a = _DAY_WORDS[first]
        b = _DAY_WORDS[last] if dash else a
        days += list(range(a, b + 1)) if a <= b else [*range(a, 8), *range(1, b + 1)]
    return tuple(sorted(set(days)))


_HH_MM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")


def parse_own_jobs(text: str) -> tuple[ScheduledJob, ...]:
    """Read SCHEDULER_JOBS: ``TASK [ARGS] @ DAYS HH:MM`` entries, separated by ``;`` or lines;
    raise ValueError naming the entry and the form."""
    jobs = []
    for item in (i.strip() for line in text.splitlines() for i in line.split(";")):
        if not item:
            continue
        command, at_sign, when = item.rpartition("@")
        try:
            if not at_sign or not command.strip():
                raise ValueError("no '@'")
            words = shlex.split(command)
            if not words or words[0].startswith("-"):
                raise ValueError("no task")
            days, _, moment = when.strip().rpartition(" ")
            matched = _HH_MM.fullmatch(moment.strip())
            if not matched:
                raise ValueError(f"{moment.strip()!r} is not a time like 07:30")
            jobs.append(ScheduledJob(shlex.join(words), _days(days),
                                     time(int(matched.group(1)), int(matched.group(2)))))
        except ValueError as exc:
            raise ValueError(f"{item!r} is not 'TASK [ARGS] @ DAYS HH:MM' ({exc}); DAYS is daily, trading, "
                             "or days like mon,wed or mon-fri") from None
    names = [j.name for j in jobs]
    if len(set(names)) != len(names):
        raise ValueError("the same command is scheduled twice: put its days in one entry (mon,thu 12:00), "
                         "or, for another time of day, tell the two apart by their arguments")
    return tuple(jobs)


# tasks the scheduler must not run, and why (SCHEDULER_JOBS naming one is refused)
NOT_SCHEDULABLE = {"run-scheduler": "it would nest", "demo": "it is a try-out", "restore": "it needs a person",
                   "resume": "it needs a person", "down": "it needs a person", "rollback": "it needs a person",
                   "shell": "it needs a person", "weekly.sync": "the scheduler runs it every minute already",
                   "launch": "it needs a person", "gateway.weekly-login": "GATEWAY_WEEKLY_LOGIN_AT schedules it"}


def check_own_jobs(settings, flags_of: Callable[[str], set[str] | None]) -> None:
    """Refuse, naming it, a SCHEDULER_JOBS entry whose task does not exist (``flags_of`` gives a
    task's flags, None for no such task), must not run unattended, or is given a flag the task
    does not have (it would fail, and alert, at every run)."""
    from .errors import UsageError

    for job in settings.scheduler_jobs:
        words = shlex.split(job.name)
        name = words[0]
        if name in NOT_SCHEDULABLE:
            raise UsageError(f"SCHEDULER_JOBS: {name} is not for the scheduler ({NOT_SCHEDULABLE[name]}); "
                             "remove it from SCHEDULER_JOBS")
        flags = flags_of(name)
        if flags is None:
            raise UsageError(f"SCHEDULER_JOBS: there is no task {name!r}; the names are in `invoke --list` "
                             "(a collection's task is written like weekly.sync)")
        for word in words[1:]:
            flag = word.split("=", 1)[0]
            if flag.startswith("-") and flag not in flags:
                raise UsageError(f"SCHEDULER_JOBS: {name} has no flag {flag}; its flags are "
                                 f"{', '.join(sorted(flags))} (invoke --help {name})")


def jobs(settings, flags_of: Callable[[str], set[str] | None]) -> list[JobSpec]:
    """The scheduler's jobs for these settings, once the trader's own are checked (``check_own_jobs``)."""
    from .plan import plans_of

    check_own_jobs(settings, flags_of)
    return trading_days_jobs(settings, plans_of(settings))


def trading_days_jobs(settings, plan_of: Callable[[date], list[PlannedStep]]) -> list[JobSpec]:
    """The jobs of the design card: the window's opening (``weekly.open``: up, the gateway's login
    check, the day's launches) and the nightly pipeline on trading days, the week's close
    (``weekly.close``: what ended is recorded, a tally), the weekend pipeline, the
    Sunday-evening gateway check, the trader's own jobs (SCHEDULER_JOBS), and, with ALERT_URLS,
    the brief on trading days at BRIEF_AT. (``weekly sync``
    runs every minute and has no slots.)"""
    tz = settings.tz
    window = WeekWindow.from_settings(settings)
    catchup = timedelta(hours=settings.scheduler_catchup_hours)

    @functools.cache  # pure in the day: a simulated week asks it for every minute
    def trading_day(day: date) -> bool:
        return any(phase(window, _local(day, time(hour), tz)).inside for hour in range(0, 24, 3))

    def window_open(day: date) -> list[Slot]:
        daytime = [s for s in plan_of(day) if s.kind != "evening"] if trading_day(day) else []
        if not daytime:
            return []
        first = min(s.launch_at for s in daytime)
        if not phase(window, first).inside:
            return []
        # the opening is worth catching up while a daytime window is still open
        return [Slot("weekly.open", day.isoformat(), first - OPEN_LEAD, max(s.window_stop for s in daytime))]

    def nightly(day: date) -> list[Slot]:
        evening = [s for s in plan_of(day) if s.kind == "evening"] if trading_day(day) else []
        if not evening:
            return []
        start = min(s.launch_at for s in evening)
        if not phase(window, start).inside:
            return []
        last_stop = max(s.window_stop for s in evening)
        # The slot carries its trading day. Caught up after the chain's last window closed,
        # pysystemtrade would not run the chain (it waits for, or refuses, its window): the
        # pipeline then records the chain missed and still backs up, offloads and pushes reports.
        return [Slot("nightly", day.isoformat(), start, max(last_stop, start + catchup), ("--day", day.isoformat()),
                     late=(last_stop, ("--skip-eod",)))]

    def weekend(day: date) -> list[Slot]:
        weekday, moment = settings.weekend_pipeline_at
        if day.isoweekday() != weekday:
            return []
        at = _local(day, moment, tz)
        year, week, _ = day.isocalendar()
        return [Slot("weekend", f"{year}-W{week:02d}", at, at + catchup)]

    def gateway_check(day: date) -> list[Slot]:
        weekday, moment = settings.gateway_check_at
        if day.isoweekday() != weekday:
            return []
        at = _local(day, moment, tz)
        return [Slot("gateway.status", day.isoformat(), at, at + timedelta(hours=3))]

    def weekly_login(day: date) -> list[Slot]:
        if settings.gateway_weekly_login_at is None:
            return []
        weekday, moment = settings.gateway_weekly_login_at
        if day.isoweekday() != weekday:
            return []
        at = _local(day, moment, tz)
        # caught up only while its approval window lasts: later, the trader may not be there to approve
        return [Slot(WEEKLY_LOGIN, day.isoformat(), at, at + timedelta(seconds=settings.gateway_login_window))]

    def window_close(day: date) -> list[Slot]:
        """The slot on the day the week closes (a slot is found by the local day it falls on)."""
        opened = day - timedelta(days=window.span_days + (window.stop_hour == 24))
        if window.always_open or window.never_open or opened.isoweekday() != window.start_weekday:
            return []
        closes = _local(day, time(window.stop_hour % 24), tz)
        year, week, _ = opened.isocalendar()
        return [Slot("weekly.close", f"{year}-W{week:02d}", closes, closes + catchup)]

    def brief(day: date) -> list[Slot]:
        if not trading_day(day):
            return []
        # a brief hours late says little that the next one will not: caught up within two hours
        return [Slot(BRIEF, f"{day.isoformat()}T{moment:%H:%M}", at, at + timedelta(hours=2))
                for moment in settings.brief_at for at in [_local(day, moment, tz)]]

    def custom(spec) -> JobSpec:
        def slots(day: date) -> list[Slot]:
            if spec.days == "trading":
                if not trading_day(day):
                    return []
            elif day.isoweekday() not in spec.days:
                return []
            at = _local(day, spec.at, tz)
            return [Slot(OWN + spec.name, day.isoformat(), at, at + catchup, runs=tuple(shlex.split(spec.name)))]
        return JobSpec(OWN + spec.name, slots)

    jobs = [JobSpec("weekly.open", window_open), JobSpec("nightly", nightly), JobSpec("weekly.close", window_close),
            JobSpec("weekend", weekend),
            JobSpec("gateway.status", gateway_check), JobSpec(WEEKLY_LOGIN, weekly_login),
            *(custom(spec) for spec in settings.scheduler_jobs)]
    if settings.alert_urls and settings.brief_at:
        jobs.append(JobSpec(BRIEF, brief))
    return [JobSpec(job.name, _per_day(job.slots)) for job in jobs]


def _per_day(slots: Callable[[date], list[Slot]]) -> Callable[[date], list[Slot]]:
    """Remember a job's slots per day (a pure function of the day, asked for again on every tick)."""
    remembered = functools.cache(lambda day: tuple(slots(day)))
    return lambda day: list(remembered(day))


def slots_between(jobs: Iterable[JobSpec], start: datetime, end: datetime, tz) -> list[Slot]:
    """Return every slot of ``jobs`` with ``start < at <= end``, in time order."""
    found = []
    day = start.astimezone(tz).date() - timedelta(days=1)
    last = end.astimezone(tz).date() + timedelta(days=1)
    while day <= last:
        for job in jobs:
            found += [s for s in job.slots(day) if start < s.at <= end]
        day += timedelta(days=1)
    return sorted(found, key=lambda s: (s.at, s.job))


def due(jobs: Iterable[JobSpec], now: datetime, *, since: datetime, done: Callable[[Slot], bool], tz) -> list[Decision]:
    """Decide, at ``now``, what to do about every slot after ``since`` (the last instant the
    scheduler looked): run it, catch it up, or record it missed. Slots already done are left out."""
    decisions = []
    for slot in slots_between(list(jobs), since, now, tz):
        if done(slot):
            continue
        if now - slot.at <= ON_TIME:
            decisions.append(Decision(slot, "run", "on time"))
        elif slot.job == BRIEF and now > slot.runnable_until:
            continue  # a stale brief is not worth an alert: the next one lists the alerts since the last sent
        elif now <= slot.runnable_until:
            late = int((now - slot.at).total_seconds() // 60)
            decisions.append(Decision(slot, "catch_up", f"{late} min late (the scheduler was not running)"))
        else:
            decisions.append(Decision(slot, "missed", "its slot passed while the scheduler was not running, and "
                                      f"it could do its work only until {slot.runnable_until.astimezone(tz):%a %H:%M}"))
    return decisions


def next_runs(jobs: Iterable[JobSpec], now: datetime, tz, *, days: int = 7) -> list[Slot]:
    """Return the slots of the next ``days`` days, in time order."""
    return slots_between(list(jobs), now, now + timedelta(days=days), tz)
