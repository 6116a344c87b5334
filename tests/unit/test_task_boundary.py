"""The task boundary as a trader meets it on the command line (real `invoke` processes, no Docker):
one message per known failure class with its own exit code, never a traceback (but at DEBUG);
what no run recorded is recorded (hence alerted); a held lock is `busy`, not failed, and not
alerted; warnings of the lower layer reach stderr, masked; `invoke --dry` never does the real thing.
"""
from __future__ import annotations

import os
import subprocess
import time

import pytest

from ecosystem import backup_key, errors, locks
from ecosystem.commands import invoke_argv
from ecosystem.history import History
from tests.support.invoking import ROOT, run_invoke
from tests.support.net import free_port
from tests.support.smtp import mail_url

SMB_PASSWORD = "sentinel-SMB-pass-5150"
MAIL_PASSWORD = "sentinel-MAIL-pass-8086"
NO_ENGINE = "unix:///nonexistent/docker.sock"


@pytest.fixture
def values(tmp_path):
    backup_key.ensure(tmp_path / "state" / "backup-key.txt")  # what `invoke setup` makes: offload needs it
    return {"STATE_DIR": str(tmp_path / "state"), "BACKUP_DIR": str(tmp_path / "backup"),
            "REPORTS_DIR": str(tmp_path / "reports"), "LOCK_WAIT_SECONDS": "1"}


def run(tmp_path, values, *args):
    result = run_invoke(tmp_path, values, *args, timeout=120)
    return result, result.stdout + result.stderr


@pytest.fixture
def no_engine(monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", NO_ENGINE)  # the process environment: .env never names the engine


def history(values) -> History:
    return History(os.path.join(values["STATE_DIR"], "history.jsonl"))


def test_an_unreachable_share_is_one_message_with_its_exit_code_recorded_and_an_undeliverable_alert_is_a_warning(
        tmp_path, values):
    closed = free_port()
    result, said = run(tmp_path, values | {"SMB_SERVER": "127.0.0.1", "SMB_PORT": str(free_port()), "SMB_SHARE": "b",
                                           "SMB_USER": "trader", "SMB_PASSWORD": SMB_PASSWORD,
                                           "ALERT_URLS": mail_url(closed, MAIL_PASSWORD)}, "offload")
    assert result.returncode == errors.EXIT_SMB, said
    assert "Traceback" not in said
    assert "cannot reach the SMB server" in result.stderr and "fix: check SMB_SERVER" in result.stderr
    assert "warning: the alert offload failed was not delivered (check ALERT_URLS)" in result.stderr
    assert SMB_PASSWORD not in said and MAIL_PASSWORD not in said
    (run_,) = history(values).runs(job="offload")
    assert run_.outcome == "failed" and "SmbError: cannot reach the SMB server" in run_.detail


def test_log_level_debug_shows_the_traceback_behind_a_known_failure(tmp_path, values):
    result, said = run(tmp_path, values | {"SMB_SERVER": "127.0.0.1", "SMB_PORT": str(free_port()), "SMB_SHARE": "b",
                                           "SMB_USER": "trader", "SMB_PASSWORD": SMB_PASSWORD, "LOG_LEVEL": "DEBUG"},
                       "offload")
    assert result.returncode == errors.EXIT_SMB
    assert "Traceback" in result.stderr and SMB_PASSWORD not in said


def test_an_engine_that_does_not_answer_is_exit_3_recorded_and_alerted_by_a_task_that_changes_things(
        tmp_path, values, smtp, no_engine):
    result, said = run(tmp_path, values | {"ALERT_URLS": mail_url(smtp.port, MAIL_PASSWORD)}, "eod")
    assert result.returncode == errors.EXIT_ENGINE, said
    assert "Traceback" not in said
    assert "the Docker engine does not answer" in result.stderr and "fix: start the Docker engine" in result.stderr
    (run_,) = history(values).runs(job="eod")
    assert run_.outcome == "failed" and "Docker engine" in run_.detail
    (message,) = smtp.wait_for(1)
    assert "eod failed" in message and "start the Docker engine" in message and MAIL_PASSWORD not in message


def test_a_read_only_task_says_the_same_but_records_nothing(tmp_path, values, no_engine):
    result, said = run(tmp_path, values, "status")
    assert result.returncode == errors.EXIT_ENGINE and "Traceback" not in said
    assert history(values).runs() == []


def test_a_second_backup_while_one_runs_is_busy_with_its_exit_code_and_no_alert(tmp_path, values, smtp):
    values = values | {"ALERT_URLS": mail_url(smtp.port, MAIL_PASSWORD)}
    with locks.exclusive(tmp_path / "state", "backup"):
        started = time.monotonic()
        result, said = run(tmp_path, values, "backup")
        waited = time.monotonic() - started
    assert result.returncode == errors.EXIT_BUSY, said
    assert "backup is already running" in result.stderr and "waited 1s" in result.stderr and "Traceback" not in said
    assert waited >= 1, "it waited LOCK_WAIT_SECONDS before giving up"
    (run_,) = history(values).runs(job="backup")
    assert run_.outcome == "busy"
    time.sleep(1)
    assert smtp.messages == [], "busy is not a failure: nothing is alerted"


def test_invoke_dry_is_the_tasks_dry_run_refused_by_a_task_without_one_and_never_the_real_thing(tmp_path, values):
    result, said = run(tmp_path, values, "--dry", "backup")
    assert result.returncode == 0 and "would write" in result.stdout, said
    assert not (tmp_path / "backup").exists() or not any((tmp_path / "backup").iterdir()), "no backup was taken"
    refused, said = run(tmp_path, values, "--dry", "shell")
    assert refused.returncode == errors.EXIT_USAGE
    assert "shell has no dry run" in refused.stderr and "nothing was done" in refused.stderr
    planned, said = run(tmp_path, values, "--dry", "resume")
    assert planned.returncode == 0 and "would set GO: run_stack_handler" in planned.stdout, said
    read_only, said = run(tmp_path, values, "--dry", "config")
    assert read_only.returncode == 0 and "LOCK_WAIT_SECONDS" in read_only.stdout
    assert history(values).runs() == []


def test_a_task_refused_by_dry_did_not_load_anything_that_could_change_state(tmp_path, values, no_engine):
    result, _ = run(tmp_path, values, "--dry", "shell")
    assert result.returncode == errors.EXIT_USAGE, "refused before the engine was asked"


def test_a_lock_that_cannot_be_opened_is_a_permission_error_with_its_exit_code(tmp_path, values):
    """Run as another user than the one that made STATE_DIR's locks (the classic `sudo invoke` once)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to run the task as another user")
    import shutil
    import tempfile

    folder = tempfile.mkdtemp(prefix="perm-")  # not under pytest's 0700 base: `nobody` must reach it
    try:
        os.chmod(folder, 0o755)
        state = os.path.join(folder, "state")
        os.makedirs(os.path.join(state, "locks"), mode=0o700)  # made by root
        shutil.chown(state, "nobody")
        env_file = os.path.join(folder, ".env")
        with open(env_file, "w") as f:
            f.write(f"STATE_DIR={state}\nBACKUP_DIR={folder}/backup\nREPORTS_DIR={folder}/reports\n")
        shutil.chown(env_file, "nobody")
        os.chmod(env_file, 0o600)
        environ = {k: v for k, v in os.environ.items() if k not in ("STATE_DIR", "HOME")} | {
            "ECOSYSTEM_ENV_FILE": env_file, "HOME": folder, "PYTHONDONTWRITEBYTECODE": "1"}
        as_nobody = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
        probe = subprocess.run([*as_nobody, *invoke_argv("--version")], cwd=ROOT, env=environ, capture_output=True)
        if probe.returncode != 0:
            pytest.skip("this checkout or its Python cannot be read by the user nobody")
        result = subprocess.run([*as_nobody, *invoke_argv("backup")], cwd=ROOT, env=environ, capture_output=True,
                                text=True, timeout=120)
        said = result.stdout + result.stderr
        assert result.returncode == errors.EXIT_PERMISSION, said
        assert "Traceback" not in said and "locks/backup.lock" in result.stderr and "was refused" in result.stderr
        (run_,) = History(os.path.join(state, "history.jsonl")).runs(job="backup")
        assert run_.outcome == "failed" and "NoPermission" in run_.detail
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_an_unreachable_reports_remote_is_exit_5_with_the_commit_kept(tmp_path, values):
    remote = f"http://127.0.0.1:{free_port()}/reports.git"
    clone = tmp_path / "reports"
    clone.mkdir()
    git = ["git", "-C", str(clone), "-c", "user.name=t", "-c", "user.email=t@localhost"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "remote", "add", "origin", remote], check=True)
    (clone / "Status_report.txt").write_text("all good\n")
    result, said = run(tmp_path, values | {"REPORTS_REMOTE": remote, "GIT_TOKEN": "sentinel-GIT-token-9911"},
                       "reports")
    assert result.returncode == errors.EXIT_GIT, said
    assert "Traceback" not in said and "pushing the reports failed" in result.stderr
    assert "the local commit" in result.stderr and "sentinel-GIT-token-9911" not in said
    (run_,) = history(values).runs(job="reports")
    assert run_.outcome == "failed" and "GitRemoteError" in run_.detail


def test_a_dry_run_or_a_usage_error_is_said_but_never_recorded(tmp_path, values):
    smb = {"SMB_SERVER": "127.0.0.1", "SMB_PORT": str(free_port()), "SMB_SHARE": "b", "SMB_USER": "trader",
           "SMB_PASSWORD": SMB_PASSWORD}
    dry, said = run(tmp_path, values | smb, "offload", "--dry-run")
    assert dry.returncode == errors.EXIT_SMB and "Traceback" not in said
    wrong, said = run(tmp_path, values, "eod", "--day", "Thursday")
    assert wrong.returncode == errors.EXIT_USAGE and "YYYY-MM-DD" in wrong.stderr
    assert history(values).runs() == [], "a dry run never passes for a real one, and a wrong flag did nothing"


def test_a_task_run_as_a_pipeline_step_leaves_the_record_to_its_pipeline(tmp_path, values, no_engine):
    result, said = run(tmp_path, values, "nightly")
    assert result.returncode == 1 and "Traceback" not in said
    failed_steps = {r.step for r in history(values).runs(job="nightly") if r.outcome == "failed" and r.step}
    assert "eod" in failed_steps
    assert history(values).runs(job="eod") == [], "the step's own boundary did not record it a second time"
