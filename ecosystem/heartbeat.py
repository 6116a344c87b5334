"""The scheduler's signs of life to the outside: a dead-man's switch URL and systemd's watchdog.

A file only ``status`` reads cannot say the box lost power. ``HEARTBEAT_URL`` is a check at a
monitoring service that alerts when the pings stop: Healthchecks.io (and its self-hosted
twins) take ``URL`` for success, ``URL/start`` and ``URL/fail``; an Uptime Kuma push URL
(``.../api/push/TOKEN``) takes ``status=up|down`` and ``msg``. The URL holds the check's token,
so it is a secret: a failed ping is a warning that names neither. A ping never raises and never
takes longer than its timeout, so a monitoring service that is down cannot stop the loop.

``notify`` speaks systemd's notify protocol (``NOTIFY_SOCKET``): ``READY=1`` once the loop
runs, ``WATCHDOG=1`` each turn of the loop (a loop that stops turning is restarted by systemd
under ``WatchdogSec=``), ``STOPPING=1`` on the way out. Without systemd it does nothing.
"""
from __future__ import annotations

import http.client
import logging
import os
import socket
from urllib.parse import urlencode, urlsplit, urlunsplit

log = logging.getLogger(__name__)

SIGNALS = ("alive", "start", "success", "fail")
TIMEOUT = 10.0


def ping_url(url: str, signal: str, message: str = "") -> str:
    """Given the check URL and one of ``SIGNALS``, return the URL to request (pure)."""
    if signal not in SIGNALS:
        raise ValueError(f"unknown heartbeat signal {signal!r}; one of {', '.join(SIGNALS)}")
    parts = urlsplit(url.strip())
    if "/api/push/" in parts.path:  # Uptime Kuma: one push URL, the state in the query
        query = urlencode({"status": "down" if signal == "fail" else "up", "msg": message or signal, "ping": ""})
        return urlunsplit(parts._replace(query=query))
    path = parts.path.rstrip("/")
    if signal in ("start", "fail"):
        path += f"/{signal}"
    return urlunsplit(parts._replace(path=path or "/"))


class Pinger:
    """Given the check URL (or None: no pings), send signals to it; never raise."""

    def __init__(self, url: str | None, *, timeout: float = TIMEOUT) -> None:
        self.url, self.timeout = url or None, timeout
        self.failures = 0

    def __bool__(self) -> bool:
        return self.url is not None

    def ping(self, signal: str, message: str = "") -> bool:
        """Send ``signal`` (with ``message`` as the body); return whether the service took it."""
        if self.url is None:
            return False
        import urllib.request

        request = urllib.request.Request(ping_url(self.url, signal, message), data=message.encode()[:10_000] or None,
                                         headers={"User-Agent": "pysystemtrade-ecosystem"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                answer.read(1024)
            self.failures = 0
            return True
        except (OSError, ValueError, http.client.HTTPException) as exc:  # unreachable, refused, or a bad answer
            self.failures += 1
            reason = getattr(exc, "reason", None) or getattr(exc, "code", None) or type(exc).__name__
            log.warning("the heartbeat ping (%s) to HEARTBEAT_URL failed (%s); the monitoring service will alert "
                        "if this goes on: check HEARTBEAT_URL and the network", signal, reason)
            return False


def notify(state: str) -> bool:
    """Send ``state`` (``READY=1``, ``WATCHDOG=1``, ``STOPPING=1``) to systemd when it runs this process
    as a notify service; return whether it was sent."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):  # an abstract socket
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(address)
            sock.sendall(state.encode())
        return True
    except OSError as exc:
        log.warning("could not tell systemd %s (%s)", state, type(exc).__name__)
        return False
