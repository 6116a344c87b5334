"""What each sync observes for the status: process statuses and the gateway's login, with since when."""
from __future__ import annotations

from types import SimpleNamespace

from ecosystem import backup, observed, stack
from ecosystem.settings import load_settings
from ecosystem.stack import ServiceState


class Control:
    def __init__(self, statuses):
        self.statuses = statuses

    def records(self):
        return {name: SimpleNamespace(status=status) for name, status in self.statuses.items()}


def ctx_for(tmp_path, statuses, runtime="running"):
    settings = load_settings(tmp_path, environ={"STATE_DIR": str(tmp_path / "state")})
    ctx = SimpleNamespace(settings=settings, redact=lambda text: text, control=lambda: Control(statuses),
                          client=SimpleNamespace(info=lambda: {"DockerRootDir": "/var/lib/docker"}))
    rows = [ServiceState("mongo_db", "m", "running", "healthy", None, None, None),
            ServiceState("pysys_runtime", "rt", runtime, "", None, None, None),
            ServiceState("ib_gateway", "gw", "running", "", None, None, None)]
    return ctx, rows


def test_an_observation_is_written_read_back_and_keeps_since_while_the_gateway_state_holds(tmp_path, monkeypatch):
    ctx, rows = ctx_for(tmp_path, {"run_systems": "STOP"})
    monkeypatch.setattr(stack, "listed_states", lambda settings: rows)
    answers = iter([("logged in", "DU****67 (paper)"), ("logged in", "DU****67 (paper)"), ("not logged in", "no")])
    monkeypatch.setattr(observed, "gateway_login", lambda settings, state, **kw: next(answers))
    first = observed.observe(ctx)
    assert first.statuses == {"run_systems": "STOP"} and first.engine_root == "/var/lib/docker"
    second = observed.observe(ctx)
    assert second.gateway_since == first.gateway_since, "the state held: since is kept"
    third = observed.observe(ctx)
    assert third.gateway == "not logged in" and third.gateway_since > first.gateway_since
    assert observed.read(ctx.settings) == third


def test_statuses_are_not_asked_for_while_a_cold_backup_has_mongodb_stopped_or_the_runtime_is_down(tmp_path,
                                                                                                   monkeypatch):
    ctx, rows = ctx_for(tmp_path, {"run_systems": "GO"}, runtime="exited")
    monkeypatch.setattr(stack, "listed_states", lambda settings: rows)
    monkeypatch.setattr(observed, "gateway_login", lambda settings, state, **kw: ("logged in", ""))
    assert observed.observe(ctx).statuses_unread == "pysys_runtime is exited"
    rows[1] = ServiceState("pysys_runtime", "rt", "running", "", None, None, None)
    rows[0] = ServiceState("mongo_db", "m", "running", "unhealthy", None, None, None)
    assert observed.observe(ctx).statuses_unread == "mongo_db is unhealthy", "pymongo would wait for its timeout"
    backup.ColdMarker(ctx.settings.state_dir).note(["mongo_db"], [])
    assert observed.observe(ctx).statuses_unread == "MongoDB is stopped for a cold backup"


def test_a_file_that_cannot_be_read_is_no_observation(tmp_path):
    settings = load_settings(tmp_path, environ={"STATE_DIR": str(tmp_path / "state")})
    observed.path(settings).parent.mkdir(parents=True)
    observed.path(settings).write_text("{torn")
    assert observed.read(settings) == observed.Observed()
