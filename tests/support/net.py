"""Network helpers for tests: loopback only (the stand-ins' own, re-exported)."""
from standins.net import free_port, free_ports  # noqa: F401


def host_address() -> str:
    """An address of this host that is not loopback (the one its default route leaves from)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("10.255.255.255", 1))  # UDP: nothing is sent
        return probe.getsockname()[0]
