"""How a run ended: the one list of outcomes, and which of them a person must hear about.

An ``Outcome`` is a ``str`` (``Outcome.OK == "ok"``), so the run history's file, the alerts and
the tables read the same words as before; code compares against the members, never against
retyped literals.
"""
from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    OK = "ok"                # it did its work
    FAILED = "failed"        # it did not (or was interrupted)
    DECLINED = "declined"    # pysystemtrade declined to run it (exit 0: STOP, NO-RUN, outside its window, running)
    TIMED_OUT = "timed_out"  # it was stopped at its deadline
    SKIPPED = "skipped"      # not run: not configured, or what it needs did not end ok
    SUSPECT = "suspect"      # it ran, but what it wrote does not count (a backup much smaller than the last)
    MISSED = "missed"        # its time passed while nothing could run it
    BUSY = "busy"            # another run held its lock: it waited, then did nothing (the other run does the work)
    WAITING = "waiting"      # a launch held back until what it needs is there (the gateway's login): no budget spent

    @property
    def failing(self) -> bool:
        """Whether a person must hear about it (a failure event, hence an alert)."""
        return self in FAILING


FAILING = frozenset({Outcome.FAILED, Outcome.DECLINED, Outcome.TIMED_OUT, Outcome.SUSPECT, Outcome.MISSED})
