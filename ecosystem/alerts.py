"""Failure events as messages to the trader, through Apprise (email, Telegram, Slack, ... by URL).

Every failure event becomes one message: what failed, when (in the ecosystem's timezone), the
detail, the last log lines and what to do next. The same alert (job, step, outcome, detail)
is sent at most once per throttle window; the next one that goes out says how many were held
back. Every text passes the redactor, and the URLs (which may hold a password) are secrets.
A notifier that fails is logged and never breaks the run that reported the failure.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from .events import FailureEvent, Notice
from .state_files import write_json

log = logging.getLogger(__name__)

Sender = Callable[[str, str], bool]   # (title, body) -> delivered


def format_event(event: FailureEvent, tz, *, held_back: int = 0) -> tuple[str, str]:
    """Return the (title, body) of the message for ``event``."""
    title = f"pysystemtrade ecosystem: {event.subject}"
    lines = [f"{event.subject} at {event.at.astimezone(tz):%a %Y-%m-%d %H:%M %Z}"]
    if isinstance(event, Notice):
        lines += [event.detail] if event.detail else []
        lines += [f"what to do: {event.hint}"] if event.hint else []
        return title, "\n".join(lines)
    if event.slot:
        lines.append(f"trading day / slot: {event.slot}")
    if event.detail:
        lines.append(f"what happened: {event.detail}")
    if event.hint:
        lines.append(f"what to do: {event.hint}")
    if event.log_tail:
        lines += ["", "last log lines:"] + [f"  {line}" for line in event.log_tail]
    if held_back:
        lines += ["", f"({held_back} identical alert(s) were held back since the last one)"]
    lines += ["", "invoke status / invoke history show more."]
    return title, "\n".join(lines)


def apprise_sender(urls: Sequence[str]) -> Sender:
    """Return a sender delivering to every Apprise URL (mailto://, tgram://, slack://, ...)."""
    import apprise

    notifier = apprise.Apprise()
    for url in urls:
        if not notifier.add(url):
            raise ValueError("an ALERT_URLS entry is not a URL Apprise understands")

    def send(title: str, body: str) -> bool:
        return bool(notifier.notify(title=title, body=body, body_format=apprise.NotifyFormat.TEXT))
    return send


class Alerter:
    """Given a sender, a redactor and a throttle window, turn failure events into messages."""

    def __init__(self, send: Sender, *, tz, redact: Callable[[str], str], throttle: timedelta,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC), state_path=None) -> None:
        self._send, self._tz, self._redact, self._throttle, self._clock = send, tz, redact, throttle, clock
        self._state_path = state_path   # where the throttle remembers across runs (STATE_DIR/alerts.json)
        self._last: dict[str, datetime] = {}
        self._held: dict[str, int] = {}
        self.sent = 0

    def _load(self) -> None:
        import json

        if self._state_path is None:
            return
        try:
            data = json.loads(self._state_path.read_text())
        except (OSError, ValueError):
            return
        self._last = {k: datetime.fromisoformat(v) for k, v in data.get("last", {}).items()}
        self._held = {k: int(v) for k, v in data.get("held", {}).items()}

    def _save(self) -> None:
        if self._state_path is None:
            return
        recent = {k: v for k, v in self._last.items() if self._clock() - v < max(self._throttle, timedelta(days=1))}
        write_json(self._state_path, {"last": {k: v.isoformat() for k, v in recent.items()},
                                      "held": {k: v for k, v in self._held.items() if k in recent}})

    def __call__(self, event: FailureEvent) -> None:
        import hashlib

        said: tuple[str | None, ...] = (event.job, event.step, event.outcome, self._redact(event.detail))
        if isinstance(event, Notice):  # its headline is what it says ("approve now", "approve the new request")
            said += (event.headline,)
        key = hashlib.sha256(repr(said).encode()).hexdigest()
        self._load()
        now = self._clock()
        last = self._last.get(key)
        if last is not None and now - last < self._throttle:
            self._held[key] = self._held.get(key, 0) + 1
            self._save()
            log.info("alert held back (sent one %s ago): %s", now - last, event.subject)
            return
        title, body = format_event(event, self._tz, held_back=self._held.pop(key, 0))
        try:
            delivered = self._send(self._redact(title), self._redact(body))
        except Exception as exc:  # noqa: BLE001 - a notifier plug-in may raise anything; it never breaks the run
            log.warning("could not send the alert %s: %s", event.subject, type(exc).__name__)
            return
        if delivered:
            self._last[key] = now
            self.sent += 1
            self._save()
        else:
            log.warning("the alert %s was not delivered (check ALERT_URLS)", event.subject)
