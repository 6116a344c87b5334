"""Named pipelines: `invoke nightly` (eod, backup, offload, reports) and `invoke weekend` (cold backup,
restore drill, offload).

Each step is a task, called as the command line calls it (the task layer gives ``run`` the
call). A step that fails is recorded ``failed`` and the steps that depend on it are recorded
``skipped`` with the reason; the others still run (a backup is worth taking after a failed
chain). A step that is not configured (no SMB share, no reports remote) is ``skipped``. The
cleanup of a pipeline always runs. The pipeline ends ``ok`` only if every step ran ok.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .errors import EcosystemError
from .history import already_recorded
from .outcomes import Outcome
from .steps import Result, StepRun

if TYPE_CHECKING:
    from .context import Context


@dataclass(frozen=True)
class Step:
    name: str
    call: str                       # the task, as tasks.py names it
    kwargs: dict = field(default_factory=dict)
    needs: tuple[str, ...] = ()     # steps that must have ended ok first
    optional_when: str = ""         # a settings attribute that, when empty, turns the step off
    unless_ok: str = ""             # a step that, when it ended ok, makes this one unneeded (a fallback)


NIGHTLY = (Step("eod", "eod"), Step("backup", "backup"),
           Step("offload", "offload", needs=("backup",), optional_when="smb_server"),
           Step("reports", "reports", optional_when="reports_remote"))
WEEKEND = (Step("cold backup", "backup", {"cold": True}),
           Step("restore drill", "restore", {"verify": True, "from_": "latest"}, needs=("cold backup",)),
           Step("offload", "offload", needs=("cold backup",), optional_when="smb_server"))
WEEKEND_FROM_SHARE = (Step("cold backup", "backup", {"cold": True}),
                      Step("offload", "offload", needs=("cold backup",), optional_when="smb_server"),
                      Step("restore drill", "restore", {"verify": True, "from_": "smb:latest"},
                           needs=("cold backup", "offload")),
                      Step("local restore drill", "restore", {"verify": True, "from_": "latest"},
                           needs=("cold backup",), unless_ok="restore drill"))


def weekend_steps(settings, day) -> tuple[tuple[Step, ...], str]:
    """The weekend pipeline's steps for the week of ``day`` (pure), and why: every
    DRILL_FROM_SHARE_EVERY weeks (ISO week number divisible by it) the drill fetches the set back
    from the share after the offload, so what the share holds is proven restorable too; if that
    drill does not end ok (the offload failed, say), the local set is drilled after it."""
    every = settings.drill_from_share_every
    if every and settings.smb_server and day.isocalendar().week % every == 0:
        return WEEKEND_FROM_SHARE, f"the drill reads the share this week (every {every} weeks)"
    return WEEKEND, "the drill reads the local set"


MISSED_HINT = "check the evening's prices, positions and orders before the next session"


class PipelineFailed(EcosystemError):
    """A step of a pipeline did not end ok (each step's own failure was recorded and alerted)."""


def decide(step: Step, settings, outcomes: dict, missed: dict | None) -> tuple[str, str]:
    """Given what ended how so far, say what becomes of ``step`` (pure): ``off`` (a fallback whose step
    ended ok, or not configured), ``needs`` (a step it needs did not end ok), ``missed`` or ``run``,
    with the reason."""
    if step.unless_ok and outcomes.get(step.unless_ok) == Outcome.OK:
        return "off", f"not needed: {step.unless_ok} ended ok"
    missing = [n for n in step.needs if outcomes.get(n) != Outcome.OK]
    if missing:
        return "needs", f"{', '.join(missing)} did not end ok"
    if missed and step.name in missed:
        return "missed", missed[step.name]
    if step.optional_when and not getattr(settings, step.optional_when):
        return "off", f"not configured ({step.optional_when.upper()} is empty)"
    return "run", ""


def plan(settings, steps: tuple[Step, ...], *, given: dict | None = None,
         missed: dict | None = None) -> list[tuple[Step, str, str, dict]]:
    """What ``run`` would do with ``steps`` if each step it runs ends ok (pure): (step, kind, reason,
    the task's keyword arguments) in order, as ``decide`` says."""
    planned: list[tuple[Step, str, str, dict]] = []
    outcomes: dict[str, Outcome] = {}
    for step in steps:
        kind, reason = decide(step, settings, outcomes, missed)
        if kind == "run":
            outcomes[step.name] = Outcome.OK
        planned.append((step, kind, reason, {**step.kwargs, **(given or {}).get(step.call, {})}))
    return planned


def run(ctx: Context, name: str, steps: tuple[Step, ...], *, call: Callable[[Step, dict], Result],
        cleanup: Callable[[], None] | None = None, slot: str | None = None, given: dict | None = None,
        missed: dict | None = None) -> dict[str, Outcome]:
    """Run ``steps`` in order with their dependencies, each through ``call(step, kwargs)``; record
    each; return step -> outcome, or raise PipelineFailed naming them. ``given`` adds keyword
    arguments to the steps whose task is named (e.g. eod's trading day); ``missed`` names steps
    not to run, with the reason: each is recorded ``missed`` (alerted)."""
    settings, say = ctx.settings, ctx.say
    try:
        with StepRun(ctx.history, name, slot=slot) as pipeline:
            outcomes = pipeline.outcomes
            for step in steps:
                kind, reason = decide(step, settings, outcomes, missed)
                if kind == "needs":
                    pipeline.note(step.name, Outcome.SKIPPED, f"not run: {reason}")
                    say(f"{name}: {step.name} skipped ({reason})")
                elif kind == "missed":
                    pipeline.note(step.name, Outcome.MISSED, reason, hint=MISSED_HINT)
                    say(f"{name}: {step.name} missed ({reason})")
                elif kind == "off":
                    pipeline.note(step.name, Outcome.SKIPPED, reason)
                else:
                    say(f"{name}: {step.name}")
                    kwargs = {**step.kwargs, **(given or {}).get(step.call, {})}
                    result = pipeline.run(step.name, functools.partial(call, step, kwargs))
                    if not result.ok:
                        say(f"{name}: {step.name} {result.outcome} ({result.detail})")
    finally:
        if cleanup is not None:
            cleanup()
    bad = {k: v for k, v in outcomes.items() if v not in (Outcome.OK, Outcome.SKIPPED)}
    skipped_after_failure = [k for k, v in outcomes.items() if v == Outcome.SKIPPED and bad]
    summary = ", ".join(f"{k} {v}" for k, v in outcomes.items())
    pipeline.finish(Outcome.FAILED if bad else Outcome.OK, summary)
    if bad:
        raise already_recorded(PipelineFailed(f"{name}: {summary}" + (
            f" (skipped after a failure: {', '.join(skipped_after_failure)})" if skipped_after_failure else "")))
    say(f"{name}: {summary}")
    return outcomes
