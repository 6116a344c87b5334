"""STAND-IN of pysystemtrade's sysproduction/backup_db_to_csv.py: the database exported as CSV files.

Upstream writes every table (prices, positions, orders, ...) as CSV under the private config's
``csv_backup_directory``; this stand-in writes the process-control records it keeps, one CSV
per process, plus a marker, into the same place.
"""
import csv
import os
from pathlib import Path

from sysproduction.data.control_process import _store


def _directory():
    config = Path(os.environ.get("PYSYS_PRIVATE_CONFIG_DIR", "private")) / "private_config.yaml"
    for line in config.read_text().splitlines():
        if line.startswith("csv_backup_directory:"):
            return Path(line.partition(":")[2].strip().strip("'\""))
    raise SystemExit("csv_backup_directory is not set in private_config.yaml")


def backup_db_to_csv():
    folder = _directory() / "process_control"
    folder.mkdir(parents=True, exist_ok=True)
    with _store() as data:
        for name, record in sorted(data["processes"].items()):
            with open(folder / f"{name}.csv", "w", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(sorted(record))
                writer.writerow([record[key] for key in sorted(record)])
    (folder.parent / "STANDIN_EXPORT.txt").write_text("stand-in CSV export of the process-control records\n")
    print(f"backup_db_to_csv (stand-in): wrote {folder}", flush=True)


if __name__ == "__main__":
    backup_db_to_csv()
