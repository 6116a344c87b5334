"""STAND-IN process behaviour shared by every sysproduction.run_* module of this repository.

Like the real processes: a process whose record says STOP, NO-RUN or already running
declines and exits 0; a running process that sees its status turn STOP finishes cleanly;
a crash (``fail``) exits non-zero and leaves its record "running", as upstream's does.
"""
import logging
import logging.handlers
import os
import signal
import socket
import sys
import time
from pathlib import Path

from sysproduction.data.control_process import SUCCESS, dataControlProcess

# module name -> pysystemtrade process name, where they differ
PROCESS_NAMES = {"run_daily_price_updates": "run_daily_prices_updates"}


def _behaviours():
    """The behaviour spec: STANDIN_BEHAVIOUR, else the file standin_behaviour in the private
    config folder (tests write it there: it reaches every container without touching compose)."""
    spec = os.environ.get("STANDIN_BEHAVIOUR", "")
    if not spec:
        try:
            spec = (Path(os.environ.get("PYSYS_PRIVATE_CONFIG_DIR", "private")) / "standin_behaviour").read_text()
        except OSError:
            spec = ""
    return [item for line in spec.splitlines() for item in line.split(";")]


def _seconds():
    """How long a stand-in run takes: STANDIN_SECONDS, else 'seconds=N' in the spec, else 1."""
    if os.environ.get("STANDIN_SECONDS"):
        return float(os.environ["STANDIN_SECONDS"])
    for item in _behaviours():
        key, _, value = item.partition("=")
        if key.strip() == "seconds":
            return float(value)
    return 1.0


def behaviour_for(name):
    chosen = "run"
    for item in _behaviours():
        key, _, value = item.partition("=")
        if key.strip() in (name, "*") and value.strip():
            chosen = value.strip()
            if key.strip() == name:
                break
    return chosen


def reporting_directory():
    config = Path(os.environ.get("PYSYS_PRIVATE_CONFIG_DIR", "private")) / "private_config.yaml"
    try:
        for line in config.read_text().splitlines():
            if line.startswith("reporting_directory:"):
                return Path(line.partition(":")[2].strip().strip("'\""))
    except OSError:
        pass
    return Path("/data/reports")


def _until_stopped(control, process, ignore_sigterm):
    if ignore_sigterm:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    while not control.check_if_process_status_stopped(process):
        time.sleep(float(os.environ.get("STANDIN_POLL_SECONDS", "1")))
    print(f"{process} (stand-in) status is STOP: finishing cleanly", flush=True)


def _logger(process):
    """Log to the socket log server on localhost, as pysystemtrade's production logging does."""
    logger = logging.getLogger(process)
    logger.setLevel(logging.INFO)
    port = int(os.environ.get("LOG_SERVER_PORT", "6020"))
    try:
        socket.create_connection(("localhost", port), timeout=2).close()
        logger.addHandler(logging.handlers.SocketHandler("localhost", port))
    except OSError:
        print(f"{process} (stand-in): no log server on localhost:{port}, reverting to sim (console only)",
              flush=True)
    return logger


def run(name):
    process = PROCESS_NAMES.get(name, name)
    behaviour = behaviour_for(name)
    log = _logger(process)
    control = dataControlProcess()
    okay = control.start_process(process)
    if okay != SUCCESS:
        print(f"{process} (stand-in) not starting: {okay}", flush=True)
        log.warning("not starting: %s", okay)
        sys.exit(0)  # pysystemtrade declines with exit code 0
    print(f"{process} (stand-in) starting: {behaviour}", flush=True)
    log.info("starting (stand-in, pid %s): %s", os.getpid(), behaviour)
    if behaviour == "fail":
        print(f"{process} (stand-in) failed on purpose", file=sys.stderr, flush=True)
        sys.exit(1)  # the record stays "running", as after a real crash
    if behaviour in ("hang", "ignore_sigterm"):
        _until_stopped(control, process, behaviour == "ignore_sigterm")
    if behaviour == "stuck":  # a hung process: deaf to its STOP status and to SIGTERM
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        while True:
            time.sleep(3600)
    if behaviour.startswith("wait:"):  # launched before its start time: waits, then runs
        time.sleep(float(behaviour.partition(":")[2]))
    if behaviour == "report":
        folder = reporting_directory()
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}_report.txt").write_text(f"stand-in report from {name} at {time.ctime()}\n")
    time.sleep(_seconds())
    control.finish_process(process)
    log.info("finished (stand-in)")
    print(f"{process} (stand-in) finished", flush=True)
