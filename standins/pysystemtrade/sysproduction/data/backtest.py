"""STAND-IN of the backtest store in pysystemtrade's sysproduction/data/backtest.py.

Upstream (1.80: store_backtest_state, get_backtest_pickle_filename, get_backtest_config_filename,
get_backtest_directory_for_strategy, get_directory_store_backtests; dataBacktest.get_most_recent_backtest)
keeps each strategy's backtests as ``<backtest_store_directory>/<strategy>/<YYYYmmdd_HHMMSS>_backtest.pck``
(the system's pickled cache) beside ``..._config.yaml`` (its config); the directory comes from the
private config (upstream default 'private.backtests', the ecosystem's /data/backtests) resolved
by syscore.fileutils.get_resolved_pathname; the newest backtest is the last timestamp in name order.
Stand-in differences: the pickle holds a small dict (process, strategy, time), not a system
cache; the stand-in's default directory is /data/backtests.
"""
import datetime
import os
import pickle
from pathlib import Path

from syscore.fileutils import get_resolved_pathname

from sysproduction import yaml_lite

PICKLE_SUFFIX = "_backtest.pck"
CONFIG_SUFFIX = "_config.yaml"
MARKER_DATE_FORMAT = "%Y%m%d_%H%M%S"
DEFAULT_STORE = "/data/backtests"


def get_directory_store_backtests():
    return Path(get_resolved_pathname(yaml_lite.private_config_value("backtest_store_directory", DEFAULT_STORE)))


def store_backtest_state(process_name, strategy_name="default_strategy"):
    """Write one stand-in backtest of ``strategy_name``; return the pickle's path."""
    folder = get_directory_store_backtests() / strategy_name
    os.makedirs(folder, exist_ok=True)
    moment = datetime.datetime.now()
    marker = moment.strftime(MARKER_DATE_FORMAT)
    pickle_path = folder / (marker + PICKLE_SUFFIX)
    with open(pickle_path, "wb") as handle:
        pickle.dump({"stand_in": True, "process": process_name, "strategy": strategy_name,
                     "time": moment.isoformat(timespec="seconds")}, handle)
    (folder / (marker + CONFIG_SUFFIX)).write_text(f"# stand-in backtest config of {strategy_name}\n")
    return pickle_path


def most_recent_backtest():
    """Return (path, contents) of the newest backtest pickle of any strategy; raise LookupError if there is none."""
    folder = get_directory_store_backtests()
    found = sorted(folder.glob("*/*" + PICKLE_SUFFIX), key=lambda path: (path.name, path.parent.name))
    if not found:
        raise LookupError(f"no backtest in {folder} (no <strategy>/<YYYYmmdd_HHMMSS>{PICKLE_SUFFIX} file): "
                          "run_systems writes them; run it first")
    with open(found[-1], "rb") as handle:
        return found[-1], pickle.load(handle)
