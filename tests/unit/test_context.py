"""One invocation's context: the engine reached once and on first use, the process control chosen
by whether pysys_runtime runs (asked at each call), and the task decorator's errors."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from invoke import Context as InvokeContext
from invoke import Exit

from ecosystem import engine, stack
from ecosystem.context import Context
from ecosystem.errors import EcosystemError, EngineUnavailable, UsageError
from ecosystem.history import History
from ecosystem.settings import load_settings


@pytest.fixture
def settings(tmp_path):
    return load_settings(tmp_path, environ={"STATE_DIR": str(tmp_path / "state")})


class Engine:
    """A stand-in Docker client: pysys_runtime running or not, and every exec it is asked for."""

    def __init__(self, running: bool):
        self.running, self.execs = running, []
        self.api = SimpleNamespace(inspect_container=self.inspect, timeout=30)

    def inspect(self, name):
        return {"State": {"Status": "running" if self.running else "exited"}}


def test_a_task_that_never_needs_the_engine_never_connects(settings, tmp_path, monkeypatch):
    def refuse(**kwargs):
        raise AssertionError("connected")

    monkeypatch.setattr(engine, "connect", refuse)
    ctx = Context(settings, History(tmp_path / "h.jsonl"))
    ctx.say("nothing to do")
    assert ctx._client is None


def test_the_client_is_made_once(settings, tmp_path, monkeypatch):
    made = []
    monkeypatch.setattr(engine, "connect", lambda **kwargs: made.append(1) or Engine(True))
    ctx = Context(settings, History(tmp_path / "h.jsonl"))
    assert ctx.client is ctx.client and made == [1]


def test_an_engine_that_does_not_answer_is_said_as_such_not_as_a_stopped_runtime(settings, tmp_path, monkeypatch):
    def down(**kwargs):
        raise EngineUnavailable("the Docker engine does not answer (DockerException)", fix=engine.ENGINE_FIX)

    monkeypatch.setattr(engine, "connect", down)
    with pytest.raises(EngineUnavailable):
        stack.runtime_running(Context(settings, History(tmp_path / "h.jsonl")))


def test_the_control_execs_into_the_runtime_only_while_it_runs(settings, tmp_path):
    client = Engine(running=True)
    ctx = Context(settings, History(tmp_path / "h.jsonl"), _client=client, _project=SimpleNamespace())
    first = ctx.control()
    assert ctx.control() is first, "kept while the runtime runs"
    client.running = False  # `invoke down resume`: the runtime is gone before resume asks
    assert ctx.control() is not first
    client.running = True
    assert ctx.control() is not first, "a new runtime: a new control"


def test_the_decorator_says_the_error_and_its_fix_with_its_exit_code_even_when_the_settings_do_not_load(
        tmp_path, monkeypatch):
    from tasks._common import ecosystem_task

    @ecosystem_task
    def failing(c, usage=False):
        raise (UsageError if usage else EcosystemError)("the engine is away", fix="start it")

    monkeypatch.setenv("ECOSYSTEM_ENV_FILE", str(tmp_path / "none.env"))
    monkeypatch.setenv("TIMEZONE", "Nowhere/Bad")  # the settings do not load: the error is still this one
    for usage, code in ((False, 1), (True, 2)):
        with pytest.raises(Exit) as ended:
            failing(InvokeContext(), usage=usage)
        assert ended.value.code == code and ended.value.message == "the engine is away\n  fix: start it"


def test_an_exec_into_the_runtime_is_bounded_like_a_one_off_container_and_the_client_is_left_as_it_was():
    from ecosystem.process_control import exec_runner

    seen = []
    api = SimpleNamespace(timeout=30)
    api.exec_create = lambda container, argv: {"Id": "x"}
    api.exec_start = lambda exec_id: seen.append(api.timeout) or b'{"ok": true}'
    api.exec_inspect = lambda exec_id: {"ExitCode": 0}
    run = exec_runner(SimpleNamespace(api=api), "pysys_runtime")
    assert run(["python3", "-c", "pass"]) == '{"ok": true}'
    assert seen == [120] and api.timeout == 30, "120 s for the program (the compose runner's bound), then 30 s again"
