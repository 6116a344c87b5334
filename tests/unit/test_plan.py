"""The day's plan from pysystemtrade's own windows, with the trader's private override."""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from ecosystem import plan
from ecosystem.settings import load_settings
from standins.pysystemtrade_repo import make_repo

ROOT = Path(__file__).resolve().parents[2]
DAY = date(2026, 12, 1)  # a Tuesday


@pytest.fixture
def clone(tmp_path):
    return make_repo(tmp_path / "clone")


def local(step, settings):
    return step.launch_at.astimezone(settings.tz).strftime("%H:%M")


def test_default_plan_mirrors_upstream(clone, tmp_path):
    settings = load_settings(tmp_path, environ={"PYSYSTEMTRADE_CLONE_DIR": str(clone)})
    steps = plan.plan_for(settings, DAY)
    by_name = {s.process: s for s in steps}
    assert local(by_name["run_stack_handler"], settings) == "00:00"  # 00:01 less the margin, not before midnight
    assert local(by_name["run_capital_update"], settings) == "00:55"
    assert local(by_name["run_daily_fx_and_contract_updates"], settings) == "06:55"
    evening = [s.process for s in steps if s.kind == "evening"]
    assert evening == ["run_daily_prices_updates", "run_systems", "run_strategy_order_generator", "run_cleaners",
                       "run_reports", "run_daily_update_multiple_adjusted_prices"]
    assert "run_backups" not in by_name, "the backup capability replaces pysystemtrade's run_backups"
    assert by_name["run_daily_prices_updates"].launcher == "run_daily_price_updates"


def test_a_private_override_moves_systems_and_the_chain_keeps_its_order(clone, tmp_path):
    (clone / "private" / "private_control_config.yaml").write_text(
        "process_configuration_start_time:\n  run_systems: '21:00'\n")
    settings = load_settings(tmp_path, environ={"PYSYSTEMTRADE_CLONE_DIR": str(clone)})
    evening = [s for s in plan.plan_for(settings, DAY) if s.kind == "evening"]
    systems = next(s for s in evening if s.process == "run_systems")
    assert local(systems, settings) == "20:55"
    assert systems.window_start.astimezone(settings.tz).strftime("%H:%M") == "21:00"
    order = [s.process for s in sorted(evening, key=lambda s: s.chain_position)]
    assert [s.process for s in evening] == order, "launch order follows the chain"
    generator = next(s for s in evening if s.process == "run_strategy_order_generator")
    assert generator.launch_at >= systems.launch_at


def test_settings_choose_the_chain_and_the_margin(clone, tmp_path):
    settings = load_settings(tmp_path, environ={"PYSYSTEMTRADE_CLONE_DIR": str(clone),
                                                "EOD_CHAIN": "run_systems,run_backups",
                                                "LAUNCH_MARGIN_MINUTES": "0"})
    evening = [s for s in plan.plan_for(settings, DAY) if s.kind == "evening"]
    assert [(s.process, local(s, settings)) for s in evening] == [("run_systems", "20:05"), ("run_backups", "20:15")]


def test_a_bad_chain_is_a_settings_problem(tmp_path):
    from ecosystem.errors import SettingsError

    with pytest.raises(SettingsError, match="EOD_CHAIN"):
        load_settings(tmp_path, environ={"EOD_CHAIN": "run_systems,systems;rm"})


def test_dst_day_plans_in_wall_clock_time(clone, tmp_path):
    settings = load_settings(tmp_path, environ={"PYSYSTEMTRADE_CLONE_DIR": str(clone), "TIMEZONE": "America/Chicago"})
    steps = plan.plan_for(settings, date(2026, 3, 9))  # the Monday after US clocks moved
    fx = next(s for s in steps if s.process == "run_daily_fx_and_contract_updates")
    assert fx.launch_at == datetime(2026, 3, 9, 11, 55, tzinfo=UTC)  # 06:55 CDT
    assert fx.window_start - fx.launch_at == timedelta(minutes=5)


def test_invoke_plan_prints_the_day(clone, tmp_path):
    environ = {**os.environ, "ECOSYSTEM_ENV_FILE": str(tmp_path / ".env"), "PYSYSTEMTRADE_CLONE_DIR": str(clone)}
    out = subprocess.run([sys.executable, "-m", "invoke", "plan", "--day", "2026-12-01"], cwd=ROOT, env=environ,
                         capture_output=True, text=True, timeout=60).stdout
    assert "plan for Tuesday 2026-12-01" in out and "run_systems" in out and "20:05-23:50" in out
    weekend = subprocess.run([sys.executable, "-m", "invoke", "plan", "--day", "2026-12-05"], cwd=ROOT, env=environ,
                             capture_output=True, text=True, timeout=60).stdout
    assert "outside the trading week" in weekend


def test_plans_of_reads_each_days_windows_once(clone, tmp_path, monkeypatch):
    settings = load_settings(tmp_path, environ={"PYSYSTEMTRADE_CLONE_DIR": str(clone)})
    expected = plan.plan_for(settings, DAY)
    reads = []
    real = plan.plan_for
    monkeypatch.setattr(plan, "plan_for", lambda s, day: reads.append(day) or real(s, day))
    plan_of = plan.plans_of(settings)
    assert plan_of(DAY) == expected and plan_of(DAY) == expected and reads == [DAY]
    plan_of(DAY).clear()  # a caller changing its copy changes nothing for the next
    assert plan_of(DAY) == expected
