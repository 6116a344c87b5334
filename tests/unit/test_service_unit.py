"""The scheduler's systemd unit: a notify service whose watchdog the loop feeds, valid for systemd."""
from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "scripts" / "pysystemtrade-scheduler.service"
INSTALLED_AT = "/opt/pysystemtrade-ecosystem"


def test_the_unit_is_a_notify_service_restarted_when_its_watchdog_is_not_fed():
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str
    unit.read_string(UNIT.read_text())
    service = unit["Service"]
    assert service["Type"] == "notify" and service["NotifyAccess"] == "main"
    assert int(service["WatchdogSec"]) >= 60, "the loop turns every few seconds; a tick may take a while"
    assert service["Restart"] == "always"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed here")
def test_the_unit_passes_systemd_analyze_verify_for_this_checkout(tmp_path):
    if not (ROOT / ".venv" / "bin" / "invoke").exists():
        pytest.skip("no .venv in this checkout (scripts/install.sh makes it)")
    rendered = tmp_path / UNIT.name
    rendered.write_text(UNIT.read_text().replace(INSTALLED_AT, str(ROOT)))
    result = subprocess.run(["systemd-analyze", "verify", str(rendered)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and not result.stderr.strip(), result.stdout + result.stderr
