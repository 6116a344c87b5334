"""The test kit's own rule: an integration test fails in CI, and only skips elsewhere, when a need is missing."""
from __future__ import annotations

import pytest

from tests.support.requirements import missing


def test_missing_engine_fails_in_ci():
    with pytest.raises(pytest.fail.Exception, match="CI needs it: the Docker engine is missing"):
        missing("the Docker engine", "start dockerd", environ={"CI": "true"})


def test_missing_engine_skips_outside_ci():
    with pytest.raises(pytest.skip.Exception, match="the Docker engine is missing: start dockerd"):
        missing("the Docker engine", "start dockerd", environ={})
