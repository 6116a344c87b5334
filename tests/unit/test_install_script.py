"""scripts/install.sh decides what a host gets: run with --plan on a stand-in host (stub apt,
dpkg and docker commands on PATH, nothing installed), it says each package it would install."""
from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

STUBS = {
    # nothing is installed; apt knows docker.io (Debian 12's) and, with Docker's repo, its packages
    "dpkg-query": "exit 1",
    "dpkg": 'echo amd64',
    "apt-get": "exit 0",
    "apt-cache": '''case "$2" in
  docker.io) v=20.10.24+dfsg1-1+deb12u1 ;;
  docker-compose-plugin) [ -n "$STUB_DOCKER_REPO" ] && v=2.40.3-1~debian.12~bookworm || v="(none)" ;;
  *) v="(none)" ;;
esac
printf '%s:\\n  Installed: (none)\\n  Candidate: %s\\n' "$2" "$v"''',
    "curl": '[ -n "$STUB_DOCKER_REPO" ] && exit 0; exit 6',
    "docker": '[ -n "$STUB_ENGINE" ] || exit 1; [ "$1" = version ] && echo 28.2.2; exit 0',
}


def _host(tmp_path: Path) -> tuple[Path, dict]:
    checkout = tmp_path / "checkout"
    (checkout / "scripts").mkdir(parents=True)
    for name in ("scripts/install.sh", "scripts/compose-fallback.txt", "requirements.txt", "requirements-dev.txt"):
        shutil.copy(ROOT / name, checkout / name)
    stubs = tmp_path / "bin"
    stubs.mkdir()
    for name, body in STUBS.items():
        path = stubs / name
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    (stubs / "python3").symlink_to(os.path.realpath(sys.executable))  # this Python (3.11+), not a shim
    (tmp_path / "home").mkdir()
    # the stubs first; the system's tools after them (no sbin: no dockerd; no /run/systemd here)
    env = {"PATH": f"{stubs}:/usr/bin:/bin", "HOME": str(tmp_path / "home"), "LANG": "C.UTF-8"}
    return checkout, env


def _plan(tmp_path: Path, *flags: str, **extra: str) -> tuple[int, set[str], str]:
    checkout, env = _host(tmp_path)
    done = subprocess.run(["bash", str(checkout / "scripts/install.sh"), *flags, "--plan"], env={**env, **extra},
                          capture_output=True, text=True, timeout=60)
    packages = {package for line in done.stdout.splitlines() if line.startswith("would install: ")
                for package in line.removeprefix("would install: ").split()}
    return done.returncode, packages, done.stdout + done.stderr


DEMO_AND_TEST_EXTRAS = {"samba", "debootstrap", "chromium", "busybox-static", "smbclient"}


def test_a_trading_box_gets_dockers_own_engine_and_no_demo_extras(tmp_path):
    code, packages, said = _plan(tmp_path, "--no-demo", STUB_DOCKER_REPO="1")
    assert code == 0, said
    assert {"docker-ce", "docker-ce-cli", "containerd.io", "docker-compose-plugin"} <= packages
    assert not packages & DEMO_AND_TEST_EXTRAS, packages
    assert "docker.io" not in packages and "would run: .venv/bin/invoke demo" not in said
    assert "requirements.txt (--require-hashes)" in said


def test_without_dockers_repository_the_distribution_engine_comes_with_a_warning_naming_its_version(tmp_path):
    code, packages, said = _plan(tmp_path)
    assert code == 0, said
    assert "docker.io" in packages and "docker-ce" not in packages
    assert "20.10.24+dfsg1-1+deb12u1" in said and "download.docker.com" in said
    assert {"samba", "debootstrap"} <= packages and "compose" in said and "fallback" in said
    assert not packages & {"busybox-static", "smbclient"}
    assert "would run: .venv/bin/invoke demo" in said


def test_a_trading_box_without_compose_v2_stops_and_names_the_package(tmp_path):
    code, packages, said = _plan(tmp_path, "--no-demo")
    assert code == 1
    assert "docker-compose-plugin" in said and "fallback" in said
    assert not packages & DEMO_AND_TEST_EXTRAS


def test_the_tests_get_their_extras_and_the_dev_lock(tmp_path):
    code, packages, said = _plan(tmp_path, "--for-tests", STUB_DOCKER_REPO="1")
    assert code == 0, said
    assert DEMO_AND_TEST_EXTRAS <= packages
    assert "requirements-dev.txt (--require-hashes)" in said


def test_the_hosts_own_engine_is_used_as_it_is(tmp_path):
    code, packages, said = _plan(tmp_path, "--no-demo", STUB_ENGINE="1")
    assert code == 0, said
    assert "using this host's Docker engine (28.2.2)" in said
    assert not packages & {"docker.io", "docker-ce", "docker-compose-plugin"}


def test_a_link_into_a_python_environment_left_by_an_earlier_install_is_replaced(tmp_path):
    checkout, env = _host(tmp_path)
    plugins = Path(env["HOME"]) / ".docker/cli-plugins"
    plugins.mkdir(parents=True)
    (plugins / "docker-compose").symlink_to("/somewhere/.venv/lib/python3.11/site-packages/compose/docker-compose")
    done = subprocess.run(["bash", str(checkout / "scripts/install.sh"), "--plan"], capture_output=True, text=True,
                          env={**env, "STUB_ENGINE": "1"}, timeout=60)
    assert done.returncode == 0, done.stderr
    assert f"would remove {plugins / 'docker-compose'}" in done.stdout
    assert "fallback binary" in done.stdout


@pytest.mark.parametrize("flag", ["--no-demo", "--for-tests", ""])
def test_a_plan_changes_nothing(tmp_path, flag):
    checkout, env = _host(tmp_path)
    before = sorted(p.name for p in checkout.iterdir())
    subprocess.run(["bash", str(checkout / "scripts/install.sh"), *([flag] if flag else []), "--plan"],
                   env=env, capture_output=True, timeout=60)
    assert sorted(p.name for p in checkout.iterdir()) == before and not os.listdir(Path(env["HOME"]))


def test_a_user_outside_the_docker_group_is_added_and_told_to_log_in_again(tmp_path):
    checkout, env = _host(tmp_path)
    stubs = Path(env["PATH"].split(":")[0])
    (stubs / "docker").unlink()
    for name, body in {"docker": 'echo "permission denied while trying to connect to the Docker daemon socket" >&2; '
                                 "exit 1",
                       "id": '[ "$1" = -un ] && echo trader || echo 1000', "sudo": '"$@"'}.items():
        (stubs / name).write_text(f"#!/bin/sh\n{body}\n")
        (stubs / name).chmod(0o755)
    done = subprocess.run(["bash", str(checkout / "scripts/install.sh"), "--no-demo", "--plan"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "would run (as root): usermod -aG docker trader" in done.stdout
    assert "may not use it" in done.stderr and "log out and in again" in done.stderr
