"""The process-control adapter's program, run against the stand-in repository's API as a plain process."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ecosystem.errors import CommandFailed
from ecosystem.process_control import ProcessControl, ProcessControlError, ProcessRecord
from standins.pysystemtrade_repo import SCRIPTS, make_repo


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    return make_repo(tmp_path_factory.mktemp("pc") / "repo")


@pytest.fixture
def env(repo, tmp_path):
    scripts = repo / SCRIPTS  # the launchers are 0644, as upstream's: run with bash, SCRIPT_PATH on PATH
    return {**os.environ, "PYTHONPATH": str(repo), "PYSYS_CODE": str(repo), "HOME": str(tmp_path),
            "SCRIPT_PATH": str(scripts), "PATH": f"{scripts}:{os.path.dirname(sys.executable)}:{os.environ['PATH']}",
            "PYSYS_PRIVATE_CONFIG_DIR": str(repo / "private"), "STANDIN_PROCESS_STORE": str(tmp_path / "pc.json"),
            "STANDIN_SECONDS": "0", "STANDIN_POLL_SECONDS": "0.1"}


@pytest.fixture
def control(env):
    def run(argv):
        result = subprocess.run([sys.executable if argv[0] == "python3" else argv[0], *argv[1:]], env=env,
                                capture_output=True, text=True, timeout=60)
        if result.returncode:
            raise CommandFailed(f"exit {result.returncode}: {result.stderr[-300:]}", returncode=result.returncode)
        return result.stdout
    return ProcessControl(run)


def launch(repo, env, name, behaviour="run"):
    return subprocess.Popen(["bash", str(repo / SCRIPTS / name)], cwd=repo,
                            env=env | {"STANDIN_BEHAVIOUR": f"*={behaviour}"}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def test_a_fresh_record_is_go_and_not_running(control):
    record = control.record("run_systems")
    assert (record.status, record.running, record.last_start) == ("GO", False, None)


def test_stop_persists_and_makes_a_launch_decline_with_exit_0(control, repo, env):
    assert control.stop("run_systems").status == "STOP"
    process = launch(repo, env, "run_systems")
    output = process.communicate(timeout=30)[0]
    assert process.returncode == 0 and "not starting: process_stop" in output
    assert control.record("run_systems").last_start is None, "a declined process never started"
    assert control.go("run_systems").status == "GO"
    process = launch(repo, env, "run_systems")
    assert process.wait(timeout=30) == 0 and control.record("run_systems").last_end is not None


def test_no_run_waits_until_the_status_changes(control, repo, env):
    control.no_run("run_cleaners")
    process = launch(repo, env, "run_cleaners")
    with pytest.raises(subprocess.TimeoutExpired):
        process.wait(timeout=0.5)
    control.stop("run_cleaners")
    output = process.communicate(timeout=30)[0]
    assert process.returncode == 0 and "waiting to start: process_no_run" in output
    assert "not starting: process_stop" in output and control.record("run_cleaners").last_start is None


def test_a_crash_leaves_running_and_finish_clears_only_that_record(control, repo, env):
    assert launch(repo, env, "run_capital_update", "fail").wait(timeout=30) == 1
    assert launch(repo, env, "run_stack_handler", "fail").wait(timeout=30) == 1
    assert control.record("run_capital_update").running
    output = launch(repo, env, "run_capital_update").communicate(timeout=30)[0]
    assert "not starting: process_running" in output
    assert control.finish("run_capital_update").running is False
    assert control.record("run_stack_handler").running, "finish touches only the named process"


def test_a_hanging_process_finishes_cleanly_on_stop(control, repo, env):
    process = launch(repo, env, "run_stack_handler", "hang")
    for _ in range(100):
        if control.record("run_stack_handler").running:
            break
    control.stop("run_stack_handler")
    output = process.communicate(timeout=30)[0]
    assert process.returncode == 0 and "status is STOP: finishing cleanly" in output
    assert control.record("run_stack_handler").running is False


def test_startup_marks_every_process_finished(control, repo, env):
    for name in ("run_stack_handler", "run_capital_update"):
        launch(repo, env, name, "fail").wait(timeout=30)
    control.startup()
    assert not control.record("run_stack_handler").running and not control.record("run_capital_update").running


def test_price_updates_use_pysystemtrades_process_name(control, repo, env):
    launch(repo, env, "run_daily_price_updates").wait(timeout=30)
    assert control.record("run_daily_prices_updates").last_end is not None


def test_a_broken_environment_is_a_clear_error():
    def broken(argv):
        raise CommandFailed("docker compose run exited with code 1: no such image", returncode=1)
    with pytest.raises(ProcessControlError, match="process control \\(record run_systems\\) failed"):
        ProcessControl(broken).record("run_systems")
    with pytest.raises(ProcessControlError, match="gave no answer"):
        ProcessControl(lambda argv: "Traceback ...").record("run_systems")


def test_record_fields_of_other_pysystemtrade_versions():
    record = ProcessRecord.from_fields("x", {"status": "go", "running": True, "process_id": "42"})
    assert (record.status, record.running, record.process_id) == ("GO", True, 42)


def test_finish_on_a_record_not_running_is_answered_not_raised(control, repo, env):
    # upstream's finish_process raises processNotRunning here (a waiting process that was stopped)
    probe = subprocess.run([sys.executable, "-c", "from sysproduction.data.control_process import dataControlProcess\n"
                            "dataControlProcess().finish_process('run_cleaners')"], env=env, capture_output=True,
                           text=True, timeout=60)
    assert probe.returncode == 1 and "processNotRunning" in probe.stderr
    record = control.finish("run_cleaners")
    assert record.running is False and record.status == "GO"


def test_records_reads_every_process_in_one_call(control):
    control.no_run("run_systems")
    control.stop("run_reports")
    records = control.records()
    assert records["run_systems"].status == "NO-RUN" and records["run_reports"].status == "STOP"


def test_a_mongodb_that_cannot_be_reached_is_named_with_the_fix():
    def unreachable(argv):
        raise CommandFailed("python3 in pysys_runtime exited with code 1", returncode=1,
                            output="Traceback ...\n"
                                   "pymongo.errors.ServerSelectionTimeoutError: mongo_db:27017: timed out")
    with pytest.raises(ProcessControlError) as caught:
        ProcessControl(unreachable).record("run_systems")
    assert "could not reach MongoDB (ServerSelectionTimeoutError)" in caught.value.message
    assert "mongo_host" in caught.value.fix
