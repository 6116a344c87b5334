"""`invoke doctor` against the real engine, a real smbd and real git remotes, as a trader runs it."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from ecosystem import backup_key
from ecosystem.commands import invoke_argv
from ecosystem.settings import write_env_file
from tests.integration.conftest import SMB_PASSWORD
from tests.support.net import free_port

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "sentinel-git-Token-5b9d"



@pytest.fixture
def run_doctor(tmp_path, stack):
    """Run `invoke doctor` as a subprocess with a .env of the test's choosing; return (code, output)."""
    def run(**settings):
        values = {"NAME_SUFFIX": stack.suffix, "IPV4_NETWORK_PART": stack.network_part,
                  "STATE_DIR": str(tmp_path / "state"), "BACKUP_DIR": str(tmp_path / "backup"),
                  "BACKUP_MIN_FREE_GB": "0", "IB_API_PORT": str(free_port()), "VNC_PORT": str(free_port()),
                  "JUPYTER_PORT": str(free_port()), "STATUS_PAGE_PORT": str(free_port()),
                  "DASHBOARD_PORT": str(free_port()), "GIT_TOKEN": TOKEN} | settings
        env_file = write_env_file(tmp_path / ".env", values)
        environ = {k: v for k, v in os.environ.items() if k not in values} | {"ECOSYSTEM_ENV_FILE": str(env_file)}
        result = subprocess.run(invoke_argv("doctor"), cwd=ROOT, env=environ,
                                capture_output=True, text=True, timeout=180)
        output = result.stdout + result.stderr
        assert TOKEN not in output and SMB_PASSWORD not in output
        return result.returncode, output
    return run


def line(output: str, check: str) -> str:
    found = [row for row in output.splitlines()
             if check in row and row.split()[:1] in (["OK"], ["WARN"], ["FAIL"], ["SKIP"])]
    assert found, f"no {check!r} line in:\n{output}"
    return found[0]


def test_engine_compose_and_free_ports_pass(run_doctor, docker_client):
    code, output = run_doctor()
    assert code == 0, output
    api = docker_client.version()["ApiVersion"]
    assert line(output, "docker engine").startswith("OK") and f"API {api}" in output
    assert line(output, "docker compose").startswith("OK") and " v2." in output
    assert "doctor: ready" in output


def test_a_port_held_by_this_ecosystem_passes_and_one_held_by_another_fails(run_doctor, docker_client, stack,
                                                                            busybox):
    ours, theirs = free_port(), free_port()
    for port, project in ((ours, f"pysystemtrade{stack.suffix}"), (theirs, "someone-else")):
        docker_client.containers.run(busybox, ["sleep", "600"], detach=True, name=f"holder{port}{stack.suffix}",
                                     labels={"com.docker.compose.project": project},
                                     ports={"8080/tcp": ("127.0.0.1", port)})
    code, output = run_doctor(JUPYTER_PORT=str(ours), VNC_PORT=str(theirs))
    assert code == 1
    assert line(output, f"127.0.0.1:{ours}").startswith("OK") and "held by this ecosystem" in output
    theirs_line = line(output, f"127.0.0.1:{theirs}")
    assert theirs_line.startswith("FAIL") and "someone-else" in theirs_line
    assert "set VNC_PORT to a free port" in output


def test_smb_share_login_ok_wrong_password_and_missing_share(run_doctor, samba, tmp_path):
    (samba.share_path / "pysystemtrade").mkdir(exist_ok=True)
    base = {"SMB_SERVER": "127.0.0.1", "SMB_PORT": str(samba.port), "SMB_SHARE": samba.share,
            "SMB_USER": samba.user, "SMB_FOLDER": "pysystemtrade"}
    key = tmp_path / "state" / "backup-key.txt"
    code, output = run_doctor(**base, SMB_PASSWORD=samba.password)
    assert code == 1 and line(output, "backup key").startswith("FAIL"), "offload would refuse: no key"
    assert "invoke setup" in output
    backup_key.ensure(key)  # what `invoke setup` makes
    code, output = run_doctor(**base, SMB_PASSWORD=samba.password)
    assert code == 0, output
    assert line(output, "smb share").startswith("OK") and f"as {samba.user}" in output
    assert line(output, "backup key").startswith("OK") and "keep a copy off this box" in output

    code, output = run_doctor(**base, SMB_PASSWORD="wrong-" + samba.password)
    assert code == 1 and line(output, "smb share").startswith("FAIL")
    assert "refused the login" in output and "SMB_PASSWORD" in output

    code, output = run_doctor(**base | {"SMB_SHARE": "nosuchshare"}, SMB_PASSWORD=samba.password)
    assert code == 1 and "has no share named 'nosuchshare'" in output

    code, output = run_doctor(**base | {"SMB_FOLDER": "missing/folder"}, SMB_PASSWORD=samba.password)
    assert code == 1 and "does not exist on the share" in output

    code, output = run_doctor(**base | {"SMB_PORT": str(free_port())}, SMB_PASSWORD=samba.password)
    assert code == 1 and "cannot reach the SMB server" in output


def test_reports_remote_answers_or_fails_fast(run_doctor, tmp_path):
    remote = tmp_path / "reports.git"
    subprocess.run(["git", "init", "--quiet", "--bare", "--initial-branch=main", str(remote)], check=True)
    code, output = run_doctor(REPORTS_REMOTE=f"file://{remote}")
    assert code == 0, output
    assert line(output, "reports remote").startswith("OK") and "not there yet" in output

    code, output = run_doctor(REPORTS_REMOTE=str(tmp_path / "missing.git"))
    assert code == 1 and line(output, "reports remote").startswith("FAIL") and "did not answer" in output

    code, output = run_doctor(REPORTS_REMOTE=f"git://127.0.0.1:{free_port()}/reports.git")
    assert code == 1 and "did not answer" in output
