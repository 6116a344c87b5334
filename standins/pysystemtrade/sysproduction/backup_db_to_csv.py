"""STAND-IN of pysystemtrade's sysproduction/backup_db_to_csv.py: the database exported as CSV files.

Upstream writes every table (prices, positions, orders, ...) as CSV under the private config's
``csv_backup_directory``; this stand-in writes the process-control records it keeps, one CSV
per process, plus a marker, into the same place.
"""
import csv
from pathlib import Path

from syscore.fileutils import get_resolved_pathname

from sysproduction import yaml_lite
from sysproduction.data.control_process import _store


def _directory():
    folder = yaml_lite.private_config_value("csv_backup_directory")
    if not folder:
        raise SystemExit("csv_backup_directory is not set in private_config.yaml")
    return Path(get_resolved_pathname(folder))


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
