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
LOGIN = "login until "  # gateway_told: a login under way (gateway.weekly-login) tells the trader itself, until then


def login_under_way(told: str, now: datetime) -> bool:
    """Whether ``told`` says a login job is telling the trader itself at ``now`` (its window not past)."""
    if not told.startswith(LOGIN):
        return False
    try:
        return now < datetime.fromisoformat(told[len(LOGIN):])
    except ValueError:
        return False


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
          now: datetime | None = None) -> Verdict:
    """What the observation ``now_state`` (after ``before``) means: an alert, a message or nothing.
    A login job under way (``LOGIN``, until its window passes) says it all itself."""
    told = before.gateway_told
    under_way = now is not None and login_under_way(told, now)
    if now_state == LOGGED_IN:
        return Verdict("back" if told == TOLD else None, "")
    if told == TOLD or under_way or not inside_week or expected:
        return Verdict(None, told if told == TOLD or under_way else "")
    return Verdict("lost", TOLD)


LOST_FIX = ("approve the IBKR login on your phone (IBKR Mobile), or log in through the gateway's VNC; "
            "`invoke gateway.login` waits for it. Processes that need the broker (BROKER_PROCESSES) wait and "
            "are launched by the first sync after the login")


def watch(ctx: Context, before: Observed, seen: Observed, now: datetime, *, inside_week: bool) -> Observed:
    """Tell what ``seen`` means after ``before`` (an alert or a message, recorded as job
    gateway.session); return ``seen`` with what is told kept in it (the caller writes it)."""
    verdict = judge(before, seen.gateway, inside_week=inside_week, expected=expected_logout(ctx.settings, now),
                    now=now)
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
    from . import gateway, observed, pysys_config, stack

    s = ctx.settings
    window = timedelta(seconds=s.gateway_login_window)
    retry = timedelta(seconds=s.gateway_twofa_retry)
    started = clock_now()
    deadline = started + window
    tz = s.tz
    # until the window passes this job tells the trader itself: the sync's watch stays quiet
    observed.write(s, replace(observed.read(s), gateway_told=LOGIN + (deadline + timedelta(minutes=1)).isoformat()))
    how = stack.restart_gateway(ctx)

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
        if now >= deadline:
            seen = observed.read(s)
            observed.write(s, replace(seen, gateway_told=TOLD))  # the watch does not say it a second time
            raise EcosystemError(f"the gateway's weekly login was not approved within {window.total_seconds() / 60:g} "
                                 f"min (restarted at {started.astimezone(tz):%H:%M})",
                                 fix="run `invoke gateway.login --restart` when you can approve the login (a new "
                                     "request), or log in through the gateway's VNC; processes that need the broker "
                                     "wait until then")
        try:
            answer = gateway.handshake(host, port, client_id=observed.SYNC_CLIENT_ID,
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
    seen = observed.read(s)
    observed.write(s, replace(seen, gateway=LOGGED_IN, gateway_since=clock_now(),
                              gateway_detail=f"{accounts} ({s.trading_mode})", gateway_told=""))
    return f"logged in to {accounts} ({s.trading_mode}) after the weekly restart"
