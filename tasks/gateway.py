"""`invoke gateway.status` and `invoke gateway.login`: is the IB Gateway logged in, to the right account?"""
import sys
from contextlib import nullcontext
from datetime import UTC, datetime, timedelta

from invoke import Exit

from ecosystem import gateway, pysys_config, session, stack
from ecosystem.errors import EcosystemError

from ._common import context, ecosystem_task, history, recorded, settings


def _container_state(ctx) -> str:
    rows = [r for r in stack.service_states(ctx) if r.service == "ib_gateway"]
    return rows[0].state if rows else "not created"


@ecosystem_task(read_only=True, job="gateway.status")
def status(c):
    """Say whether the gateway is logged in, waiting for 2FA, or down (a failure event if not logged in)."""
    s = settings(c)
    host, port = gateway.api_address(s)
    record = history(c)
    run = record.begin("gateway.status")
    state = _container_state(context(c))
    if state != "running":
        record.finish(run, "failed", f"gateway container is {state}", hint="run `invoke up`")
        raise Exit(f"gateway: down (container {state}); start it with `invoke up`", code=1)
    try:
        answer = gateway.handshake(host, port, timeout=8)
    except gateway.GatewayError as exc:
        record.finish(run, "failed", exc.message, hint="run `invoke gateway.login`")
        raise Exit(f"gateway: not logged in (waiting for 2FA?): {exc.message}\n  fix: {exc.fix}", code=1) from None
    accounts = ", ".join(gateway.mask_account(a) for a in answer.accounts)
    record.finish(run, "ok", f"logged in to {accounts}")
    print(f"gateway: logged in (API version {answer.server_version}, account {accounts}, {s.trading_mode})")


@ecosystem_task(job="gateway.login", help={"timeout": "seconds to wait for the login, 2FA approval included "
                                                      "(default 180)",
            "restart": "restart the gateway first (sends a new 2FA request)",
            "dry_run": "print the plan, change nothing"})
def login(c, timeout=180, restart=False, dry_run=False):
    """(Re)start the gateway if needed, wait for the 2FA login, then check the account and mode."""
    s = settings(c)
    host, port = gateway.api_address(s)
    if dry_run:
        print(f"would {'restart' if restart else 'start if down'} ib_gateway, wait up to {timeout}s for the IB API "
              f"at {host}:{port} to answer, then compare its account with broker_account and TRADING_MODE")
        return
    with recorded(c, "gateway.login") as run:
        starting = restart or _container_state(context(c)) != "running"
        # a login it starts is this task's to tell: the sync's watch stays quiet meanwhile
        guard = session.login_under_way(s, datetime.now(UTC) + timedelta(seconds=float(timeout) + 60)) \
            if starting else nullcontext()
        with guard:
            if starting:
                stack.write_mounted_files(s)
                stack.compose(s).up(["ib_gateway"], wait=False, force_recreate=bool(restart))
                print("gateway started: approve the login on your phone (IBKR Mobile) when asked")

            def countdown(remaining, reason):
                if sys.stdout.isatty():
                    print(f"\r  waiting for the login ({int(remaining) // 60}:{int(remaining) % 60:02d} left) ",
                          end="", flush=True)

            try:
                answer = gateway.wait_for_login(host, port, timeout=float(timeout), on_wait=countdown)
            except gateway.LoginTimedOut as exc:
                raise session.NotApproved(exc.message, fix=exc.fix) from None
        if sys.stdout.isatty():
            print()
        broker_account = pysys_config.private_config(s).get("broker_account")
        problems = gateway.judge_login(answer, broker_account=broker_account, trading_mode=s.trading_mode)
        if problems:
            raise EcosystemError("; ".join(problems), fix="log the gateway in to the account of private_config.yaml "
                                 "(TWSUSERID) in the mode of TRADING_MODE")
        accounts = ", ".join(gateway.mask_account(a) for a in answer.accounts)
        run.detail = f"logged in to {accounts} ({s.trading_mode})"
    print(f"gateway: logged in to {accounts} ({s.trading_mode}), API version {answer.server_version}")


@ecosystem_task(name="weekly-login", job="gateway.weekly-login",
                help={"dry_run": "say what it would do, change nothing"})
def weekly_login(c, dry_run=False):
    """Restart the gateway for IBKR's weekly 2FA login now, tell you to approve it, and confirm it."""
    s = settings(c)
    if dry_run:
        print(f"would restart ib_gateway (recreate it if a change waits), tell you to approve the IBKR login now "
              f"(again every {s.gateway_twofa_retry // 60 or 1} min), wait up to {s.gateway_login_window // 60} min "
              "for it, then confirm the account and mode")
        return
    with recorded(c, "gateway.weekly-login") as run:
        run.detail = session.weekly_login(context(c))
    print(f"gateway: {run.detail}")
