"""The stand-in pysystemtrade repository: upstream's layout, and processes that behave as upstream's do.

Not in the unit suite: these test the test kit, with real processes and real waits; scripts/test.sh
runs them with everything else.

Every process is launched as the ecosystem launches it, ``bash $SCRIPT_PATH/run_X`` with
SCRIPT_PATH on PATH (the launchers are mode 0644, as upstream's), with a HOME that has no
``.profile``, a process store in tmp and a short poll (STANDIN_POLL_SECONDS).
"""
from __future__ import annotations

import datetime
import json
import os
import pickle
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from standins.pysystemtrade_repo import PROCESSES, SCRIPTS, TOOLS, make_repo

POLL = 0.1


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    return make_repo(tmp_path_factory.mktemp("standin") / "repo", private_sentinel="ACCOUNT-X")


@pytest.fixture
def private(tmp_path):
    folder = tmp_path / "private"
    folder.mkdir()
    (folder / "private_config.yaml").write_text(f"backtest_store_directory: {tmp_path / 'backtests'}\n"
                                                f"reporting_directory: {tmp_path / 'reports'}\n")
    return folder


@pytest.fixture
def env(repo, tmp_path, private):
    home = tmp_path / "home"  # no .profile: the launchers must run without one
    home.mkdir()
    scripts = repo / SCRIPTS
    inherited = {k: v for k, v in os.environ.items()
                 if k not in ("PYSYS_LOGGING_CONFIG", "STANDIN_BEHAVIOUR", "STANDIN_SECONDS", "PYSYS_CODE")}
    python = Path(sys.executable).parent  # p runs `python3`: this one, not a slower shim further down PATH
    return {**inherited, "HOME": str(home), "SCRIPT_PATH": str(scripts),
            "PATH": f"{scripts}:{python}:{os.environ['PATH']}",
            "PYTHONPATH": str(repo), "PYSYS_PRIVATE_CONFIG_DIR": str(private),
            "STANDIN_PROCESS_STORE": str(tmp_path / "store.json"), "STANDIN_SECONDS": "0",
            "STANDIN_POLL_SECONDS": str(POLL)}


def launch(repo, env, name, behaviour="*=run", **extra):
    """Run launcher ``name`` as the ecosystem does: ``bash $SCRIPT_PATH/name``, in its own process group."""
    return subprocess.Popen(["bash", str(repo / SCRIPTS / name)], cwd=env["HOME"],
                            env={**env, "STANDIN_BEHAVIOUR": behaviour, **extra}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)


def finish(process, timeout=30):
    output = process.communicate(timeout=timeout)[0]
    return process.returncode, output


def api(env, code, *args):
    """Run ``code`` against the stand-in's own API (as the ecosystem's process control does); return its last line."""
    result = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""


RECORD = ("import json, sys\nfrom sysproduction.data.control_process import diagControlProcess\n"
          "print(json.dumps(diagControlProcess().get_control_for_process_name(sys.argv[1]).as_dict(), default=str))")
STATUS = ("import sys\nfrom sysproduction.data.control_process import dataControlProcess\n"
          "getattr(dataControlProcess(), 'change_status_to_' + sys.argv[1])(sys.argv[2])")


def record(env, name):
    return json.loads(api(env, RECORD, name))


def set_status(env, status, name):
    api(env, STATUS, status, name)


def wait_for(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def alive(pid):
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


# --- layout ---------------------------------------------------------------------------------

def test_layout_matches_upstream(repo):
    listed = subprocess.run(["git", "-C", str(repo), "ls-files", "-s", SCRIPTS], capture_output=True, text=True,
                            check=True).stdout.splitlines()
    modes = {line.split("\t")[1].rpartition("/")[2]: line.split()[0] for line in listed}
    assert set(PROCESSES + TOOLS) | {"p", "run.py"} <= set(modes)
    assert set(modes.values()) == {"100644"}, "upstream keeps every launcher 0644 in git"
    for name in PROCESSES + TOOLS:
        launcher = repo / SCRIPTS / name
        assert not os.access(launcher, os.X_OK) and launcher.stat().st_mode & 0o777 == 0o644
        assert launcher.read_text() == f"#!/bin/bash\n. ~/.profile\n. p sysproduction.{name}.{name}"
    for name in PROCESSES:
        assert f"def {name}():" in (repo / "sysproduction" / f"{name}.py").read_text()
    assert (repo / SCRIPTS / "p").read_text().splitlines()[-2:] == [". ~/.profile", "python3 $SCRIPT_PATH/run.py $1"]
    assert "process_configuration_start_time" in (repo / "syscontrol" / "control_config.yaml").read_text()
    assert subprocess.run(["git", "-C", str(repo), "status", "--porcelain"], capture_output=True,
                          text=True).stdout == ""


def test_the_private_config_points_every_path_into_the_volumes(repo):
    lines = set((repo / "private" / "private_config.yaml").read_text().splitlines())
    assert {"parquet_store: /data/parquet", "backtest_store_directory: /data/backtests",
            "csv_backup_directory: /data/backup/csv", "mongo_dump_directory: /data/backup/mongo_dump",
            "offsystem_backup_directory: /data/backup/offsystem", "echo_directory: /data/logs/echos",
            "reporting_directory: /data/reports", "mongo_host: mongodb://mongo_db", "ib_ipaddress: ib_gateway",
            "broker_account: 'ACCOUNT-X'"} <= lines


def test_a_launcher_runs_through_bash_without_a_profile_and_a_direct_exec_is_refused(repo, env):
    code, output = finish(launch(repo, env, "run_systems"))
    assert code == 0 and ".profile: No such file or directory" in output and "finished (stand-in)" in output
    with pytest.raises(PermissionError):
        subprocess.run([str(repo / SCRIPTS / "run_systems")], env=env)


def test_run_py_needs_a_module_and_a_function(repo, env):
    result = subprocess.run([sys.executable, str(repo / SCRIPTS / "run.py"), "run_systems"], env=env,
                            capture_output=True, text=True)
    assert result.returncode == 1 and "should include filename as well as function" in result.stderr


# --- behaviours -----------------------------------------------------------------------------

@pytest.mark.parametrize("behaviour,code", [("run", 0), ("fail", 1), ("wait:0.3", 0)])
def test_processes_run_fail_and_wait(repo, env, behaviour, code):
    started = time.monotonic()
    assert finish(launch(repo, env, "run_systems", f"run_systems={behaviour}"))[0] == code
    assert record(env, "run_systems")["currently_running"] is (behaviour == "fail"), "a crash leaves it running"
    if behaviour.startswith("wait:"):
        assert time.monotonic() - started >= 0.3


def test_the_price_update_launcher_runs_pysystemtrades_process_name(repo, env):
    assert finish(launch(repo, env, "run_daily_price_updates"))[0] == 0
    assert record(env, "run_daily_prices_updates")["last_end_time"] is not None


def test_report_behaviour_writes_a_report(repo, env, tmp_path):
    assert finish(launch(repo, env, "run_reports", "*=report"))[0] == 0
    assert (tmp_path / "reports" / "run_reports_report.txt").exists()


def test_backtests_are_stored_as_upstream_names_them_and_read_back(repo, env, tmp_path, private):
    code, output = finish(launch(repo, env, "run_strategy_order_generator", "*=read_backtest"))
    assert code == 1 and "no backtest in" in output and "run_systems writes them" in output
    assert finish(launch(repo, env, "run_systems", "*=backtest"))[0] == 0
    (stored,) = (tmp_path / "backtests" / "default_strategy").glob("*_backtest.pck")
    datetime.datetime.strptime(stored.name[:-len("_backtest.pck")], "%Y%m%d_%H%M%S")
    assert pickle.loads(stored.read_bytes())["process"] == "run_systems"
    assert stored.with_name(stored.name.replace("_backtest.pck", "_config.yaml")).exists()
    (private / "private_control_config.yaml").write_text(
        "process_configuration_methods:\n  run_systems:\n    my_strategy:\n      max_executions: 1\n")
    assert finish(launch(repo, env, "run_systems", "*=backtest"))[0] == 0
    (newest,) = (tmp_path / "backtests" / "my_strategy").glob("*_backtest.pck")
    code, output = finish(launch(repo, env, "run_reports", "*=read_backtest"))
    assert code == 0 and f"read backtest {newest}" in output


def test_hang_ends_on_sigterm_but_ignore_sigterm_does_not(repo, env):
    hanging = launch(repo, env, "run_stack_handler", "run_stack_handler=hang")
    stubborn = launch(repo, env, "run_capital_update", "run_capital_update=ignore_sigterm")
    assert wait_for(lambda: record(env, "run_stack_handler")["currently_running"]
                    and record(env, "run_capital_update")["currently_running"])
    hanging_pid, stubborn_pid = (record(env, name)["process_id"] for name in ("run_stack_handler",
                                                                                 "run_capital_update"))
    for launched in (hanging, stubborn):  # as pysys-launch and a shell's kill reach them: the whole group
        os.killpg(launched.pid, signal.SIGTERM)
    assert hanging.wait(timeout=10) == -signal.SIGTERM
    assert wait_for(lambda: not alive(hanging_pid))
    time.sleep(0.5)
    assert alive(stubborn_pid), "SIGTERM ignored"
    os.killpg(stubborn.pid, signal.SIGKILL)
    stubborn.wait()
    assert wait_for(lambda: not alive(stubborn_pid))


# --- process control as upstream's ----------------------------------------------------------

def test_stop_declines_with_exit_0_and_the_record_unchanged(repo, env):
    set_status(env, "stop", "run_systems")
    before = record(env, "run_systems")
    code, output = finish(launch(repo, env, "run_systems"))
    assert code == 0 and "not starting: process_stop" in output
    assert record(env, "run_systems") == before and before["last_start_time"] is None


def test_a_record_marked_running_declines(repo, env):
    assert finish(launch(repo, env, "run_systems", "*=fail"))[0] == 1
    before = record(env, "run_systems")
    code, output = finish(launch(repo, env, "run_systems"))
    assert code == 0 and "not starting: process_running" in output and record(env, "run_systems") == before


def test_no_run_waits_then_starts_on_go(repo, env):
    set_status(env, "no_run", "run_systems")
    process = launch(repo, env, "run_systems")
    time.sleep(5 * POLL)
    assert process.poll() is None, "NO-RUN waits (upstream's 60 s loop), it does not exit"
    assert record(env, "run_systems")["last_start_time"] is None
    set_status(env, "go", "run_systems")
    code, output = finish(process)
    assert code == 0 and "waiting to start: process_no_run" in output and "finished (stand-in)" in output
    assert record(env, "run_systems")["last_end_time"] is not None


def test_no_run_waits_then_gives_up_on_stop(repo, env):
    set_status(env, "no_run", "run_cleaners")
    process = launch(repo, env, "run_cleaners", f"poll={POLL};*=run", STANDIN_POLL_SECONDS="")  # poll from the spec
    time.sleep(5 * POLL)
    assert process.poll() is None
    set_status(env, "stop", "run_cleaners")
    code, output = finish(process)
    assert code == 0 and "not starting: process_stop" in output
    assert record(env, "run_cleaners")["last_start_time"] is None


def test_pause_starts_but_holds_the_work_until_go(repo, env):
    set_status(env, "pause", "run_systems")
    process = launch(repo, env, "run_systems")
    assert wait_for(lambda: record(env, "run_systems")["currently_running"])
    time.sleep(3 * POLL)
    assert process.poll() is None, "PAUSE skips the methods: a one-shot process does not finish"
    set_status(env, "go", "run_systems")
    code, output = finish(process)
    assert code == 0 and "Paused running methods" in output and record(env, "run_systems")["last_end_time"]


def test_a_launch_past_the_stop_time_declines(repo, env, private):
    (private / "private_control_config.yaml").write_text(
        "process_configuration_start_time:\n  run_systems: '00:00'\n"
        "process_configuration_stop_time:\n  run_systems: '00:00'\n")
    code, output = finish(launch(repo, env, "run_systems"))
    assert code == 0 and "not starting: past its stop time 00:00" in output
    assert record(env, "run_systems")["last_start_time"] is None


FAST_CLOCK = """
import datetime, sys
import sysproduction.data.control_process as control
start = datetime.datetime.now()
control.now = lambda: start + (datetime.datetime.now() - start) * 120  # two minutes a second
from sysproduction.run_stack_handler import run_stack_handler
run_stack_handler()
"""


def test_a_running_process_finishes_at_its_stop_time(env, private):
    now = datetime.datetime.now()
    stop = (now + datetime.timedelta(minutes=2)).replace(second=0, microsecond=0)
    if stop.date() != now.date():
        pytest.skip("the stop time would fall after midnight")
    (private / "private_control_config.yaml").write_text(
        f"process_configuration_stop_time:\n  run_stack_handler: '{stop:%H:%M}'\n")
    result = subprocess.run([sys.executable, "-c", FAST_CLOCK], env={**env, "STANDIN_BEHAVIOUR": "*=hang"},
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert f"Passed finish time of process ({stop:%H:%M}): finishing cleanly" in result.stdout
    assert record(env, "run_stack_handler")["currently_running"] is False


FINISH = """
import json
from sysobjects.production.process_control import processNotRunning
from sysproduction.data.control_process import dataControlProcess, diagControlProcess
control = dataControlProcess()
try:
    control.finish_process("run_cleaners")
    raised = False
except processNotRunning:
    raised = True
control.start_process("run_systems")
control.finish_all_processes()
print(json.dumps({"raised": raised, "record": diagControlProcess().get_control_for_process_name("run_cleaners").as_dict(),
                  "systems": diagControlProcess().get_control_for_process_name("run_systems").as_dict()}, default=str))
"""  # noqa: E501 - the script is run as it is written: its long lines stay


def test_finish_process_on_a_record_not_running_raises_and_finish_all_skips_it(env):
    answer = json.loads(api(env, FINISH))
    assert answer["raised"], "upstream's finish_process raises processNotRunning"
    assert answer["record"] == {"last_start_time": None, "last_end_time": None, "status": "GO",
                                "currently_running": False, "process_id": 0, "running_methods": {},
                                "recently_crashed": False}
    systems = answer["systems"]
    assert systems["currently_running"] is False and systems["last_end_time"] and systems["process_id"] == 0
    assert finish_startup(env)["processes"]["run_systems"]["currently_running"] is False


def finish_startup(env):
    subprocess.run(["bash", str(Path(env["SCRIPT_PATH"]) / "startup")], env=env, capture_output=True, check=True,
                   timeout=30)
    return json.loads(Path(env["STANDIN_PROCESS_STORE"]).read_text())


# --- logging as upstream's ------------------------------------------------------------------

def free_port():
    with socket.socket() as probe:
        probe.bind(("localhost", 0))
        return probe.getsockname()[1]


def test_prod_logging_reaches_the_log_server(repo, env, tmp_path):
    port, log_file = free_port(), tmp_path / "pysystemtrade.log"
    server = subprocess.Popen([sys.executable, "-m", "syslogging.server", "--port", str(port), "--file", str(log_file)],
                              cwd=repo, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def listening():
            try:
                socket.create_connection(("localhost", port), timeout=1).close()
                return True
            except OSError:
                return False
        assert wait_for(listening)
        config = tmp_path / "logging.yaml"
        config.write_text("version: 1\nhandlers:\n  console:\n    class: logging.StreamHandler\n"
                          "  socket:\n    class: logging.handlers.SocketHandler\n"
                          f"    host: localhost\n    port: {port}\n"
                          "root:\n  handlers:\n    - console\n    - socket\n")
        code, output = finish(launch(repo, env, "run_systems", PYSYS_LOGGING_CONFIG=str(config)))
        assert code == 0 and f"Attempting to configure prod logging from {config}" in output
        assert f"Log server detected OK at localhost:{port}" in output and "Configuring sim logging" not in output
        assert wait_for(lambda: log_file.exists() and " run_systems finished (stand-in)" in log_file.read_text())
        assert " INFO run_systems starting (stand-in, pid " in log_file.read_text()
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_sim_logging_without_the_variable_and_as_the_fallback(repo, env, tmp_path):
    code, output = finish(launch(repo, env, "run_systems"))
    assert code == 0 and output.count("Configuring sim logging") == 1 and "prod logging" not in output
    config = tmp_path / "logging.yaml"
    config.write_text(f"handlers:\n  socket:\n    host: localhost\n    port: {free_port()}\n")
    code, output = finish(launch(repo, env, "run_systems", PYSYS_LOGGING_CONFIG=str(config)))
    assert code == 0 and "ERROR: Problem configuring prod logging, reverting to sim: " in output
    assert "Configuring sim logging" in output and "finished (stand-in)" in output
    code, output = finish(launch(repo, env, "run_systems", PYSYS_LOGGING_CONFIG=str(tmp_path / "missing.yaml")))
    assert code == 0 and (f"ERROR: prod logging config '{tmp_path / 'missing.yaml'}' not found, "
                          "reverting to sim") in output
