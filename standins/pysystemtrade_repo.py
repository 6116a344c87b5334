"""STAND-IN for a trader's private pysystemtrade repository: generates a small git repository
with pysystemtrade's layout whose processes behave like the real ones in the ways this
ecosystem depends on. It trades nothing.

Layout (as upstream): ``sysproduction/linux/scripts/run_*`` launchers ending in
``python -m sysproduction.run_*``, ``syscontrol/control_config.yaml`` with the process
windows, ``private/private_config.yaml`` (secrets live here in a real one), ``requirements.txt``.

Each stand-in process reads ``STANDIN_BEHAVIOUR`` (``name=behaviour;...``, or ``*=behaviour``):
``run`` (default: runs ``STANDIN_SECONDS``, 1 by default, then exit 0), ``wait:N`` (waits N
seconds, as before its start time, then runs), ``fail`` (exit 1),
``hang`` (never ends), ``ignore_sigterm`` (never ends, ignores SIGTERM), ``report`` (writes a
report file into ``reporting_directory`` or /data/reports, then exit 0).

Usage: ``python -m standins.pysystemtrade_repo DIR [--private-sentinel TEXT]``.
"""
from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

PROCESSES = ("run_stack_handler", "run_capital_update", "run_daily_fx_and_contract_updates",
             "run_daily_price_updates", "run_systems", "run_strategy_order_generator", "run_cleaners",
             "run_backups", "run_reports", "run_daily_update_multiple_adjusted_prices")

CONTROL_CONFIG = """\
# STAND-IN of pysystemtrade's syscontrol/control_config.yaml (same keys and windows as upstream)
process_configuration_start_time:
  run_stack_handler: '00:01'
  run_capital_update: '01:00'
  run_daily_fx_and_contract_updates: '07:00'
  run_daily_prices_updates: '20:00'
  run_systems: '20:05'
  run_strategy_order_generator: '20:10'
  run_cleaners: '20:20'
  run_backups: '20:15'
  run_reports: '20:25'
  run_daily_update_multiple_adjusted_prices: '23:00'
process_configuration_stop_time:
  run_stack_handler: '19:45'
  run_capital_update: '19:50'
  run_daily_prices_updates: '23:50'
  run_daily_update_multiple_adjusted_prices: '23:50'
process_configuration_previous_process:
  run_strategy_order_generator: 'run_systems'
"""

STANDIN_ENGINE = '''\
"""STAND-IN process behaviour shared by every sysproduction.run_* module of this repository."""
import os
import signal
import sys
import time
from pathlib import Path


def behaviour_for(name):
    chosen = "run"
    for item in os.environ.get("STANDIN_BEHAVIOUR", "").split(";"):
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
                return Path(line.partition(":")[2].strip().strip("'\\""))
    except OSError:
        pass
    return Path("/data/reports")


def run(name):
    behaviour = behaviour_for(name)
    print(f"{name} (stand-in) starting: {behaviour}", flush=True)
    if behaviour == "fail":
        print(f"{name} (stand-in) failed on purpose", file=sys.stderr, flush=True)
        sys.exit(1)
    if behaviour in ("hang", "ignore_sigterm"):
        if behaviour == "ignore_sigterm":
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        while True:
            time.sleep(3600)
    if behaviour.startswith("wait:"):  # launched before its start time: waits, then runs
        time.sleep(float(behaviour.partition(":")[2]))
    if behaviour == "report":
        folder = reporting_directory()
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}_report.txt").write_text(f"stand-in report from {name} at {time.ctime()}\\n")
    time.sleep(float(os.environ.get("STANDIN_SECONDS", "1")))
    print(f"{name} (stand-in) finished", flush=True)
'''

LAUNCHER = """\
#!/bin/bash
# STAND-IN launcher, shaped like upstream's: the real one ends in `python run.py <module.function>`
exec python3 -m sysproduction.{name}
"""

MODULE = """\
from sysproduction._standin import run

if __name__ == "__main__":
    run({name!r})
"""


def files(private_sentinel: str) -> dict[str, str]:
    """Return {relative path: content} of the stand-in repository."""
    tree = {
        "README.md": "# STAND-IN pysystemtrade repository\n\nGenerated for tests and demos; it trades nothing.\n",
        "requirements.txt": "# stand-in: no dependencies (the real one lists pandas, pymongo, ib-insync, ...)\n",
        "syscontrol/__init__.py": "",
        "syscontrol/control_config.yaml": CONTROL_CONFIG,
        "sysproduction/__init__.py": "",
        "sysproduction/_standin.py": STANDIN_ENGINE,
        "private/private_config.yaml": (
            "# STAND-IN private config: a real one holds the broker account and passwords\n"
            "mongo_host: mongodb://mongo_db\n"
            "ib_ipaddress: ib_gateway\n"
            "ib_port: 4004\n"
            f"broker_account: '{private_sentinel}'\n"
            "reporting_directory: /data/reports\n"),
    }
    for name in PROCESSES:
        tree[f"sysproduction/{name}.py"] = MODULE.format(name=name)
        tree[f"sysproduction/linux/scripts/{name}"] = LAUNCHER.format(name=name)
    return tree


def make_repo(path: Path, *, private_sentinel: str = "DU1234567", branch: str = "master") -> Path:
    """Write the stand-in repository at ``path`` as a git repository with one commit on ``branch``."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    for relative, content in files(private_sentinel).items():
        target = path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
        if "/linux/scripts/" in relative:
            target.chmod(0o755)
    git = ["git", "-C", str(path), "-c", "user.name=stand-in", "-c", "user.email=stand-in@localhost"]
    subprocess.run([*git, "init", "--quiet", f"--initial-branch={branch}"], check=True)
    subprocess.run([*git, "add", "--all"], check=True)
    subprocess.run([*git, "commit", "--quiet", "-m", "stand-in pysystemtrade repository"], check=True)
    return path


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--private-sentinel", default="DU1234567")
    parser.add_argument("--branch", default="master")
    args = parser.parse_args()
    print(make_repo(args.directory, private_sentinel=args.private_sentinel, branch=args.branch))
