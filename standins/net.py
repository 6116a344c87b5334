"""Loopback ports and free private subnets, for the stand-ins and the demo (and the tests)."""
from __future__ import annotations

import ipaddress
import random
import socket


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def free_ports(count: int) -> list[int]:
    """Return ``count`` different TCP ports on 127.0.0.1 that nothing listens on right now (all held
    open together while they are picked: ports picked one after another may repeat)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def used_subnets(client) -> list[ipaddress.IPv4Network]:
    subnets = []
    for network in client.networks.list():
        for config in (network.attrs.get("IPAM") or {}).get("Config") or []:
            if config.get("Subnet") and ":" not in config["Subnet"]:
                subnets.append(ipaddress.IPv4Network(config["Subnet"], strict=False))
    return subnets


def free_network_part(client) -> str:
    """Return the first three octets of a 10.x.y.0/24 that no network on this engine overlaps."""
    used = used_subnets(client)
    for _ in range(200):
        part = f"10.{random.randint(100, 250)}.{random.randint(0, 255)}"
        candidate = ipaddress.ip_network(f"{part}.0/24")
        if not any(candidate.overlaps(net) for net in used):
            return part
    raise RuntimeError("no free /24 subnet found on this engine")
