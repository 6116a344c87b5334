"""The MongoDB backup contract (standins/README.md) against the real `mongo` image, where it exists locally.

No registry can be reached here, so this runs only on a machine where MONGO_IMAGE (default
mongo:7.0) was pulled; otherwise it skips and says so (also in CI: the stand-in's tests cover
the same contract there).
"""
from __future__ import annotations

import io
import time

import pytest

from ecosystem import mongo
from ecosystem.settings import load_settings
from tests.support.ecosystem import ROOT


@pytest.fixture(scope="module")
def real_mongo(docker_client):
    from docker.errors import ImageNotFound

    image = load_settings(ROOT, environ={}).mongo_image
    try:
        docker_client.images.get(image)
    except ImageNotFound:
        pytest.skip(f"the real MongoDB image {image} is not on this machine (no registry here): "
                    "the contract is tested against the stand-in instead; `docker pull` it to run this test")
    container = docker_client.containers.run(image, detach=True, network_mode="none",
                                             labels={"org.pysystemtrade-ecosystem.role": "control"})
    try:
        for _ in range(120):
            ping = container.exec_run(["mongosh", "--quiet", "--norc", "--eval", "db.adminCommand('ping').ok"])
            if ping.exit_code == 0:
                break
            time.sleep(0.5)
        yield container
    finally:
        container.remove(force=True, v=True)


def test_dump_counts_and_restore_with_drop_on_the_real_image(real_mongo):
    real_mongo.exec_run(["mongosh", "--quiet", "--norc", "--eval",
                         "db.getSiblingDB('production').orders.insertMany([{i: 1}, {i: 2}, {i: 3}])"])
    assert mongo.counts(real_mongo.name, "") == {"production.orders": 3}
    sink = io.BytesIO()
    mongo.dump(real_mongo.name, "", sink)
    assert sink.getvalue()[:2] == b"\x1f\x8b"
    real_mongo.exec_run(["mongosh", "--quiet", "--norc", "--eval",
                         "db.getSiblingDB('production').orders.insertOne({i: 4})"])
    import tempfile
    with tempfile.NamedTemporaryFile() as archive:
        archive.write(sink.getvalue())
        archive.flush()
        mongo.restore(real_mongo.name, "", archive.name)
    assert mongo.counts(real_mongo.name, "") == {"production.orders": 3}
