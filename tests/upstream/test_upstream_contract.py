"""The contract with upstream pysystemtrade's own code (PYSYSTEMTRADE_UPSTREAM, see conftest.py).

Built with `invoke build` as a trader's repository on the local Debian base, then every process of
the default plan and the evening chain is started through the ecosystem's own launch path. No
MongoDB server can run here (the MongoDB service is the stand-in, which speaks no wire protocol),
so each test asserts on the point reached and the error seen: pymongo's ServerSelectionTimeoutError
after upstream's own start-up, never success.
"""
from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, time

import pytest

from ecosystem import plan as planning
from ecosystem import process_runs, processes, stack, trading_day
from ecosystem.errors import EcosystemError
from ecosystem.process_control import ProcessControl, exec_runner
from tests.support.ecosystem import make_ecosystem, tear_down
from tests.upstream.conftest import HOW

if not os.environ.get("PYSYSTEMTRADE_UPSTREAM", "").strip():
    pytest.skip(HOW, allow_module_level=True)  # one line, saying how to run them

MONGO_ERROR = "ServerSelectionTimeoutError"
PROCESS_WAIT = 20 * 60  # upstream retries its connections: a process takes minutes to give up here


@pytest.fixture(scope="module")
def live(docker_client, debian_python, upstream, tmp_path_factory):
    made = make_ecosystem(docker_client, tmp_path_factory.mktemp("upstream"), debian_python, origin=upstream["url"],
                          extra={"PYSYSTEMTRADE_BRANCH": upstream["branch"], "TIMEZONE": "UTC"})
    try:
        made.run("build", timeout=3600)
        made.run("setup")
        made.up = made.run("up", check=False, timeout=1200)  # its cold start reaches MongoDB and fails there
        yield made
    finally:
        tear_down(docker_client, made)


def test_the_image_builds_from_upstreams_own_dependency_files(live, docker_client, upstream):
    print(f"upstream commit {upstream['commit']}")
    image = docker_client.images.get(f"pysystemtrade{live.settings.name_suffix}:current")
    built = docker_client.containers.run(image.id, ["python3", "-c", "import pandas, pymongo, psutil, yaml; "
                                                    "print(pymongo.version, psutil.__version__, yaml.__version__)"],
                                         remove=True, entrypoint=[]).decode()
    pins = (live.settings.pysystemtrade_clone_dir / "requirements.txt").read_text()
    for name, version in zip(("pymongo", "psutil", "pyyaml"), built.split(), strict=True):
        pinned = re.search(rf"^{name}==(\S+)", pins, re.MULTILINE | re.IGNORECASE)
        if pinned:
            assert version == pinned.group(1), f"{name} {version} installed, {pinned.group(0)} pinned"
    # nothing of the builder stage (the compiler) is left in the image
    assert docker_client.containers.run(image.id, ["sh", "-c", "command -v gcc || echo none"], remove=True,
                                        entrypoint=[]).decode().strip() == "none"
    print(f"image size {image.attrs['Size'] / 1e9:.2f} GB")


def test_setups_starter_private_config_is_what_doctor_accepts(live):
    from ecosystem import pysys_config

    config = pysys_config.private_config(live.settings)
    assert config["backtest_store_directory"] == "/data/backtests"
    assert all(verdict.ok for verdict in pysys_config.review(live.settings, config))


def test_upstreams_control_config_parses_into_todays_plan(live):
    steps = {s.process: s for s in planning.plan_for(live.settings, date.today())}
    assert steps["run_stack_handler"].kind == "continuous" and steps["run_capital_update"].kind == "continuous"
    assert steps["run_stack_handler"].window_start.astimezone(UTC).time() == time(0, 1)
    assert steps["run_stack_handler"].window_stop.astimezone(UTC).time() == time(19, 45)
    assert steps["run_systems"].window_start.astimezone(UTC).time() == time(20, 5)
    assert set(live.settings.eod_chain) <= set(steps)


def test_cold_start_reaches_mongodb(live):
    output = live.up.stdout + live.up.stderr
    assert live.up.returncode == 1 and "could not reach MongoDB" in output and MONGO_ERROR in output, output


def test_every_process_of_the_plan_and_chain_starts_and_reaches_mongodb(live, docker_client):
    s = live.settings
    project = stack.compose(s)
    plan = planning.plan_for(s, date.today())
    names = {}
    for step in plan:  # launched together: each waits on its own connection timeouts
        name = process_runs.container_name(step.process, s.name_suffix, unique=True)
        process_runs.launch(project, service=trading_day.SERVICES.get(step.process, "daily_processes"),
                            process=step.process, launcher=step.launcher, name=name, job="contract", slot="",
                            kind=step.kind, deadline=None)
        names[step.process] = name
    outputs = {}
    for process, name in names.items():
        code = processes.wait_exit(docker_client, name, PROCESS_WAIT)
        outputs[process] = (code, docker_client.api.logs(name).decode("utf-8", "replace"))
        process_runs.remove(docker_client, name)
    for process, (code, output) in outputs.items():
        print(f"{process}: exit {code}, {len(output.splitlines())} lines, "
              f"{'reached MongoDB' if MONGO_ERROR in output else 'DID NOT reach MongoDB'}")
    for process, (code, output) in outputs.items():
        assert "executable file not found" not in output and "No such file" not in output.split(MONGO_ERROR)[0], output
        assert "Attempting to configure prod logging from /opt/ecosystem/etc/logging_prod.yaml" in output, output
        assert "reverting to sim" not in output, output
        assert code != 0 and MONGO_ERROR in output, f"{process} exited {code}:\n{output[-3000:]}"
    live.outputs = outputs


def test_the_log_server_holds_records_of_a_real_upstream_process(live):
    if not getattr(live, "outputs", None):
        pytest.skip("needs the processes' run above")
    shown = live.run("logs", "run_stack_handler")
    assert re.search(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \w+ stack_handler ", shown.stdout, re.MULTILINE), shown.stdout


def test_a_crashed_processs_whole_output_outlives_its_container(live):
    if not getattr(live, "outputs", None):
        pytest.skip("needs the processes' run above")
    kept = live.run("logs", "run_systems", "--run", "list").stdout
    assert "run_systems" in kept and re.search(r"\s1\s", kept), kept
    whole = live.run("logs", "run_systems", "--run", "last").stdout
    assert MONGO_ERROR in whole and "exit code 1" in whole.splitlines()[-1], whole[-2000:]


def test_every_process_control_operation_reaches_mongodb(live, docker_client):
    s = live.settings
    control = ProcessControl(exec_runner(docker_client, stack.runtime_container(s)))
    operations = {"record": lambda: control.record("run_systems"), "records": control.records,
                  "stop": lambda: control.stop("run_systems"), "go": lambda: control.go("run_systems"),
                  "no_run": lambda: control.no_run("run_systems"), "pause": lambda: control.pause("run_systems"),
                  "finish": lambda: control.finish("run_systems"), "startup": control.startup}

    def attempt(call):
        try:
            call()
        except EcosystemError as exc:
            return exc.message
        return "succeeded"

    with ThreadPoolExecutor(len(operations)) as pool:
        said = dict(zip(operations, pool.map(attempt, operations.values()), strict=True))
    for operation, message in said.items():
        print(f"{operation}: {message}")
    assert all(f"could not reach MongoDB ({MONGO_ERROR})" in m for m in said.values()), said


def test_the_csv_backup_entry_point_imports(live, docker_client):
    from ecosystem.backup_job import CSV_PROGRAM

    importing = CSV_PROGRAM.split(";")[0]
    out = stack.compose(live.settings).run_once("csv_backup", ["python3", "-c", f"{importing}; print('imported')"],
                                                timeout=600)
    assert "imported" in out


def test_upstreams_reporting_api_imports_with_the_pinned_statsmodels(live):
    """run_reports and the dashboard import sysproduction/reporting/api.py, which imports statsmodels'
    formula API: with scipy 1.16 and pysystemtrade's statsmodels==0.14.0 that import fails
    (build-constraints.txt keeps scipy below 1.16)."""
    program = "import sysproduction.reporting.api, scipy; print('imported', scipy.__version__)"
    out = stack.compose(live.settings).run_once("daily_processes", ["python3", "-c", program], timeout=600)
    assert "imported" in out, out


def test_upstreams_own_dashboard_runs_on_demand_in_the_shared_namespaces(live, docker_client):
    import urllib.error
    import urllib.request

    started = live.run("up", "--services", "dashboard", check=False, timeout=900)
    # up's cold start after the services are healthy reaches MongoDB and fails there, as in `live`
    assert started.returncode == 0 or MONGO_ERROR in started.stdout + started.stderr, started.stderr
    try:
        base = f"http://127.0.0.1:{live.settings.dashboard_port}"
        with urllib.request.urlopen(f"{base}/static/css/styles.css", timeout=30) as answer:
            assert answer.status == 200, "upstream's Flask app imported and serves through pysys_runtime's port"
        try:
            urllib.request.urlopen(f"{base}/", timeout=120).close()
        except urllib.error.HTTPError as exc:  # its pages read MongoDB, which cannot run here
            assert exc.code == 500, exc
        dashboard = docker_client.containers.get(f"dashboard{live.test_stack.suffix}")
        assert dashboard.attrs["HostConfig"]["PidMode"].startswith("container:"), "it sees the processes' PIDs"
    finally:
        stack.compose(live.settings).stop(["dashboard"], timeout=10)
