"""Named pipelines: `invoke nightly` (eod, backup, offload, reports) and `invoke weekend` (cold backup,
restore drill, offload).

Each step is a task of this collection, called as the command line calls it. A step that fails
is recorded ``failed`` and the steps that depend on it are recorded ``skipped`` with the reason;
the others still run (a backup is worth taking after a failed chain). A step that is not
configured (no SMB share, no reports remote) is ``skipped``. The cleanup of a pipeline always
runs. The pipeline ends ``ok`` only if every step ran ok.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from invoke import Exit, task

from ._common import history, settings


@dataclass(frozen=True)
class Step:
    name: str
    call: str                       # the task, as tasks.py names it
    kwargs: dict = field(default_factory=dict)
    needs: tuple[str, ...] = ()     # steps that must have ended ok first
    optional_when: str = ""         # a settings attribute that, when empty, turns the step off


NIGHTLY = (Step("eod", "eod"), Step("backup", "backup"),
           Step("offload", "offload", needs=("backup",), optional_when="smb_server"),
           Step("reports", "reports", optional_when="reports_remote"))
WEEKEND = (Step("cold backup", "backup", {"cold": True}),
           Step("restore drill", "restore", {"verify": True, "from_": "latest"}, needs=("cold backup",)),
           Step("offload", "offload", needs=("cold backup",), optional_when="smb_server"))


def _task(name: str):
    import tasks

    return tasks.ns[name]


def run_pipeline(c, name: str, steps: tuple[Step, ...], cleanup=None, slot: str | None = None,
                 given: dict | None = None, missed: dict | None = None) -> dict[str, str]:
    """Run ``steps`` in order with their dependencies; record each; return step -> outcome.
    ``given`` adds keyword arguments to the steps whose task is named (e.g. eod's trading day);
    ``missed`` names steps not to run, with the reason: each is recorded ``missed`` (alerted)."""
    s = settings(c)
    record = history(c)
    parent = record.begin(name, slot=slot)
    outcomes: dict[str, str] = {}
    try:
        for step in steps:
            missing = [n for n in step.needs if outcomes.get(n) != "ok"]
            if missing:
                outcomes[step.name] = "skipped"
                record.record(name, "skipped", f"not run: {', '.join(missing)} did not end ok", step=step.name,
                              parent=parent.id)
                print(f"{name}: {step.name} skipped ({', '.join(missing)} did not end ok)")
                continue
            if step.name in (missed or {}):
                outcomes[step.name] = "missed"
                record.record(name, "missed", missed[step.name], step=step.name, parent=parent.id, slot=slot,
                              hint="check the evening's prices, positions and orders before the next session")
                print(f"{name}: {step.name} missed ({missed[step.name]})")
                continue
            if step.optional_when and not getattr(s, step.optional_when):
                outcomes[step.name] = "skipped"
                record.record(name, "skipped", f"not configured ({step.optional_when.upper()} is empty)",
                              step=step.name, parent=parent.id)
                continue
            run = record.begin(name, step=step.name, parent=parent.id)
            print(f"{name}: {step.name}")
            try:
                _task(step.call)(c, **step.kwargs, **(given or {}).get(step.call, {}))
            except Exit as exc:
                print(f"{name}: {step.name} failed" + (f": {exc.message}" if exc.message else f" (exit {exc.code})"))
                outcomes[step.name] = "failed"
                record.finish(run, "failed", f"exit {exc.code}: {exc.message or ''}".strip())
                continue
            except BaseException as exc:
                record.finish(run, "failed", f"interrupted ({type(exc).__name__})")
                raise
            outcomes[step.name] = "ok"
            record.finish(run, "ok")
    except BaseException as exc:
        record.finish(parent, "failed", f"interrupted ({type(exc).__name__})")
        raise
    finally:
        if cleanup is not None:
            cleanup(c)
    bad = {k: v for k, v in outcomes.items() if v not in ("ok", "skipped")}
    skipped_after_failure = [k for k, v in outcomes.items() if v == "skipped" and bad]
    summary = ", ".join(f"{k} {v}" for k, v in outcomes.items())
    record.finish(parent, "failed" if bad else "ok", summary)
    if bad:
        raise Exit(f"{name}: {summary}" + (f" (skipped after a failure: {', '.join(skipped_after_failure)})"
                                           if skipped_after_failure else ""), code=1)
    print(f"{name}: {summary}")
    return outcomes


def _after_weekend(c) -> None:
    """Whatever happened, nothing a cold backup stopped stays stopped."""
    from ecosystem import engine

    from .backup import restart_after_cold

    try:
        for line in restart_after_cold(c, settings(c), engine.connect()):
            print(line)
    except Exception as exc:  # the pipeline's own outcome is what is reported
        print(f"weekend cleanup: {exc}")


@task(help={"day": "the trading day whose evening chain runs, YYYY-MM-DD (default: today in TIMEZONE)",
            "skip_eod": "record the evening chain missed (its windows closed) and run the rest"})
def nightly(c, day=None, skip_eod=False):
    """The nightly pipeline: eod, then backup (in the dead time), offload and reports."""
    from .eod import trading_day

    slot = trading_day(settings(c), day).isoformat()
    missed = {"eod": f"the evening chain of {slot} was not run: its process windows had closed when the "
                     "scheduler got to it (pysystemtrade would not run it now)"} if skip_eod else None
    run_pipeline(c, "nightly", NIGHTLY, slot=slot, given={"eod": {"day": slot}}, missed=missed)


@task
def weekend(c):
    """The weekend pipeline: a cold backup, a restore drill of it, offload."""
    run_pipeline(c, "weekend", WEEKEND, cleanup=_after_weekend)
