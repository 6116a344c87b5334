"""What every task module shares: the settings, the run history and plain-text tables.

Settings are read once per invoke config (so the scheduler and the command line
see the same), secrets are masked in every log line from then on.
"""
from __future__ import annotations

import logging
import signal
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

from invoke import Context, Exit

from ecosystem.errors import EcosystemError, SettingsError
from ecosystem.events import EventBus
from ecosystem.history import History, RunHandle
from ecosystem.secrets import Redactor, install_log_redaction
from ecosystem.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent
_CACHE_KEY = "_ecosystem"


def _state(c: Context) -> dict:
    state = c.config.get(_CACHE_KEY)
    if state is None:
        state = {}
        c.config[_CACHE_KEY] = state
    return state


def settings(c: Context) -> Settings:
    """Return the settings for this invocation, loading them once; exit with every problem if bad."""
    state = _state(c)
    if "settings" not in state:
        try:
            loaded = load_settings(ROOT)
        except SettingsError as exc:
            raise Exit(str(exc), code=2) from None
        install_log_redaction(loaded.redactor())
        for warning in loaded.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        state["settings"] = loaded
    return state["settings"]


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
                raise Exit(f"ALERT_URLS: {exc}; see https://github.com/caronc/apprise/wiki for the forms", code=2)
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
    return state["redactor"]


@contextmanager
def recorded(c: Context, job: str, **kwargs) -> Iterator[RunHandle]:
    """Record a run of ``job`` in the history; turn an EcosystemError into a clean exit (code 1).

    The history records the failure first; the trader sees the message and its fix, no traceback.
    """
    record = history(c)
    try:
        with record.run(job, **kwargs) as run:
            yield run
    except EcosystemError as exc:
        raise Exit(redactor(c)(str(exc)), code=1) from None


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
    lines = ["  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


logging.getLogger("ecosystem").addHandler(logging.NullHandler())
