"""Which containers run a pysystemtrade process, and which private-config values are secrets."""
from __future__ import annotations

from types import SimpleNamespace

from ecosystem import processes, pysys_config
from ecosystem.settings import load_settings


def container(cmd, labels=None):
    return SimpleNamespace(attrs={"Config": {"Cmd": cmd}}, labels=labels or {})


def test_a_process_container_runs_exactly_one_launcher():
    assert processes.process_name(container(["run_stack_handler"])) == "run_stack_handler"
    assert processes.process_name(container(["/opt/p/sysproduction/linux/scripts/run_systems"])) == "run_systems"
    assert processes.process_name(container(["run_daily_price_updates"])) == "run_daily_prices_updates"


def test_helpers_and_shells_are_not_processes():
    helper = container(["python3", "-c", "...", "record", "run_stack_handler"],
                       {processes.CONTROL_LABEL: "control"})
    assert processes.process_name(helper) == ""
    assert processes.process_name(container(["run_systems"], {processes.CONTROL_LABEL: "control"})) == ""
    assert processes.process_name(container(["bash", "-c", "python -m sysproduction.run_x"])) == ""
    assert processes.process_name(container(["bash"])) == ""


def test_canonical_process_names():
    assert processes.canonical("run_daily_price_updates") == "run_daily_prices_updates"
    assert processes.canonical("run_systems") == "run_systems"


def test_private_config_secrets_are_collected_for_redaction(tmp_path):
    private = tmp_path / "private"
    private.mkdir()
    (private / "private_config.yaml").write_text(
        "broker_account: 'U7654321'\nmongo_host: mongodb://admin:s3cr3t-pw@mongo_db\nemail_pwd: mail-pass-9\n"
        "ib_port: 4004\nemail_address: me@example.invalid\n")
    settings = load_settings(tmp_path, environ={"PRIVATE_CONFIG_DIR": str(private)})
    values = pysys_config.secret_values(settings)
    assert {"U7654321", "s3cr3t-pw", "admin", "mail-pass-9"} <= set(values)
    assert "4004" not in values
