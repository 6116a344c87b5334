"""The stand-in pysystemtrade repository: upstream's layout, and processes that behave as asked."""
from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from standins.pysystemtrade_repo import PROCESSES, make_repo


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    return make_repo(tmp_path_factory.mktemp("standin") / "repo", private_sentinel="ACCOUNT-X")


def launch(repo, name, behaviour, tmp_path=None, **env):
    environ = {**os.environ, "STANDIN_BEHAVIOUR": behaviour, "STANDIN_SECONDS": "0",
               "STANDIN_PROCESS_STORE": str(repo.parent / f"store-{name}-{time.monotonic_ns()}.json"), "PATH":
               f"{repo}/sysproduction/linux/scripts:{os.environ['PATH']}", **env}
    return subprocess.Popen([name], cwd=repo, env=environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_layout_matches_upstream(repo):
    for name in PROCESSES:
        assert os.access(repo / "sysproduction" / "linux" / "scripts" / name, os.X_OK)
    assert "process_configuration_start_time" in (repo / "syscontrol" / "control_config.yaml").read_text()
    assert "ACCOUNT-X" in (repo / "private" / "private_config.yaml").read_text()
    assert subprocess.run(["git", "-C", str(repo), "status", "--porcelain"], capture_output=True,
                          text=True).stdout == ""


@pytest.mark.parametrize("behaviour,code", [("run", 0), ("fail", 1), ("wait:0.2", 0)])
def test_processes_run_fail_and_wait(repo, behaviour, code):
    process = launch(repo, "run_systems", f"run_systems={behaviour}")
    assert process.wait(timeout=30) == code


def test_report_behaviour_writes_a_report(repo, tmp_path):
    private = tmp_path / "private"
    private.mkdir()
    (private / "private_config.yaml").write_text(f"reporting_directory: {tmp_path / 'reports'}\n")
    process = launch(repo, "run_reports", "*=report", PYSYS_PRIVATE_CONFIG_DIR=str(private))
    assert process.wait(timeout=30) == 0
    assert (tmp_path / "reports" / "run_reports_report.txt").exists()


def test_hang_ends_on_sigterm_but_ignore_sigterm_does_not(repo):
    hanging = launch(repo, "run_stack_handler", "run_stack_handler=hang")
    stubborn = launch(repo, "run_capital_update", "run_capital_update=ignore_sigterm")
    time.sleep(1)
    hanging.send_signal(signal.SIGTERM)
    stubborn.send_signal(signal.SIGTERM)
    assert hanging.wait(timeout=10) == -signal.SIGTERM
    with pytest.raises(subprocess.TimeoutExpired):
        stubborn.wait(timeout=2)
    stubborn.kill()
    stubborn.wait()
