"""STAND-IN of pysystemtrade's sysproduction/data/control_process.py, on a stand-in store.

Same classes and method names as upstream (dataControlProcess, diagControlProcess). The records
live in a JSON file (STANDIN_PROCESS_STORE, default on the parquet volume) instead of MongoDB's
process_control collection; each record is a sysobjects.production.process_control.controlProcess,
so the rules are upstream's (checked against 1.80):
- a missing record reads as a fresh one (GO, not running): upstream
  sysdata/production/process_control_data.controlProcessData.get_control_for_process_name;
- start_process writes the record only when it starts (controlProcessData.start_process);
- finish_process raises processNotRunning for a record not marked running
  (controlProcessData.finish_process); finish_all_processes skips those
  (controlProcessData.finish_all_processes catches processNotRunning);
- diagControlProcess.get_start_time / get_stop_time: the process's entry in
  process_configuration_start_time / _stop_time of the merged control config, else that
  section's ``default``, else 00:01 / 23:50; is_it_time_to_run is start <= now < stop,
  is_it_time_to_stop is now > stop (naive local time, so TZ decides).
"""
import datetime
import fcntl
import json
import os
from contextlib import contextmanager
from pathlib import Path

from sysobjects.production.process_control import (  # noqa: F401 (re-exported, as upstream's module imports them)
    controlProcess,
    process_no_run,
    process_running,
    process_stop,
    processNotRunning,
    success,
)

from sysproduction import yaml_lite

DEFAULT_START_TIME_STRING = "00:01"
DEFAULT_STOP_TIME_STRING = "23:50"


def store_path():
    return Path(os.environ.get("STANDIN_PROCESS_STORE", "/data/parquet/standin_process_control.json"))


def now():
    """The local wall-clock time the windows are judged by (one seam, so a test can move it)."""
    return datetime.datetime.now()


@contextmanager
def _store(write=False):
    path = store_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX if write else fcntl.LOCK_SH)
        try:
            data = json.loads(path.read_text())
        except (FileNotFoundError, ValueError):
            data = {"processes": {}, "ib_client_ids": []}
        yield data
        if write:
            temporary = path.with_name(path.name + f".{os.getpid()}")
            temporary.write_text(json.dumps(data, indent=1, sort_keys=True))
            os.replace(temporary, path)


def _get(data, name):
    record = data["processes"].get(name)
    return controlProcess.from_dict(record) if record else controlProcess()


def _put(data, name, control):
    data["processes"][name] = control.as_stored_dict()


class dataControlProcess:
    def __init__(self, data=None):
        self.data = data

    def get_dict_of_control_processes(self):
        with _store() as data:
            return {name: _get(data, name) for name in data["processes"]}

    def check_if_okay_to_start_process(self, process_name):
        with _store() as data:
            return _get(data, process_name).check_if_okay_to_start_process()

    def start_process(self, process_name):
        with _store(write=True) as data:
            control = _get(data, process_name)
            result = control.start_process()
            if result == success:
                _put(data, process_name, control)
            return result

    def check_if_should_pause_process(self, process_name):
        with _store() as data:
            return _get(data, process_name).check_if_should_pause()

    def finish_process(self, process_name):
        with _store(write=True) as data:
            control = _get(data, process_name)
            control.finish_process()  # raises processNotRunning, leaving the store as it was
            _put(data, process_name, control)

    def finish_all_processes(self):
        with _store(write=True) as data:
            for name in list(data["processes"]):
                control = _get(data, name)
                try:
                    control.finish_process()
                except processNotRunning:
                    continue
                _put(data, name, control)
        return success

    def check_if_process_status_stopped(self, process_name):
        with _store() as data:
            return _get(data, process_name).check_if_process_status_stopped()

    def has_process_finished_in_last_day(self, process_name):
        with _store() as data:
            return _get(data, process_name).has_process_finished_in_last_day()

    def _change(self, process_name, change):
        with _store(write=True) as data:
            control = _get(data, process_name)
            getattr(control, change)()
            _put(data, process_name, control)

    def change_status_to_stop(self, process_name):
        self._change(process_name, "change_status_to_stop")

    def change_status_to_go(self, process_name):
        self._change(process_name, "change_status_to_go")

    def change_status_to_no_run(self, process_name):
        self._change(process_name, "change_status_to_no_run")

    def change_status_to_pause(self, process_name):
        self._change(process_name, "change_status_to_pause")


class diagControlProcess:
    def __init__(self, data=None):
        self.data = data

    def _configured(self, process_name, item, default):
        section = yaml_lite.load_control_config().get(f"process_configuration_{item}") or {}
        return section.get(process_name, section.get("default", default))

    def get_start_time(self, process_name):
        text = self._configured(process_name, "start_time", DEFAULT_START_TIME_STRING)
        return datetime.datetime.strptime(str(text), "%H:%M").time()

    def get_stop_time(self, process_name):
        text = self._configured(process_name, "stop_time", DEFAULT_STOP_TIME_STRING)
        return datetime.datetime.strptime(str(text), "%H:%M").time()

    def is_it_time_to_run(self, process_name):
        moment = now().time()
        return self.get_start_time(process_name) <= moment < self.get_stop_time(process_name)

    def is_it_time_to_stop(self, process_name):
        return now().time() > self.get_stop_time(process_name)

    def previous_process_name(self, process_name):
        return (yaml_lite.load_control_config().get("process_configuration_previous_process") or {}).get(process_name)

    def get_list_of_methods_for_process_name(self, process_name):
        methods = yaml_lite.load_control_config().get("process_configuration_methods") or {}
        return list((methods.get(process_name) or {}).keys())

    def get_control_for_process_name(self, process_name):
        with _store() as data:
            return _get(data, process_name)

    def get_list_of_process_names(self):
        with _store() as data:
            return sorted(data["processes"])
