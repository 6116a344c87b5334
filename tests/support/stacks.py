"""Unique, self-cleaning compose projects for integration tests.

Every test stack gets its own project name, name suffix and /24 subnet, and
``remove_everything`` deletes whatever carries its project label or suffix,
even when the test failed half-way.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from ecosystem.compose import Compose
from ecosystem.errors import ComposeError
from standins.net import free_network_part


@dataclass(frozen=True)
class TestStack:
    project: str
    suffix: str
    network_part: str

    @property
    def label(self) -> str:
        return f"com.docker.compose.project={self.project}"


def unique_stack(client) -> TestStack:
    """Return a project name, suffix and network part no other stack on this engine uses."""
    token = uuid.uuid4().hex[:8]
    return TestStack(project=f"psttest{token}", suffix=f"_t{token}", network_part=free_network_part(client))


def leftovers(client, stack: TestStack) -> list[str]:
    """Name every container, network and volume that still belongs to ``stack`` (by its compose label),
    and anything else carrying its suffix (the demo's own sweep)."""
    from standins.demo import leftovers as by_suffix

    found = [f"container {c.name}"
             for c in client.containers.list(ignore_removed=True, all=True, filters={"label": stack.label})]
    found += [f"network {n.name}" for n in client.networks.list(filters={"label": stack.label})]
    found += [f"volume {v.name}" for v in client.volumes.list(filters={"label": stack.label})]
    return found + [item for item in by_suffix(client, stack.suffix) if item not in found]


def remove_everything(client, stack: TestStack, compose: Compose | None = None) -> None:
    """Remove every resource of ``stack``: compose down first, then a sweep of what is left."""
    if compose is not None:
        try:
            compose.down(volumes=True, stop_grace=1)
        except ComposeError:
            pass
    for container in client.containers.list(ignore_removed=True, all=True, filters={"label": stack.label}):
        container.remove(force=True, v=True)
    for container in client.containers.list(ignore_removed=True, all=True):
        if stack.suffix in container.name:
            container.remove(force=True, v=True)
    for network in client.networks.list():
        project = network.attrs.get("Labels", {}).get("com.docker.compose.project")
        if project == stack.project or stack.suffix in network.name:
            network.remove()
    for image in client.images.list():
        for tag in image.tags:
            if stack.suffix in tag:
                client.images.remove(tag, force=True, noprune=False)
    for volume in client.volumes.list():
        project = (volume.attrs.get("Labels") or {}).get("com.docker.compose.project")
        if project == stack.project or stack.suffix in volume.name:
            volume.remove(force=True)
