"""The scheduler's systemd unit, as `invoke install-service` renders it: a notify service whose
watchdog the loop feeds, for this checkout and a chosen user, sandboxed (systemd-analyze security
at 5 or lower, where the tool exists), and stopped no sooner than a job's graceful stop."""
from __future__ import annotations

import configparser
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from ecosystem import service
from ecosystem.errors import EcosystemError
from ecosystem.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
USER = service.Account("trader", "trader", Path("/home/trader"), frozenset({"trader", "docker"}))
ROOT_USER = service.Account("root", "root", Path("/root"), frozenset({"root"}))


def _settings(tmp_path: Path, **values: str):
    return load_settings(tmp_path, environ={"STATE_DIR": str(tmp_path / "state"), **values})


def _unit(text: str) -> configparser.SectionProxy:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read_string(text)
    return unit["Service"]


def test_the_unit_is_a_notify_service_restarted_when_its_watchdog_is_not_fed(tmp_path):
    unit = _unit(service.render(_settings(tmp_path), checkout=tmp_path / "checkout", user=USER))
    assert unit["Type"] == "notify" and unit["NotifyAccess"] == "main"
    assert int(unit["WatchdogSec"]) >= 60, "the loop turns every few seconds; a tick may take a while"
    assert unit["Restart"] == "always"


def test_the_unit_runs_this_checkout_as_the_chosen_user_in_a_sandbox(tmp_path):
    settings = _settings(tmp_path, BACKUP_DIR="/srv/backups", REPORTS_DIR=str(tmp_path / "state" / "reports"))
    checkout = tmp_path / "checkout"
    unit = _unit(service.render(settings, checkout=checkout, user=USER, env_file=Path("/etc/pysys/prod.env")))
    assert unit["User"] == "trader" and unit["Group"] == "trader"
    assert unit["WorkingDirectory"] == str(checkout)
    assert unit["ExecStart"] == f"{checkout}/.venv/bin/invoke run-scheduler"
    assert unit["Environment"] == "ECOSYSTEM_ENV_FILE=/etc/pysys/prod.env"
    assert unit["NoNewPrivileges"] == "yes" and unit["ProtectSystem"] == "strict"
    assert unit["PrivateTmp"] == "yes" and unit["UMask"] == "0077" and unit["CapabilityBoundingSet"] == ""
    # what the jobs write, and only that (REPORTS_DIR lies inside STATE_DIR: one entry covers both)
    assert sorted(unit["ReadWritePaths"].split()) == sorted([f"-{tmp_path / 'state'}", "-/srv/backups"])


def test_the_stop_timeout_covers_a_jobs_graceful_stop_of_its_processes(tmp_path):
    for grace, term in (("300", "120"), ("900", "300")):
        settings = _settings(tmp_path, STOP_GRACE_SECONDS=grace, STOP_TERM_SECONDS=term)
        unit = _unit(service.render(settings, checkout=tmp_path, user=USER))
        assert settings.job_stop_seconds > int(grace) + int(term)  # the loop's SIGTERM-to-SIGKILL for a job
        assert int(unit["TimeoutStopSec"]) > settings.job_stop_seconds  # and systemd's for the loop


def test_root_keeps_only_the_capabilities_for_files_and_signals(tmp_path):
    unit = _unit(service.render(_settings(tmp_path), checkout=tmp_path, user=ROOT_USER))
    assert set(unit["CapabilityBoundingSet"].split()) == {"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH",
                                                          "CAP_FOWNER", "CAP_KILL"}


def test_a_path_a_unit_cannot_carry_is_refused_with_the_fix(tmp_path):
    with pytest.raises(EcosystemError, match="space or a quote") as caught:
        service.render(_settings(tmp_path), checkout=tmp_path / "my checkout", user=USER)
    assert "move the checkout" in caught.value.fix


def test_one_unit_per_ecosystem_on_a_host(tmp_path):
    assert service.unit_name(_settings(tmp_path)) == "pysystemtrade-scheduler.service"
    assert service.unit_name(_settings(tmp_path, NAME_SUFFIX="_prod")) == "pysystemtrade-scheduler_prod.service"


def test_an_account_that_cannot_reach_the_engine_is_told_apart():
    assert USER.reaches_the_engine and ROOT_USER.reaches_the_engine
    assert not service.Account("nobody", "nogroup", Path("/"), frozenset({"nogroup"})).reaches_the_engine
    with pytest.raises(EcosystemError, match="no user") as caught:
        service.account("no-such-user-here")
    assert "adduser" in caught.value.fix


def test_install_writes_the_unit_and_enables_it_where_systemd_runs(tmp_path):
    calls: list[tuple[str, ...]] = []
    done = service.install("[Unit]\n", name="x.service", unit_dir=tmp_path, systemctl=calls.append)
    assert done.enabled and (tmp_path / "x.service").read_text() == "[Unit]\n"
    assert (tmp_path / "x.service").stat().st_mode & 0o777 == 0o644
    assert calls == [("daemon-reload",), ("enable", "x.service"), ("restart", "x.service")]
    quiet = service.install("[Unit]\n", name="y.service", unit_dir=tmp_path, systemctl=None)
    assert not quiet.enabled and "systemctl enable --now y.service" in quiet.said[0]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed here")
@pytest.mark.parametrize("user", [USER, ROOT_USER], ids=["user", "root"])
def test_systemd_verifies_the_unit_and_rates_its_exposure_5_or_lower(tmp_path, user):
    if not (ROOT / ".venv" / "bin" / "invoke").exists():
        pytest.skip("no .venv in this checkout (scripts/install.sh makes it)")
    rendered = tmp_path / "pysystemtrade-scheduler.service"
    rendered.write_text(service.render(_settings(tmp_path), checkout=ROOT, user=user))
    verified = subprocess.run(["systemd-analyze", "verify", str(rendered)], capture_output=True, text=True, timeout=60)
    # verify names a User= that this host lacks; nothing else may be wrong
    complaints = [line for line in verified.stderr.splitlines() if line.strip() and "trader" not in line]
    assert not complaints, verified.stderr
    rated = subprocess.run(["systemd-analyze", "security", "--offline=true", str(rendered)], capture_output=True,
                           text=True, timeout=60)
    exposure = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", rated.stdout)
    assert exposure, rated.stdout + rated.stderr
    assert float(exposure.group(1)) <= 5.0, rated.stdout


def test_install_service_installs_the_rendered_unit_and_refuses_a_user_without_the_engine(tmp_path):
    from tests.support.invoking import run_invoke

    values = {"STATE_DIR": str(tmp_path / "state"), "NAME_SUFFIX": "_svc"}
    done = run_invoke(tmp_path, values, "install-service", "--user", "root", "--unit-dir", str(tmp_path), timeout=120)
    assert done.returncode == 0, done.stderr
    unit = _unit((tmp_path / "pysystemtrade-scheduler_svc.service").read_text())
    assert unit["User"] == "root" and unit["ExecStart"] == f"{ROOT}/.venv/bin/invoke run-scheduler"
    assert unit["Environment"] == f"ECOSYSTEM_ENV_FILE={tmp_path / '.env'}"  # the .env this install was run with
    if not Path("/run/systemd/system").is_dir():
        assert "not enabled" in done.stdout
    refused = run_invoke(tmp_path, values, "install-service", "--user", "nobody", "--unit-dir", str(tmp_path / "no"),
                         timeout=120)
    assert refused.returncode == 2 and "usermod -aG docker nobody" in refused.stderr
    assert not (tmp_path / "no").exists()
