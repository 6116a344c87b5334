"""The demo's cleanup on the real engine: a part it cannot remove does not stop the rest, and is named."""
from __future__ import annotations

import uuid

from standins import demo
from tests.support.invoking import ROOT


def test_demo_cleanup_goes_on_past_a_part_it_cannot_remove_and_names_it(docker_client, busybox, tmp_path):
    token = uuid.uuid4().hex[:6]
    ws = demo.Workspace(root=ROOT, folder=tmp_path / "demo", suffix=f"_demotest{token}", values={},
                        remote=tmp_path / "demo" / "reports.git")
    ws.folder.mkdir()
    (ws.folder / ".env.leftover").write_text("TWSPASSWORD='demo-secret'\n")
    network = docker_client.networks.create(f"pysystemtrade{ws.suffix}")
    volume = docker_client.volumes.create(f"mongo_data{ws.suffix}")
    # a container that is not the demo's keeps the demo's network in use: that removal fails
    holder = docker_client.containers.run(busybox, ["sleep", "300"], detach=True, name=f"holder-{token}",
                                          network=network.name)
    try:
        left = demo.remove(docker_client, ws)
        assert left == [f"network pysystemtrade{ws.suffix}"], "named, and nothing else is left"
        assert not ws.folder.exists(), "the folder (its .env holds the demo's secrets) went all the same"
        assert not [v for v in docker_client.volumes.list() if v.name == volume.name]
    finally:
        holder.remove(force=True)
        network.remove()
