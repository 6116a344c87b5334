"""State files are replaced whole: a reader never sees a torn one, a killed writer leaves the old one."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

from ecosystem.state_files import write_json

WRITER = """
import sys
from ecosystem.state_files import write_json
n = 0
while True:
    n += 1
    write_json(sys.argv[1], {"n": n, "padding": "x" * 200_000})
"""


def test_a_reader_never_sees_a_torn_file_and_a_killed_writer_leaves_a_whole_one(tmp_path):
    path = tmp_path / "state" / "marker.json"
    write_json(path, {"n": 0})
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path)])
    try:
        seen = set()
        deadline = time.monotonic() + 10
        reads = 0
        while time.monotonic() < deadline and (len(seen) < 50 or reads < 2000):  # many rewrites seen mid-flight
            seen.add(json.loads(path.read_text())["n"])  # raises on a torn file
            reads += 1
        assert len(seen) > 1, "the writer was writing"
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait()
    assert json.loads(path.read_text())["n"] >= 0
    assert [p.name for p in path.parent.iterdir() if not p.name.startswith(".")] == ["marker.json"]


def test_options_and_folder_creation(tmp_path):
    write_json(tmp_path / "a" / "b.json", {"b": 1, "a": 2}, indent=1, sort_keys=True)
    assert (tmp_path / "a" / "b.json").read_text() == '{\n "a": 2,\n "b": 1\n}'
