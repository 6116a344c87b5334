"""STAND-IN for a trader's private pysystemtrade repository: generates a small git repository
with pysystemtrade's layout whose processes behave like the real ones in the ways this
ecosystem depends on. It trades nothing.

Layout (as upstream 1.80): ``sysproduction/linux/scripts/run_*`` launchers kept mode 0644 in
git, each ``#!/bin/bash``, ``. ~/.profile``, ``. p sysproduction.run_X.run_X``, so they are run
as ``bash $SCRIPT_PATH/run_X`` with SCRIPT_PATH on PATH (``p`` runs ``python3 $SCRIPT_PATH/run.py``
and the code folder must be on PYTHONPATH); ``startup`` and ``backup_db_to_csv`` launchers of the
same shape; ``syscontrol/control_config.yaml`` with upstream's process windows;
``private/private_config.yaml`` (secrets live here in a real one); ``requirements.txt``.

The processes keep upstream's process control (``syscontrol/run_process.py``,
``sysobjects/production/process_control.py``, ``sysproduction/data/control_process.py``,
``sysproduction/startup.py``) on a stand-in store, a JSON file (``STANDIN_PROCESS_STORE``), and
upstream's logging (``syslogging/logger.py``: sim, or prod through ``PYSYS_LOGGING_CONFIG``).
``standins/pysystemtrade/README.md`` lists each behaviour with the upstream function it models.

Usage: ``python -m standins.pysystemtrade_repo DIR [--private-sentinel TEXT]``.
"""
from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

PROCESSES = ("run_stack_handler", "run_capital_update", "run_daily_fx_and_contract_updates",
             "run_daily_price_updates", "run_systems", "run_strategy_order_generator", "run_cleaners",
             "run_backups", "run_reports", "run_daily_update_multiple_adjusted_prices")

# upstream's launchers of tools this stand-in also has (sysproduction/startup.py, backup_db_to_csv.py)
TOOLS = ("startup", "backup_db_to_csv")

TEMPLATE = Path(__file__).resolve().parent / "pysystemtrade"
SCRIPTS = "sysproduction/linux/scripts"

# upstream's shape, byte for byte apart from the name (no newline at the end, as upstream's)
LAUNCHER = "#!/bin/bash\n. ~/.profile\n. p sysproduction.{name}.{name}"

MODULE = """\
\"\"\"STAND-IN of upstream's sysproduction/{name}.py: builds its process and runs it.\"\"\"
from sysproduction._standin import run


def {name}():
    run({name!r})


if __name__ == "__main__":
    {name}()
"""

PRIVATE_CONFIG = """\
# STAND-IN private config: a real one holds the broker account and passwords
mongo_host: mongodb://mongo_db
ib_ipaddress: ib_gateway
ib_port: 4004
broker_account: '{sentinel}'
# every path as the containers see it, on the ecosystem's volumes
parquet_store: /data/parquet
backtest_store_directory: /data/backtests
csv_backup_directory: /data/backup/csv
mongo_dump_directory: /data/backup/mongo_dump
offsystem_backup_directory: /data/backup/offsystem
echo_directory: /data/logs/echos
reporting_directory: /data/reports
"""


def files(private_sentinel: str) -> dict[str, str]:
    """Return {relative path: content} of the stand-in repository."""
    tree = {str(path.relative_to(TEMPLATE)): path.read_text() for path in sorted(TEMPLATE.rglob("*"))
            if path.is_file() and "__pycache__" not in path.parts}
    tree["private/private_config.yaml"] = PRIVATE_CONFIG.format(sentinel=private_sentinel)
    for name in PROCESSES:
        tree[f"sysproduction/{name}.py"] = MODULE.format(name=name)
    for name in PROCESSES + TOOLS:
        tree[f"{SCRIPTS}/{name}"] = LAUNCHER.format(name=name)
    return tree


def make_repo(path: Path, *, private_sentinel: str = "DU1234567", branch: str = "master") -> Path:
    """Write the stand-in repository at ``path`` as a git repository with one commit on ``branch``."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    for relative, content in files(private_sentinel).items():
        target = path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
        target.chmod(0o644)  # upstream keeps its launchers 0644 in git: they are run with bash
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
