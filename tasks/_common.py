"""What every task module shares: the invocation's context, the task decorator, plain-text tables.

Settings are read once per invoke config (so the scheduler and the command line
see the same), secrets are masked in every log line from then on. A task is written
with ``@ecosystem_task`` instead of invoke's ``@task``, which is the task boundary:
- logging is configured there (``ecosystem.logs``: stderr at LOG_LEVEL, masked);
- an error of a known class it lets out (``errors.known``: the engine gone, a full disk, a lock
  held, ...) ends it with that class's exit code and one line, the message and its fix, masked,
  never a traceback (but under LOG_LEVEL=DEBUG); a task that changes things records it in the
  history (hence an alert) unless a run inside already did;
- ``invoke --dry TASK`` is the task's ``--dry-run``, or refused by a task that has none.
"""
from __future__ import annotations

import functools
import logging
import os
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from invoke import Context, Exit, task

from ecosystem import logs
from ecosystem.context import Context as EcosystemContext
from ecosystem.errors import EXIT_USAGE, SettingsError, known
from ecosystem.events import EventBus
from ecosystem.history import History, RunHandle, was_recorded
from ecosystem.secrets import Redactor
from ecosystem.settings import Settings, load_settings

log = logging.getLogger("tasks")

ROOT = Path(__file__).resolve().parent.parent
_CACHE_KEY = "_ecosystem"


def _state(c: Context) -> dict:
    if c.config.get(_CACHE_KEY) is None:
        # invoke keeps a copy of what is set: use the one it keeps (its annotations say values are str)
        c.config[_CACHE_KEY] = {}  # type: ignore[assignment]
    return c.config.get(_CACHE_KEY)


def settings(c: Context) -> Settings:
    """Return the settings for this invocation, loading them once; exit with every problem if bad."""
    state = _state(c)
    if "settings" not in state:
        try:
            loaded = load_settings(ROOT)
        except SettingsError as exc:
            raise Exit(str(exc), code=2) from None
        logs.configure(loaded.log_level, redact=loaded.redactor())
        for warning in loaded.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        state["settings"] = loaded
    return state["settings"]


def forget_settings(c: Context) -> None:
    """Read the settings (and build the context) again at their next use: the ``.env`` changed
    under this invocation (``recover`` puts one back). How deep the running tasks are nested is kept."""
    state = _state(c)
    for key in [k for k in state if k != "depth"]:
        del state[key]


def bus(c: Context) -> EventBus:
    """Return the event bus of this invocation; with ALERT_URLS set, every failure event on it
    becomes an alert (the scheduler's runs and the command line's alike)."""
    state = _state(c)
    if "bus" not in state:
        state["bus"] = EventBus()
        s = settings(c)
        if s.alert_urls:
            from datetime import timedelta

            from ecosystem.alerts import Alerter, apprise_sender

            try:
                sender = apprise_sender(s.alert_urls.reveal().split())
            except ValueError as exc:
                raise Exit(f"ALERT_URLS: {exc}; see https://github.com/caronc/apprise/wiki for the forms",
                           code=2) from None
            s.state_dir.mkdir(parents=True, exist_ok=True)
            state["bus"].subscribe(Alerter(sender, tz=s.tz, redact=redactor(c),
                                           throttle=timedelta(minutes=s.alert_throttle_minutes),
                                           state_path=s.state_dir / "alerts.json"))
    return state["bus"]


def history(c: Context) -> History:
    """Return the run history named by the settings, wired to this invocation's event bus."""
    return History(settings(c).history_path, bus=bus(c), redact=redactor(c))


def redactor(c: Context) -> Redactor:
    """Return a redactor for everything pysystemtrade may print: the settings' secrets and the
    private config's (accounts, passwords, mongo_host credentials)."""
    from ecosystem import pysys_config

    state = _state(c)
    if "redactor" not in state:
        s = settings(c)
        state["redactor"] = Redactor(s.secret_values() + pysys_config.secret_values(s))
        logs.configure(s.log_level, redact=state["redactor"])
    return state["redactor"]


def context(c: Context) -> EcosystemContext:
    """Return this invocation's context (settings, history, one Docker client, the compose
    project), built once; everything it says goes through the redactor."""
    state = _state(c)
    if "context" not in state:
        state["context"] = EcosystemContext(settings(c), history(c), redact=redactor(c))
    return state["context"]


def ecosystem_task(*args, read_only: bool = False, record: bool = True, job: str | None = None, **kwargs):
    """invoke's ``@task`` (same arguments) at the task boundary (see the module's text). ``read_only``:
    the task changes nothing (``invoke --dry`` runs it as it is; a failure is said, not recorded);
    ``record=False``: a task that changes things but whose failure is a person's own business at the
    terminal (``shell``, ``demo``: said, not recorded or alerted); ``job``: its name in the history
    when that is not its task name (``weekly.open``)."""
    def decorate(body: Callable) -> Callable:
        name = job or kwargs.get("name") or body.__name__.rstrip("_")
        code = body.__code__  # not inspect.signature: 35 tasks are decorated at every invoke's start
        dry_run_flag = "dry_run" in code.co_varnames[:code.co_argcount + code.co_kwonlyargcount]

        @functools.wraps(body)
        def guarded(c, *a, **kw):
            if not logs.configured():  # the first task of this invocation: the settings may not be read yet
                logs.configure(_level_from_environment())
            if c.config.run.dry and not read_only:
                if not dry_run_flag:
                    raise Exit(f"invoke --dry {name}: {name} has no dry run and would change things, so nothing "
                               "was done; run it without --dry", code=EXIT_USAGE)
                kw["dry_run"] = True
            state = _state(c)
            state["depth"] = state.get("depth", 0) + 1  # a task another one runs (a pipeline's step)
            try:
                return body(c, *a, **kw)
            except Exception as exc:
                error = known(exc)
                if error is None:
                    raise  # invoke's own Exit as it is; a bug, whose traceback is the report
                if logs.debugging():
                    log.debug("%s ended by", name, exc_info=exc)
                # recorded once: not a dry run or a usage error (nothing was done), not a step (its pipeline
                # records it)
                if record and not read_only and not kw.get("dry_run") and not was_recorded(exc) \
                        and error.exit_code != EXIT_USAGE and state["depth"] == 1:
                    _record(c, name, exc)
                raise Exit(_masked(c, str(error)), code=error.exit_code) from None
            finally:
                state["depth"] -= 1
        # no single-letter flags: invoke would make them from first letters (-d was dry-run, days, date or day)
        return task(*args, **{"auto_shortflags": False, **kwargs})(guarded)

    if len(args) == 1 and callable(args[0]) and not kwargs:  # bare @ecosystem_task
        body, args = args[0], ()
        return decorate(body)
    return decorate


def _level_from_environment() -> str:
    """LOG_LEVEL as the environment gives it, before the settings (and .env) are read."""
    level = os.environ.get("LOG_LEVEL", "WARNING").strip().upper()
    return level if level in ("DEBUG", "INFO", "WARNING", "ERROR") else "WARNING"


def _masked(c: Context, text: str) -> str:
    try:
        return redactor(c)(text)
    except Exit:  # the settings do not load (a task like demo or doctor needs none of them)
        return text  # an EcosystemError's own text never holds a secret


def _record(c: Context, name: str, exc: Exception) -> None:
    """Record a run of ``name`` ended by ``exc`` (a failure event, hence an alert, unless it was busy)."""
    try:
        outcome, detail, hint = History.ending_of(exc)
        history(c).record(name, outcome, detail, hint=hint)
    except Exception as failure:  # noqa: BLE001 - the settings or the history fail: say it, keep the first error
        log.warning("could not record %s in the history: %s", name, _masked(c, str(failure)))


def call_task(c: Context, name: str, **kwargs):
    """Run the task ``name`` of the task tree (``weekly.sync``, ``backup``) as the command line
    would, in this invocation: the one way a task runs another."""
    import tasks

    return tasks.ns[name](c, **kwargs)


def task_flags(name: str) -> set[str] | None:
    """Return the flags of task ``name`` as its command line spells them, or None if there is none."""
    import tasks

    try:
        found = tasks.ns[name]
    except KeyError:
        return None
    flags = {f"--{n.replace('_', '-')}" for arg in found.get_arguments() for n in arg.names if len(n) > 1}
    return flags | {f"-{n}" for arg in found.get_arguments() for n in arg.names if len(n) == 1}


def recorded(c: Context, job: str, **kwargs) -> AbstractContextManager[RunHandle]:
    """Record a run of ``job`` in the history around a block (``History.run``): a failure is
    recorded first, then goes on up to ``ecosystem_task``, which says it with its fix."""
    return history(c).run(job, **kwargs)


@contextmanager
def unwinding_on_sigterm() -> Iterator[None]:
    """Turn SIGTERM (a scheduler's or systemd's stop) into SystemExit for the block, so every
    ``finally`` runs: a step being stopped cleanly, a STOP status put back, a lock released."""
    def handler(signum, frame):
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Given headers and rows, return an aligned plain-text table."""
    cells = [[str(h) for h in headers]] + [["" if v is None else str(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=False)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
