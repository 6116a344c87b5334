"""Alerts: one message per failure event, identical ones throttled, secrets redacted, a broken notifier harmless."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from ecosystem.alerts import Alerter
from ecosystem.events import FailureEvent
from ecosystem.secrets import Redactor

AT = datetime(2026, 12, 1, 20, 31, tzinfo=UTC)


def event(detail="exited with code 1", step="run_systems"):
    return FailureEvent(job="eod", step=step, outcome="failed", at=AT, detail=detail, slot="2026-12-01",
                        hint="read its log: invoke logs run_systems", log_tail=("line 1", "token hunter2-secret"))


def test_identical_alerts_are_throttled_and_the_next_says_how_many_were_held(tmp_path):
    sent, now = [], [AT]
    alerter = Alerter(lambda title, body: sent.append((title, body)) or True, tz=ZoneInfo("Europe/London"),
                      redact=Redactor(["hunter2-secret"]), throttle=timedelta(minutes=60), clock=lambda: now[0],
                      state_path=tmp_path / "alerts.json")
    alerter(event())
    alerter(event())
    alerter(event(step="run_cleaners"))  # another alert: not throttled
    assert [t for t, _ in sent] == ["pysystemtrade ecosystem: eod/run_systems failed",
                                    "pysystemtrade ecosystem: eod/run_cleaners failed"]
    _title, body = sent[0]
    assert "Tue 2026-12-01 20:31 GMT" in body and "what to do: read its log" in body and "line 1" in body
    assert "hunter2" not in body and "********" in body
    later = Alerter(lambda title, body: sent.append((title, body)) or True, tz=ZoneInfo("Europe/London"),
                    redact=Redactor([]), throttle=timedelta(minutes=60), clock=lambda: AT + timedelta(minutes=61),
                    state_path=tmp_path / "alerts.json")  # a new process: the throttle remembers
    later(event())
    assert "1 identical alert(s) were held back" in sent[-1][1]


def test_notices_that_say_different_things_are_not_held_as_identical(tmp_path):
    from ecosystem.events import Notice

    sent = []
    alerter = Alerter(lambda title, body: sent.append(title) or True, tz=ZoneInfo("Europe/London"),
                      redact=Redactor([]), throttle=timedelta(minutes=60), clock=lambda: AT)

    def notice(headline):
        return Notice(job="gateway.weekly-login", outcome="ok", at=AT, headline=headline,
                      detail="the gateway was restarted for its weekly login; 29 min left (until 18:30)")

    alerter(notice("approve the IBKR login on your phone now"))
    alerter(notice("approve the new IBKR login request on your phone now"))
    alerter(notice("approve the new IBKR login request on your phone now"))
    assert sent == ["pysystemtrade ecosystem: approve the IBKR login on your phone now",
                    "pysystemtrade ecosystem: approve the new IBKR login request on your phone now"]


def test_a_broken_notifier_never_breaks_the_run():
    def broken(title, body):
        raise ConnectionError("no route")
    alerter = Alerter(broken, tz=UTC, redact=Redactor([]), throttle=timedelta(0))
    alerter(event())  # no exception
    assert alerter.sent == 0
