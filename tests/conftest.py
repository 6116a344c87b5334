"""Test-wide set-up: folder-based markers, the rule that CI never skips for lack of Docker, and the
loopback servers that alerts and heartbeat pings go to (``smtp``, ``http_sink``)."""
from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent


def pytest_collection_modifyitems(config, items):
    for item in items:
        parts = Path(str(item.fspath)).relative_to(HERE).parts
        if parts and parts[0] in ("unit", "standins", "integration", "upstream"):
            item.add_marker(getattr(pytest.mark, parts[0]))


PARALLEL_SUITES = ("unit", "standins")  # no Docker: pytest.ini's `-n auto` spreads them over the cores


def pytest_xdist_auto_num_workers(config):
    """A run that reaches a Docker suite (integration, upstream, or all of tests/) stays in one process,
    whatever `-n auto` says: those tests share one engine and build images once per process."""
    for arg in config.args:
        path = Path(str(arg).split("::")[0]).resolve()
        inside = path.relative_to(HERE).parts if path.is_relative_to(HERE) else ()
        if not inside or inside[0] not in PARALLEL_SUITES:
            return 0
    return None  # the unit suite: xdist's own count (the cores)


@pytest.fixture
def smtp():
    """A real SMTP server on loopback that keeps every message (where ALERT_URLS' mail goes)."""
    from tests.support.smtp import SmtpServer

    server = SmtpServer()
    yield server
    server.stop()


@pytest.fixture
def http_sink():
    """A real HTTP server on loopback that keeps every request (a monitoring service's stand-in)."""
    from tests.support.http_sink import HttpSink

    server = HttpSink()
    yield server
    server.stop()
