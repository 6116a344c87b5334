"""Every settings rule: sources and precedence, *_FILE secrets, validation, masking."""
from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from ecosystem.errors import SettingsError
from ecosystem.settings import SECRET_NAMES, VARIABLES, Settings, load_settings, render_env_example

ROOT = Path(__file__).resolve().parents[2]
SENTINEL = "sentinel-Secret-9f3a1c"


def load(tmp_path: Path, text: str | None = None, environ: dict | None = None, *, raw: bytes | None = None):
    env_file = tmp_path / ".env"
    if raw is not None:
        env_file.write_bytes(raw)
    elif text is not None:
        env_file.write_text(text)
    return load_settings(tmp_path, env_file=env_file, environ=environ or {})


def problems_of(tmp_path, text=None, environ=None, **kw) -> list[str]:
    with pytest.raises(SettingsError) as caught:
        load(tmp_path, text, environ, **kw)
    return [str(p) for p in caught.value.problems]


# --- sources -------------------------------------------------------------------------------

def test_without_env_file_defaults_apply_and_a_warning_says_so(tmp_path):
    settings = load(tmp_path)
    assert settings.workflow_weekday_start == 1 and settings.workflow_weekday_end == 5
    assert settings.hour_to_stop_workflow_on_end_weekday == 24
    assert settings.bind_address == "127.0.0.1" and settings.timezone == "Europe/London"
    assert settings.env_file is None
    assert any("no .env" in w and "built-in defaults apply" in w for w in settings.warnings)
    assert settings.script_path == "/opt/pysystemtrade/sysproduction/linux/scripts"


def test_environment_wins_over_env_file(tmp_path):
    settings = load(tmp_path, "WORKFLOW_WEEKDAY_START=2\nTIMEZONE=America/Chicago\n",
                    {"WORKFLOW_WEEKDAY_START": "3"})
    assert settings.workflow_weekday_start == 3
    assert settings.timezone == "America/Chicago"
    assert settings.sources["WORKFLOW_WEEKDAY_START"] == "environment"
    assert settings.sources["TIMEZONE"] == ".env"


def test_env_file_location_can_come_from_the_environment(tmp_path):
    other = tmp_path / "elsewhere.env"
    other.write_text("NAME_SUFFIX=_other\n")
    settings = load_settings(tmp_path, environ={"ECOSYSTEM_ENV_FILE": str(other)})
    assert settings.name_suffix == "_other" and settings.compose_project == "pysystemtrade_other"


def test_crlf_line_endings_are_read_like_lf(tmp_path):
    settings = load(tmp_path, raw=b"NAME_SUFFIX=_win\r\nWORKFLOW_WEEKDAY_END=4\r\nTIMEZONE=Europe/Berlin\r\n")
    assert settings.name_suffix == "_win"
    assert settings.workflow_weekday_end == 4
    assert settings.timezone == "Europe/Berlin"


def test_quoted_values(tmp_path):
    settings = load(tmp_path, 'SMB_USER="trader one"\nSMB_PASSWORD=\'pa$$ word\'\nSMB_FOLDER="a/b"\n'
                              'SMB_SERVER=nas\nSMB_SHARE=backups\nPYSYS_CODE="/opt/pst"\n')
    assert settings.smb_user == "trader one"
    assert settings.smb_password.reveal() == "pa$$ word"  # single quotes keep '$' literal
    assert settings.smb_folder == "a\\b"
    assert settings.script_path == "/opt/pst/sysproduction/linux/scripts"


def test_utf8_bom_is_ignored(tmp_path):
    settings = load(tmp_path, raw="\ufeffNAME_SUFFIX=_bom\n".encode())
    assert settings.name_suffix == "_bom"


def test_unknown_variable_in_env_file_warns_with_a_suggestion(tmp_path):
    settings = load(tmp_path, "WORKFLOW_WEEKDAY_STRAT=2\nCOMPOSE_PROFILES=x\n")
    assert any("WORKFLOW_WEEKDAY_STRAT" in w and "did you mean WORKFLOW_WEEKDAY_START" in w
               for w in settings.warnings)
    assert not any("COMPOSE_PROFILES" in w for w in settings.warnings)


# --- validation ------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["8", "0", "Mon", "1.5", ""])
def test_unknown_weekday(tmp_path, value):
    found = problems_of(tmp_path, environ={"WORKFLOW_WEEKDAY_START": value or " "})
    assert len(found) == 1
    assert re.match(r"WORKFLOW_WEEKDAY_START=.*: must be 1 \(Monday\) to 7 \(Sunday\) "
                    r"\(e\.g\. WORKFLOW_WEEKDAY_START=1\)", found[0])


def test_weekday_message_matches_the_documented_form(tmp_path):
    found = problems_of(tmp_path, "WORKFLOW_WEEKDAY_START=8\n")
    assert found[0].startswith("WORKFLOW_WEEKDAY_START=8: must be 1 (Monday) to 7 (Sunday)")


@pytest.mark.parametrize("value", ["25", "-1", "noon"])
def test_stop_hour_out_of_range(tmp_path, value):
    found = problems_of(tmp_path, environ={"HOUR_TO_STOP_WORKFLOW_ON_END_WEEKDAY": value})
    assert "HOUR_TO_STOP_WORKFLOW_ON_END_WEEKDAY" in found[0] and "0 to 24" in found[0]


@pytest.mark.parametrize("value", ["0", "24", "17"])
def test_stop_hour_bounds_are_accepted(tmp_path, value):
    assert load(tmp_path, environ={"HOUR_TO_STOP_WORKFLOW_ON_END_WEEKDAY": value}
                ).hour_to_stop_workflow_on_end_weekday == int(value)


@pytest.mark.parametrize("value", ["Mars/Olympus", "Europe/Londn", "../../etc/passwd", "UTC+1"])
def test_unknown_timezone(tmp_path, value):
    found = problems_of(tmp_path, environ={"TIMEZONE": value})
    assert found[0].startswith(f"TIMEZONE={value}: is not a known IANA timezone name")


@pytest.mark.parametrize("value", ["_Prod", "a b", "x/y", "süd", "name:tag", "a" * 33, "a.b"])
def test_name_suffix_with_characters_docker_refuses(tmp_path, value):
    found = problems_of(tmp_path, environ={"NAME_SUFFIX": value})
    assert found[0].startswith("NAME_SUFFIX=") and "lowercase letters, digits" in found[0]


@pytest.mark.parametrize("value", ["_prod", "-2", "", "x9_y-z"])
def test_name_suffix_docker_accepts(tmp_path, value):
    assert load(tmp_path, environ={"NAME_SUFFIX": value} if value else {}).name_suffix == value


@pytest.mark.parametrize("variable,value,words", [
    ("IPV4_NETWORK_PART", "172.28", "first three numbers"),
    ("IPV4_NETWORK_PART", "8.8.8", "private network"),
    ("IPV4_NETWORK_PART", "172.300.1", "first three numbers"),
    ("TRADING_MODE", "demo", "paper, live"),
    ("BIND_ADDRESS", "localhost:1", "IP address"),
    ("IB_API_PORT", "70000", "port number"),
    ("PYSYS_CODE", "relative/path", "absolute path"),
    ("BACKUP_KEEP_LAST", "-3", "0 or more"),
    ("BACKUP_MIN_FREE_GB", "lots", "0 or more"),
    ("PYSYSTEMTRADE_BRANCH", "my branch", "branch name"),
    ("SMB_SERVER", "\\\\nas\\share", "host name"),
    ("SMB_SHARE", "backups/daily", "SMB_FOLDER"),
    ("SMB_FOLDER", "a/../b", "'..'"),
])
def test_bad_values_name_the_variable_problem_and_example(tmp_path, variable, value, words):
    found = problems_of(tmp_path, environ={variable: value})
    assert len(found) == 1 and found[0].startswith(f"{variable}=") and words in found[0] and "(e.g. " in found[0]


def test_every_problem_is_listed_in_one_error(tmp_path):
    with pytest.raises(SettingsError) as caught:
        load(tmp_path, "WORKFLOW_WEEKDAY_START=8\nTIMEZONE=Nowhere/Land\nNAME_SUFFIX=BAD\nIB_API_PORT=0\n")
    message = str(caught.value)
    assert message.startswith("4 problems in the settings")
    for name in ("WORKFLOW_WEEKDAY_START", "TIMEZONE", "NAME_SUFFIX", "IB_API_PORT"):
        assert name in message
    assert "fix:" in message and ".env.example" in message


def test_ports_must_differ(tmp_path):
    found = problems_of(tmp_path, environ={"VNC_PORT": "4001"})
    assert found == ["VNC_PORT=4001: is the same port as IB_API_PORT; each needs its own (e.g. VNC_PORT=4002)"]


def test_smb_server_needs_share_user_and_password(tmp_path):
    found = problems_of(tmp_path, environ={"SMB_SERVER": "nas"})
    assert [f.split("=")[0] for f in found] == ["SMB_SHARE", "SMB_USER", "SMB_PASSWORD"]


def test_malformed_line_is_named_by_number_without_its_content(tmp_path):
    found = problems_of(tmp_path, f"NAME_SUFFIX=_ok\nGIT_TOKEN {SENTINEL}\n")
    assert len(found) == 1 and "line 2" in found[0] and "NAME=value" in found[0]
    assert SENTINEL not in found[0]


def test_non_utf8_env_file(tmp_path):
    found = problems_of(tmp_path, raw=b"SMB_USER=\xff\xfe\n")
    assert "not UTF-8" in found[0]


# --- secrets -----------------------------------------------------------------------------------

def test_secret_from_file_strips_only_the_trailing_newline(tmp_path):
    (tmp_path / "token").write_text(f" {SENTINEL} \n")
    settings = load(tmp_path, "GIT_TOKEN_FILE=token\n")
    assert settings.git_token.reveal() == f" {SENTINEL} "
    assert settings.sources["GIT_TOKEN"] == "file (GIT_TOKEN_FILE)"


def test_secret_file_that_does_not_exist(tmp_path):
    found = problems_of(tmp_path, environ={"TWSPASSWORD_FILE": "/nonexistent/tws_password"})
    assert found[0].startswith("TWSPASSWORD_FILE=/nonexistent/tws_password: file does not exist")


def test_secret_file_that_is_empty_or_a_folder(tmp_path):
    (tmp_path / "empty").write_text("\n")
    assert "file is empty" in problems_of(tmp_path, environ={"SMB_PASSWORD_FILE": str(tmp_path / "empty")})[0]
    assert "is a folder" in problems_of(tmp_path, environ={"SMB_PASSWORD_FILE": str(tmp_path)})[0]


def test_secret_given_both_ways_is_refused_without_showing_it(tmp_path):
    (tmp_path / "token").write_text(SENTINEL)
    with pytest.raises(SettingsError) as caught:
        load(tmp_path, f"GIT_TOKEN={SENTINEL}\n", {"GIT_TOKEN_FILE": str(tmp_path / "token")})
    assert "GIT_TOKEN=<hidden>: is set both directly and as GIT_TOKEN_FILE" in str(caught.value)
    assert SENTINEL not in str(caught.value) and SENTINEL not in repr(caught.value.problems)


def test_url_with_credentials_is_refused_and_hidden(tmp_path):
    with pytest.raises(SettingsError) as caught:
        load(tmp_path, environ={"REPORTS_REMOTE": f"https://bot:{SENTINEL}@example.invalid/r.git"})
    assert "REPORTS_REMOTE=<hidden: holds credentials>" in str(caught.value)
    assert SENTINEL not in str(caught.value)


def test_secrets_are_masked_everywhere_they_could_be_printed(tmp_path, capsys, caplog):
    settings = load(tmp_path, f"GIT_TOKEN={SENTINEL}\nTWSUSERID={SENTINEL}u\nTWSPASSWORD={SENTINEL}p\n")
    assert settings.git_token.reveal() == SENTINEL
    print(settings, repr(settings), settings.shown(), f"{settings.git_token}")
    import logging
    logging.getLogger("test").warning("settings are %s", settings)
    captured = capsys.readouterr()
    assert SENTINEL not in captured.out + captured.err + caplog.text
    assert ("GIT_TOKEN", "********", ".env") in settings.shown()


def test_world_readable_env_file_with_secrets_warns(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text(f"GIT_TOKEN={SENTINEL}\n")
    os.chmod(env_file, 0o644)
    settings = load_settings(tmp_path, env_file=env_file, environ={})
    assert any("chmod 600" in w for w in settings.warnings)
    os.chmod(env_file, 0o600)
    assert not any("chmod 600" in w for w in load_settings(tmp_path, env_file=env_file, environ={}).warnings)


def test_non_loopback_bind_address_warns(tmp_path):
    settings = load(tmp_path, environ={"BIND_ADDRESS": "0.0.0.0"})
    assert any("beyond this host" in w for w in settings.warnings)


# --- the object itself -----------------------------------------------------------------------

def test_settings_are_immutable(tmp_path):
    settings = load(tmp_path)
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.name_suffix = "_other"


def test_every_variable_maps_to_exactly_one_field():
    names = {f.name for f in dataclasses.fields(Settings)} - {"root", "env_file", "sources", "warnings"}
    assert names == {v.attr for v in VARIABLES}
    assert len({v.name for v in VARIABLES}) == len(VARIABLES)


def test_a_setting_is_declared_once_on_its_field_and_the_rest_derives_from_it(tmp_path):
    from ecosystem.stack import compose_env

    declared = [f for f in dataclasses.fields(Settings) if "variable" in f.metadata]
    assert [v.attr for v in VARIABLES] == [f.name for f in declared], "VARIABLES is the fields, in their order"
    assert all(f.metadata["variable"].attr == "" for f in declared), "the attribute is the field's name, never typed"
    example = render_env_example()
    assert all(re.search(rf"^#? ?{v.name}=", example, flags=re.M) for v in VARIABLES), ".env.example shows each"
    settings = load(tmp_path)
    env = compose_env(settings)
    for var in VARIABLES:
        if var.compose:
            assert env[var.name] == str(getattr(settings, var.attr)), var.name
    assert not {v.name for v in VARIABLES if v.secret} & set(env), "no secret value goes to compose"


def test_earlier_setups_variables_keep_their_names():
    names = {v.name for v in VARIABLES}
    assert {"IPV4_NETWORK_PART", "NAME_SUFFIX", "PYSYS_CODE", "SCRIPT_PATH", "ECHO_PATH", "GIT_TOKEN", "TWSUSERID",
            "TWSPASSWORD", "WORKFLOW_WEEKDAY_START", "WORKFLOW_WEEKDAY_END",
            "HOUR_TO_STOP_WORKFLOW_ON_END_WEEKDAY"} <= names
    assert {"GIT_TOKEN", "TWSUSERID", "TWSPASSWORD", "SMB_PASSWORD"} <= SECRET_NAMES


def test_env_example_documents_every_variable_with_its_default_and_loads_cleanly(tmp_path):
    text = (ROOT / ".env.example").read_text()
    assert text == render_env_example(), "regenerate it: python -m ecosystem.settings > .env.example"
    for var in VARIABLES:  # commented out: a default that changes later reaches whoever copied the file
        assert f"\n# {var.name}={var.default}\n" in text, var.name
    assert not re.search(r"^[A-Z_]+=", text, flags=re.M), "no setting is pinned by copying the example"
    (tmp_path / ".env").write_text(text)
    os.chmod(tmp_path / ".env", 0o600)
    settings = load_settings(tmp_path, environ={})
    assert settings.warnings == ()
    assert settings == dataclasses.replace(load_settings(tmp_path, env_file=tmp_path / "none", environ={}),
                                           env_file=settings.env_file, warnings=())


def test_mongo_user_and_password_go_together(tmp_path):
    found = problems_of(tmp_path, environ={"MONGO_ROOT_USER": "admin"})
    assert found[0].startswith("MONGO_ROOT_USER=admin: and MONGO_ROOT_PASSWORD go together")
    loaded = load(tmp_path, environ={"MONGO_ROOT_USER": "admin", "MONGO_ROOT_PASSWORD": SENTINEL})
    assert loaded.mongo_root_user == "admin"


@pytest.mark.parametrize("value,ok", [("11:55 PM", True), ("1:05 am", True), ("23:55", False), ("13:00 PM", False)])
def test_gateway_restart_time_is_a_12_hour_time(tmp_path, value, ok):
    environ = {"GATEWAY_AUTO_RESTART_TIME": value}
    if ok:
        assert load(tmp_path, environ=environ).gateway_auto_restart_time == value.upper()
    else:
        assert "12-hour time" in problems_of(tmp_path, environ=environ)[0]


def test_chained_defaults_follow_the_state_dir(tmp_path):
    settings = load(tmp_path, environ={"STATE_DIR": "/srv/eco-state"})
    assert str(settings.pysystemtrade_clone_dir) == "/srv/eco-state/pysystemtrade"
    assert str(settings.private_config_dir) == "/srv/eco-state/pysystemtrade/private"


def test_image_references_are_checked(tmp_path):
    assert "image reference" in problems_of(tmp_path, environ={"MONGO_IMAGE": "Mongo Latest"})[0]


@given(st.dictionaries(st.sampled_from(["TWSPASSWORD", "SMB_PASSWORD", "GIT_USERNAME", "ALERT_URLS"]),
                       st.text(st.sampled_from("ab ${}'\"\\\n#=") | st.characters(blacklist_categories=("Cs",),
                               blacklist_characters="\x00\r"), max_size=30)))
@hypothesis_settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=60)
def test_a_written_env_file_reads_back_exactly_and_only_its_owner_reads_it(tmp_path_factory, values):
    from dotenv import dotenv_values

    from ecosystem.settings import write_env_file

    path = tmp_path_factory.mktemp("env") / ".env"
    try:
        write_env_file(path, values)
    except ValueError as exc:  # the one refused shape, named
        assert any("${" in v and any(c in v for c in "'\\\n") for v in values.values())
        assert "cannot be written" in str(exc)
        return
    assert {k: v or "" for k, v in dotenv_values(path).items()} == values
    assert path.stat().st_mode & 0o777 == 0o600


def test_config_changed_lists_only_what_differs_from_the_built_in_defaults(tmp_path):
    settings = load(tmp_path, environ={"NAME_SUFFIX": "_prod", "TIMEZONE": "Europe/London",
                                       "SMB_PASSWORD": SENTINEL})
    rows = settings.changed()
    assert [row[0] for row in rows] == ["NAME_SUFFIX", "SMB_PASSWORD"], "TIMEZONE is given at its default"
    assert all(SENTINEL not in " ".join(row) for row in rows)
    assert load(tmp_path, environ={}).changed() == []


def test_the_example_uncommented_whole_is_exactly_the_defaults(tmp_path):
    text = re.sub(r"^# ([A-Z][A-Z0-9_]*=)", r"\1", render_env_example(), flags=re.M)
    (tmp_path / ".env").write_text(text)
    os.chmod(tmp_path / ".env", 0o600)
    assert load_settings(tmp_path, environ={}).changed() == []


def test_a_gateway_limit_below_its_heap_is_refused_naming_both(tmp_path):
    with pytest.raises(SettingsError) as caught:
        load_settings(tmp_path, environ={"GATEWAY_JAVA_HEAP_MB": "2048", "GATEWAY_MEMORY_LIMIT": "2g"})
    problem = caught.value.problems[0]
    assert problem.variable == "GATEWAY_MEMORY_LIMIT" and "GATEWAY_JAVA_HEAP_MB=2048" in problem.problem
    assert "GATEWAY_MEMORY_LIMIT=2560m" in problem.example


@pytest.mark.parametrize("value, bad", [("2g", False), ("1536m", False), ("0", False), ("1.5g", False),
                                         ("lots", True), ("10m", True), ("-1g", True)])
def test_a_memory_limit_reads_as_compose_writes_it(tmp_path, value, bad):
    environ = {"PROCESS_MEMORY_LIMIT": value}
    if bad:
        with pytest.raises(SettingsError, match="PROCESS_MEMORY_LIMIT"):
            load_settings(tmp_path, environ=environ)
    else:
        assert load_settings(tmp_path, environ=environ).process_memory_limit == value


def test_an_extra_compose_file_that_is_not_there_is_named(tmp_path):
    with pytest.raises(SettingsError, match="EXTRA_COMPOSE_FILES"):
        load_settings(tmp_path, environ={"EXTRA_COMPOSE_FILES": "nowhere.yml"})
    (tmp_path / "more.yml").write_text("services: {}\n")
    settings = load_settings(tmp_path, environ={"EXTRA_COMPOSE_FILES": "more.yml"})
    assert settings.extra_compose_files == (tmp_path / "more.yml",)
