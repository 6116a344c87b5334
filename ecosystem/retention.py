"""Which backup sets to keep: keep-last / daily / weekly, as a pure function (restic's rules, offen's guard).

Only good sets (complete, verified, not suspect) count towards the rules. Whatever the
counts say, the newest good set is always kept, and when there is no good set at all nothing
is deleted. A set that is not good and newer than the newest good one is kept for inspection
(it may be the clue to what went wrong); older ones that are not good go.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo


@dataclass(frozen=True)
class SetInfo:
    name: str
    created: datetime   # aware
    good: bool


@dataclass(frozen=True)
class Decision:
    name: str
    keep: bool
    reason: str


def decide(sets: list[SetInfo], *, keep_last: int, keep_daily: int, keep_weekly: int, tz: tzinfo) -> list[Decision]:
    """Return one decision per set, newest first."""
    ordered = sorted(sets, key=lambda s: s.created, reverse=True)
    good = [s for s in ordered if s.good]
    if not good:
        return [Decision(s.name, True, "kept: there is no good set, so retention deletes nothing") for s in ordered]
    reasons: dict[str, list[str]] = {s.name: [] for s in ordered}
    reasons[good[0].name].append("the newest good set")
    for s in good[:keep_last]:
        reasons[s.name].append("keep-last")
    for label, key, count in (("daily", lambda m: m.date(), keep_daily),
                              ("weekly", lambda m: m.isocalendar()[:2], keep_weekly)):
        periods: list[object] = []
        for s in good:  # newest first: the first set met in a period is that period's newest
            period = key(s.created.astimezone(tz))
            if period not in periods:
                periods.append(period)
                if len(periods) <= count:
                    reasons[s.name].append(label)
    newest_good = good[0].created
    decisions = []
    for s in ordered:
        if reasons[s.name]:
            decisions.append(Decision(s.name, True, "kept: " + ", ".join(reasons[s.name])))
        elif not s.good and s.created > newest_good:
            decisions.append(Decision(s.name, True, "kept: not good, and newer than the newest good set (inspect it)"))
        else:
            decisions.append(Decision(s.name, False, "not good" if not s.good else "outside every keep rule"))
    return decisions
