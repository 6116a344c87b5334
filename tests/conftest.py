"""Test-wide set-up: folder-based markers and the rule that CI never skips for lack of Docker."""
from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent


def pytest_collection_modifyitems(config, items):
    for item in items:
        parts = Path(str(item.fspath)).relative_to(HERE).parts
        if parts and parts[0] in ("unit", "standins", "integration", "upstream"):
            item.add_marker(getattr(pytest.mark, parts[0]))
