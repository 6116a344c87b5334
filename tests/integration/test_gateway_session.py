"""The gateway as a trader lives with it, on the real engine with the stand-in gateway (issue 14).

The stand-in models the session (standins/gateway/standin_gateway.py): not logged in until
approved (``approve``, run in its container as the trader's phone would), logged out at its
daily restart and back by itself, a lost session (``logout``), and a cold login at each start
once ``twofa-on`` is set. Alerts and messages go to a real SMTP server on loopback, through
ALERT_URLS in the ecosystem's .env, as the scheduler's runs send them.
"""
from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from ecosystem import trading_day
from ecosystem.history import History
from tests.support.ecosystem import (
    build_and_start,
    make_ecosystem,
    noon_zone,
    set_broker_account,
    tear_down,
    windows_open_all_day,
    write_private,
)
from tests.support.smtp import SmtpServer, mail_url

CONTINUOUS = ("run_stack_handler", "run_capital_update")
EVENING = ("run_daily_prices_updates",)


@pytest.fixture(scope="module")
def mail():
    server = SmtpServer()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def eco(docker_client, debian_python, tmp_path_factory, mail):
    url = mail_url(mail.port)
    made = make_ecosystem(docker_client, tmp_path_factory.mktemp("session"), debian_python, extra={
        "TIMEZONE": noon_zone(), "WORKFLOW_WEEKDAY_START": "1", "WORKFLOW_WEEKDAY_END": "7",
        "EOD_CHAIN": "run_daily_prices_updates", "MORNING_PROCESSES": "none", "CRASH_RELAUNCH_LIMIT": "2",
        "RELAUNCH_BACKOFF_MINUTES": "0,30", "GATEWAY_TWOFA_RETRY": "6s", "GATEWAY_LOGIN_WINDOW": "40s",
        "ALERT_URLS": url, "ALERT_THROTTLE_MINUTES": "0"})
    try:
        build_and_start(made, {"private_control_config.yaml": windows_open_all_day(CONTINUOUS + EVENING),
                               "standin_behaviour": "run_stack_handler=hang\nrun_capital_update=hang\n"})
        set_broker_account(made, "DU1234567")  # the stand-in gateway's account
        yield made
    finally:
        tear_down(docker_client, made)


def gateway(docker_client, made):
    return docker_client.containers.get(f"ib_gateway{made.test_stack.suffix}")


def session(docker_client, made, verb: str) -> None:
    done = gateway(docker_client, made).exec_run(["python3", "/home/ibgateway/scripts/standin_gateway.py", verb])
    assert done.exit_code == 0, done.output


def outcomes(made, process: str, since: datetime) -> list[str]:
    return [r.outcome for r in History(made.settings.history_path).runs(job=trading_day.JOB, since=since)
            if r.step == process and r.outcome]


def running(docker_client, made) -> set[str]:
    listed = docker_client.containers.list(filters={"label": made.test_stack.label})
    return {c.labels.get("org.pysystemtrade-ecosystem.process") for c in listed} - {None}


def subjects(mail, since: int) -> list[str]:
    return mail.subjects(since)


def body(message: str) -> str:
    return SmtpServer.body(message)


def bodies(mail, since: int) -> list[str]:
    return [body(m) for m in mail.messages[since:]]


def wait_for_mail(mail, count: int, timeout: float = 60) -> None:
    mail.wait_for(count, timeout=timeout)


def stop_all(made) -> None:
    made.run("stop", "--all")
    made.run("weekly.sync")  # their ends recorded


def test_a_session_lost_at_midday_holds_the_broker_processes_then_they_start_after_the_approval(
        eco, docker_client, mail):
    gateway_id = gateway(docker_client, eco).id
    session(docker_client, eco, "logout")
    since, mails = datetime.now(UTC), len(mail.messages)
    said = eco.run("weekly.sync").stdout
    assert "run_stack_handler waiting: gateway not logged in" in said
    assert not running(docker_client, eco) & set(CONTINUOUS), "nothing that needs the broker is launched"
    assert outcomes(eco, "run_stack_handler", since) == ["waiting"]
    wait_for_mail(mail, mails + 1)
    assert subjects(mail, mails) == ["pysystemtrade ecosystem: gateway.session failed"]
    assert "approve the IBKR login on your phone" in body(mail.messages[-1])

    eco.run("weekly.sync")  # a minute later: still not logged in
    assert outcomes(eco, "run_stack_handler", since) == ["waiting"], "said once, not every minute"
    time.sleep(2)
    assert len(mail.messages) == mails + 1, "one alert for the outage"

    session(docker_client, eco, "approve")
    said = eco.run("weekly.sync").stdout
    assert "launched run_stack_handler" in said and "launched run_capital_update" in said
    assert "run_stack_handler" in running(docker_client, eco)
    wait_for_mail(mail, mails + 2)
    assert subjects(mail, mails + 1) == ["pysystemtrade ecosystem: the gateway is logged in again"]
    assert "failed" not in outcomes(eco, "run_stack_handler", since), "no relaunch budget was spent"
    assert gateway(docker_client, eco).id == gateway_id
    shown = eco.run("status", check=False).stdout
    assert "gateway: logged in" in shown
    stop_all(eco)


def test_a_crashing_stack_handler_is_relaunched_on_its_backoff_then_stays_down_with_one_alert(
        eco, docker_client, mail):
    write_private(eco, "standin_behaviour", "run_stack_handler=fail\nrun_capital_update=hang\n")
    since = datetime.now(UTC)
    eco.run("launch", "--process", "run_stack_handler")  # by hand: today's budget starts again
    time.sleep(3)  # the stand-in fails at once
    said = eco.run("weekly.sync").stdout
    assert "relaunch 1 of 2 follows" in said and "relaunch 1 of 2 after a crash" in said, \
        "the first relaunch waits RELAUNCH_BACKOFF_MINUTES' 0 min"
    time.sleep(3)
    said = eco.run("weekly.sync").stdout
    assert "relaunch 2 of 2 follows" in said and "launched run_stack_handler" not in said, \
        "the second waits 30 min"
    assert "launch run_stack_handler" not in eco.run("weekly.sync", "--dry-run").stdout

    eco.values["RELAUNCH_BACKOFF_MINUTES"] = "0"
    eco.write_env()
    mails = len(mail.messages)
    assert "launched run_stack_handler" in eco.run("weekly.sync").stdout
    time.sleep(3)
    said = eco.run("weekly.sync").stdout
    assert "it crashed 3 times today (CRASH_RELAUNCH_LIMIT=2); it stays down" in said
    assert outcomes(eco, "run_stack_handler", since) == ["failed"] * 3
    eco.run("weekly.sync")
    wait_for_mail(mail, mails + 1)
    time.sleep(2)
    assert subjects(mail, mails) == ["pysystemtrade ecosystem: weekly.sync/run_stack_handler failed"], \
        "one alert, when it stays down (a crash that is relaunched is not one)"
    assert "stays down" in body(mail.messages[-1]) and "invoke launch --process run_stack_handler" in \
        body(mail.messages[-1])
    assert "run_stack_handler" not in running(docker_client, eco)


def test_invoke_launch_relaunches_by_hand_and_refuses_saying_why(eco, docker_client):
    from ecosystem.context import Context

    write_private(eco, "standin_behaviour", "run_stack_handler=hang\nrun_capital_update=hang\n")
    assert "launched run_stack_handler" in eco.run("launch", "--process", "run_stack_handler").stdout
    refused = eco.run("launch", "--process", "run_stack_handler", check=False)
    assert refused.returncode == 2 and "runs already" in refused.stderr
    eco.run("stop", "--process", "run_stack_handler")
    eco.run("weekly.sync")

    control = Context(eco.settings, History(eco.settings.history_path), _client=docker_client).control()
    control.stop("run_stack_handler")
    refused = eco.run("launch", "--process", "run_stack_handler", check=False)
    assert refused.returncode == 2 and "status is STOP" in refused.stderr
    control.go("run_stack_handler")

    session(docker_client, eco, "logout")
    refused = eco.run("launch", "--process", "run_stack_handler", check=False)
    assert refused.returncode == 2 and "the gateway is not logged in" in refused.stderr and "--force" in refused.stderr
    assert "launched run_stack_handler" in eco.run("launch", "--process", "run_stack_handler", "--force").stdout
    session(docker_client, eco, "approve")
    stop_all(eco)


def test_the_weekly_login_tells_to_approve_reminds_and_confirms_and_keeps_the_container(eco, docker_client, mail):
    container = gateway(docker_client, eco)
    session(docker_client, eco, "twofa-on")  # from now on each start waits for the approval
    mails = len(mail.messages)
    login = eco.start("gateway.weekly-login")
    wait_for_mail(mail, mails + 2)  # approve now, then again at the gateway's next 2FA request (6s)
    assert subjects(mail, mails)[:2] == ["pysystemtrade ecosystem: approve the IBKR login on your phone now",
                                         "pysystemtrade ecosystem: approve the new IBKR login request on your phone "
                                         "now"]
    assert "min left" in body(mail.messages[mails])
    session(docker_client, eco, "approve")
    assert login.wait(timeout=120) == 0, login.stdout.read()
    wait_for_mail(mail, mails + 3)
    confirmed = [m for m in bodies(mail, mails) if "the gateway is logged in" in m]
    assert confirmed and "DU*****67 (paper)" in confirmed[0]
    assert gateway(docker_client, eco).id == container.id, "restarted, not recreated"
    assert gateway(docker_client, eco).attrs["RestartCount"] >= 0


def test_a_weekly_login_nobody_approves_alerts_when_its_window_passes_once(eco, docker_client, mail):
    mails = len(mail.messages)
    eco.values["GATEWAY_LOGIN_WINDOW"] = "15s"
    eco.write_env()
    failed = eco.run("gateway.weekly-login", check=False)
    assert failed.returncode == 1 and "not approved within" in failed.stderr
    wait_for_mail(mail, mails + 2)
    assert any("gateway.weekly-login failed" in s for s in subjects(mail, mails))
    count = len(mail.messages)
    eco.run("weekly.sync")
    time.sleep(2)
    assert not any("gateway.session failed" in s for s in subjects(mail, count)), "the watch does not say it again"
    session(docker_client, eco, "approve")
    eco.run("weekly.sync")
    wait_for_mail(mail, count + 1)
    assert "pysystemtrade ecosystem: the gateway is logged in again" in subjects(mail, count)
    stop_all(eco)


def test_the_daily_restart_alerts_nothing_when_the_session_comes_back_by_itself(eco, docker_client, mail):
    local = datetime.now(eco.settings.tz)
    eco.values["GATEWAY_AUTO_RESTART_TIME"] = local.strftime("%I:%M %p")  # now is inside its grace
    eco.write_env()
    mails = len(mail.messages)
    session(docker_client, eco, "daily-restart")
    eco.run("weekly.sync")
    time.sleep(4)  # the stand-in's restart takes 3 s
    eco.run("weekly.sync")
    time.sleep(2)
    assert not any("gateway" in s for s in subjects(mail, mails)), "nothing gateway-related at the daily restart"
    assert "gateway: logged in" in eco.run("status", check=False).stdout
    stop_all(eco)


def test_an_evening_step_that_needs_the_broker_waits_for_the_login_then_runs(eco, docker_client):
    session(docker_client, eco, "logout")
    since = datetime.now(UTC)
    chain = eco.start("eod")
    time.sleep(8)
    assert chain.poll() is None, "the chain waits for the gateway"
    assert not {"run_daily_prices_updates"} & running(docker_client, eco), "nothing launched without the broker"
    session(docker_client, eco, "approve")
    out, _ = chain.communicate(timeout=120)
    assert chain.returncode == 0, out
    assert "run_daily_prices_updates: waiting for the gateway's login" in out
    [step] = [r for r in History(eco.settings.history_path).runs(job="eod", since=since) if r.step]
    assert step.outcome == "ok"


def test_up_leaves_a_running_gateway_and_says_its_pending_change_and_up_services_applies_it(eco, docker_client):
    before = gateway(docker_client, eco).id
    eco.values["GATEWAY_JAVA_HEAP_MB"] = "700"
    eco.write_env()
    said = eco.run("up").stdout + "\n".join(eco.output[-1:])
    assert "its configuration changed; left running" in said and "next weekly login" in said
    assert gateway(docker_client, eco).id == before, "up never recreates a running gateway"
    eco.run("up", "--services", "ib_gateway")
    assert gateway(docker_client, eco).id != before, "named, it is recreated"
