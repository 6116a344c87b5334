"""The compose project's variables and secret files, derived from the settings."""
from __future__ import annotations

import os

import pytest

from ecosystem import stack
from ecosystem.settings import load_settings

SENTINEL = "sentinel-stack-5150"


@pytest.fixture
def settings(tmp_path):
    return load_settings(tmp_path, environ={"NAME_SUFFIX": "_s", "STATE_DIR": str(tmp_path / "state"),
                                            "TWSPASSWORD": SENTINEL, "TRADING_MODE": "live"})


def test_compose_env_carries_no_secret_and_derives_the_relay_port(settings):
    env = stack.compose_env(settings)
    assert SENTINEL not in str(env)
    assert env["IB_RELAY_PORT"] == "4003" and env["TRADING_MODE"] == "live"
    assert env["PYSYSTEMTRADE_IMAGE"] == "pysystemtrade_s:current"
    assert env["SECRETS_DIR"] == str(settings.state_dir / "secrets")
    assert all(os.path.isabs(env[k]) for k in ("PRIVATE_CONFIG_DIR", "BACKUP_DIR", "REPORTS_DIR", "SECRETS_DIR"))


def test_paper_mode_relays_4004(tmp_path):
    assert stack.compose_env(load_settings(tmp_path, environ={}))["IB_RELAY_PORT"] == "4004"


def test_secret_files_are_written_private_with_the_values(settings):
    written = stack.write_secret_files(settings).notes
    folder = stack.secrets_dir(settings)
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    assert (folder / "tws_password").read_text() == SENTINEL
    assert (folder / "vnc_password").read_text() == "" and written["vnc_password"] == "empty"
    assert {p.name for p in folder.iterdir()} == {f.name for f in stack.SECRET_FILES}
    if os.geteuid() == 0:
        assert (folder / "tws_password").stat().st_uid == stack.GATEWAY_UID
        assert (folder / "mongo_root_password").stat().st_uid == stack.MONGO_UID
        assert (folder / "jupyter_token").stat().st_uid == settings.container_uid
        assert {oct(p.stat().st_mode & 0o777) for p in folder.iterdir()} == {"0o400"}


def test_jupyter_token_is_generated_once_and_kept(settings):
    first = stack.write_secret_files(settings)
    assert first.notes["jupyter_token"] == "generated" and "jupyter_token" in first.changed
    token = (stack.secrets_dir(settings) / "jupyter_token").read_text()
    assert len(token) >= 32
    again = stack.write_secret_files(settings)
    assert again.notes["jupyter_token"] == "generated earlier" and again.changed == frozenset()
    assert (stack.secrets_dir(settings) / "jupyter_token").read_text() == token


def test_a_configured_jupyter_token_wins(tmp_path):
    settings = load_settings(tmp_path, environ={"STATE_DIR": str(tmp_path / "s"), "JUPYTER_TOKEN": "my-token-xyz"})
    assert stack.write_secret_files(settings).notes["jupyter_token"] == "set"
    assert (stack.secrets_dir(settings) / "jupyter_token").read_text() == "my-token-xyz"


def test_the_status_page_needs_a_token_only_off_loopback_and_a_bind_change_recreates_it(tmp_path):
    environ = {"STATE_DIR": str(tmp_path / "s")}
    loopback = stack.write_secret_files(load_settings(tmp_path, environ=environ))
    assert loopback.notes["status_page_token"].startswith("empty")
    assert (stack.secrets_dir(load_settings(tmp_path, environ=environ)) / "status_page_token").read_text() == ""
    opened = stack.write_secret_files(load_settings(tmp_path, environ=environ | {"BIND_ADDRESS": "0.0.0.0"}))
    assert opened.notes["status_page_token"] == "generated" and "status_page" in opened.services_to_recreate()
    token = (tmp_path / "s" / "secrets" / "status_page_token").read_text()
    assert len(token) >= 32
    kept = stack.write_secret_files(load_settings(tmp_path, environ=environ | {"BIND_ADDRESS": "0.0.0.0"}))
    assert kept.changed == frozenset() and (tmp_path / "s" / "secrets" / "status_page_token").read_text() == token


def test_private_config_is_restricted_to_the_container_user(tmp_path):
    private = tmp_path / "private"
    private.mkdir()
    (private / "private_config.yaml").write_text("broker_account: x\n")
    settings = load_settings(tmp_path, environ={"PRIVATE_CONFIG_DIR": str(private)})
    message = stack.secure_private_config(settings)
    if os.geteuid() == 0:
        assert "owned by uid 1000" in message
        assert oct((private / "private_config.yaml").stat().st_mode & 0o777) == "0o600"
        assert (private / "private_config.yaml").stat().st_uid == 1000
    assert "does not exist" in stack.secure_private_config(
        load_settings(tmp_path, environ={"PRIVATE_CONFIG_DIR": str(tmp_path / "none")}))


def test_service_groups_cover_every_service_once():
    groups = stack.ALWAYS_ON + stack.TRADING + stack.ONE_SHOT + stack.ON_DEMAND
    assert sorted(groups) == sorted(stack.SERVICES) and len(set(groups)) == len(groups)


def test_a_changed_secret_names_the_service_to_recreate(tmp_path):
    environ = {"STATE_DIR": str(tmp_path / "s"), "TWSPASSWORD": "first-pw-1"}
    stack.write_secret_files(load_settings(tmp_path, environ=environ))
    inode = (tmp_path / "s" / "secrets" / "tws_password").stat().st_ino
    unchanged = stack.write_secret_files(load_settings(tmp_path, environ=environ))
    assert unchanged.changed == frozenset() and unchanged.services_to_recreate() == set()
    assert (tmp_path / "s" / "secrets" / "tws_password").stat().st_ino == inode, "unchanged files are left alone"
    changed = stack.write_secret_files(load_settings(tmp_path, environ=environ | {"TWSPASSWORD": "second-pw-2"}))
    assert changed.changed == {"tws_password"} and changed.services_to_recreate() == {"ib_gateway"}


def test_an_unwritable_state_dir_is_a_clear_error(tmp_path):
    (tmp_path / "file").write_text("")
    from ecosystem.errors import EcosystemError
    with pytest.raises(EcosystemError, match="cannot write the secret files"):
        stack.write_secret_files(load_settings(tmp_path, environ={"STATE_DIR": str(tmp_path / "file")}))


def test_the_logging_config_is_upstreams_format_with_the_one_port_readable_by_the_containers(tmp_path):
    import stat

    import yaml

    settings = load_settings(tmp_path, environ={"STATE_DIR": str(tmp_path / "state"), "LOG_SERVER_PORT": "9123"})
    path = stack.write_logging_config(settings)
    config = yaml.safe_load(path.read_text())
    assert config["handlers"]["socket"] == {"class": "logging.handlers.SocketHandler", "host": "localhost",
                                            "port": 9123, "level": "DEBUG", "formatter": "simple"}
    assert set(config["root"]["handlers"]) == {"console", "email", "socket"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert stack.compose_env(settings)["ECOSYSTEM_ETC_DIR"] == str(path.parent)
    assert [p.name for p in path.parent.iterdir()] == ["logging_prod.yaml"], "no temporary file left"


def test_the_compose_files_are_read_as_docker_compose_reads_them(tmp_path, monkeypatch):
    from ecosystem import stack as stack_module
    from ecosystem.settings import load_settings

    main = tmp_path / "docker-compose.yml"
    main.write_text("services: {}\n")
    monkeypatch.setattr(stack_module, "COMPOSE_FILE", main)
    (tmp_path / "mine.yml").write_text("services: {}\n")
    settings = load_settings(tmp_path, environ={"EXTRA_COMPOSE_FILES": "mine.yml"})
    assert stack_module.compose_files(settings) == [main, tmp_path / "mine.yml"]
    (tmp_path / "docker-compose.override.yml").write_text("services: {}\n")
    assert stack_module.compose_files(settings) == [main, tmp_path / "docker-compose.override.yml",
                                                    tmp_path / "mine.yml"]
    argv = stack_module.compose(settings)._argv("ps")
    assert argv.count("--file") == 3 and argv.index(str(main)) < argv.index(str(tmp_path / "mine.yml"))


def test_status_says_out_of_memory_only_when_the_engine_does():
    from ecosystem.stack import ServiceState

    row = ServiceState("mongo_db", "mongo_db", "exited", "", None, 137, None)
    assert row.exit_shown == "137"
    assert ServiceState("mongo_db", "mongo_db", "exited", "", None, 137, None, oom_killed=True).exit_shown == \
        "137 (out of memory)"
    assert ServiceState("mongo_db", "mongo_db", "running", "", None, None, None).exit_shown == ""


def test_upstreams_dashboard_is_refused_off_loopback_before_anything_starts(tmp_path):
    from tests.support.invoking import run_invoke

    values = {"STATE_DIR": str(tmp_path / "s"), "BIND_ADDRESS": "0.0.0.0", "DOCKER_HOST": "unix:///nonexistent.sock"}
    refused = run_invoke(tmp_path, values, "up", "--services", "dashboard", timeout=120)
    assert refused.returncode == 2 and "no login" in refused.stderr and "ssh -L 8050:127.0.0.1:8050" in refused.stderr
    assert not (tmp_path / "s" / "history.jsonl").exists(), "nothing recorded, nothing started"
