"""The backup key (age through pyrage) and the ecosystem's own state in a set: made once, refused
when it cannot be trusted, and the state put back onto a new host without losing what is there."""
from __future__ import annotations

import hashlib
import io
import os
import tarfile
from datetime import date
from pathlib import Path

import pytest

from ecosystem import backup_key, own_state, pipelines
from ecosystem.backup_sets import BackupSetError
from ecosystem.settings import load_settings


def test_setup_makes_one_key_0600_and_a_second_call_keeps_it(tmp_path):
    path = tmp_path / "state" / "backup-key.txt"
    key, made = backup_key.ensure(path)
    again, made_again = backup_key.ensure(path)
    assert made and not made_again and again.public == key.public
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert str(key.identity) not in repr(key) and key.public in repr(key), "the key never shows itself"
    shown = backup_key.shown_once(key, terminal=False)
    assert str(key.identity) not in shown and f"cat {path}" in shown, "not into a log: only to a terminal"
    assert str(key.identity) in backup_key.shown_once(key, terminal=True)


@pytest.mark.parametrize("content, mode, words", [
    (None, 0o600, "there is no backup key"),
    ("not a key\n", 0o600, "does not hold one age secret key"),
    ("AGE-SECRET-KEY-1ABC\n", 0o600, "does not hold one age secret key"),
    ("KEY", 0o644, "can be read by other users"),
])
def test_a_missing_malformed_or_open_key_is_one_clear_error_with_its_fix(tmp_path, content, mode, words):
    path = tmp_path / "key.txt"
    if content == "KEY":
        backup_key.ensure(path)
    elif content is not None:
        path.write_text(content)
    if path.exists():
        os.chmod(path, mode)
    with pytest.raises(backup_key.BackupKeyError) as caught:
        backup_key.load(path)
    assert words in caught.value.message and caught.value.fix


def test_a_file_encrypted_to_another_key_or_changed_does_not_decrypt_and_says_which(tmp_path):
    key, _ = backup_key.ensure(tmp_path / "a.txt")
    other, _ = backup_key.ensure(tmp_path / "b.txt")
    sealed = io.BytesIO()
    size, digest = backup_key.encrypt(io.BytesIO(b"prices" * 50_000), sealed, key)
    assert size == 300_000 and b"prices" not in sealed.getvalue()
    assert digest == hashlib.sha256(b"prices" * 50_000).hexdigest(), "what was encrypted, for the manifest check"
    assert backup_key.decrypt_bytes(sealed.getvalue(), key, "x") == b"prices" * 50_000
    with pytest.raises(backup_key.WrongKey, match="another backup key"):
        backup_key.decrypt_bytes(sealed.getvalue(), other, "db.archive.gz.age")
    cut = sealed.getvalue()[:-100]
    with pytest.raises(backup_key.BackupKeyError, match="does not decrypt whole"):
        backup_key.decrypt_bytes(cut, key, "db.archive.gz.age")


def test_a_failure_of_the_file_age_writes_into_is_raised_as_itself(tmp_path):
    key, _ = backup_key.ensure(tmp_path / "a.txt")

    class Full(io.RawIOBase):
        def write(self, data):
            raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        backup_key.encrypt(io.BytesIO(b"x" * 200_000), Full(), key)


def _settings(tmp_path: Path, env: str):
    (tmp_path / ".env").write_text(env)
    return load_settings(tmp_path, environ={})


def test_the_state_archive_round_trips_env_secrets_and_private_config_but_never_the_key(tmp_path):
    secret_file = tmp_path / "tws_password"
    secret_file.write_text("sentinel-TWS-pw-31")
    s = _settings(tmp_path, f"TWSUSERID=trader7\nTWSPASSWORD_FILE={secret_file}\nPRIVATE_CONFIG_DIR=private\n")
    key, _ = backup_key.ensure(s.backup_key_file)
    (tmp_path / "private").mkdir()
    (tmp_path / "private" / "private_config.yaml").write_text("broker_account: U123\n")
    (tmp_path / "private" / "nested").mkdir()
    (tmp_path / "private" / "nested" / "x.yaml").write_text("a: 1\n")
    written = own_state.archive(s, key, tmp_path / "state.tar.age")
    data = (tmp_path / "state.tar.age").read_bytes()
    assert b"sentinel-TWS-pw-31" not in data and b"U123" not in data and written["size"] == len(data)
    state = own_state.read(tmp_path / "state.tar.age", key)
    assert state.secrets == {"TWSUSERID": "trader7", "TWSPASSWORD": "sentinel-TWS-pw-31"}
    assert state.private == {"private_config.yaml": b"broker_account: U123\n", "nested/x.yaml": b"a: 1\n"}
    assert "TWSPASSWORD_FILE" in state.env_text and state.about["secret_files"] == ["TWSPASSWORD"]
    assert str(key.identity) not in repr(state), "the backup key is in no set"


def test_a_state_archive_with_a_member_it_never_writes_is_refused(tmp_path):
    key, _ = backup_key.ensure(tmp_path / "k.txt")
    plain = io.BytesIO()
    with tarfile.open(fileobj=plain, mode="w") as tar:
        info = tarfile.TarInfo("../../etc/cron.d/evil")
        info.size = 4
        tar.addfile(info, io.BytesIO(b"evil"))
    plain.seek(0)
    with open(tmp_path / "state.tar.age", "wb") as out:
        backup_key.encrypt(plain, out, key)
    with pytest.raises(BackupSetError, match="never writes"):
        own_state.read(tmp_path / "state.tar.age", key)


def test_the_recovered_env_keeps_this_hosts_keys_and_points_file_secrets_at_recovered_files(tmp_path):
    state = own_state.OwnState(
        env_text="NAME_SUFFIX=_old\nTWSUSERID=trader7\nTWSPASSWORD_FILE=/run/secrets/tws\nSMB_PASSWORD=old-pw\n"
                 "BACKUP_DIR=/srv/old-backups\n",
        secrets={"TWSUSERID": "trader7", "TWSPASSWORD": "pw", "SMB_PASSWORD": "old-pw"})
    here = "NAME_SUFFIX=_new\nSMB_PASSWORD_FILE=/etc/smb-pw\nSMB_SERVER=nas\n"
    values, as_files = own_state.merged_env(state, here, tmp_path / "recovered-secrets")
    assert values["NAME_SUFFIX"] == "_new" and values["SMB_SERVER"] == "nas"
    assert "SMB_PASSWORD" not in values and values["SMB_PASSWORD_FILE"] == "/etc/smb-pw", "this host's way wins"
    assert values["TWSPASSWORD_FILE"] == str(tmp_path / "recovered-secrets" / "twspassword")
    assert values["TWSUSERID"] == "trader7" and values["BACKUP_DIR"] == "/srv/old-backups"
    assert as_files == ["TWSPASSWORD"]
    from_environment = own_state.OwnState(env_text="STATE_DIR=/srv/old-state\n", secrets={"GIT_TOKEN": "t0k"})
    values, as_files = own_state.merged_env(from_environment, "", tmp_path / "rs",
                                            pinned={"STATE_DIR": "/here/state", "BACKUP_KEY_FILE": "/here/key"})
    assert as_files == ["GIT_TOKEN"] and values["GIT_TOKEN_FILE"] == str(tmp_path / "rs" / "git_token"), \
        "a secret the old box had from its environment (in no .env) comes back too"
    assert values["STATE_DIR"] == "/here/state" and values["BACKUP_KEY_FILE"] == "/here/key", \
        "what the running recover uses does not move under it"


def test_putting_back_the_state_loses_nothing_here(tmp_path):
    s = _settings(tmp_path, "PRIVATE_CONFIG_DIR=private\nNAME_SUFFIX=_new\n")
    (tmp_path / "private").mkdir()
    (tmp_path / "private" / "private_config.yaml").write_text("mine: 1\n")
    state = own_state.OwnState(env_text="NAME_SUFFIX=_old\nTWSPASSWORD_FILE=/x\n", secrets={"TWSPASSWORD": "pw"},
                               private={"private_config.yaml": b"theirs: 1\n", "private_control_config.yaml": b"c\n"})
    said: list[str] = []
    own_state.put_back_env(state, s, said.append)
    differs = own_state.put_back_private(state, s, "pst-20261201T000000Z", said.append)
    assert (tmp_path / ".env.before-recover").read_text() == "PRIVATE_CONFIG_DIR=private\nNAME_SUFFIX=_new\n"
    recovered = load_settings(tmp_path, environ={})
    assert recovered.name_suffix == "_new" and recovered.twspassword.reveal() == "pw"
    assert oct((s.state_dir / "recovered-secrets" / "twspassword").stat().st_mode & 0o777) == "0o600"
    assert differs == ["private_config.yaml"]
    assert (tmp_path / "private" / "private_config.yaml").read_text() == "mine: 1\n", "this host's file kept"
    assert (tmp_path / "private" / "private_config.yaml.from-pst-20261201T000000Z").read_text() == "theirs: 1\n"
    assert (tmp_path / "private" / "private_control_config.yaml").read_text() == "c\n"


@pytest.mark.parametrize("every, day, reads_share", [
    (4, date(2026, 1, 24), True),    # ISO week 4
    (4, date(2026, 1, 17), False),   # ISO week 3
    (0, date(2026, 1, 24), False),   # never
    (1, date(2026, 1, 17), True),
])
def test_the_weekend_drill_reads_the_share_every_n_weeks_after_the_offload(tmp_path, every, day, reads_share):
    s = load_settings(tmp_path, environ={"SMB_SERVER": "nas", "SMB_SHARE": "b", "SMB_USER": "u",
                                         "SMB_PASSWORD": "p", "DRILL_FROM_SHARE_EVERY": str(every)})
    steps, _why = pipelines.weekend_steps(s, day)
    drill = next(step for step in steps if step.name == "restore drill")
    assert (drill.kwargs["from_"] == "smb:latest") == reads_share
    if reads_share:
        assert [step.name for step in steps] == ["cold backup", "offload", "restore drill", "local restore drill"]
        assert "offload" in drill.needs
        fallback = steps[-1]
        ok, failed = pipelines.Outcome.OK, pipelines.Outcome.FAILED
        assert pipelines.decide(fallback, s, {"cold backup": ok, "offload": ok, "restore drill": ok}, None)[0] == \
            "off", "the share's drill passed: no second drill"
        assert pipelines.decide(fallback, s, {"cold backup": ok, "offload": failed,
                                              "restore drill": pipelines.Outcome.SKIPPED}, None)[0] == "run", \
            "the share could not be drilled: the local set is"
    no_share = load_settings(tmp_path, environ={"DRILL_FROM_SHARE_EVERY": str(every)})
    assert pipelines.weekend_steps(no_share, day)[0] == pipelines.WEEKEND
