"""The subprocess seam's deadlines hold whether or not the child writes (real processes)."""
from __future__ import annotations

import io
import time

import pytest

from ecosystem import commands, locks
from ecosystem.errors import CommandFailed


def test_a_silent_child_is_stopped_at_its_deadline_and_the_lock_it_ran_under_is_released(tmp_path):
    started = time.monotonic()
    with pytest.raises(CommandFailed, match="did not finish within 1s and was stopped"):
        with locks.exclusive(tmp_path, "backup"):
            commands.stream_out(["sh", "-c", "sleep 60"], io.BytesIO(), timeout=1)
    assert time.monotonic() - started < 10
    assert not locks.is_held(tmp_path, "backup")


def test_a_child_whose_grandchild_holds_the_pipe_is_stopped_whole(tmp_path):
    started = time.monotonic()
    with pytest.raises(CommandFailed, match="did not finish"):
        commands.stream_out(["sh", "-c", "echo first; sleep 60 & wait"], io.BytesIO(), timeout=1)
    assert time.monotonic() - started < 10


def test_a_silent_reader_of_its_stdin_is_stopped_too(tmp_path):
    source = tmp_path / "data"
    source.write_bytes(b"x" * 10)
    started = time.monotonic()
    with pytest.raises(CommandFailed, match="did not finish"):
        commands.stream_in(["sh", "-c", "sleep 60"], str(source), timeout=1)
    assert time.monotonic() - started < 10


def test_a_child_in_time_streams_its_output_and_returns_its_errors():
    sink = io.BytesIO()
    assert commands.stream_out(["sh", "-c", "echo data; echo said >&2"], sink, timeout=10) == "said\n"
    assert sink.getvalue() == b"data\n"
    with pytest.raises(CommandFailed, match="exited with code 3: oops"):
        commands.stream_out(["sh", "-c", "echo oops >&2; exit 3"], io.BytesIO(), timeout=10)


def test_run_stops_a_silent_child_at_its_deadline():
    started = time.monotonic()
    with pytest.raises(CommandFailed, match="did not finish within 1s"):
        commands.run(["sleep", "60"], timeout=1)
    assert time.monotonic() - started < 10


def test_a_full_disk_said_by_any_program_is_the_disk_full_class(tmp_path):
    from ecosystem.errors import EXIT_DISK_FULL, DiskFull

    with pytest.raises(DiskFull) as full:
        commands.stream_out(["sh", "-c", "echo 'tee: /out/parquet.tar.gz: No space left on device' >&2; exit 1"],
                            io.BytesIO(), timeout=10)
    assert full.value.exit_code == EXIT_DISK_FULL and "/out/parquet.tar.gz" in full.value.message
    with pytest.raises(DiskFull):
        commands.run(["sh", "-c", "echo 'write error: No space left on device' >&2; exit 2"], timeout=10)


def test_a_docker_command_that_cannot_reach_the_engine_is_the_engine_class():
    from ecosystem.errors import EngineUnavailable, ImageMissing

    with pytest.raises(EngineUnavailable):
        commands._raise_known(["docker", "exec", "x"], "Cannot connect to the Docker daemon at unix:///x.sock. "
                                                       "Is the docker daemon running?")
    with pytest.raises(ImageMissing):
        commands._raise_known(["/usr/bin/docker", "compose", "run"], "Error response from daemon: pull access denied "
                                                                     "for pysystemtrade_x, repository does not exist")
    with pytest.raises(ImageMissing, match="registry"):  # compose pulled a missing image, offline
        commands._raise_known(["docker", "compose", "run"], " daily_processes Pulling \n daily_processes Error\n"
                              "Error response from daemon: Get \"https://registry-1.docker.io/v2/\": no such host")
    commands._raise_known(["tar", "x"], "Cannot connect to the Docker daemon")  # only docker's own words count
