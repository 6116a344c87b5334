"""The ecosystem stack on the real engine: build, setup, up, status, down, rollback, two side by side.

Built from a locally made Debian base and a generated stand-in private repository served
from a local path, with sentinel secrets that must not leak anywhere.
"""
from __future__ import annotations

import re
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from ecosystem import images, process_runs
from ecosystem import stack as stack_module
from ecosystem.context import Context
from ecosystem.gateway import handshake
from ecosystem.history import History
from ecosystem.process_control import ProcessControl, compose_runner
from tests.support.ecosystem import (  # noqa: F401
    GIT_TOKEN,
    PRIVATE,
    ROOT,
    SENTINELS,
    TWS_PASSWORD,
    TWS_USER,
    CreatedContainers,
    Ecosystem,
    make_ecosystem,
    set_broker_account,
    tear_down,
)
from tests.support.scan import find_in_folder, find_in_image
from tests.support.stacks import leftovers, remove_everything


@pytest.fixture(scope="module")
def base_image(docker_client, debian_python):
    return debian_python


@pytest.fixture(scope="module")
def eco(docker_client, base_image, tmp_path_factory):
    made = make_ecosystem(docker_client, tmp_path_factory.mktemp("eco"), base_image)
    made.created = CreatedContainers(made.test_stack.label)
    try:
        made.run("build")
        yield made
    finally:
        tear_down(docker_client, made)


def test_build_keeps_every_secret_out_of_images_history_clone_and_logs(docker_client, eco):
    names = images.image_names(eco.settings)
    for tag in names.values():
        assert find_in_image(docker_client, tag, SENTINELS) == []
    clone = eco.settings.pysystemtrade_clone_dir
    assert (clone / "private" / "private_config.yaml").read_text().count(PRIVATE) == 1, "the clone keeps private/"
    assert find_in_folder(clone / ".git", [GIT_TOKEN]) == []
    listed = subprocess.run(["docker", "run", "--rm", names["pysystemtrade"], "ls", "-a", eco.settings.pysys_code],
                            capture_output=True, text=True, check=True).stdout.split()
    assert "private" not in listed and ".git" not in listed and "sysproduction" in listed
    assert not any(s in text for s in SENTINELS for text in eco.output)


def test_up_brings_the_stack_to_healthy_and_status_shows_it(docker_client, eco):
    eco.run("setup")
    eco.run("up", "--timeout", "180")
    context = Context(eco.settings, History(eco.settings.history_path), _client=docker_client)
    rows = {r.service: r for r in stack_module.service_states(context)}
    for service in stack_module.ALWAYS_ON:
        assert (rows[service].state, rows[service].health) == ("running", "healthy"), service
    for service in stack_module.TRADING + stack_module.ONE_SHOT:
        assert rows[service].state == "not created", service
    shown = eco.run("status", check=False)
    status = shown.stdout
    assert all(line.split()[2:4] == ["running", "healthy"] for line in status.splitlines()
               if line.split()[:1] in (["mongo_db"], ["ib_gateway"], ["jupyter"]))
    assert shown.returncode == 1 and "the scheduler has never run" in status and "no good backup" in status, \
        "degraded (no scheduler, no backup yet): listed with what to do, and exit 1"
    assert "db_backup" not in status, "a profile-only service that is not created is hidden"
    assert "db_backup" in eco.run("status", "--all", check=False).stdout


def test_ports_are_published_only_on_the_bind_address(docker_client, eco):
    published = []
    for container in docker_client.containers.list(filters={"label": eco.test_stack.label}):
        for bindings in (container.attrs["NetworkSettings"]["Ports"] or {}).values():
            published += [(container.name, b["HostIp"], b["HostPort"]) for b in bindings or []]
    assert published, "the gateway and Jupyter publish ports"
    assert {ip for _, ip, _ in published} == {"127.0.0.1"}
    assert {int(port) for _, _, port in published} == {eco.settings.ib_api_port, eco.settings.vnc_port,
                                                        eco.settings.jupyter_port, eco.settings.status_page_port,
                                                        eco.settings.dashboard_port}


def test_the_gateway_answers_the_ib_api_handshake_on_its_published_port(eco):
    answer = handshake("127.0.0.1", eco.settings.ib_api_port, timeout=15)
    assert answer.server_version >= 100 and answer.accounts == ("DU1234567",)


def test_jupyter_refuses_a_request_without_its_token(eco):
    url = f"http://127.0.0.1:{eco.settings.jupyter_port}/api/contents"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(url, timeout=10)
    assert refused.value.code == 403
    token = (stack_module.secrets_dir(eco.settings) / "jupyter_token").read_text()
    request = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    assert urllib.request.urlopen(request, timeout=10).status == 200


def _in(container, command: str) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", "exec", container, "sh", "-c", command], capture_output=True, text=True)


def test_each_container_reads_the_secrets_it_needs_and_no_other(eco):
    suffix = eco.test_stack.suffix
    expected = {f"ib_gateway{suffix}": {"tws_userid", "tws_password", "vnc_password"},
                f"mongo_db{suffix}": {"mongo_root_password", "mongo_tools_config"},
                f"jupyter{suffix}": {"jupyter_token"}}
    for container, secrets in expected.items():
        assert _in(container, "id -u").stdout.strip() != "0", f"{container} runs as root"
        assert set(_in(container, "ls /run/secrets").stdout.split()) == secrets
        for name in secrets:
            assert _in(container, f"cat /run/secrets/{name} >/dev/null").returncode == 0, (container, name)
    assert _in(f"ib_gateway{suffix}", "cat /run/secrets/tws_password").stdout == TWS_PASSWORD
    assert _in(f"jupyter{suffix}", "cat /opt/private/private_config.yaml").stdout.count(PRIVATE) == 1
    folder = stack_module.secrets_dir(eco.settings)
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    assert {oct(p.stat().st_mode & 0o777) for p in folder.iterdir()} == {"0o400"}


def test_a_changed_secret_reaches_the_gateway_when_it_is_named_never_by_a_plain_up(docker_client, eco):
    """A new gateway container asks for a new 2FA login: `up` leaves a running one as it is and says
    the change waits; `up --services ib_gateway` applies it (issue 14)."""
    gateway = f"ib_gateway{eco.test_stack.suffix}"
    before = docker_client.containers.get(gateway).id
    eco.values["TWSPASSWORD"] = TWS_PASSWORD + "-rotated"
    eco.write_env()
    try:
        result = eco.run("up", "--timeout", "180")
        assert "ib_gateway: its credentials changed; left running" in result.stdout + result.stderr
        assert docker_client.containers.get(gateway).id == before, "a plain up never recreates a running gateway"
        named = eco.run("up", "--services", "ib_gateway", "--timeout", "180")
        assert "recreated ib_gateway" in eco.run("history", "--job", "up").stdout
        assert docker_client.containers.get(gateway).id != before
        assert _in(gateway, "cat /run/secrets/tws_password").stdout == TWS_PASSWORD + "-rotated"
        assert TWS_PASSWORD not in result.stdout + result.stderr + named.stdout + named.stderr
    finally:
        eco.values["TWSPASSWORD"] = TWS_PASSWORD
        eco.write_env()
        eco.run("up", "--services", "ib_gateway", "--timeout", "180")


def test_setup_makes_reports_a_clone_of_the_remote_and_can_run_again(eco, tmp_path):
    remote = tmp_path / "reports.git"
    seed = tmp_path / "seed"
    subprocess.run(["git", "init", "-q", "--bare", "--initial-branch=main", str(remote)], check=True)
    subprocess.run(["git", "clone", "-q", str(remote), str(seed)], check=True, capture_output=True)
    (seed / "Status_report").write_text("yesterday\n")
    git = ["git", "-C", str(seed), "-c", "user.name=t", "-c", "user.email=t@localhost"]
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "seed"], check=True)
    subprocess.run([*git, "push", "-q", "origin", "main"], check=True, capture_output=True)
    eco.values["REPORTS_REMOTE"] = f"file://{remote}"
    eco.write_env()
    try:
        first = eco.run("setup").stdout
        assert "cloned main of the reports remote" in first
        assert "already a clone" in eco.run("setup").stdout
        reports = eco.settings.reports_dir
        assert (reports / "Status_report").read_text() == "yesterday\n"
        status = subprocess.run(["git", "-c", f"safe.directory={reports}", "-C", str(reports), "status", "--porcelain"],
                                capture_output=True, text=True)  # reports/ belongs to the containers' user
        assert status.returncode == 0, status.stderr
        assert find_in_folder(reports / ".git", [GIT_TOKEN]) == []
    finally:
        del eco.values["REPORTS_REMOTE"]
        eco.write_env()


def test_no_secret_in_container_inspect_or_logs(docker_client, eco):
    for container in docker_client.containers.list(all=True, filters={"label": eco.test_stack.label}):
        assert not any(s in str(container.attrs) for s in SENTINELS), container.name
        assert not any(s in container.logs().decode(errors="replace") for s in SENTINELS), container.name
    logs = eco.run("logs", "ib_gateway").stdout
    assert "stand-in gateway" in logs and not any(s in logs for s in SENTINELS)


def test_two_ecosystems_run_side_by_side_without_touching_each_other(docker_client, eco, base_image,
                                                                    tmp_path_factory):
    other = make_ecosystem(docker_client, tmp_path_factory.mktemp("other"), base_image, shared_standins=eco.settings)
    try:
        other.run("build")
        other.run("setup")
        other.run("up", "--timeout", "180")
        mine = {c.name for c in docker_client.containers.list(filters={"label": eco.test_stack.label})}
        theirs = {c.name for c in docker_client.containers.list(filters={"label": other.test_stack.label})}
        assert len(mine) == len(theirs) == len(stack_module.ALWAYS_ON) and not mine & theirs
        other.run("down")
        assert {c.name for c in docker_client.containers.list(filters={"label": eco.test_stack.label})} == mine
        assert docker_client.containers.list(all=True, filters={"label": other.test_stack.label}) == []
        assert docker_client.volumes.get(f"mongo_data{eco.test_stack.suffix}")
    finally:
        other.run("down", check=False)
        remove_everything(docker_client, other.test_stack)
        assert leftovers(docker_client, other.test_stack) == []


def test_rollback_after_a_second_build_runs_the_previous_image(docker_client, eco):
    origin = Path(eco.values["PYSYSTEMTRADE_REPO_URL"].removeprefix("file://"))
    (origin / "SECOND_BUILD").write_text("second\n")
    git = ["git", "-C", str(origin), "-c", "user.name=t", "-c", "user.email=t@localhost"]
    subprocess.run([*git, "add", "SECOND_BUILD"], check=True)
    subprocess.run([*git, "commit", "-qm", "second"], check=True)
    repository = images.plan_build(eco.settings, "stack_handler")[0].repository
    first = docker_client.images.get(f"{repository}:current").id
    eco.run("build", "--service", "stack_handler")
    second = docker_client.images.get(f"{repository}:current").id
    assert second != first and docker_client.images.get(f"{repository}:previous").id == first

    def has_second_build() -> bool:
        out = docker_client.containers.run(f"{repository}:current", ["ls", eco.settings.pysys_code], remove=True)
        return "SECOND_BUILD" in out.decode()

    assert has_second_build()
    eco.run("rollback")
    assert docker_client.images.get(f"{repository}:current").id == first
    assert not has_second_build()
    context = Context(eco.settings, History(eco.settings.history_path), _client=docker_client)
    rows = {r.service: r for r in stack_module.service_states(context)}
    assert all(rows[s].state == "running" for s in stack_module.ALWAYS_ON)


def test_process_control_runs_pysystemtrades_api_in_a_one_off_container(docker_client, eco):
    settings = eco.settings
    project = stack_module.compose(settings)
    control = ProcessControl(compose_runner(project))
    assert control.record("run_systems").status == "GO"
    assert control.stop("run_systems").status == "STOP"
    declined = project.run_once("daily_processes", process_runs.command("run_systems"))
    assert "not starting: process_stop" in declined
    assert control.record("run_systems").status == "STOP", "STOP persists"
    control.go("run_systems")
    ran = project.run_once("daily_processes", process_runs.command("run_systems"))
    assert "finished" in ran and control.record("run_systems").last_end is not None
    assert docker_client.containers.list(all=True, filters={"label": "com.docker.compose.oneoff=True",
                                                            "name": eco.test_stack.suffix}) == []


PID_CHECK = ("import os, sys\ntry:\n    os.kill(int(sys.argv[1]), 0)\n    print('alive')\n"
             "except ProcessLookupError:\n    print('dead')\n")


def test_processes_in_separate_containers_share_one_log_server_and_see_each_others_pids(docker_client, eco):
    project = stack_module.compose(eco.settings)
    control = ProcessControl(compose_runner(project))
    handler = project.run_detached("stack_handler", name=f"stack_handler_test{eco.test_stack.suffix}",
                                   environment={"STANDIN_BEHAVIOUR": "*=hang"})
    try:
        for _ in range(60):
            record = control.record("run_stack_handler")
            if record.running and record.process_id:
                break
            time.sleep(0.5)
        assert record.running and record.process_id
        check = ["python3", "-c", PID_CHECK, str(record.process_id)]
        assert project.run_once("daily_processes", check).strip() == "alive", "one PID namespace"
        assert "finished" in project.run_once("capital_update", process_runs.command("run_capital_update"))
        log = project.run_once("daily_processes", ["cat", stack_module.LOG_FILE])
        assert " run_stack_handler starting (stand-in" in log and " run_capital_update finished" in log
        shown = eco.run("logs", "run_capital_update").stdout
        assert "run_capital_update" in shown and "run_stack_handler" not in shown
        docker_client.containers.get(handler).kill()
        assert project.run_once("daily_processes", check).strip() == "dead"
        assert control.record("run_stack_handler").running, "a killed process leaves its record running"
        assert control.finish("run_stack_handler").running is False
    finally:
        from docker.errors import APIError

        try:
            docker_client.containers.get(handler).remove(force=True)
        except APIError:
            pass  # it is gone already


def _launch(eco, service, behaviour, tag):
    project = stack_module.compose(eco.settings)
    name = project.run_detached(service, name=f"{service}_{tag}{eco.test_stack.suffix}",
                                environment={"STANDIN_BEHAVIOUR": f"*={behaviour}"})
    control = ProcessControl(compose_runner(project))
    process = "run_" + service
    for _ in range(60):
        if control.record(process).running:
            return name, control
        time.sleep(0.5)
    raise AssertionError(f"{process} did not start")


def test_graceful_stop_ends_a_process_through_stop_and_sets_go_again(docker_client, eco):
    name, control = _launch(eco, "stack_handler", "hang", "graceful")
    result = eco.run("stop", "--process", "run_stack_handler")
    assert "ended by STOP" in result.stdout
    names = {c.name for c in docker_client.containers.list(all=True)}
    state = docker_client.api.inspect_container(name)["State"] if name in names else None
    assert state is None or state["ExitCode"] == 0, "no signal: it exited by itself"
    assert control.record("run_stack_handler").status == "GO", "STOP must not persist"
    again = stack_module.compose(eco.settings).run_once("stack_handler", process_runs.command("run_stack_handler"))
    assert "not starting" not in again and "finished" in again
    docker_client.containers.get(name).remove(force=True)


def test_a_process_deaf_to_stop_and_sigterm_ends_by_sigkill_and_the_history_says_so(docker_client, eco):
    name, control = _launch(eco, "capital_update", "stuck", "stuck")
    eco.values["STOP_GRACE_SECONDS"] = "2"
    eco.write_env()
    try:
        result = eco.run("stop", "--all", check=False)
        assert "run_capital_update" in result.stdout and "ended by SIGKILL" in result.stdout
        assert docker_client.api.inspect_container(name)["State"]["Running"] is False
        record = control.record("run_capital_update")
        assert record.status == "GO" and not record.running
        history = eco.run("history", "--job", "stop").stdout
        assert "ended by SIGKILL" in history and "did not run" in history
    finally:
        eco.values["STOP_GRACE_SECONDS"] = "20"
        eco.write_env()
        docker_client.containers.get(name).remove(force=True)


def test_startup_ran_once_on_the_cold_up_only(eco):
    eco.run("up", "--timeout", "180")  # warm: the runtime is already running
    rows = [line.split() for line in eco.run("history", "--job", "startup").stdout.splitlines()[2:]]
    assert [row[4] for row in rows] == ["ok"], rows


def test_startup_never_runs_while_a_process_runs(docker_client, eco):
    name, control = _launch(eco, "stack_handler", "hang", "nostartup")
    history_file = eco.settings.history_path
    kept = history_file.read_text()
    try:  # forget the startups, as if the runtime had just started: up must still not run one
        history_file.write_text("".join(line + "\n" for line in kept.splitlines() if '"job":"startup"' not in line))
        eco.run("up", "--timeout", "180")
        rows = [line.split() for line in eco.run("history", "--job", "startup").stdout.splitlines()[2:]]
        assert [row[4] for row in rows] == ["skipped"], rows
        assert control.record("run_stack_handler").running, "the running process's record is untouched"
    finally:
        control.stop("run_stack_handler")
        docker_client.api.wait(name, timeout=60)
        control.go("run_stack_handler")
        docker_client.containers.get(name).remove(force=True)
        history_file.write_text(kept)


def test_shell_runs_in_the_shared_namespaces_and_sees_the_running_processes(docker_client, eco):
    name, control = _launch(eco, "stack_handler", "hang", "shell")
    try:
        out = eco.run("shell", "--command", "ps -eo args; echo PRIVATE=$PYSYS_PRIVATE_CONFIG_DIR").stdout
        assert "sysproduction.run_stack_handler" in out and "syslogging.server" in out
        assert "PRIVATE=/opt/private" in out
    finally:
        control.stop("run_stack_handler")
        docker_client.api.wait(name, timeout=60)
        control.go("run_stack_handler")
        docker_client.containers.get(name).remove(force=True)


def test_gateway_login_checks_the_account_and_status_says_logged_in(eco):
    set_broker_account(eco, "DU1234567")  # the stand-in gateway's account
    try:
        result = eco.run("gateway.login", "--timeout", "60")
        assert "logged in to DU*****67 (paper)" in result.stdout
        assert "gateway: logged in" in eco.run("gateway.status").stdout
        set_broker_account(eco, "DU9999999")
        wrong = eco.run("gateway.login", "--timeout", "60", check=False)
        assert wrong.returncode == 1 and "not to broker_account DU*****99" in wrong.stderr
        assert "DU9999999" not in wrong.stdout + wrong.stderr and TWS_PASSWORD not in wrong.stderr
        assert "failed" in eco.run("history", "--job", "gateway").stdout
    finally:
        set_broker_account(eco, PRIVATE)


def test_gateway_status_of_a_stopped_gateway_is_down_and_a_failure(docker_client, eco):
    gateway = docker_client.containers.get(f"ib_gateway{eco.test_stack.suffix}")
    gateway.stop(timeout=10)
    try:
        result = eco.run("gateway.status", check=False)
        assert result.returncode == 1 and "gateway: down" in result.stderr
    finally:
        eco.run("up", "--timeout", "180")


def test_down_leaves_no_container_and_no_trading_or_one_shot_container_ever_started(docker_client, eco):
    eco.run("down")
    assert docker_client.containers.list(all=True, filters={"label": eco.test_stack.label}) == []
    time.sleep(1)  # let the event stream catch up
    created = set(eco.created.services)
    assert created and created <= set(stack_module.ALWAYS_ON), created
    assert set(eco.created.one_offs) <= {"daily_processes", "stack_handler", "capital_update"}
    assert docker_client.volumes.get(f"mongo_data{eco.test_stack.suffix}"), "down keeps the data volumes"


def test_up_that_fails_names_the_service_and_shows_its_last_log_lines(docker_client, eco, busybox):
    eco.values["MONGO_IMAGE"] = busybox  # a "database" that exits at once: no mongosh, no server
    eco.write_env()
    try:
        result = eco.run("up", "--timeout", "60", check=False)
        assert result.returncode == 1
        assert re.search(r"service mongo_db is (exited|restarting)", result.stderr) and "fix:" in result.stderr
        assert not any(s in result.stdout + result.stderr for s in SENTINELS)
        rows = [line.split() for line in eco.run("history", "--job", "up").stdout.splitlines()[2:]]
        assert [row[4] for row in rows].count("failed") == 1  # start (3 words), job, outcome
    finally:
        eco.run("down", check=False)
