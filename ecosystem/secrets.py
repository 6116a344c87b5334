"""Secret values that refuse to be printed, and a redactor for any text.

A ``Secret`` shows as ``********`` in str(), repr(), f-strings and tracebacks;
only ``reveal()`` gives the value, and only code that hands it to Docker, SMB
or git should call it.
"""
from __future__ import annotations

import re
from collections.abc import Iterable

MASK = "********"


class Secret:
    """A string that never shows itself; call ``reveal()`` at the point of use."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __str__(self) -> str:
        return MASK

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    def __format__(self, spec: str) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self):  # pickling keeps the value; deep copies need it too
        return (Secret, (self._value,))


class Redactor:
    """Given secret values, replace every occurrence of any of them in a text with the mask."""

    def __init__(self, secrets: Iterable[str]) -> None:
        values = sorted({s for s in secrets if s}, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(v) for v in values)) if values else None

    def __call__(self, text: str) -> str:
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(MASK, text)
