"""Every `invoke ...` command the project tells a person to run is one invoke would run.

At 02:00 the trader copies what the alert says. This collects each ``invoke TASK [FLAGS]`` written
in the code's strings (hints, fixes, alerts, docstrings), the README, ``.env.example``, the systemd
unit and the compose file, and parses it against the real task tree: the task must exist and each
flag must be one of its flags (a value where the flag takes one). Prose after the command ends it.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import tasks

ROOT = Path(__file__).resolve().parents[2]
CORE_FLAGS = {"--dry", "-l", "--list", "-h", "--help", "--complete"}
CANDIDATE = re.compile(r"(?<![\w'-])invoke ([^\n`'\"]*)")
TERMINATORS = re.compile(r"[;,)(]| / | or | and | then |: ")


def sources() -> list[tuple[str, str]]:
    """(where, text) for every text a person reads commands from."""
    found = []
    for path in sorted([*ROOT.glob("ecosystem/*.py"), *ROOT.glob("tasks/*.py"), ROOT / "tasks.py",
                        *ROOT.glob("standins/**/*.py")]):
        found.append((str(path.relative_to(ROOT)), "\n".join(strings_of(path.read_text()))))
    for name in ("README.md", ".env.example", "docker-compose.yml",
                 "scripts/install.sh", "scripts/test.sh"):
        found.append((name, (ROOT / name).read_text()))
    return found


def strings_of(source: str) -> list[str]:
    """Every string literal of a Python source, docstrings included, an f-string with ``{...}`` where
    its values go (read from the syntax tree, so any Python version's tokens give the same)."""
    found, tree = [], ast.parse(source)
    parts = {id(part) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for part in node.values}
    for node in ast.walk(tree):
        if id(node) in parts:
            continue  # a piece of an f-string: read with the whole
        if isinstance(node, ast.JoinedStr):
            found.append("".join(part.value if isinstance(part, ast.Constant) else "{...}" for part in node.values))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.append(node.value)
    return found


def commands(text: str) -> list[str]:
    """Each command written after ``invoke `` in ``text``, cut where prose begins."""
    found = []
    for match in CANDIDATE.finditer(text):
        rest = TERMINATORS.split(match.group(1))[0].strip().rstrip(".:")
        if rest:
            found.append(rest)
    return found


def _arguments(name: str) -> dict[str, bool]:
    """flag -> whether it takes a value, for task ``name``."""
    flags = {}
    for argument in tasks.ns[name].get_arguments():
        for spelled in argument.names:
            flag = f"--{spelled.replace('_', '-')}" if len(spelled) > 1 else f"-{spelled}"
            flags[flag] = argument.kind is not bool
    return flags


def problems_of(command: str) -> list[str]:
    """Parse ``command`` as invoke would; return what is wrong with it (nothing: it runs)."""
    words = command.split()
    while words and words[0] in CORE_FLAGS:
        words = words[1:]
    if not words or not re.fullmatch(r"[a-z][a-z0-9_.-]*", words[0]):
        return []  # a placeholder (TASK, COMMAND, {job}) or a bare flag: not a command to copy
    names = set(tasks.ns.task_names)
    if words[0] not in names:
        return [f"no task {words[0]!r}"]
    current, flags, i, found = words[0], _arguments(words[0]), 1, []
    while i < len(words):
        word = words[i]
        if word.startswith("-"):
            flag, has_value, _ = word.partition("=")
            if flag not in flags and flag not in ("-h", "--help"):
                found.append(f"{current} has no flag {flag}")
            elif flags.get(flag) and not has_value:
                i += 1  # its value
        elif word in names:
            current, flags = word, _arguments(word)
        else:
            break  # prose follows the command
        i += 1
    return found


ALL = [(where, command) for where, text in sources() for command in commands(text)]


def test_the_collection_finds_the_commands_people_are_told_to_run():
    assert len(ALL) > 100
    assert any(command.startswith("weekly.sync") for _, command in ALL)
    assert any(command.startswith("restore --from") for _, command in ALL)


@pytest.mark.parametrize("where,command", ALL, ids=[f"{w}:{c}"[:80] for w, c in ALL])
def test_every_command_written_for_a_person_parses_as_a_real_task_with_real_flags(where, command):
    assert problems_of(command) == [], f"{where}: `invoke {command}` would not run"


def test_f_strings_are_read_whole():
    assert strings_of('x = f"run `invoke logs {name} --run last` now"\n') == ["run `invoke logs {...} --run last` now"]


def test_the_parser_catches_what_invoke_would_refuse():
    assert problems_of("gateway login") == ["no task 'gateway'"]
    assert problems_of("weekly sync") == ["no task 'weekly'"]
    assert problems_of("backup --colder") == ["backup has no flag --colder"]
    assert problems_of("backup offload") == []
    assert problems_of("restore --from latest --yes") == []
    assert problems_of("history --job backup shows more") == []
    assert problems_of("--dry backup") == []
    assert problems_of("TASK") == []
