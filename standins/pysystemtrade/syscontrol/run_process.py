"""STAND-IN of pysystemtrade's syscontrol/run_process.py: when a process starts, waits, runs and stops.

Checked against upstream 1.80 (wanli15nian tree), robcarver17's stored run_process.py (commit
b4f7eac) and pst-group's (ca4a190), which agree on all of this:
- ``processToRun.run_process``: ``_start_or_wait``; if that gives up (processNotStarted) the
  process returns, so its exit code is 0; else ``_run_on_start`` (start_process),
  ``_main_loop_over_methods``, ``_finish`` (``_finish_control_process``).
- ``_start_or_wait`` loops: start when ``_is_okay_to_start`` (status GO and not running, time to
  run, previous process finished); else give up unless ``_is_okay_to_wait_before_starting``;
  else sleep 60 s and check again.
- ``_is_okay_to_wait_before_starting``: not if ``_check_for_stop`` (status STOP, past the stop
  time); not if the record is marked running or the status is STOP; yes for NO-RUN (so a NO-RUN
  process waits, until GO, STOP or its stop time) and for GO (not yet its start time).
- ``_main_loop_over_methods``: sleep 0.5 s, stop when ``_check_for_stop`` (status STOP, all
  methods done, past the stop time), skip the methods while the status is PAUSE
  (``check_for_pause_and_log``: a PAUSE status does not stop a process from starting), else run
  them, again.
- ``_finish_control_process``: finish_process; processNotRunning is logged as a warning, not raised.
Stand-in differences: the wait is STANDIN_POLL_SECONDS or ``poll=N`` in the behaviour spec
(default 60, as upstream); before its start time a process runs at once (``not_before`` models
the wait, for behaviour ``wait:N``); the previous-process condition
(process_configuration_previous_process) is not modelled; the methods are one stand-in
callable, not timer functions read from process_configuration_methods; the main loop sleeps
min(0.5 s, poll).
"""
import os
import time

from sysobjects.production.process_control import (
    process_no_run,
    process_running,
    process_stop,
    processNotRunning,
    processNotStarted,
    success,
)
from sysproduction.data.control_process import dataControlProcess, diagControlProcess

MAIN_LOOP_SLEEP = 0.5  # upstream's time.sleep(0.5) at the top of _main_loop_over_methods


class processToRun:
    """``method(process)`` runs one round of the process's work and returns True when all of it is done."""

    def __init__(self, process_name, log, method, *, description="", poll=60.0, not_before=None):
        self.process_name = process_name
        self.description = description
        self.log = log
        self.method = method
        self.poll = poll
        self.not_before = not_before  # time.monotonic() before which it is "not yet time to run"
        self.data_control = dataControlProcess()
        self.diag_process = diagControlProcess()
        self.all_methods_finished = False
        self.reported = None

    def run_process(self):
        try:
            _start_or_wait(self)
        except processNotStarted:
            return None
        self._run_on_start()
        self._main_loop_over_methods()
        self._finish_control_process()

    def _run_on_start(self):
        result = self.data_control.start_process(self.process_name)
        if result != success:  # upstream ignores start_process's answer here too
            self.log.warning("start_process answered %s; running anyway, as upstream does", result)
        self.log.info("starting (stand-in, pid %s): %s", os.getpid(), self.description)

    def _main_loop_over_methods(self):
        while True:
            time.sleep(min(MAIN_LOOP_SLEEP, self.poll))
            if _check_for_stop(self):
                return
            if _check_for_pause_and_log(self):
                continue
            self.all_methods_finished = bool(self.method(self))

    def _finish_control_process(self):
        try:
            self.data_control.finish_process(self.process_name)
        except processNotRunning:
            self.log.warning("%s (stand-in): its record was not marked running at its finish", self.process_name)
        else:
            self.log.info("finished (stand-in): process control %s marked close", self.process_name)


def _start_or_wait(process):
    while True:
        if _is_okay_to_start(process):
            return
        if not _is_okay_to_wait_before_starting(process):
            raise processNotStarted
        _report_wait(process)
        pause = process.poll
        if process.not_before is not None:
            pause = max(0.0, min(pause, process.not_before - time.monotonic()))
        time.sleep(pause)


def _is_okay_to_start(process):
    status = process.data_control.check_if_okay_to_start_process(process.process_name)
    # the previous-process condition is not modelled: always "finished"
    return status == success and _is_it_time_to_run(process)


def _is_it_time_to_run(process):
    """Upstream: start time <= now < stop time. The stand-in ignores the start time (the tests and
    the demo compress a day into minutes) unless a ``not_before`` delay is set."""
    if process.not_before is not None and time.monotonic() < process.not_before:
        return False
    return not process.diag_process.is_it_time_to_stop(process.process_name)


def _is_okay_to_wait_before_starting(process):
    name = process.process_name
    if _check_for_stop(process, before_start=True):
        return False
    status = process.data_control.check_if_okay_to_start_process(name)
    if status == process_running:
        process.log.warning("not starting: %s (stand-in): Can't start process %s at all since already running",
                            status, name)
        return False
    if status == process_stop:
        process.log.warning("not starting: %s (stand-in): Can't start process %s at all since STOPPED by control",
                            status, name)
        return False
    return status in (process_no_run, success)


def _check_for_pause_and_log(process):
    """PAUSE: the process runs (it started) but skips its methods until the status changes
    (upstream: check_for_pause_and_log in _main_loop_over_methods)."""
    paused = process.data_control.check_if_should_pause_process(process.process_name)
    if paused and process.reported != "paused":
        process.log.info("Paused running methods because process status is PAUSE")
    process.reported = "paused" if paused else None
    return paused


def _report_wait(process):
    """Log why it waits, once per reason (upstream: syscontrol/report_process_status.reportProcessStatus)."""
    status = process.data_control.check_if_okay_to_start_process(process.process_name)
    reason = status if status != success else "not yet time to run"
    if process.reported != reason:
        process.reported = reason
        process.log.info("waiting to start: %s (stand-in, checking again every %g s)", reason, process.poll)


def _check_for_stop(process, before_start=False):
    name = process.process_name
    if process.data_control.check_if_process_status_stopped(name):
        if before_start:
            process.log.warning("not starting: %s (stand-in): Process control marked as STOP", process_stop)
        else:
            process.log.info("Process control marked as STOP: %s status is STOP: finishing cleanly", name)
        return True
    if process.all_methods_finished:
        process.log.debug("Finished doing all executions of provided methods")
        return True
    if process.diag_process.is_it_time_to_stop(name):
        stop = process.diag_process.get_stop_time(name).strftime("%H:%M")
        if before_start:
            process.log.warning("not starting: past its stop time %s (stand-in): Passed finish time of process", stop)
        else:
            process.log.info("Passed finish time of process (%s): finishing cleanly", stop)
        return True
    return False
