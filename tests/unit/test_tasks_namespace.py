"""One namespace, whoever loads it: invoke's loader, plain import and pytest see the same tasks."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import tasks

ROOT = Path(__file__).resolve().parents[2]

EXPECTED = {"backup", "build", "config", "doctor", "down", "eod", "history", "logs", "nightly", "weekend", "offload", "plan", "reports", "restore", "resume", "run-scheduler", "schedule", "demo",
            "rollback", "setup", "shell", "status", "stop", "up", "weekly.sync", "weekly.open", "weekly.close", "gateway.status", "gateway.login"}


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
    out = _run(sys.executable, "-c", "import tasks; print(tasks.__file__); print(' '.join(sorted(tasks.ns.task_names)))")
    path, names = out.splitlines()
    assert Path(path) == ROOT / "tasks.py"
    assert set(names.split()) == set(tasks.ns.task_names)


def test_task_modules_do_not_touch_docker_smb_or_git_directly():
    for module in (ROOT / "tasks").glob("*.py"):
        text = module.read_text()
        for forbidden in ("import docker", "import smbclient", "import git", "import subprocess", "from docker",
                          "from git ", "from smbclient"):
            assert forbidden not in text, f"{module.name} imports {forbidden.split()[-1]}: move it to ecosystem/"


def _imported_modules(path: Path) -> set[str]:
    import ast

    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_the_product_package_imports_neither_invoke_nor_the_stand_ins():
    for module in sorted((ROOT / "ecosystem").glob("*.py")):
        imported = _imported_modules(module)
        assert not imported & {"invoke", "standins", "tasks"}, f"ecosystem/{module.name} imports " \
            f"{sorted(imported & {'invoke', 'standins', 'tasks'})}: the lower layer knows neither"


def test_the_import_check_sees_a_back_edge(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("import os\n\ndef f():\n    from standins.net import free_port\n    from invoke import task\n")
    assert _imported_modules(probe) >= {"standins", "invoke"}
