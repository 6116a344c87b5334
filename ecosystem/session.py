"""The gateway's session, watched: what each `weekly sync`'s reading of the login means to the trader.

Every sync reads the gateway's login (``observed.observe``: the IB API handshake and the managed
accounts). ``judge`` decides, purely, what to tell: inside the trading week, a change to "not
logged in" (or the gateway down) is one alert at once, with what to do; the way back to
logged in after that alert is one message. A logout the gateway makes on purpose is expected,
not alerted: its daily restart (GATEWAY_AUTO_RESTART_TIME, for GATEWAY_RESTART_GRACE_MINUTES;
IBC logs in again by itself) and the weekly login (GATEWAY_WEEKLY_LOGIN_AT, for
GATEWAY_LOGIN_WINDOW, which ``weekly_login`` watches and tells itself). An expected logout that
outlasts its grace is alerted then. Whether the current outage has been told is kept in the
observation (``gateway_told``), so a sync every minute tells it once.

The weekly login: IBKR wants a full login with two-factor approval once a week; left alone it
happens when IBKR forces it (after its Sunday reset, when nobody is awake). IBC's own
ColdRestartTime (the image's TWS_COLD_RESTART) restarts on Sundays only (IbcTws.java
getColdRestartTime) and tells nobody; so the scheduler does it instead (TWS_COLD_RESTART stays
empty: one restart, not two): ``weekly_login``, at GATEWAY_WEEKLY_LOGIN_AT on any day, restarts
the gateway at the trader's time (a container restart: IBC then logs in cold, and the
container, its id and its settings stay; a configuration change still waiting is applied then,
by recreating it), tells the trader to approve it now, again at each new 2FA request, confirms
the login (account masked, mode), or says what to do when the window passes.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from typing import TYPE_CHECKING

from .errors import EcosystemError
from .observed import LOGGED_IN, Observed

if TYPE_CHECKING:
    from .context import Context

JOB = "gateway.session"
WEEKLY = "gateway.weekly-login"
TOLD = "lost"   # gateway_told: the current outage was alerted


@dataclass(frozen=True)
class LoginMarker:
    """What a login job (the weekly login, `gateway.login --restart`) says to the watch, in a file
    only it writes: it tells the trader itself until ``until``; ``told_lost``: it ended by alerting
    that the login did not come (the watch takes that over rather than alert it again)."""

    until: datetime | None = None
    told_lost: bool = False


def marker_path(settings):
    return settings.state_dir / "gateway_login.json"


def read_marker(settings) -> LoginMarker:
    import json

    try:
        data = json.loads(marker_path(settings).read_text())
        until = datetime.fromisoformat(data["until"]) if data.get("until") else None
        return LoginMarker(until if until is None or until.tzinfo else None, bool(data.get("told_lost")))
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return LoginMarker()


def write_marker(settings, marker: LoginMarker) -> None:
    from .state_files import write_json

    write_json(marker_path(settings), {"until": marker.until.isoformat() if marker.until else None,
                                       "told_lost": marker.told_lost})


class NotApproved(EcosystemError):
    """The login was not approved within its window (its task records and alerts it)."""


@contextmanager
def login_under_way(settings, until: datetime):
    """Around a login job: the watch stays quiet until ``until``; the job ending with the login not
    approved (recorded and alerted by its task) leaves ``told_lost``; any other end clears the marker
    (the watch then says what it sees)."""
    write_marker(settings, LoginMarker(until=until))
    try:
        yield
    except NotApproved:
        write_marker(settings, LoginMarker(told_lost=True))
        raise
    except BaseException:
        write_marker(settings, LoginMarker())
        raise
    write_marker(settings, LoginMarker())


def daily_restart(settings) -> clock:
    """GATEWAY_AUTO_RESTART_TIME (IBC's 12-hour form, e.g. 11:55 PM) as a time of day."""
    return datetime.strptime(settings.gateway_auto_restart_time, "%I:%M %p").time()


def expected_logout(settings, now: datetime) -> str | None:
    """Why the gateway may be logged out at ``now`` on purpose (its daily restart, the weekly login),
    or None."""
    tz = settings.tz
    local = now.astimezone(tz)
    grace = timedelta(minutes=settings.gateway_restart_grace_minutes)
    for day in (local.date(), local.date() - timedelta(days=1)):
        start = datetime.combine(day, daily_restart(settings), tzinfo=tz)
        if start <= local < start + grace:
            return f"its daily restart at {start:%H:%M}"
        weekly = weekly_login_at(settings, day)
        if weekly is not None and weekly <= local < weekly + timedelta(seconds=settings.gateway_login_window):
            return f"its weekly login at {weekly:%a %H:%M}"
    return None


def weekly_login_at(settings, day: date) -> datetime | None:
    """The weekly login's instant on ``day`` (local, aware), or None when it is not that day."""
    if settings.gateway_weekly_login_at is None:
        return None
    weekday, moment = settings.gateway_weekly_login_at
    return datetime.combine(day, moment, tzinfo=settings.tz) if day.isoweekday() == weekday else None


@dataclass(frozen=True)
class Verdict:
    tell: str | None   # "lost" (an alert), "back" (a message) or None
    told: str          # what gateway_told becomes


def judge(before: Observed, now_state: str, *, inside_week: bool, expected: str | None,
          under_way: bool = False) -> Verdict:
    """What the observation ``now_state`` (after ``before``) means: an alert, a message or nothing.
    A login job under way says it all itself (``under_way``)."""
    told = before.gateway_told
    if now_state == LOGGED_IN:
        return Verdict("back" if told == TOLD and not under_way else None, "")
    if told == TOLD:
        return Verdict(None, TOLD)
    if under_way or not inside_week or expected:
        return Verdict(None, "")
    return Verdict("lost", TOLD)


LOST_FIX = ("approve the IBKR login on your phone (IBKR Mobile), or log in through the gateway's VNC; "
            "`invoke gateway.login` waits for it. Processes that need the broker (BROKER_PROCESSES) wait and "
            "are launched by the first sync after the login")


def watch(ctx: Context, before: Observed, seen: Observed, now: datetime, *, inside_week: bool) -> Observed:
    """Tell what ``seen`` means after ``before`` (an alert or a message, recorded as job
    gateway.session); return ``seen`` with what is told kept in it (the caller writes it)."""
    marker = read_marker(ctx.settings)
    if marker.told_lost:  # the login job alerted this outage: it is told
        before = replace(before, gateway_told=TOLD)
        write_marker(ctx.settings, LoginMarker())
    under_way = marker.until is not None and now < marker.until
    verdict = judge(before, seen.gateway, inside_week=inside_week, expected=expected_logout(ctx.settings, now),
                    under_way=under_way)
    tz = ctx.settings.tz
    if verdict.tell == "lost":
        since = (seen.gateway_since or now).astimezone(tz)
        ctx.history.record(JOB, "failed", f"the gateway is {seen.gateway} since {since:%a %H:%M}: "
                           f"{seen.gateway_detail}", hint=LOST_FIX if seen.gateway != "down" else
                           "start it: invoke up --services ib_gateway (then approve its login)")
    elif verdict.tell == "back":
        lost = before.gateway_since
        after = f" after {int((now - lost).total_seconds() // 60)} min" if lost else ""
        ctx.history.tell(JOB, "the gateway is logged in again", f"{seen.gateway_detail}{after}; what waited "
                         "for it is launched now")
    return replace(seen, gateway_told=verdict.told)


# --- the weekly login ------------------------------------------------------------------------

def weekly_login(ctx: Context, *, sleep=time.sleep, clock_now=lambda: datetime.now(UTC)) -> str:
    """Restart the gateway for its weekly full login, tell the trader to approve it, remind them at
    each new 2FA request, and confirm it; raise EcosystemError (recorded, alerted) when the window
    passes or the login is to the wrong account or mode. Return what was done."""
    from . import stack

    s = ctx.settings
    window = timedelta(seconds=s.gateway_login_window)
    retry = timedelta(seconds=s.gateway_twofa_retry)
    started = clock_now()
    deadline = started + window
    with login_under_way(s, deadline + timedelta(minutes=1)):  # until then this job tells the trader itself
        how = stack.restart_gateway(ctx)
        return _wait_for_approval(ctx, how, started, deadline, retry, sleep=sleep, clock_now=clock_now)


def _wait_for_approval(ctx: Context, how: str, started: datetime, deadline: datetime, retry: timedelta, *,
                       sleep, clock_now) -> str:
    from . import gateway, observed, pysys_config

    s = ctx.settings
    tz = s.tz
    window = deadline - started

    def remind(first: bool) -> None:
        left = max(0, int((deadline - clock_now()).total_seconds() // 60))
        ctx.history.tell(WEEKLY, "approve the IBKR login on your phone now" if first else
                         "approve the new IBKR login request on your phone now",
                         f"the gateway {how} for its weekly login; {left} min left (until "
                         f"{deadline.astimezone(tz):%H:%M})",
                         hint="no request on your phone? log in through the gateway's VNC, or run "
                              "`invoke gateway.login --restart` for a new one")

    remind(True)
    host, port = gateway.api_address(s)
    next_reminder = started + retry
    while True:
        now = clock_now()
        if now >= deadline:  # the watch takes this alert over, not saying it a second time
            raise NotApproved(f"the gateway's weekly login was not approved within {window.total_seconds() / 60:g} "
                                 f"min (restarted at {started.astimezone(tz):%H:%M})",
                                 fix="run `invoke gateway.login --restart` when you can approve the login (a new "
                                     "request), or log in through the gateway's VNC; processes that need the broker "
                                     "wait until then")
        try:
            answer = gateway.handshake(host, port, client_id=observed.LOGIN_CLIENT_ID,
                                       timeout=max(1.0, min(3.0, (deadline - now).total_seconds())))
            break
        except gateway.GatewayError:
            if clock_now() >= next_reminder and clock_now() < deadline:
                remind(False)
                next_reminder += retry
            sleep(1)
    problems = gateway.judge_login(answer, broker_account=pysys_config.private_config(s).get("broker_account"),
                                   trading_mode=s.trading_mode)
    accounts = ", ".join(gateway.mask_account(a) for a in answer.accounts) or "no account"
    if problems:
        raise EcosystemError("; ".join(problems), fix="log the gateway in to the account of private_config.yaml "
                             "(TWSUSERID) in the mode of TRADING_MODE, then run `invoke gateway.login --restart`")
    ctx.history.tell(WEEKLY, "the gateway is logged in", f"{accounts} ({s.trading_mode}), "
                     f"{int((clock_now() - started).total_seconds() // 60)} min after its restart")
    return f"logged in to {accounts} ({s.trading_mode}) after the weekly restart"
