"""pysys-launch, the command of every process container: upstream's 0644 launchers run with bash,
the whole output kept per run and rotated, the exit code and signals passed through."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

LAUNCH = Path(__file__).resolve().parents[2] / "docker" / "pysystemtrade" / "pysys-launch"


@pytest.fixture
def scripts(tmp_path):
    folder = tmp_path / "scripts"
    folder.mkdir()
    # shaped like upstream's: sources files found on PATH, mode 0644 (not executable)
    (folder / "p").write_text('python3 -c "import sys; print(\'ran\', sys.argv[1]); sys.exit(int(sys.argv[2]))" "$@"\n')
    (folder / "run_ok").write_text("#!/bin/bash\n. ~/.profile 2>/dev/null\n. p module.run_ok 0\n")
    (folder / "run_crash").write_text("#!/bin/bash\n. p module.run_crash 3\n")
    (folder / "run_sleep").write_text("#!/bin/bash\n"
                                      "python3 -c 'import time; print(\"up\", flush=True); time.sleep(60)'\n")
    for path in folder.iterdir():
        path.chmod(0o644)
    return folder


def launch(tmp_path, scripts, name, **env):
    environ = {**os.environ, "SCRIPT_PATH": str(scripts), "PATH": f"{scripts}:{os.environ['PATH']}",
               "PYSYS_RUN_LOGS": str(tmp_path / "runs"), "PYSYS_RUN_ID": "container_1", **env}
    return subprocess.Popen([sys.executable, str(LAUNCH), name], env=environ, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def test_a_0644_launcher_runs_and_its_output_is_kept(tmp_path, scripts):
    child = launch(tmp_path, scripts, "run_ok")
    out, _ = child.communicate(timeout=30)
    assert child.returncode == 0 and b"ran module.run_ok" in out
    [kept] = (tmp_path / "runs" / "run_ok").glob("*_container_1.log")
    text = kept.read_text()
    assert "ran module.run_ok" in text and text.splitlines()[-1].startswith("# pysys-launch run_ok (run container_1) "
                                                                            "exit code 0")


def test_the_exit_code_is_the_launchers(tmp_path, scripts):
    child = launch(tmp_path, scripts, "run_crash")
    child.communicate(timeout=30)
    assert child.returncode == 3


def test_only_the_newest_runs_are_kept(tmp_path, scripts):
    folder = tmp_path / "runs" / "run_ok"
    folder.mkdir(parents=True)
    for day in range(1, 6):
        (folder / f"2026010{day}T000000Z_old.log").write_text("old\n")
    child = launch(tmp_path, scripts, "run_ok", PYSYS_RUN_LOGS_KEEP="3")
    child.communicate(timeout=30)
    names = sorted(p.name for p in folder.iterdir())
    assert len(names) == 3 and names[:2] == ["20260104T000000Z_old.log", "20260105T000000Z_old.log"]


def test_sigterm_reaches_the_launchers_whole_group(tmp_path, scripts):
    child = launch(tmp_path, scripts, "run_sleep")
    assert child.stdout.readline() == b"up\n"
    child.send_signal(signal.SIGTERM)
    child.wait(timeout=10)  # python3 under bash got it too: nothing keeps the pipe open
    assert child.returncode == 128 + signal.SIGTERM


def test_an_unknown_launcher_is_named(tmp_path, scripts):
    child = launch(tmp_path, scripts, "run_nothing")
    _, err = child.communicate(timeout=30)
    assert child.returncode == 127 and b"no launcher run_nothing" in err


def test_an_unwritable_runs_folder_still_runs_the_process(tmp_path, scripts):
    blocker = tmp_path / "file"
    blocker.write_text("")
    child = launch(tmp_path, scripts, "run_ok", PYSYS_RUN_LOGS=str(blocker / "runs"))
    out, err = child.communicate(timeout=30)
    assert child.returncode == 0 and b"ran module.run_ok" in out and b"cannot keep this run's output" in err
