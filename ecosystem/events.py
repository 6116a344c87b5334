"""Failure events and the bus that carries them to subscribers (alerts, logs, tests).

Every run that ends ``failed``, ``declined``, ``timed_out``, ``suspect`` or
``missed`` becomes one ``FailureEvent``. A subscriber that raises is logged and
skipped: a broken notifier never breaks the run that reported the failure.
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
        log.info("failure event: %s: %s", event.subject, event.detail)
        for subscriber in list(self._subscribers):
            try:
                subscriber(event)
            except Exception:
                log.exception("event subscriber %r failed on %s", subscriber, event.subject)
