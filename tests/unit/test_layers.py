"""The import contracts that keep the layers apart, read from the source (``ast``), each shown to
see a back edge:
- a task module imports no other task module (only ``tasks/_common.py``, which reaches the task
  tree to run a task by name);
- ``ecosystem/`` imports neither ``invoke`` nor ``standins/`` nor ``tasks``;
- only the seams import the outside world's libraries: the Docker SDK only ``engine.py``,
  ``subprocess`` only ``commands.py``, SMB only ``smb.py``, GitPython only the two git modules,
  apprise only ``alerts.py``; ``tasks/`` none of them.
Imports under ``if TYPE_CHECKING:`` are annotations, not dependencies, and are not counted.
"""
from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SEAMS = {"docker": {"engine.py"}, "subprocess": {"commands.py"}, "smbclient": {"smb.py"}, "smbprotocol": {"smb.py"},
         "git": {"repository.py", "reports.py"}, "apprise": {"alerts.py"}}


@functools.cache  # each module is asked about several times
def imports(source: str, *, package: str = "") -> frozenset[str]:
    """The modules ``source`` imports (absolute, top-level name; relative ones as ``package.name``),
    leaving out what only type checking sees."""
    found: set[str] = set()

    def visit(node) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
                if node.module == "tasks":  # from tasks import backup: a task module
                    found.update(f"tasks.{alias.name}" for alias in node.names)
                elif node.module.startswith("tasks."):
                    found.add(node.module.split(".")[0] + "." + node.module.split(".")[1])
            elif node.level == 1 and package:
                found.update({f"{package}.{node.module.split('.')[0]}"} if node.module else
                             {f"{package}.{alias.name}" for alias in node.names})
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(source))
    return frozenset(found)


def task_imports_of_other_tasks(source: str) -> set[str]:
    return {m for m in imports(source, package="tasks") if m.startswith("tasks.") and m != "tasks._common"}


def seam_breaches(name: str, source: str) -> set[str]:
    return {lib for lib, allowed in SEAMS.items() if lib in imports(source) and name not in allowed}


TASK_MODULES = sorted((ROOT / "tasks").glob("*.py"))
PRODUCT_MODULES = sorted((ROOT / "ecosystem").glob("*.py"))


@pytest.mark.parametrize("module", TASK_MODULES, ids=lambda p: p.name)
def test_a_task_module_imports_no_other_task_module(module):
    assert not task_imports_of_other_tasks(module.read_text()), \
        f"tasks/{module.name} imports {sorted(task_imports_of_other_tasks(module.read_text()))}: move the " \
        "procedure into ecosystem/, or run the task by name (_common.call_task)"


@pytest.mark.parametrize("module", TASK_MODULES, ids=lambda p: p.name)
def test_a_task_module_touches_no_outside_library(module):
    touched = imports(module.read_text()) & set(SEAMS)
    assert not touched, f"tasks/{module.name} imports {sorted(touched)}: that belongs behind a seam in ecosystem/"


@pytest.mark.parametrize("module", PRODUCT_MODULES, ids=lambda p: p.name)
def test_the_product_package_imports_neither_invoke_nor_the_stand_ins_nor_the_tasks(module):
    found = imports(module.read_text()) & {"invoke", "standins", "tasks"}
    assert not found, f"ecosystem/{module.name} imports {sorted(found)}: the lower layer knows none of them"


@pytest.mark.parametrize("module", PRODUCT_MODULES, ids=lambda p: p.name)
def test_only_the_seams_import_the_outside_libraries(module):
    breaches = seam_breaches(module.name, module.read_text())
    assert not breaches, f"ecosystem/{module.name} imports {sorted(breaches)}; only " + \
        "; ".join(f"{lib}: {', '.join(sorted(SEAMS[lib]))}" for lib in sorted(breaches)) + " may"


def test_the_checks_see_each_kind_of_back_edge():
    assert task_imports_of_other_tasks("from .backup import restart_after_cold\n") == {"tasks.backup"}
    assert task_imports_of_other_tasks("def f():\n    from . import stack\n") == {"tasks.stack"}
    assert task_imports_of_other_tasks("from tasks import scheduler\n") == {"tasks.scheduler"}
    assert task_imports_of_other_tasks("from tasks.eod import trading_day\n") == {"tasks.eod"}
    assert task_imports_of_other_tasks("from ._common import settings\n") == set()
    assert imports("import os\n\ndef f():\n    from standins.net import free_port\n    from invoke import task\n") \
        >= {"standins", "invoke"}
    assert seam_breaches("stack.py", "def f():\n    from docker.errors import NotFound\n") == {"docker"}
    assert seam_breaches("mongo.py", "import subprocess\n") == {"subprocess"}
    assert seam_breaches("engine.py", "import docker\n") == set()
    assert seam_breaches("context.py", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import docker\n") \
        == set(), "an annotation-only import is not a dependency"
    assert seam_breaches("x.py", "if TYPE_CHECKING:\n    pass\nelse:\n    import git\n") == {"git"}


def test_the_real_tree_is_read():
    assert len(TASK_MODULES) > 10 and len(PRODUCT_MODULES) > 30
    assert "tasks._common" in imports((ROOT / "tasks" / "backup.py").read_text(), package="tasks")


def test_the_readme_architecture_table_names_every_module_and_only_modules_that_exist():
    import re

    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Architecture"):text.index("\n## ", text.index("## Architecture") + 1)]
    listed = set(re.findall(r"^\| `(\w+\.py)` \|", section, flags=re.M))
    present = {p.name for p in PRODUCT_MODULES} - {"__init__.py"}
    assert listed == present, f"README lists {sorted(listed - present)} that do not exist and misses " \
                              f"{sorted(present - listed)}"
