"""STAND-IN of pysystemtrade's sysproduction/data/control_process.py, on a stand-in store.

Same classes and method names as upstream (dataControlProcess, diagControlProcess); the
records live in a JSON file (STANDIN_PROCESS_STORE, default on the parquet volume) instead of
MongoDB's process_control collection, with upstream's rules: a process may start only when
its status is GO and it is not already running; STOP and NO-RUN persist until changed.
"""
import datetime
import fcntl
import json
import os
from contextlib import contextmanager
from pathlib import Path

from sysproduction import yaml_lite

SUCCESS, PROCESS_RUNNING, PROCESS_STOP, PROCESS_NO_RUN = "success", "process_running", "process_stop", "process_no_run"
STATUSES = ("GO", "STOP", "NO-RUN", "PAUSE")


def store_path():
    return Path(os.environ.get("STANDIN_PROCESS_STORE", "/data/parquet/standin_process_control.json"))


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


def _now():
    return datetime.datetime.now().isoformat(timespec="seconds")


def _record(data, name):
    return data["processes"].setdefault(name, {
        "status": "GO", "currently_running": False, "last_start_time": None, "last_end_time": None,
        "process_id": None, "running_methods": {}})


def _okay(record):
    if record["currently_running"]:
        return PROCESS_RUNNING
    if record["status"] == "STOP":
        return PROCESS_STOP
    if record["status"] == "NO-RUN":
        return PROCESS_NO_RUN
    return SUCCESS


class controlProcess:
    """A process's record, as upstream's controlProcess offers it."""

    def __init__(self, name, record):
        self.process_name = name
        self.status = record["status"]
        self.currently_running = record["currently_running"]
        self.last_start_time = record["last_start_time"]
        self.last_end_time = record["last_end_time"]
        self.process_id = record["process_id"]
        self.running_methods = record.get("running_methods", {})

    def as_dict(self):
        return {k: v for k, v in vars(self).items() if k != "process_name"}


class dataControlProcess:
    def __init__(self, data=None):
        self.data = data

    def get_dict_of_control_processes(self):
        with _store() as data:
            return {name: controlProcess(name, rec) for name, rec in data["processes"].items()}

    def check_if_okay_to_start_process(self, process_name):
        with _store() as data:
            return _okay(data["processes"].get(process_name) or _record({"processes": {}}, process_name))

    def start_process(self, process_name):
        with _store(write=True) as data:
            record = _record(data, process_name)
            okay = _okay(record)
            if okay != SUCCESS:
                return okay
            record.update(currently_running=True, last_start_time=_now(), process_id=os.getpid())
            return SUCCESS

    def finish_process(self, process_name):
        with _store(write=True) as data:
            record = _record(data, process_name)
            record.update(currently_running=False, last_end_time=_now(), process_id=None, running_methods={})
            return SUCCESS

    def finish_all_processes(self):
        with _store(write=True) as data:
            for record in data["processes"].values():
                if record["currently_running"]:
                    record.update(currently_running=False, last_end_time=_now(), process_id=None,
                                  running_methods={})
            return [SUCCESS for _ in data["processes"]]

    def check_if_process_status_stopped(self, process_name):
        with _store() as data:
            return data["processes"].get(process_name, {}).get("status") == "STOP"

    def _change_status(self, process_name, status):
        with _store(write=True) as data:
            _record(data, process_name)["status"] = status

    def change_status_to_stop(self, process_name):
        self._change_status(process_name, "STOP")

    def change_status_to_go(self, process_name):
        self._change_status(process_name, "GO")

    def change_status_to_no_run(self, process_name):
        self._change_status(process_name, "NO-RUN")

    def change_status_to_pause(self, process_name):
        self._change_status(process_name, "PAUSE")


class diagControlProcess:
    def __init__(self, data=None):
        self.data = data

    def _config(self, item):
        return yaml_lite.load_control_config().get(f"process_configuration_{item}", {})

    def get_start_time(self, process_name):
        text = self._config("start_time").get(process_name, "00:01")
        return datetime.datetime.strptime(text, "%H:%M").time()

    def get_stop_time(self, process_name):
        text = self._config("stop_time").get(process_name, "23:50")
        return datetime.datetime.strptime(text, "%H:%M").time()

    def previous_process_name(self, process_name):
        return self._config("previous_process").get(process_name)

    def get_control_for_process_name(self, process_name):
        with _store() as data:
            record = data["processes"].get(process_name) or _record({"processes": {}}, process_name)
        return controlProcess(process_name, record)

    def get_list_of_process_names(self):
        with _store() as data:
            return sorted(data["processes"])
