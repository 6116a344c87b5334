"""What an integration test does when something it needs is missing: skip locally, fail in CI."""
from __future__ import annotations

import os

import pytest


def in_ci(environ=os.environ) -> bool:
    return environ.get("CI", "").lower() in ("true", "1", "yes")


def missing(what: str, fix: str, *, environ=os.environ) -> None:
    """Stop the current test because ``what`` is missing: pytest.fail in CI, pytest.skip elsewhere."""
    message = f"{what} is missing: {fix}"
    if in_ci(environ):
        pytest.fail(f"CI needs it: {message}", pytrace=False)
    pytest.skip(message)
