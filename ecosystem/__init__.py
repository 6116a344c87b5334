"""The lower layer: plain modules that know settings, Docker, files, SMB and git.

Nothing here imports invoke; the task modules in ``tasks/`` call into these.

``from ecosystem import stack`` (and ``from . import stack`` inside the package) gives a
deferred module: the real one is imported when one of its names is first used. Invoke builds
its whole task tree to run any one task, and the tree names nearly every module here;
deferring lets `invoke status` import only what it uses (issue 16: at a glance). The import
itself is ``importlib.import_module``, under the import system's own per-module locks, so a
first use from two threads at once imports once. ``from ecosystem.stack import X`` imports at
once, as usual. A deferred module is not the module object itself: ``isinstance(m, ModuleType)``
is false and ``m is sys.modules[...]`` too; read its names, never its identity.
"""
from __future__ import annotations

import importlib
import logging
import types
from pathlib import Path

# a library's part: it logs, the application (a task, the scheduler: ecosystem.logs) decides where to
logging.getLogger(__name__).addHandler(logging.NullHandler())

_HERE = Path(__file__).parent


class Deferred:
    """A submodule not imported yet: reading, setting or deleting a name (or its ``__dict__``, as
    pytest's monkeypatch does) imports it and acts on the real module."""

    __slots__ = ("_module", "_name")

    def __init__(self, name: str) -> None:
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_module", None)

    def _real(self) -> types.ModuleType:
        module = object.__getattribute__(self, "_module")
        if module is None:
            module = importlib.import_module(self._name)
            object.__setattr__(self, "_module", module)
        return module

    @property
    def __dict__(self):  # type: ignore[override]
        return self._real().__dict__

    def __getattr__(self, name: str):
        return getattr(self._real(), name)

    def __setattr__(self, name: str, value) -> None:
        setattr(self._real(), name, value)

    def __delattr__(self, name: str) -> None:
        delattr(self._real(), name)

    def __repr__(self) -> str:
        return f"<deferred module {self._name!r}>"


def __getattr__(name: str) -> Deferred:
    """A submodule that ``from ecosystem import NAME`` asks for before it is imported: deferred."""
    if name.startswith("_") or not (_HERE / f"{name}.py").is_file():
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return Deferred(f"{__name__}.{name}")
