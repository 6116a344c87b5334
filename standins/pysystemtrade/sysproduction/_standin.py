"""STAND-IN process behaviour shared by every sysproduction.run_* module of this repository.

Each ``run_X()`` builds a ``syscontrol.run_process.processToRun`` (the stand-in of upstream's)
whose one method does what the behaviour spec asks. The spec is STANDIN_BEHAVIOUR, else the
file ``standin_behaviour`` in the private config folder (it reaches every container without
touching compose): items ``name=behaviour`` or ``*=behaviour`` separated by ``;`` or new lines,
plus ``seconds=N`` (how long a run's work takes; STANDIN_SECONDS wins, default 1) and ``poll=N``
(how often a waiting process checks again; STANDIN_POLL_SECONDS wins, default 60 as upstream).

Behaviours, each modelling an upstream process (see README.md for the table):
``run`` (default), ``wait:N``, ``fail``, ``hang``, ``ignore_sigterm``, ``stuck``, ``report``,
``backtest``, ``read_backtest``, ``grow``.
"""
import os
import signal
import time
from pathlib import Path

from syscontrol.run_process import processToRun
from syscore.fileutils import get_resolved_pathname
from syslogging.logger import get_logger

from sysproduction import yaml_lite
from sysproduction.data import backtest as backtest_store

# module / launcher name -> pysystemtrade process name, where they differ (upstream 1.80:
# sysproduction/run_daily_price_updates.py runs process "run_daily_prices_updates")
PROCESS_NAMES = {"run_daily_price_updates": "run_daily_prices_updates"}
BEHAVIOURS = ("run", "wait:N", "fail", "hang", "ignore_sigterm", "stuck", "report", "backtest", "read_backtest",
              "grow")


class standinFailure(Exception):
    """A stand-in process failing on purpose: uncaught, as a crash in upstream's processes is."""


def _spec_items():
    spec = os.environ.get("STANDIN_BEHAVIOUR", "")
    if not spec:
        try:
            spec = (yaml_lite.private_config_folder() / "standin_behaviour").read_text()
        except OSError:
            spec = ""
    return [item.strip() for line in spec.splitlines() for item in line.split(";") if item.strip()]


def _number(environ_key, spec_key, default):
    if os.environ.get(environ_key):
        return float(os.environ[environ_key])
    for item in _spec_items():
        key, _, value = item.partition("=")
        if key.strip() == spec_key:
            return float(value)
    return default


def seconds():
    return _number("STANDIN_SECONDS", "seconds", 1.0)


def poll_seconds():
    # upstream 1.80 syscontrol/run_process._start_or_wait: time.sleep(60) between checks
    return _number("STANDIN_POLL_SECONDS", "poll", 60.0)


def behaviour_for(name):
    chosen = "run"
    for item in _spec_items():
        key, _, value = item.partition("=")
        if key.strip() in (name, "*") and value.strip():
            chosen = value.strip()
            if key.strip() == name:
                break
    return chosen


def _work():
    time.sleep(seconds())


def _method(behaviour, name, process_name, log):
    """Return the stand-in's one method for ``behaviour``: called each round of the main loop,
    True once all its work is done."""

    def run(process):
        # upstream: a one-shot process (every method max_executions 1, e.g. run_systems) runs its
        # methods once; syscontrol/run_process._check_for_stop then sees all methods finished
        _work()
        return True

    def fail(process):
        # upstream: an exception in a method is not caught (syscontrol/timer_functions
        # timerClass.check_and_run, processToRun.run_process): traceback, exit 1, the record left running
        log.error("failed on purpose (stand-in)")
        raise standinFailure(f"{process_name} (stand-in) failed on purpose")

    def hang(process):
        # upstream: the stack handler's methods run for ever (max_executions -1); the main loop
        # ends on STOP or at the stop time (syscontrol/run_process._check_for_stop). ignore_sigterm
        # is the same, deaf to SIGTERM (set in run()): a process that only its STOP status ends
        return False

    def stuck(process):
        # a process hung inside a method: upstream checks STOP only between methods
        # (syscontrol/run_process._main_loop_over_methods); deaf to SIGTERM too, it ends on nothing but SIGKILL
        while True:
            time.sleep(3600)

    def report(process):
        # upstream: run_reports writes each report as a file in the private config's reporting_directory
        # (sysproduction/reporting/reporting_functions.output_file_report, resolve_report_filename);
        # the stand-in names its one file <module>_report.txt and makes the folder if need be
        _work()
        folder = Path(get_resolved_pathname(yaml_lite.private_config_value("reporting_directory", "/data/reports")))
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}_report.txt").write_text(f"stand-in report from {name} at {time.ctime()}\n")
        log.info("wrote %s", folder / f"{name}_report.txt")
        return True

    def backtest(process):
        # upstream: sysproduction/run_systems.py, one method per strategy of
        # process_configuration_methods.run_systems, each ending in
        # sysproduction/data/backtest.store_backtest_state (its default strategy: default_strategy)
        _work()
        strategies = process.diag_process.get_list_of_methods_for_process_name(process_name) or ["default_strategy"]
        for strategy in strategies:
            log.info("Pickled backtest state to %s", backtest_store.store_backtest_state(process_name, strategy))
        return True

    def read_backtest(process):
        # upstream: sysproduction/data/backtest.dataBacktest.get_most_recent_backtest (used by the
        # strategy report of run_reports) fails when a strategy has no backtest yet
        _work()
        try:
            path, contents = backtest_store.most_recent_backtest()
        except LookupError as exc:
            log.error("%s", exc)
            raise
        log.info("read backtest %s (strategy %s, written %s)", path, contents.get("strategy"), contents.get("time"))
        return True

    def grow(process):
        # a process whose memory grows without end (upstream's run_systems with a large portfolio
        # can need several GB): nothing in the process stops it; the kernel does, at its limit
        held = []
        while True:
            held.append(bytearray(16 * 1024 * 1024))  # allocated and touched: resident, not just reserved
            log.info("holding %d MB", 16 * len(held))

    if behaviour in ("run",) or behaviour.startswith("wait:"):
        return run
    methods = {"fail": fail, "hang": hang, "ignore_sigterm": hang, "stuck": stuck, "report": report,
               "backtest": backtest, "read_backtest": read_backtest, "grow": grow}
    if behaviour not in methods:
        log.warning("unknown stand-in behaviour %r (known: %s): running as 'run'", behaviour, ", ".join(BEHAVIOURS))
        return run
    return methods[behaviour]


def run(name):
    """Run the stand-in process of module ``sysproduction.<name>`` as its behaviour says."""
    process_name = PROCESS_NAMES.get(name, name)
    behaviour = behaviour_for(name)
    log = get_logger(process_name)
    if behaviour in ("ignore_sigterm", "stuck"):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    not_before = None
    if behaviour.startswith("wait:"):
        # launched before its start time: upstream waits in _start_or_wait until it is time
        not_before = time.monotonic() + float(behaviour.partition(":")[2])
    method = _method(behaviour, name, process_name, log)
    processToRun(process_name, log, method, description=behaviour, poll=poll_seconds(),
                 not_before=not_before).run_process()
