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


def test_free_ports_are_different_from_each_other():
    from standins.net import free_ports

    for _ in range(50):  # ports picked one after another may repeat; CI once got VNC_PORT == IB_API_PORT
        ports = free_ports(3)
        assert len(set(ports)) == 3
