"""The overview (the facts the brief, `invoke status` and the page share): what counts as a problem, once."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from ecosystem import answers, overview, status_page
from ecosystem import brief as briefing
from ecosystem.history import History
from ecosystem.observed import Observed
from ecosystem.settings import load_settings
from ecosystem.stack import ServiceState

NOW = datetime(2026, 12, 8, 6, 0, tzinfo=UTC)   # Tuesday 07:00 in Europe/Berlin


def settings(tmp_path, **more):
    return load_settings(tmp_path, environ={"STATE_DIR": str(tmp_path / "state"), "BACKUP_DIR": str(tmp_path / "b"),
                                            "TIMEZONE": "Europe/Berlin", **more})


def healthy() -> list[ServiceState]:
    rows = [ServiceState(name, name, "running", "healthy", NOW - timedelta(days=1), None, None)
            for name in ("mongo_db", "ib_gateway", "pysys_runtime", "jupyter")]
    return rows + [ServiceState("db_restore", "", "not created", "", None, None, None)]


def good_night(record: History, clock: list[datetime]) -> None:
    """Last night: the chain ran ok step by step, then a backup (and an offload, when asked)."""
    clock[0] = NOW - timedelta(hours=10)
    with record.run("eod", slot="2026-12-07") as chain:
        for step in ("run_daily_prices_updates", "run_systems"):
            with chain.step(step):
                pass
    clock[0] = NOW - timedelta(hours=9)
    record.record("backup", "ok", "set 2026-12-07T2100")


def view(s, record, **more):
    inputs = {"now": NOW, "runs": record.runs(), "services": healthy(),
              "observed": Observed(at=NOW - timedelta(minutes=1), statuses={"run_systems": "GO"}, gateway="logged in",
                                   gateway_since=NOW - timedelta(hours=30), gateway_detail="DU****67 (paper)"),
              "heartbeat": NOW - timedelta(seconds=30), "disks": [overview.Disk("BACKUP_DIR", "/b", 50 * 10**9)],
              "last_brief": NOW - timedelta(hours=9), **more}
    return overview.gather(s, **inputs)


def history(tmp_path):
    clock = [NOW]
    return History(tmp_path / "state" / "history.jsonl", clock=lambda: clock[0]), clock


def test_a_good_night_is_all_good_and_the_brief_says_so_with_its_facts(tmp_path):
    s = settings(tmp_path)
    record, clock = history(tmp_path)
    good_night(record, clock)
    o = view(s, record)
    assert o.problems == [] and o.headline == "all good" and not o.degraded
    text = "\n".join(briefing.lines(o))
    assert text.startswith("ALL GOOD")
    assert "run_systems: ok" in text and "trading day 2026-12-07" in text
    assert "gateway: logged in to DU****67 (paper), since Mon 07 Dec 01:00" in text
    assert "backup: last good Mon 07 Dec 22:00 (9 h ago)" in text and "offload: not set up" in text
    assert "every process GO" in text and "50.0 GB free" in text and "scheduler: running" in text
    assert [r.service for r in o.services] == ["mongo_db", "ib_gateway", "pysys_runtime", "jupyter"], \
        "a profile-only service that is not created is not shown"


def test_a_declined_step_and_a_failed_offload_are_two_problems_named_with_what_to_do(tmp_path):
    s = settings(tmp_path, SMB_SERVER="nas.local", SMB_SHARE="backups", SMB_USER="u", SMB_PASSWORD="p")
    record, clock = history(tmp_path)
    clock[0] = NOW - timedelta(hours=10)
    with record.run("eod", slot="2026-12-07") as chain:
        with chain.step("run_daily_prices_updates"):
            pass
        with chain.step("run_systems") as step:
            step.set("declined", "its status is STOP: pysystemtrade declined to run it")
        chain.set("failed", "1 declined")
    clock[0] = NOW - timedelta(hours=9)
    record.record("backup", "ok", "set")
    record.record("offload", "ok", "sent", start=NOW - timedelta(hours=40))
    record.record("offload", "failed", "the share refused the login")
    seen = Observed(at=NOW, statuses={"run_systems": "STOP", "run_reports": "GO"}, gateway="logged in")
    o = view(s, record, observed=seen, last_brief=NOW - timedelta(hours=12))
    assert o.headline == "2 problems", o.problems
    first, second = (p.what for p in o.problems)
    assert "run_systems declined" in first and "(its status is STOP)" in first, "one problem, not two"
    assert "offload: the latest run failed: the share refused the login" == second
    assert all(p.fix for p in o.problems)
    assert sorted(r.outcome for r in o.alerts) == ["declined", "failed", "failed"], "the chain, its step, the offload"
    text = "\n".join(briefing.lines(o))
    assert text.startswith("2 PROBLEMS") and "1. last night's chain: eod run_systems declined" in text
    answer = answers.overview(o)
    assert answers.problems(json.loads(json.dumps(answer))) == []
    assert answer["degraded"] and answer["statuses"]["run_systems"] == "STOP"


def test_each_kind_of_trouble_is_one_problem(tmp_path):
    s = settings(tmp_path)
    record, clock = history(tmp_path)
    good_night(record, clock)
    clock[0] = NOW - timedelta(minutes=30)
    record.record("weekly.sync", "failed", "exited with code 1", step="run_stack_handler", slot="2026-12-08")
    services = healthy()
    services[0] = ServiceState("mongo_db", "mongo_db", "exited", "", NOW, 137, None)
    o = view(s, record, services=services, heartbeat=NOW + timedelta(hours=2),
             disks=[overview.Disk("BACKUP_DIR", "/b", 10**9)],
             observed=Observed(at=NOW, statuses={"run_capital_update": "NO-RUN"}, gateway="not logged in",
                               gateway_detail="did not answer"))
    said = [p.what for p in o.problems]
    assert said[0] == "mongo_db is exited"
    assert any("today: run_stack_handler failed" in w for w in said)
    assert any("run_capital_update's status is NO-RUN" in w for w in said)
    assert any("the gateway is not logged in" in w for w in said)
    assert any("BACKUP_DIR has 1.0 GB free" in w for w in said)
    assert any("the scheduler is not running (its heartbeat is from the future)" in w for w in said)
    assert len(said) == 6


def test_no_backup_for_days_is_a_problem_and_the_gateway_outside_the_week_is_not(tmp_path):
    s = settings(tmp_path)
    record, clock = history(tmp_path)
    clock[0] = NOW - timedelta(days=4)
    record.record("backup", "ok", "set")
    o = view(s, record, observed=Observed(at=NOW, gateway="not logged in"), now=NOW + timedelta(days=4, hours=12))
    said = [p.what for p in o.problems]
    assert any(w.startswith("the last good backup is") for w in said)
    assert not o.inside_week and not any("gateway" in w for w in said), "Sunday morning: no gateway needed"


def test_the_page_shows_each_day_as_a_row_and_each_run_coloured_by_its_outcome(tmp_path):
    s = settings(tmp_path)
    record, clock = history(tmp_path)
    good_night(record, clock)
    clock[0] = NOW - timedelta(days=3)
    record.record("offload", "failed", "<script>alert(1)</script>")
    page = status_page.render(view(s, record), record.runs())
    assert page.count("<tr data-day=") == 14
    row = page.split('<tr data-day="2026-12-05">')[1].split("</tr>")[0]
    assert 'data-job="offload"' in row and "outcome-failed" in row
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert 'class="good"' in page and ">all good<" in page


def test_the_history_tail_holds_the_recent_runs_and_a_long_run_that_ended_in_it(tmp_path, monkeypatch):
    from ecosystem import history as history_module

    monkeypatch.setattr(history_module, "_TAIL_BLOCK", 4096)
    record, clock = history(tmp_path)
    clock[0] = NOW - timedelta(days=30)
    long = record.begin("weekly.sync", step="run_stack_handler")
    for hour in range(500):
        clock[0] = NOW - timedelta(days=30) + timedelta(hours=hour)
        record.record("weekly.sync", "ok", f"sync {hour}")
    record.finish(long, "ok")
    recent = record.runs(recent=timedelta(days=2))
    everything = record.runs()
    assert len(recent) < len(everything) / 3
    assert [r.detail for r in recent[-50:]] == [r.detail for r in everything[-50:]]
    cutoff = everything[-1].start - timedelta(days=2)
    assert {r.id for r in everything if r.start >= cutoff} <= {r.id for r in recent}
    assert any(r.id == long.id and r.outcome == "ok" for r in recent), "its end line carries it whole"


def test_a_gateway_waiting_for_2fa_is_one_problem_in_the_week_and_none_outside_it(tmp_path):
    s = settings(tmp_path)
    record, clock = history(tmp_path)
    good_night(record, clock)
    services = healthy()
    services[1] = ServiceState("ib_gateway", "ib_gateway", "running", "unhealthy", NOW, None, None)
    waiting = Observed(at=NOW, gateway="not logged in", gateway_detail="did not answer within 5s")
    inside = [p.what for p in view(s, record, services=services, observed=waiting).problems]
    assert inside == ["the gateway is not logged in (did not answer within 5s)"]
    weekend = NOW + timedelta(days=4, hours=12)
    outside = view(s, record, services=services, observed=waiting, now=weekend, heartbeat=weekend)
    assert not any("gateway" in p.what for p in outside.problems)


def test_the_page_masks_a_secret_before_escaping_it(tmp_path):
    from ecosystem.secrets import Redactor

    s = settings(tmp_path)
    record, clock = history(tmp_path)
    good_night(record, clock)
    secret = "pa&ss<w0rd-77"
    o = view(s, record, observed=Observed(at=NOW, statuses_unread=f"login {secret} refused", gateway="logged in"))
    page = status_page.render(o, record.runs(), redact=Redactor([secret]))
    assert "pa&amp;ss&lt;w0rd" not in page and secret not in page


def test_times_without_their_offset_are_not_read_as_instants(tmp_path):
    s = settings(tmp_path)
    (tmp_path / "state").mkdir(parents=True, exist_ok=True)
    (tmp_path / "state" / "brief.json").write_text(json.dumps({"sent": "2026-12-08T09:59:00"}))
    (tmp_path / "state" / "observed.json").write_text(json.dumps({"at": "2026-12-08T09:59:00",
                                                                    "gateway": "logged in"}))
    from ecosystem import observed

    assert overview.last_brief(s) is None and observed.read(s).at is None
