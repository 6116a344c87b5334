"""The declared project and its locks agree: every dependency pyproject.toml declares is pinned,
with hashes, in the lock the install uses; the dev lock pins the runtime packages at the same
versions; the linters the tests run are the ones the dev lock pins."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]


def _lock(name: str) -> dict[str, tuple[str, int]]:
    """{package: (version, number of hashes)} of a pip-compile lock."""
    pins: dict[str, tuple[str, int]] = {}
    current = None
    for line in (ROOT / name).read_text().splitlines():
        pinned = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s\\]+)", line)
        if pinned:
            current = canonicalize_name(pinned.group(1))
            pins[current] = (pinned.group(2), 0)
        elif current and "--hash=sha256:" in line:
            version, hashes = pins[current]
            pins[current] = (version, hashes + 1)
    return pins


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_every_declared_dependency_is_locked_with_a_version_it_allows():
    lock = _lock("requirements.txt")
    for spec in _project()["dependencies"]:
        requirement = Requirement(spec)
        name = canonicalize_name(requirement.name)
        assert name in lock, f"{name} is declared in pyproject.toml but not in requirements.txt: run scripts/lock.sh"
        assert requirement.specifier.contains(lock[name][0]), f"{name}=={lock[name][0]} is outside {spec}"


def test_every_locked_package_has_hashes():
    for name in ("requirements.txt", "requirements-dev.txt", "scripts/compose-fallback.txt"):
        lock = _lock(name)
        assert lock, name
        unhashed = [package for package, (_, hashes) in lock.items() if hashes == 0]
        assert not unhashed, f"{name}: no hashes for {unhashed}"


def test_the_dev_lock_runs_what_the_install_runs():
    runtime, dev = _lock("requirements.txt"), _lock("requirements-dev.txt")
    assert {name: pin[0] for name, pin in runtime.items()} == \
        {name: dev[name][0] for name in runtime if name in dev}
    assert set(runtime) <= set(dev)
    for spec in _project()["optional-dependencies"]["dev"]:
        assert canonicalize_name(Requirement(spec).name) in dev, spec


def test_the_python_the_project_declares_is_the_one_its_tools_target():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert config["project"]["requires-python"] == ">=3.11"
    assert config["tool"]["ruff"]["target-version"] == "py311"
    assert config["tool"]["mypy"]["python_version"] == "3.11"
