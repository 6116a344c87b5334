"""Network helpers for tests: loopback only (the stand-ins' own, re-exported)."""
from standins.net import free_port, free_ports  # noqa: F401
