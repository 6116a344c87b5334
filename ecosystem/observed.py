"""What the last sync saw that is slow to read: pysystemtrade's process statuses and the gateway's login.

Reading a process status runs Python in the pysystemtrade environment, and reading the gateway's
login is an IB API handshake; `invoke status` must answer at a glance, so ``weekly sync`` (every
minute) and the brief read them (``observe``) and write them to ``STATE_DIR/observed.json``; the
status, the brief and the page read that file (``read``) and say how old it is. The gateway's
``since`` is when its state last changed, kept across observations. An observation that cannot
read something says so in place of the value; it never fails the sync that made it.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from .errors import EcosystemError
from .state_files import write_json

if TYPE_CHECKING:
    from collections.abc import Callable

    from .context import Context

log = logging.getLogger(__name__)

LOGGED_IN, NOT_LOGGED_IN, DOWN = "logged in", "not logged in", "down"
# IB API client ids of the readings of the login: each reader its own, and not gateway.status's (999),
# since two connections with one id at once make the gateway drop one, which would read as "not logged in"
SYNC_CLIENT_ID, BRIEF_CLIENT_ID = 997, 998
LOGIN_CLIENT_ID, CHAIN_CLIENT_ID, BY_HAND_CLIENT_ID = 996, 995, 994  # the weekly login, eod, launch and dry runs


@dataclass(frozen=True)
class Observed:
    """One observation; ``at`` None: nothing was observed yet."""

    at: datetime | None = None
    statuses: dict[str, str] = field(default_factory=dict)   # process -> GO, STOP, NO-RUN, PAUSE
    statuses_unread: str = ""                                  # why the statuses could not be read
    gateway: str = ""                                          # LOGGED_IN, NOT_LOGGED_IN or DOWN
    gateway_since: datetime | None = None
    gateway_detail: str = ""                                   # masked accounts, or why not logged in
    engine_root: str = ""                                      # the Docker engine's data root (its free disk)
    gateway_told: str = ""                                     # the current logout was alerted (session.TOLD)

    def as_json(self) -> dict:
        return {"at": _iso(self.at), "statuses": self.statuses, "statuses_unread": self.statuses_unread,
                "gateway": self.gateway, "gateway_since": _iso(self.gateway_since),
                "gateway_detail": self.gateway_detail, "engine_root": self.engine_root,
                "gateway_told": self.gateway_told}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _time(text) -> datetime | None:
    """An aware instant, or None (a time without its offset is not one: it cannot be compared)."""
    moment = datetime.fromisoformat(text) if text else None
    return moment if moment is not None and moment.tzinfo is not None else None


def path(settings):
    return settings.state_dir / "observed.json"


def read(settings) -> Observed:
    """The last observation (an empty one when there is none or it cannot be read)."""
    try:
        data = json.loads(path(settings).read_text())
        return Observed(at=_time(data.get("at")), statuses=dict(data.get("statuses") or {}),
                        statuses_unread=str(data.get("statuses_unread") or ""), gateway=str(data.get("gateway") or ""),
                        gateway_since=_time(data.get("gateway_since")),
                        gateway_detail=str(data.get("gateway_detail") or ""),
                        engine_root=str(data.get("engine_root") or ""),
                        gateway_told=str(data.get("gateway_told") or ""))
    except (OSError, ValueError, TypeError, AttributeError):
        return Observed()


def write(settings, seen: Observed) -> None:
    """Write ``seen`` as the last observation (a failure is logged: the observation is a view)."""
    try:
        write_json(path(settings), seen.as_json())
    except OSError as exc:
        log.warning("could not write %s: %s", path(settings), exc.strerror)


def gateway_login(settings, container_state: str, *, timeout: float = 5,
                  client_id: int = BY_HAND_CLIENT_ID) -> tuple[str, str]:
    """The gateway's login state and its detail (masked accounts and mode, or why not logged in)."""
    from . import gateway

    if container_state != "running":
        return DOWN, f"its container is {container_state}"
    host, port = gateway.api_address(settings)
    try:
        answer = gateway.handshake(host, port, timeout=timeout, client_id=client_id)
    except gateway.GatewayError as exc:
        return NOT_LOGGED_IN, exc.message
    accounts = ", ".join(gateway.mask_account(a) for a in answer.accounts) or "no account"
    return LOGGED_IN, f"{accounts} ({settings.trading_mode})"


def observe(ctx: Context, *, client_id: int = SYNC_CLIENT_ID,
            watch: Callable[[Observed, Observed], Observed] | None = None) -> Observed:
    """Read the statuses and the gateway's login now, write them down and return them; what cannot be
    read is said in the observation (never raised). The statuses are asked for only while MongoDB
    runs healthy (else the question waits for pymongo's timeout, every minute). ``watch`` (the
    sync's: ``session.watch``) is given the last observation and this one and returns this one
    with what it told kept in it."""
    from . import locks

    s = ctx.settings
    # one observation at a time (the sync's and the brief's): each keeps what the last one told
    try:
        with locks.exclusive(s.state_dir, "observed", wait_seconds=60):
            return _observe(ctx, client_id=client_id, watch=watch)
    except locks.Busy as exc:
        log.warning("%s: the last observation stands", exc.message)
        return read(s)


def _observe(ctx: Context, *, client_id: int, watch) -> Observed:
    from . import backup as backups
    from . import stack

    s = ctx.settings
    before = read(s)
    now = datetime.now(UTC)
    try:
        rows = stack.listed_states(s)
        states = {r.service: r.state for r in rows}
        mongo = next((r for r in rows if r.service == "mongo_db"), None)
        mongo_said = "not created" if mongo is None else (
            mongo.state if mongo.state != "running" else mongo.health or "running")
    except EcosystemError as exc:
        states = {"ib_gateway": f"unknown ({exc.message})", "pysys_runtime": f"unknown ({exc.message})"}
        mongo_said = "unknown"
    gateway_state = states.get("ib_gateway", "not created")
    statuses: dict[str, str] = {}
    unread = ""
    if backups.ColdMarker(s.state_dir).read() is not None:
        unread = "MongoDB is stopped for a cold backup"  # asking would wait for its timeout
    elif states.get("pysys_runtime", "not created") != "running":
        unread = f"pysys_runtime is {states.get('pysys_runtime', 'not created')}"
    elif mongo_said not in ("healthy", "running"):
        unread = f"mongo_db is {mongo_said}"
    else:
        try:
            statuses = {name: record.status for name, record in ctx.control().records().items()}
        except EcosystemError as exc:
            unread = exc.message
    state, detail = gateway_login(s, gateway_state, client_id=client_id)
    since = before.gateway_since if before.gateway == state and before.gateway_since else now
    root = before.engine_root
    if not root:
        try:
            root = str(ctx.client.info().get("DockerRootDir") or "")
        except Exception:  # noqa: BLE001 - the engine's data root only shows its free disk
            root = ""
    seen = Observed(at=now, statuses=statuses, statuses_unread=unread, gateway=state, gateway_since=since,
                    gateway_detail=ctx.redact(detail), engine_root=root, gateway_told=before.gateway_told)
    if watch is not None:
        seen = watch(before, seen)
    write(s, seen)
    return seen
