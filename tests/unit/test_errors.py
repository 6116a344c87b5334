"""The known failure classes: a raw error named as its class, each with its own exit code and fix."""
from __future__ import annotations

import errno
import re
from pathlib import Path

from ecosystem import errors
from ecosystem.errors import known

ROOT = Path(__file__).resolve().parents[2]


def test_a_full_disk_and_a_refused_access_are_named_with_their_file_and_exit_code():
    full = known(OSError(errno.ENOSPC, "No space left on device", "/backup/set/db.archive"))
    assert isinstance(full, errors.DiskFull) and full.exit_code == errors.EXIT_DISK_FULL
    assert "the disk is full writing /backup/set/db.archive" in full.message and "free space" in full.fix
    refused = known(PermissionError(errno.EACCES, "Permission denied", "/state/locks/backup.lock"))
    assert isinstance(refused, errors.NoPermission) and refused.exit_code == errors.EXIT_PERMISSION
    assert "/state/locks/backup.lock" in refused.message


def test_the_engine_gone_mid_run_and_a_missing_image_are_named_from_the_sdks_errors():
    import docker.errors
    import requests.exceptions

    gone = known(requests.exceptions.ConnectionError("('Connection aborted.', ConnectionResetError(104))"))
    assert isinstance(gone, errors.EngineUnavailable) and gone.exit_code == errors.EXIT_ENGINE
    assert "stopped answering" in gone.message and "invoke weekly.sync" in gone.fix
    cut = known(requests.exceptions.ChunkedEncodingError("Response ended prematurely"))  # a stream cut mid-wait
    assert isinstance(cut, errors.EngineUnavailable)
    missing = known(docker.errors.ImageNotFound("No such image: pysystemtrade_t1:latest"))
    assert isinstance(missing, errors.ImageMissing) and missing.exit_code == errors.EXIT_IMAGE
    assert "invoke build" in missing.fix


def test_an_ecosystem_error_is_itself_and_a_bug_is_unknown():
    smb = errors.SmbError("cannot reach the SMB server", fix="check SMB_SERVER")
    assert known(smb) is smb and smb.exit_code == errors.EXIT_SMB
    assert errors.GitRemoteError("x").exit_code == errors.EXIT_GIT
    assert errors.Busy("x").exit_code == errors.EXIT_BUSY and errors.Busy("x").outcome == "busy"
    assert known(KeyError("x")) is None and known(OSError(errno.EIO, "I/O error")) is None


def test_every_exit_code_is_documented_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    for code, meaning in errors.EXIT_CODES.items():
        assert re.search(rf"^\| `{code}` \| ", readme, flags=re.M), f"exit code {code} ({meaning}) is not in the README"
