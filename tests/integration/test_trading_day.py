"""The trading day on the real engine: `invoke eod` and `invoke weekly sync` driving stand-in processes.

The ecosystem runs in a fixed-offset timezone chosen so that its local time is about noon
while the tests run: the continuous processes' windows (00:01-19:45) are open and the
private control config opens the evening chain's windows at 00:01, so nothing waits for a
wall-clock time. Stand-in behaviours (run, fail, hang, ...) come from the file
``standin_behaviour`` in the private config folder, which every container mounts.
"""
from __future__ import annotations

import json
import signal
import time
from datetime import UTC, datetime

import pytest

from ecosystem import process_runs
from ecosystem import stack as stack_module
from ecosystem.history import History
from tests.support.ecosystem import (
    CreatedContainers,
    build_and_start,
    make_ecosystem,
    noon_zone,
    tear_down,
    windows_open_all_day,
    write_private,
)

CHAIN = ("run_daily_prices_updates", "run_systems", "run_strategy_order_generator", "run_cleaners", "run_reports")


PRIVATE_CONTROL = windows_open_all_day(CHAIN)


@pytest.fixture(scope="module")
def day(docker_client, debian_python, tmp_path_factory):
    made = make_ecosystem(docker_client, tmp_path_factory.mktemp("day"), debian_python, extra={
        "TIMEZONE": noon_zone(), "WORKFLOW_WEEKDAY_START": "1", "WORKFLOW_WEEKDAY_END": "7",
        "EOD_CHAIN": ",".join(CHAIN), "EOD_STOP_ON_FAILURE": "none", "EOD_STEP_TIMEOUTS": "run_cleaners=1",
        "CRASH_RELAUNCH_LIMIT": "2", "RELAUNCH_BACKOFF_MINUTES": "0", "ORDER_GENERATOR_WAIT_MINUTES": "0"})
    made.created = CreatedContainers(made.test_stack.label)
    try:
        build_and_start(made, {"private_control_config.yaml": PRIVATE_CONTROL, "standin_behaviour": "seconds=0.5\n"})
        yield made
    finally:
        tear_down(docker_client, made)


def history(made) -> History:
    return History(made.settings.history_path)


def slot(made) -> str:
    return datetime.now(made.settings.tz).date().isoformat()


def control(made, docker_client):
    from ecosystem.context import Context

    return Context(made.settings, History(made.settings.history_path), _client=docker_client).control()


def store(made, docker_client) -> dict:
    out = docker_client.containers.get(f"pysys_runtime{made.test_stack.suffix}").exec_run(
        ["cat", "/data/parquet/standin_process_control.json"]).output
    return json.loads(out)


def process_containers(docker_client, made, process: str) -> list:
    listed = docker_client.containers.list(ignore_removed=True, all=True, filters={"label": made.test_stack.label})
    return [c for c in listed if c.labels.get("org.pysystemtrade-ecosystem.process") == process]


def wait_ended(docker_client, made, process: str) -> None:
    for container in process_containers(docker_client, made, process):
        container.wait(timeout=120)


def eod_steps(made, since: datetime) -> dict[str, object]:
    runs = [r for r in history(made).runs(job="eod", since=since) if r.step]
    return {r.step: r for r in runs}


def test_a_chain_records_ran_declined_failed_and_timed_out_apart_and_goes_on(day, docker_client):
    control(day, docker_client).stop("run_systems")  # STOP persists: systems will decline with exit 0
    write_private(day, "standin_behaviour", "seconds=0.5\nrun_strategy_order_generator=fail\nrun_cleaners=hang\n"
                                            "run_reports=report\n")
    since = datetime.now(UTC)
    result = day.run("eod", check=False)
    assert result.returncode == 1, "a chain with a declined, a failed and a timed-out step is not ok"
    steps = eod_steps(day, since)
    assert {name: steps[name].outcome for name in CHAIN} == {
        "run_daily_prices_updates": "ok", "run_systems": "declined", "run_strategy_order_generator": "failed",
        "run_cleaners": "timed_out", "run_reports": "ok"}
    assert "status is STOP" in steps["run_systems"].detail
    assert "exited with code 1" in steps["run_strategy_order_generator"].detail
    assert "ended by STOP" in steps["run_cleaners"].detail, "a step past its timeout is stopped gracefully"
    assert (day.settings.reports_dir / "run_reports_report.txt").exists()
    chain = [r for r in history(day).runs(job="eod", since=since) if not r.step][-1]
    assert chain.outcome == "failed" and "1 declined" in chain.detail and "1 timed_out" in chain.detail
    assert control(day, docker_client).record("run_cleaners").status == "GO", "the timeout's STOP is put back"
    assert not process_containers(docker_client, day, "run_cleaners"), "each step's container is removed"
    assert any("failed on purpose" in line for line in steps["run_strategy_order_generator"].log_tail)
    shown = day.run("history", "--job", "eod", "--logs").stdout
    assert "declined" in shown and "timed_out" in shown and "failed on purpose" in shown
    shown = day.run("status", check=False)
    assert shown.returncode == 1, "a degraded ecosystem: status exits 1"
    assert "run_systems" in shown.stdout and "declined" in shown.stdout

    # a rerun the same trading day resumes at the first step that did not succeed
    control(day, docker_client).go("run_systems")
    write_private(day, "standin_behaviour", "seconds=0.5\n")
    again = datetime.now(UTC)
    assert day.run("eod").returncode == 0
    rerun = eod_steps(day, again)
    assert set(rerun) == {"run_systems", "run_strategy_order_generator", "run_cleaners"}
    assert all(r.outcome == "ok" for r in rerun.values())
    assert "ok earlier today" in day.output[-1]

    forced = datetime.now(UTC)
    day.run("eod", "--force")
    assert set(eod_steps(day, forced)) == set(CHAIN)


def _brief(day, smtp, environ: dict, count: int) -> str:
    """Send the brief to the loopback SMTP server (the scheduler marked running); return the message."""
    from tests.integration.test_alerts import readable

    beat = day.settings.state_dir / "scheduler-heartbeat.json"
    beat.write_text(json.dumps({"looked": datetime.now(UTC).isoformat()}))
    url = (f"mailto://brief:pw@localhost:{smtp.port}?smtp=127.0.0.1&from=ecosystem@localhost"
           "&to=trader@localhost&mode=insecure")
    sent = day.run("brief", "--send", environ={**environ, "ALERT_URLS": url})
    assert "brief sent" in sent.stdout
    return readable(smtp.wait_for(count)[count - 1])


def test_the_brief_after_a_good_day_says_all_good_and_after_a_bad_one_names_each_problem(day, docker_client, smtp):
    control(day, docker_client).go("run_systems")
    write_private(day, "standin_behaviour", "seconds=0.5\n")
    assert day.run("eod", "--force").returncode == 0
    from tests.integration.test_backup import SEED_DB

    seeded = docker_client.containers.get(f"mongo_db{day.test_stack.suffix}").exec_run(["python3", "-c", SEED_DB])
    assert seeded.exit_code == 0, seeded.output
    day.run("backup")
    good = _brief(day, smtp, {}, 1)
    assert good.startswith("pysystemtrade brief: all good"), good
    assert "run_reports: ok" in good and "backup: last good" in good and "gateway: logged in" in good
    assert json.loads((day.settings.state_dir / "observed.json").read_text())["gateway"] == "logged in"

    # a bad day: a step declines (its status is STOP) and the offload fails
    smb = {"SMB_SERVER": "127.0.0.1", "SMB_PORT": "1", "SMB_SHARE": "backups", "SMB_USER": "trader",
           "SMB_PASSWORD": "sentinel-SMB-brief-3141"}
    control(day, docker_client).stop("run_systems")
    assert day.run("eod", "--force", check=False).returncode == 1
    assert day.run("offload", check=False, environ=smb).returncode != 0
    bad = _brief(day, smtp, smb, 2)
    assert bad.startswith("pysystemtrade brief: 2 problems"), bad
    assert "1. last night's chain: eod run_systems declined" in bad and "(its status is STOP)" in bad
    assert "2. offload: the latest run failed" in bad and "what to do:" in bad
    assert "sentinel-SMB-brief-3141" not in bad
    shown = day.run("status", check=False, environ=smb)
    assert shown.returncode == 1 and "2 PROBLEMS" in shown.stdout
    answer = json.loads(day.run("status", "--json", check=False, environ=smb).stdout)
    from ecosystem import answers

    assert answers.problems(answer) == [] and answer["headline"] == "2 problems" and answer["degraded"]

    # the status page, as each sync writes it, served by the stack's status_page service, in a real browser
    from ecosystem import status_page
    from ecosystem.context import Context
    from ecosystem.settings import load_settings
    from standins import browser
    from tests.support.ecosystem import ROOT
    from tests.support.net import host_address

    smb_settings = load_settings(ROOT, env_file=day.env_file, environ=smb)
    status_page.refresh(Context(smb_settings, History(smb_settings.history_path), _client=docker_client))
    page = browser.dom(f"http://127.0.0.1:{day.settings.status_page_port}/")
    assert 'id="headline" class="degraded">2 problems<' in page
    today = page.split(f'<tr data-day="{datetime.now(day.settings.tz).date().isoformat()}">')[1].split("</tr>")[0]
    assert any('data-job="offload"' in cell and "outcome-failed" in cell for cell in today.split("<span")), today
    assert any('data-step="run_systems"' in cell and "outcome-declined" in cell for cell in today.split("<span"))

    # published on an address that is not loopback, the page asks for its token
    address = host_address()
    opened = {"BIND_ADDRESS": address}
    day.run("up", "--services", "status_page", environ=opened)
    try:
        url = f"http://{address}:{day.settings.status_page_port}/"
        refused = browser.dom(url)
        assert "needs its token" in refused and "2 problems" not in refused
        token = (day.settings.state_dir / "secrets" / "status_page_token").read_text()
        assert token and "2 problems" in browser.dom(f"{url}?token={token}")
    finally:
        day.run("up", "--services", "status_page")
    control(day, docker_client).go("run_systems")


def test_a_failure_in_a_stop_on_failure_step_skips_the_rest(day, docker_client):
    day.values["EOD_STOP_ON_FAILURE"] = "run_systems"
    day.write_env()
    write_private(day, "standin_behaviour", "seconds=0.5\nrun_systems=fail\n")
    try:
        since = datetime.now(UTC)
        assert day.run("eod", "--force", check=False).returncode == 1
        steps = eod_steps(day, since)
        assert steps["run_daily_prices_updates"].outcome == "ok"
        assert steps["run_systems"].outcome == "failed"
        for name in CHAIN[2:]:
            assert steps[name].outcome == "skipped" and "run_systems failed" in steps[name].detail
    finally:
        day.values["EOD_STOP_ON_FAILURE"] = "none"
        day.write_env()
        write_private(day, "standin_behaviour", "seconds=0.5\n")


def test_the_order_generator_waits_for_the_stack_handler_and_fails_clearly_at_its_deadline(day, docker_client):
    write_private(day, "standin_behaviour", "seconds=0.5\nrun_stack_handler=hang\n")
    project = stack_module.compose(day.settings)
    project.run_detached("stack_handler", process_runs.command("run_stack_handler"),
                         name=f"sh_wait{day.test_stack.suffix}")
    try:
        since = datetime.now(UTC)
        day.run("eod", "--force", check=False)
        step = eod_steps(day, since)["run_strategy_order_generator"]
        assert step.outcome == "failed" and "run_stack_handler was still running" in step.detail
        assert eod_steps(day, since)["run_systems"].outcome == "ok"
    finally:
        day.run("stop", "--process", "run_stack_handler")
        docker_client.containers.get(f"sh_wait{day.test_stack.suffix}").remove(force=True)
        write_private(day, "standin_behaviour", "seconds=0.5\n")


def test_sigterm_to_eod_stops_the_running_step_cleanly_and_the_rerun_is_not_blocked(day, docker_client):
    write_private(day, "standin_behaviour", "seconds=0.5\nrun_reports=hang\n")
    since = datetime.now(UTC)
    eod = day.start("eod", "--force")
    try:
        # the hanging step has the default timeout (not run_cleaners' 1 minute of this module), so a slow
        # poll here can never let the step's own timeout end it before the SIGTERM lands
        for _ in range(240):  # until the hanging step's container runs
            if [c for c in process_containers(docker_client, day, "run_reports") if c.status == "running"]:
                break
            time.sleep(0.5)
        else:
            raise AssertionError("run_reports never started")
        eod.send_signal(signal.SIGTERM)
        output, _ = eod.communicate(timeout=120)
    finally:
        if eod.poll() is None:
            eod.kill()
    assert eod.returncode != 0 and "stopping" in output and "cleanly" in output
    assert eod_steps(day, since)["run_reports"].outcome == "failed"
    assert not process_containers(docker_client, day, "run_reports"), "stopped through STOP, then removed"
    reports = control(day, docker_client).record("run_reports")
    assert reports.status == "GO" and not reports.running, "status put back, record finished by its clean end"
    write_private(day, "standin_behaviour", "seconds=0.5\n")
    again = datetime.now(UTC)
    day.run("eod")
    assert eod_steps(day, again)["run_reports"].outcome == "ok", "the rerun resumes there and is not declined"


def created_for(docker_client, process: str, since: datetime) -> list[str]:
    """The containers the engine created for ``process`` since ``since`` (from its events)."""
    events = docker_client.events(since=since, until=datetime.now(UTC), decode=True,
                                  filters={"type": "container", "event": "create",
                                           "label": f"org.pysystemtrade-ecosystem.process={process}"})
    return [event["Actor"]["Attributes"].get("name", "?") for event in events]


def test_no_run_is_declined_without_a_container_and_a_process_launched_in_no_run_waits_for_go(day, docker_client):
    ctl = control(day, docker_client)
    write_private(day, "standin_behaviour", "seconds=0.5\npoll=0.5\n")
    ctl.no_run("run_systems")
    name = f"run_systems_waiting{day.test_stack.suffix}"
    try:
        since = datetime.now(UTC)
        day.run("eod", "--force", check=False)
        steps = eod_steps(day, since)
        assert steps["run_systems"].outcome == "declined" and "NO-RUN: not launched" in steps["run_systems"].detail
        assert steps["run_strategy_order_generator"].outcome == "ok", "EOD_STOP_ON_FAILURE=none: the chain goes on"
        assert created_for(docker_client, "run_systems", since) == [], "decided from the record: no container"

        # launched anyway (by hand, as upstream's crontab would), it waits in its loop: it neither runs nor ends
        process_runs.launch(stack_module.compose(day.settings), service="daily_processes", process="run_systems",
                            launcher="run_systems", name=name, job="test", slot="", kind="evening", deadline=None)
        time.sleep(4)
        assert process_runs.is_running(docker_client, name) and not ctl.record("run_systems").running
        stopped = day.run("stop", "--process", "run_systems").stdout  # a waiting process stops through STOP too
        assert "ended by STOP" in stopped and ctl.record("run_systems").status == "NO-RUN", "its status put back"
        process_runs.remove(docker_client, name)

        process_runs.launch(stack_module.compose(day.settings), service="daily_processes", process="run_systems",
                            launcher="run_systems", name=name, job="test", slot="", kind="evening", deadline=None)
        time.sleep(2)
        started = process_runs.started_at(docker_client, name)
        ctl.go("run_systems")  # ... and runs once its status is GO
        assert docker_client.api.wait(name, timeout=60)["StatusCode"] == 0
        assert process_runs.ran_since(ctl.record("run_systems"), started, day.settings.tz)
    finally:
        ctl.go("run_systems")
        process_runs.remove(docker_client, name)
        write_private(day, "standin_behaviour", "seconds=0.5\n")


def test_a_backtest_written_by_one_process_is_read_by_the_next_and_by_jupyter(day, docker_client):
    write_private(day, "standin_behaviour", "seconds=0.5\nrun_systems=backtest\n"
                                            "run_strategy_order_generator=read_backtest\nrun_reports=read_backtest\n")
    try:
        since = datetime.now(UTC)
        day.run("eod", "--force")
        steps = eod_steps(day, since)
        assert all(steps[p].outcome == "ok" for p in ("run_systems", "run_strategy_order_generator", "run_reports"))
        jupyter = docker_client.containers.get(f"jupyter{day.test_stack.suffix}")
        read = jupyter.exec_run(["python3", "-c", "import glob, os, pickle; newest = max(glob.glob("
                                 "'/data/backtests/*/*.pck'), key=os.path.getmtime); "
                                 "print(pickle.load(open(newest, 'rb')))"])
        assert read.exit_code == 0 and b"run_systems" in read.output, read.output
    finally:
        write_private(day, "standin_behaviour", "seconds=0.5\n")


def test_a_crashed_steps_whole_output_is_shown_after_its_container_is_gone(day, docker_client):
    write_private(day, "standin_behaviour", "seconds=0.5\nrun_cleaners=fail\n")
    try:
        since = datetime.now(UTC)
        day.run("eod", "--force", check=False)
        assert eod_steps(day, since)["run_cleaners"].outcome == "failed"
        [created] = created_for(docker_client, "run_cleaners", since)
        assert not process_containers(docker_client, day, "run_cleaners"), "its container is gone"
        listed = day.run("logs", "run_cleaners", "--run", "list").stdout
        assert created in listed
        whole = day.run("logs", "run_cleaners", "--run", created).stdout
        assert "failed on purpose" in whole and "starting" in whole and whole.splitlines()[-1].startswith(
            f"# pysys-launch run_cleaners (run {created}) exit code 1")
    finally:
        write_private(day, "standin_behaviour", "seconds=0.5\n")


def test_weekly_sync_launches_the_day_once_and_a_second_call_changes_nothing(day, docker_client):
    write_private(day, "standin_behaviour", "seconds=0.5\nrun_stack_handler=hang\nrun_capital_update=hang\n")
    created_before = len(day.created.services) + len(day.created.one_offs)
    lines_before = day.settings.history_path.read_text()
    planned = day.run("weekly.sync", "--dry-run").stdout  # the same decisions, nothing done
    assert len(day.created.services) + len(day.created.one_offs) == created_before, "no container created"
    assert day.settings.history_path.read_text() == lines_before, "nothing recorded"
    first = day.run("weekly.sync").stdout
    would = {line.split()[2].rstrip(":") for line in planned.splitlines() if line.startswith("would launch ")}
    did = {line.split()[1] for line in first.splitlines() if line.startswith("launched ")}
    assert would == did and "run_stack_handler" in did, (planned, first)
    assert "launched run_stack_handler" in first and "launched run_capital_update" in first
    page = (day.settings.state_dir / "page" / "index.html").read_text()
    assert 'data-step="run_stack_handler"' in page, "each sync writes the status page"
    observed = json.loads((day.settings.state_dir / "observed.json").read_text())
    assert observed["gateway"] == "logged in" and observed["statuses"].get("run_stack_handler", "GO") == "GO"
    assert "launched run_daily_fx_and_contract_updates" in first
    wait_ended(docker_client, day, "run_daily_fx_and_contract_updates")
    day.run("weekly.sync")  # records the morning one-shot that ended
    created_before = len(day.created.services) + len(day.created.one_offs)
    lines_before = day.settings.history_path.read_text()
    second = day.run("weekly.sync").stdout
    assert "nothing to do" in second
    assert len(day.created.services) + len(day.created.one_offs) == created_before, "no container created"
    assert day.settings.history_path.read_text() == lines_before, "nothing recorded"
    assert [c.status for c in process_containers(docker_client, day, "run_stack_handler")] == ["running"]
    fx = [r for r in history(day).runs(job="weekly.sync") if r.step == "run_daily_fx_and_contract_updates"]
    assert [r.outcome for r in fx] == ["ok"]


def test_after_a_reboot_sync_runs_startup_first_then_launches_the_day(day, docker_client):
    # the previous test left the stack handler and capital update running; a reboot kills them,
    # leaving their records "running", as a power cut would
    runtime = docker_client.containers.get(f"pysys_runtime{day.test_stack.suffix}")
    startups_before = store(day, docker_client).get("startups", 0)
    runtime.restart(timeout=5)  # PID 1 of the shared namespace ends: every process in it dies
    for name in ("run_stack_handler", "run_capital_update"):
        wait_ended(docker_client, day, name)
    assert store(day, docker_client)["processes"]["run_stack_handler"]["currently_running"], "a stale record"
    since = datetime.now(UTC)
    out = day.run("weekly.sync").stdout
    assert store(day, docker_client)["startups"] == startups_before + 1
    assert out.index("cold start") < out.index("launched run_stack_handler")
    startup = [r for r in history(day).runs(job="startup", since=since)]
    assert startup and startup[0].outcome == "ok"
    running = [c for c in process_containers(docker_client, day, "run_stack_handler") if c.status == "running"]
    assert len(running) == 1
    jupyter = docker_client.api.inspect_container(f"jupyter{day.test_stack.suffix}")["State"]
    assert jupyter["Status"] == "running"
    assert jupyter["StartedAt"] >= docker_client.api.inspect_container(runtime.name)["State"]["StartedAt"], \
        "Jupyter runs joined to the current start of pysys_runtime"
    day.run("stop", "--all")
    day.run("weekly.sync")  # records their clean end


def test_a_crashing_stack_handler_is_relaunched_up_to_the_limit_then_stays_down(day, docker_client):
    write_private(day, "standin_behaviour", "seconds=0.5\nrun_stack_handler=fail\nrun_capital_update=hang\n")
    # a new trading day for the stack handler: forget today's earlier runs by using a fresh history
    day.settings.history_path.rename(day.settings.history_path.with_suffix(".before-crash"))
    try:
        outputs = []
        for _ in range(5):
            # the dry run decides as the real sync then does: an ended crash it has not recorded yet counts
            planned = day.run("weekly.sync", "--dry-run").stdout
            outputs.append(day.run("weekly.sync").stdout)
            would = {line.split()[2].rstrip(":") for line in planned.splitlines() if line.startswith("would launch ")}
            did = {line.split()[1] for line in outputs[-1].splitlines() if line.startswith("launched ")}
            # the stack handler's fate is settled at both instants (ended and waited for); others may move between
            assert ("run_stack_handler" in would) == ("run_stack_handler" in did), (planned, outputs[-1])
            wait_ended(docker_client, day, "run_stack_handler")
        crashes = [r for r in history(day).runs(job="weekly.sync") if r.step == "run_stack_handler"]
        assert [r.outcome for r in crashes] == ["failed"] * 3, "the first launch and two relaunches, then down"
        assert "relaunch 1 of 2" in crashes[0].detail and "relaunch 2 of 2" in crashes[1].detail
        assert "stays down" in crashes[2].detail
        assert "launched run_stack_handler" not in outputs[3] + outputs[4]
        assert not control(day, docker_client).record("run_stack_handler").running, "its own record was cleared"
        assert control(day, docker_client).record("run_capital_update").running, "no other record was touched"
    finally:
        day.run("stop", "--all")
        write_private(day, "standin_behaviour", "seconds=0.5\n")


def test_sync_outside_the_trading_week_launches_nothing(day, docker_client):
    tomorrow = (datetime.now(day.settings.tz).isoweekday() % 7) + 1
    day.values |= {"WORKFLOW_WEEKDAY_START": str(tomorrow), "WORKFLOW_WEEKDAY_END": str(tomorrow)}
    day.write_env()
    day.settings.history_path.rename(day.settings.history_path.with_suffix(f".{time.time_ns()}"))
    try:
        out = day.run("weekly.sync").stdout
        assert "launched" not in out
        listed = docker_client.containers.list(ignore_removed=True, filters={"label": day.test_stack.label})
        assert not [c for c in listed if c.labels.get("org.pysystemtrade-ecosystem.process")]
    finally:
        day.values |= {"WORKFLOW_WEEKDAY_START": "1", "WORKFLOW_WEEKDAY_END": "7"}
        day.write_env()


def test_weekly_open_checks_the_gateway_and_launches_close_launches_nothing_and_stops_on_request(day, docker_client):
    write_private(day, "standin_behaviour", "seconds=0.5\nrun_stack_handler=hang\nrun_capital_update=hang\n")
    day.settings.history_path.rename(day.settings.history_path.with_suffix(f".{time.time_ns()}"))
    opened = day.run("weekly.open").stdout
    assert "gateway: logged in" in opened and "launched run_stack_handler" in opened and "trading week open" in opened
    closed = day.run("weekly.close").stdout
    assert "still running" in closed and "run_stack_handler" in closed and "launched" not in closed
    assert "still open" in closed, "the settings keep this test's week open all week"
    day.run("weekly.close", "--stop")
    assert not [c for c in docker_client.containers.list(ignore_removed=True, filters={"label": day.test_stack.label})
                if c.labels.get("org.pysystemtrade-ecosystem.process")]
    write_private(day, "standin_behaviour", "seconds=0.5\n")


def test_eod_dry_run_runs_nothing_and_says_what_would_be_skipped(day):
    out = day.run("eod", "--dry-run").stdout
    assert "ok earlier today" in out or "would run" in out
    assert "timeout 1 min" in out, "run_cleaners' own timeout (EOD_STEP_TIMEOUTS)"
