"""STAND-IN for a trader's private pysystemtrade repository: generates a small git repository
with pysystemtrade's layout whose processes behave like the real ones in the ways this
ecosystem depends on. It trades nothing.

Layout (as upstream): ``sysproduction/linux/scripts/run_*`` launchers ending in
``python -m sysproduction.run_*``, ``syscontrol/control_config.yaml`` with the process
windows, ``private/private_config.yaml`` (secrets live here in a real one), ``requirements.txt``.

The processes keep upstream's process control (``sysproduction/data/control_process.py``,
``sysproduction/startup.py``) on a stand-in store, a JSON file (``STANDIN_PROCESS_STORE``):
they decline with exit 0 when their status is STOP or NO-RUN or they are already running, and
a hanging one finishes cleanly when its status turns STOP.

Each stand-in process reads ``STANDIN_BEHAVIOUR`` (``name=behaviour;...``, or ``*=behaviour``), or
when that is unset the file ``standin_behaviour`` in the private config folder (same format,
``;`` or new lines; ``seconds=N`` sets how long ``run`` takes):
``run`` (default: runs ``STANDIN_SECONDS``, 1 by default, then exit 0), ``wait:N`` (waits N
seconds, as before its start time, then runs), ``fail`` (exit 1),
``hang`` (runs until its status is STOP), ``ignore_sigterm`` (the same, ignoring SIGTERM), ``stuck``
(ends on nothing but SIGKILL), ``report`` (writes a
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

TEMPLATE = Path(__file__).resolve().parent / "pysystemtrade"

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
    tree = {str(path.relative_to(TEMPLATE)): path.read_text() for path in sorted(TEMPLATE.rglob("*"))
            if path.is_file() and "__pycache__" not in path.parts}
    tree["private/private_config.yaml"] = (
        "# STAND-IN private config: a real one holds the broker account and passwords\n"
        "mongo_host: mongodb://mongo_db\n"
        "ib_ipaddress: ib_gateway\n"
        "ib_port: 4004\n"
        f"broker_account: '{private_sentinel}'\n"
        "reporting_directory: /data/reports\n"
        "csv_backup_directory: /data/backup/csv\n")
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
