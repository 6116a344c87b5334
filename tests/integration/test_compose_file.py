"""docker-compose.yml as compose itself reads it: services, profiles, ports, logging, secrets, names."""
from __future__ import annotations

import json
import os
import subprocess

import pytest

from ecosystem import stack
from ecosystem.settings import load_settings


def config(environ: dict) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", "compose", "-f", str(stack.COMPOSE_FILE), "--profile", "*", "config",
                           "--format", "json"],
                          env={"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"), **environ},
                          capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    folder = tmp_path_factory.mktemp("compose")
    settings = load_settings(folder, environ={"NAME_SUFFIX": "_cfg", "BIND_ADDRESS": "127.0.0.2",
                                              "STATE_DIR": str(folder / "state")})
    result = config(stack.compose_env(settings))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_services_are_the_ones_the_code_knows(rendered):
    assert set(rendered["services"]) == set(stack.SERVICES)


def test_only_the_always_on_services_start_with_a_plain_up(rendered):
    for name, service in rendered["services"].items():
        assert bool(service.get("profiles")) == (name not in stack.ALWAYS_ON), name
    for name in stack.TRADING:
        assert rendered["services"][name]["profiles"] == ["trading"]


def test_every_published_port_binds_to_the_configured_address(rendered):
    ports = [(name, p) for name, s in rendered["services"].items() for p in s.get("ports", [])]
    assert {name for name, _ in ports} == {"ib_gateway", "pysys_runtime", "status_page"}  # pysys_runtime: Jupyter
    assert all(p["host_ip"] == "127.0.0.2" for _, p in ports)


def test_every_service_rotates_its_logs_and_runs_in_the_one_timezone(rendered):
    for name, service in rendered["services"].items():
        assert service["logging"]["driver"] == "json-file" and service["logging"]["options"]["max-size"], name
        assert service["environment"]["TZ"] == "Europe/London", name
        if name in SHARED:
            assert service["network_mode"] == "service:pysys_runtime" and service["pid"] == "service:pysys_runtime"
        else:
            assert list(service["networks"]) == ["ecosystem"], name


SHARED = ("jupyter", "stack_handler", "capital_update", "daily_processes", "csv_backup", "dashboard")


def test_pysystemtrade_processes_share_the_runtimes_namespaces(rendered):
    for name in SHARED:
        service = rendered["services"][name]
        assert service["network_mode"] == "service:pysys_runtime", name
        assert service["pid"] == "service:pysys_runtime", name
    runtime = rendered["services"]["pysys_runtime"]
    assert runtime["command"][:3] == ["python3", "-m", "syslogging.server"] and "9020" in runtime["command"]


def test_names_carry_the_suffix_and_the_subnet_comes_from_the_setting(rendered):
    assert rendered["name"] == "pysystemtrade_cfg"
    assert rendered["networks"]["ecosystem"]["name"] == "pysystemtrade_cfg"
    assert rendered["networks"]["ecosystem"]["ipam"]["config"][0]["subnet"] == "172.28.0.0/24"
    assert all(v["name"].endswith("_cfg") for v in rendered["volumes"].values())
    for name in ("mongo_db", "ib_gateway", "jupyter", "stack_handler", "capital_update"):
        assert rendered["services"][name]["container_name"] == f"{name}_cfg"


def test_credentials_reach_the_gateway_as_files_only(rendered):
    gateway = rendered["services"]["ib_gateway"]
    assert "TWS_PASSWORD" not in gateway["environment"] and "TWS_USERID" not in gateway["environment"]
    assert gateway["environment"]["TWS_PASSWORD_FILE"] == "/run/secrets/tws_password"
    assert {s["source"] for s in gateway["secrets"]} == {"tws_userid", "tws_password", "vnc_password"}


def test_the_private_config_is_mounted_read_only(rendered):
    for name in stack.TRADING + ("jupyter", "pysys_runtime"):
        mounts = [v for v in rendered["services"][name]["volumes"] if v["target"] == "/opt/private"]
        assert mounts and mounts[0]["read_only"] is True, name


def test_plain_compose_without_the_variables_says_what_to_do():
    result = config({})
    assert result.returncode != 0
    assert "see .env.example" in result.stderr or "invoke setup" in result.stderr


def test_every_pysystemtrade_container_logs_to_the_runtimes_log_server_through_the_ecosystems_config(rendered):
    runtime = rendered["services"]["pysys_runtime"]
    port = runtime["command"][runtime["command"].index("--port") + 1]
    for name in SHARED + ("pysys_runtime",):
        environment = rendered["services"][name]["environment"]
        assert environment["PYSYS_LOGGING_CONFIG"] == "/opt/ecosystem/etc/logging_prod.yaml", name
        assert environment["LOG_SERVER_PORT"] == port, name
        targets = {v["target"]: v for v in rendered["services"][name]["volumes"]}
        assert targets["/opt/ecosystem/etc"]["read_only"], name


def test_private_code_resolves_where_upstream_imports_it_and_the_backtest_store_is_shared(rendered):
    for name in SHARED + ("pysys_runtime",):
        targets = {v["target"]: v for v in rendered["services"][name]["volumes"]}
        assert targets["/opt/private"]["source"] == targets["/opt/pysystemtrade/private"]["source"], name
        assert targets["/opt/pysystemtrade/private"]["read_only"], name
        assert targets["/data/backtests"]["source"] == "backtests", name
    assert rendered["volumes"]["backtests"]["name"] == "backtests_cfg"


def test_process_services_run_upstreams_launchers_through_pysys_launch(rendered):
    for name, launcher in (("stack_handler", "run_stack_handler"), ("capital_update", "run_capital_update"),
                           ("daily_processes", "run_daily_price_updates"), ("csv_backup", "run_backups")):
        assert rendered["services"][name]["command"] == ["pysys-launch", launcher]


def test_the_limits_come_from_the_settings_and_every_service_gains_no_privileges(tmp_path):
    settings = load_settings(tmp_path, environ={"STATE_DIR": str(tmp_path / "state"), "PROCESS_MEMORY_LIMIT": "6g",
                                                "PROCESS_CPUS": "1.5", "MONGO_MEMORY_LIMIT": "3g",
                                                "GATEWAY_JAVA_HEAP_MB": "1024", "GATEWAY_MEMORY_LIMIT": "2g"})
    result = config(stack.compose_env(settings))
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    gib = 1024 ** 3
    for name in (*stack.TRADING, "csv_backup"):
        assert int(services[name]["mem_limit"]) == 6 * gib and services[name]["cpus"] == 1.5, name
        assert services[name]["cap_drop"] == ["ALL"], name
    for name in ("mongo_db", "db_backup", "db_restore"):
        assert int(services[name]["mem_limit"]) == 3 * gib, name
    assert int(services["ib_gateway"]["mem_limit"]) == 2 * gib
    assert services["ib_gateway"]["environment"]["JAVA_HEAP_SIZE"] == "1024"
    for name, service in services.items():
        assert "no-new-privileges:true" in service.get("security_opt", []), name
        assert int(service["mem_limit"]) == int(service["memswap_limit"]), f"{name}: no swap beyond its limit"



def test_upstreams_dashboard_is_on_demand_in_the_shared_namespaces_and_published_by_the_runtime(rendered):
    dashboard = rendered["services"]["dashboard"]
    assert dashboard["profiles"] == ["dashboard"]
    assert dashboard["network_mode"] == "service:pysys_runtime" and dashboard["pid"] == "service:pysys_runtime"
    assert dashboard["command"][:5] == ["python3", "-m", "flask", "--app", "dashboard.app"]
    assert "--host" in dashboard["command"] and "0.0.0.0" in dashboard["command"], "reachable through the runtime"
    published = {(p["published"], p["target"]) for p in rendered["services"]["pysys_runtime"]["ports"]}
    assert ("8050", 5000) in published
