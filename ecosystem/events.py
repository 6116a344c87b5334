"""Failure events and notices, and the bus that carries them to subscribers (alerts, logs, tests).

Every run that ends ``failed``, ``declined``, ``timed_out``, ``suspect`` or
``missed`` becomes one ``FailureEvent``. A ``Notice`` is news the trader acts on or waits for
that is not a failure (approve the gateway's login now; it is logged in again). A subscriber
that raises is logged and skipped: a broken notifier never breaks the run that reported it.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from .outcomes import FAILING

log = logging.getLogger(__name__)

FAILURE_OUTCOMES = FAILING  # every outcome a person must hear about


@dataclass(frozen=True)
class FailureEvent:
    """Something the trader must hear about: what failed, when, and what to do next."""

    job: str
    outcome: str
    at: datetime
    detail: str = ""
    step: str | None = None
    slot: str | None = None
    run_id: str = ""
    hint: str = ""
    log_tail: tuple[str, ...] = field(default_factory=tuple)

    @property
    def subject(self) -> str:
        what = f"{self.job}/{self.step}" if self.step else self.job
        return f"{what} {self.outcome}"


@dataclass(frozen=True)
class Notice(FailureEvent):
    """News that is not a failure: ``headline`` is its subject (e.g. "approve the IBKR login now")."""

    headline: str = ""

    @property
    def subject(self) -> str:
        return self.headline


Subscriber = Callable[[FailureEvent], None]


class EventBus:
    """Given subscribers, deliver each emitted event to all of them in order."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Add a subscriber; return a function that removes it again."""
        self._subscribers.append(subscriber)

        def unsubscribe() -> None:
            if subscriber in self._subscribers:
                self._subscribers.remove(subscriber)
        return unsubscribe

    def emit(self, event: FailureEvent) -> None:
        log.info("%s: %s: %s", "notice" if isinstance(event, Notice) else "failure event", event.subject,
                 event.detail)
        for subscriber in list(self._subscribers):
            try:
                subscriber(event)
            except Exception:
                log.exception("event subscriber %r failed on %s", subscriber, event.subject)
