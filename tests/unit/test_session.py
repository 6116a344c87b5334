"""The gateway's session, watched: what a sync's reading of the login tells the trader, and when a
logout is expected (the daily restart, the weekly login) rather than alerted."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from ecosystem import observed, session
from ecosystem.events import EventBus, Notice
from ecosystem.history import History
from ecosystem.observed import DOWN, LOGGED_IN, NOT_LOGGED_IN, Observed
from ecosystem.settings import load_settings

LONDON = ZoneInfo("Europe/London")


def at(day, hh, mm=0):
    return datetime(2026, 12, day, hh, mm, tzinfo=LONDON).astimezone(UTC)


@pytest.fixture
def settings(tmp_path):
    return load_settings(tmp_path, environ={"STATE_DIR": str(tmp_path / "state"), "TIMEZONE": "Europe/London"})


def test_a_lost_login_inside_the_week_is_told_once_and_its_return_once():
    logged_in = Observed(gateway=LOGGED_IN)
    lost = session.judge(logged_in, NOT_LOGGED_IN, inside_week=True, expected=None)
    assert lost == session.Verdict("lost", session.TOLD)
    still = session.judge(Observed(gateway=NOT_LOGGED_IN, gateway_told=session.TOLD), NOT_LOGGED_IN,
                          inside_week=True, expected=None)
    assert still.tell is None and still.told == session.TOLD, "a sync every minute does not say it again"
    back = session.judge(Observed(gateway=NOT_LOGGED_IN, gateway_told=session.TOLD), LOGGED_IN,
                         inside_week=True, expected=None)
    assert back == session.Verdict("back", "")
    assert session.judge(logged_in, LOGGED_IN, inside_week=True, expected=None).tell is None
    assert session.judge(logged_in, DOWN, inside_week=True, expected=None).tell == "lost"


def test_nothing_is_told_outside_the_week_or_while_the_logout_is_expected():
    logged_in = Observed(gateway=LOGGED_IN)
    assert session.judge(logged_in, NOT_LOGGED_IN, inside_week=False, expected=None).tell is None
    quiet = session.judge(logged_in, NOT_LOGGED_IN, inside_week=True, expected="its daily restart at 23:55")
    assert quiet.tell is None and quiet.told == "", "not told yet: after the grace it is"
    back = session.judge(Observed(gateway=NOT_LOGGED_IN), LOGGED_IN, inside_week=True, expected=None)
    assert back.tell is None, "the gateway came back by itself: no message for what was never alerted"


def test_a_login_under_way_tells_the_trader_itself(settings):
    logged_in = Observed(gateway=LOGGED_IN)
    quiet = session.judge(logged_in, NOT_LOGGED_IN, inside_week=True, expected=None, under_way=True)
    assert quiet == session.Verdict(None, "")
    told = Observed(gateway=NOT_LOGGED_IN, gateway_told=session.TOLD)
    assert session.judge(told, LOGGED_IN, inside_week=True, expected=None, under_way=True).tell is None, \
        "the login job confirms it, not the watch"


def test_the_login_marker_is_set_around_a_login_and_says_when_the_job_alerted_itself(settings):
    until = at(6, 18, 31)
    with session.login_under_way(settings, until):
        assert session.read_marker(settings) == session.LoginMarker(until=until)
    assert session.read_marker(settings) == session.LoginMarker(), "done: the watch says what it sees"
    with pytest.raises(session.NotApproved):
        with session.login_under_way(settings, until):
            raise session.NotApproved("not approved within 30 min")
    assert session.read_marker(settings).told_lost, "the job alerted it: the watch takes that over"
    with pytest.raises(RuntimeError):
        with session.login_under_way(settings, until):
            raise RuntimeError("a bug")
    assert session.read_marker(settings) == session.LoginMarker(), "any other end: the watch alerts what it sees"


def test_an_outage_the_login_job_alerted_is_not_alerted_again_and_its_end_is_told(settings):
    from types import SimpleNamespace

    events = []
    bus = EventBus()
    bus.subscribe(events.append)
    ctx = SimpleNamespace(settings=settings, history=History(settings.history_path, bus=bus))
    session.write_marker(settings, session.LoginMarker(told_lost=True))
    noon = at(2, 12)
    out = Observed(at=noon, gateway=NOT_LOGGED_IN, gateway_since=noon, gateway_detail="no answer")
    told = session.watch(ctx, Observed(gateway=NOT_LOGGED_IN), out, noon, inside_week=True)
    assert told.gateway_told == session.TOLD and events == []
    assert session.read_marker(settings) == session.LoginMarker(), "taken over once"
    back = Observed(at=noon, gateway=LOGGED_IN, gateway_detail="DU*****67 (paper)")
    session.watch(ctx, told, back, noon + timedelta(minutes=5), inside_week=True)
    assert [e.subject for e in events] == ["the gateway is logged in again"]


def test_the_daily_restart_and_the_weekly_login_are_expected_logouts(settings):
    # defaults: the daily restart at 11:55 PM with a 10 min grace; the weekly login sun 18:00 for 30m
    assert session.expected_logout(settings, at(1, 23, 54)) is None
    assert session.expected_logout(settings, at(1, 23, 55)) == "its daily restart at 23:55"
    assert session.expected_logout(settings, at(2, 0, 4)) == "its daily restart at 23:55", "past midnight"
    assert session.expected_logout(settings, at(2, 0, 5)) is None
    assert session.expected_logout(settings, at(6, 18, 10)) == "its weekly login at Sun 18:00"
    assert session.expected_logout(settings, at(6, 18, 30)) is None
    assert session.expected_logout(settings, at(5, 18, 10)) is None, "Saturday"


def test_a_lost_login_is_recorded_as_an_alert_with_the_fix_and_its_return_as_a_message(settings):
    from types import SimpleNamespace

    events = []
    bus = EventBus()
    bus.subscribe(events.append)
    ctx = SimpleNamespace(settings=settings, history=History(settings.history_path, bus=bus))
    noon = at(2, 12)
    seen = Observed(at=noon, gateway=NOT_LOGGED_IN, gateway_since=noon, gateway_detail="no answer within 5s")
    told = session.watch(ctx, Observed(gateway=LOGGED_IN), seen, noon, inside_week=True)
    assert told.gateway_told == session.TOLD
    assert [(e.job, e.outcome) for e in events] == [("gateway.session", "failed")]
    assert "not logged in since Wed 12:00" in events[0].detail and "IBKR Mobile" in events[0].hint
    back = Observed(at=noon + timedelta(minutes=20), gateway=LOGGED_IN, gateway_detail="DU*****67 (paper)")
    again = session.watch(ctx, told, back, noon + timedelta(minutes=20), inside_week=True)
    assert again.gateway_told == ""
    assert isinstance(events[1], Notice) and events[1].subject == "the gateway is logged in again"
    assert "DU*****67 (paper) after 20 min" in events[1].detail
    runs = [r for r in ctx.history.runs() if r.job == "gateway.session"]
    assert [r.outcome for r in runs] == ["failed", "ok"]


def test_what_is_told_survives_in_the_observation(settings):
    observed.write(settings, Observed(at=at(2, 12), gateway=NOT_LOGGED_IN, gateway_told=session.TOLD))
    assert observed.read(settings).gateway_told == session.TOLD


def test_the_gateway_settings_parse_and_bad_ones_are_named(tmp_path):
    from ecosystem.errors import SettingsError

    s = load_settings(tmp_path, environ={"GATEWAY_WEEKLY_LOGIN_AT": "sat 09:30", "GATEWAY_LOGIN_WINDOW": "1h",
                                         "GATEWAY_TWOFA_RETRY": "90s", "RELAUNCH_BACKOFF_MINUTES": "2,10"})
    assert s.gateway_weekly_login_at[0] == 6 and s.gateway_login_window == 3600 and s.gateway_twofa_retry == 90
    assert s.relaunch_backoff_minutes == (2, 10)
    assert load_settings(tmp_path, environ={"GATEWAY_WEEKLY_LOGIN_AT": "none"}).gateway_weekly_login_at is None
    for name, value in (("GATEWAY_LOGIN_WINDOW", "30"), ("GATEWAY_TWOFA_RETRY", "1s"),
                        ("RELAUNCH_BACKOFF_MINUTES", "1,x"), ("GATEWAY_WEEKLY_LOGIN_AT", "someday")):
        with pytest.raises(SettingsError) as bad:
            load_settings(tmp_path, environ={name: value})
        assert name in str(bad.value)
