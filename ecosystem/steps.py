"""One runner of recorded steps: a parent run in the history, each step a child run of it.

The evening chain (``eod.run_chain``) and the named pipelines (``pipelines.run``) both run
steps in order and record them the same way, through a ``StepRun``:
- ``note`` records a step that does not run (``skipped``, ``missed``) with the reason;
- ``run`` begins the step, calls it, and finishes it with the ``Result`` it returns; an
  exception that escapes it finishes it: a known failure class (the engine gone, a full disk)
  with its message and fix, Ctrl-C, SIGTERM or a bug as ``failed`` ("interrupted (...)"), and
  goes on up;
- leaving the block by an exception finishes the parent ``failed`` ("interrupted (...) after: ...",
  no second alert when a step already said it); otherwise the caller ends it with ``finish``.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .errors import known
from .history import History, Run, mark_recorded, was_recorded
from .outcomes import Outcome


@dataclass(frozen=True)
class Result:
    """How one step ended."""
    outcome: Outcome
    detail: str = ""
    hint: str = ""
    log_tail: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.outcome == Outcome.OK


@dataclass
class StepRun:
    history: History
    job: str
    slot: str | None = None
    outcomes: dict[str, Outcome] = field(default_factory=dict)   # step -> how it ended in this run
    parent: Run | None = None
    _ended: bool = False

    def __enter__(self) -> StepRun:
        self.parent = self.history.begin(self.job, slot=self.slot)
        return self

    def __exit__(self, kind, exc, tb) -> None:
        if exc is not None and not self._ended:
            after = f" after: {self.counts()}" if self.outcomes else ""
            # a step that raised has said it (its record, its alert): the parent's end only records
            self.history.finish(self.begun, Outcome.FAILED, f"interrupted ({kind.__name__}){after}",
                                quiet=was_recorded(exc))
            mark_recorded(exc)

    @property
    def begun(self) -> Run:
        """The parent run; raise RuntimeError outside the ``with`` block that begins it."""
        if self.parent is None:
            raise RuntimeError(f"{self.job}: StepRun used outside its `with` block")
        return self.parent

    def note(self, name: str, outcome: Outcome, detail: str, *, hint: str = "") -> None:
        """Record step ``name`` as not run, with why."""
        self.history.record(self.job, outcome, detail, step=name, slot=self.slot, parent=self.begun.id, hint=hint)
        self.outcomes[name] = Outcome(outcome)

    def run(self, name: str, call: Callable[[], Result]) -> Result:
        """Run step ``name`` (``call``) and record how it ended."""
        run = self.history.begin(self.job, step=name, slot=self.slot, parent=self.begun.id)
        try:
            result = call()
        except BaseException as exc:
            outcome, detail, hint = (History.ending_of(exc) if isinstance(exc, Exception) and known(exc)
                                     else (Outcome.FAILED, f"interrupted ({type(exc).__name__})", ""))
            self.history.finish(run, outcome, detail, hint=hint)
            mark_recorded(exc)
            raise
        self.history.finish(run, result.outcome, result.detail, hint=result.hint, log_tail=result.log_tail)
        self.outcomes[name] = Outcome(result.outcome)
        return result

    def finish(self, outcome: Outcome, detail: str) -> None:
        """End the parent run (the steps' own events say what went wrong; this says how it ended)."""
        self.history.finish(self.begun, outcome, detail)
        self._ended = True

    def counts(self) -> str:
        return tally(self.outcomes.values())


def tally(outcomes) -> str:
    """Say how many steps ended each way, e.g. "1 declined, 3 ok"."""
    counted: dict[str, int] = {}
    for outcome in outcomes:
        counted[outcome] = counted.get(outcome, 0) + 1
    return ", ".join(f"{n} {outcome}" for outcome, n in sorted(counted.items()))
