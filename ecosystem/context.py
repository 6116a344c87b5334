"""One invocation's collaborators, built once at the task boundary and passed down.

A task builds a ``Context`` (``tasks/_common.context``) and hands it to the procedures of this
package, which take it first: ``procedure(ctx, ...)``. It holds the settings, the run history,
the redactor and the way to say a line; the Docker client and the compose project are made on
first use, once per invocation (a task that never touches the engine never connects).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .history import History
from .settings import Settings

if TYPE_CHECKING:
    import docker

    from .compose import Compose
    from .process_control import ProcessControl
    from .processes import RunningProcess


def _unchanged(text: str) -> str:
    return text


@dataclass
class Context:
    settings: Settings
    history: History
    redact: Callable[[str], str] = _unchanged
    say_line: Callable[[str], None] = print
    _client: docker.DockerClient | None = field(default=None, repr=False)
    _project: Compose | None = field(default=None, repr=False)
    _control: ProcessControl | None = field(default=None, repr=False)

    def say(self, line: str) -> None:
        """Tell the trader ``line``, with every secret masked."""
        self.say_line(self.redact(line))

    @property
    def client(self) -> docker.DockerClient:
        """The one Docker client of this invocation (EngineUnavailable, with its fix, if none answers)."""
        if self._client is None:
            from . import engine

            self._client = engine.connect()
        return self._client

    @property
    def project(self) -> Compose:
        """The compose project of these settings."""
        if self._project is None:
            from . import stack

            self._project = stack.compose(self.settings)
        return self._project

    def control(self) -> ProcessControl:
        """pysystemtrade's process control: run inside pysys_runtime while it runs (fast), else in a
        one-off container of the pysystemtrade image; checked at each call (one inspect)."""
        from . import stack
        from .process_control import ProcessControl, compose_runner, exec_runner

        if self._control is not None and self._client is None:
            return self._control  # given (a test's stand-in control): no engine to ask
        if stack.runtime_running(self):  # asked each time: `invoke down resume` removes it in between
            if self._control is None:
                self._control = ProcessControl(exec_runner(self.client, stack.runtime_container(self.settings)))
            return self._control
        self._control = None
        return ProcessControl(compose_runner(self.project))

    def running(self) -> list[RunningProcess]:
        """The pysystemtrade processes running now."""
        from . import processes

        return processes.running_processes(self)
