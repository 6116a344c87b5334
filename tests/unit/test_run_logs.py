"""The kept output of process runs: listing and choosing a run."""
from __future__ import annotations

import pytest

from ecosystem import run_logs
from ecosystem.errors import EcosystemError

LISTING = ("120\t20261201T203000Z_run_systems_ab12cd34.log\t# pysys-launch run_systems (run run_systems_ab12cd34) "
           "exit code 1 at 2026-12-01T20:31:00+00:00\n"
           "90\t20261202T203000Z_run_systems_ef56ab78.log\tstill writing\n"
           "5\tnot-a-run.txt\t\n")


def test_listing_is_parsed_oldest_first_with_exit_codes():
    runs = run_logs.parse_listing(LISTING)
    assert [r.run for r in runs] == ["run_systems_ab12cd34", "run_systems_ef56ab78"]
    assert runs[0].exit_code == 1 and runs[1].exit_code is None and runs[0].size == 120


def test_choose_last_by_number_and_by_container():
    runs = run_logs.parse_listing(LISTING)
    assert run_logs.choose(runs, "last") is runs[-1] and run_logs.choose(runs, "2") is runs[0]
    assert run_logs.choose(runs, "ab12cd34") is runs[0]
    with pytest.raises(EcosystemError, match="2 runs match"):
        run_logs.choose(runs, "run_systems")
    with pytest.raises(EcosystemError, match="only 2 runs"):
        run_logs.choose(runs, "3")
    with pytest.raises(EcosystemError, match="no run's output"):
        run_logs.choose([], "last")


def test_a_process_name_maps_to_its_launchers_folder():
    assert run_logs.folder("run_daily_prices_updates") == "/data/logs/runs/run_daily_price_updates"
    assert run_logs.folder("run_systems") == "/data/logs/runs/run_systems"
