"""One namespace, whoever loads it: invoke's loader, plain import and pytest see the same tasks."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import tasks

ROOT = Path(__file__).resolve().parents[2]

EXPECTED = {"backup", "backups", "build", "config", "doctor", "down", "eod", "history", "logs", "nightly", "weekend",
            "offload", "plan", "reports", "restore", "resume", "recover", "run-scheduler", "schedule",
            "install-service", "demo", "brief",
            "rollback", "setup", "shell", "status", "stop", "up", "weekly.sync", "weekly.open", "weekly.close",
            "gateway.status", "gateway.login", "gateway.weekly-login", "launch"}


def _run(*argv: str) -> str:
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=True, timeout=60).stdout


def test_pytest_imports_tasks_py_not_the_folder():
    assert Path(tasks.__file__) == ROOT / "tasks.py"
    assert not (ROOT / "tasks" / "__init__.py").exists(), "an __init__.py would make plain import take the folder"


def test_the_namespace_is_pinned():
    assert set(tasks.ns.task_names) == EXPECTED


def test_invoke_list_shows_the_same_namespace():
    out = _run(sys.executable, "-m", "invoke", "--list", "--list-format", "flat")
    listed = {line.split()[0] for line in out.splitlines()[1:] if line.startswith("  ") and not line.startswith("   ")}
    assert listed == set(tasks.ns.task_names)


def test_plain_python_import_sees_the_same_file_and_namespace():
    out = _run(sys.executable, "-c",
               "import tasks; print(tasks.__file__); print(' '.join(sorted(tasks.ns.task_names)))")
    path, names = out.splitlines()
    assert Path(path) == ROOT / "tasks.py"
    assert set(names.split()) == set(tasks.ns.task_names)


def test_every_task_spells_each_concept_one_way_and_has_no_single_letter_flags():
    spelled: dict[str, set[str]] = {}
    for name in tasks.ns.task_names:
        for argument in tasks.ns[name].get_arguments():
            assert all(len(n) > 1 for n in argument.names), f"{name} has a single-letter flag {argument.names}"
            for flag in argument.names:
                spelled.setdefault(flag, set()).add(name)
    assert "date" not in spelled and "date_" not in spelled, "a trading day is --day everywhere"
    assert "dry" not in spelled and "dry-run" in spelled, "a dry run is --dry-run everywhere"
    assert {"eod", "nightly", "plan"} <= spelled["day"]


READ_ONLY = {"backups", "config", "doctor", "history", "plan", "status", "logs", "schedule", "gateway.status"}
NO_DRY_RUN = {"shell", "demo", "run-scheduler"}  # a person's own session, a demo, the loop itself


def test_every_task_that_changes_things_has_a_dry_run():
    without = {name for name in tasks.ns.task_names
               if not any("dry-run" in argument.names for argument in tasks.ns[name].get_arguments())}
    assert without == READ_ONLY | NO_DRY_RUN, without ^ (READ_ONLY | NO_DRY_RUN)
