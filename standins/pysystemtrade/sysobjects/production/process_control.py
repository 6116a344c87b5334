"""STAND-IN of pysystemtrade's sysobjects/production/process_control.py: one process's record.

Same module path, class names and rules as upstream (checked against 1.80):
- ``controlProcess.check_if_okay_to_start_process``: process_running if the record is marked
  running, else process_stop / process_no_run for a STOP / NO-RUN status, else success;
- ``controlProcess.start_process``: only when that says success; sets last_start_time (naive
  local time), currently_running, process_id (this PID) and clears recently_crashed;
- ``controlProcess.finish_process``: raises ``processNotRunning`` when the record is not marked
  running; else sets last_end_time, currently_running False and process_id back to
  ``default_process_id`` (0); running_methods are kept, as upstream keeps them;
- ``controlProcess.as_dict``: last_start_time, last_end_time, status, currently_running,
  process_id, running_methods, recently_crashed.
Stand-in differences: the outcomes are plain strings ('success', 'process_stop', ...) where
upstream has syscore.constants.named_object instances; times are kept to the second.
"""
import datetime
import os

success = "success"
process_stop = "process_stop"
process_no_run = "process_no_run"
process_running = "process_running"

go_status = "GO"
no_run_status = "NO-RUN"
stop_status = "STOP"
pause_status = "PAUSE"
default_process_id = 0
possible_status = [go_status, no_run_status, stop_status, pause_status]


class processNotStarted(Exception):
    """Unable to start the process"""


class processNotRunning(Exception):
    """Process expected to be running, but was not"""


def _now():
    return datetime.datetime.now().replace(microsecond=0)


def _as_time(value):
    if value is None or isinstance(value, datetime.datetime):
        return value
    return datetime.datetime.fromisoformat(str(value))


class controlProcess:
    def __init__(self, last_start_time=None, last_end_time=None, currently_running=False, status=go_status,
                 process_id=default_process_id, recently_crashed=False, running_methods=None):
        assert status in possible_status
        self._last_start_time = _as_time(last_start_time)
        self._last_end_time = _as_time(last_end_time)
        self._currently_running = bool(currently_running)
        self._status = status
        self._process_id = process_id or default_process_id
        self._recently_crashed = bool(recently_crashed)
        self._running_methods = dict(running_methods or {})

    @classmethod
    def from_dict(cls, input_dict):
        return cls(**{key: value for key, value in input_dict.items()
                      if key in ("last_start_time", "last_end_time", "currently_running", "status", "process_id",
                                 "recently_crashed", "running_methods")})

    @property
    def last_start_time(self):
        return self._last_start_time

    @property
    def last_end_time(self):
        return self._last_end_time

    @property
    def currently_running(self):
        return self._currently_running

    @property
    def status(self):
        return self._status

    @property
    def process_id(self):
        return self._process_id

    @property
    def recently_crashed(self):
        return self._recently_crashed

    @property
    def running_methods(self):
        return self._running_methods

    def as_dict(self):
        return dict(last_start_time=self.last_start_time, last_end_time=self.last_end_time, status=self.status,
                    currently_running=self.currently_running, process_id=self.process_id,
                    running_methods=dict(self.running_methods), recently_crashed=self.recently_crashed)

    def as_stored_dict(self):
        """as_dict with the times as ISO text, for the stand-in's JSON store."""
        stored = self.as_dict()
        for key in ("last_start_time", "last_end_time"):
            stored[key] = stored[key].isoformat() if stored[key] else None
        return stored

    def check_if_okay_to_start_process(self):
        if self.currently_running:
            return process_running
        if self.status == stop_status:
            return process_stop
        if self.status == no_run_status:
            return process_no_run
        return success

    def start_process(self):
        result = self.check_if_okay_to_start_process()
        if result != success:
            return result
        self._last_start_time = _now()
        self._currently_running = True
        self._process_id = os.getpid()
        self._recently_crashed = False
        return success

    def finish_process(self):
        if not self.currently_running:
            raise processNotRunning
        self._last_end_time = _now()
        self._currently_running = False
        self._process_id = default_process_id

    def check_if_should_pause(self):
        return self.status == pause_status

    def check_if_process_status_stopped(self):
        return self.status == stop_status

    def has_process_finished_in_last_day(self):
        if self.currently_running or not self.last_end_time:
            return False
        return (_now() - self.last_end_time).total_seconds() <= 24 * 3600

    def change_status_to_stop(self):
        self._status = stop_status

    def change_status_to_go(self):
        self._status = go_status

    def change_status_to_no_run(self):
        self._status = no_run_status

    def change_status_to_pause(self):
        self._status = pause_status
