"""The locally built test images: they run, they are cached by recipe, and Python trusts the host CAs."""
from __future__ import annotations

from ecosystem import base_images
from tests.support import images


def test_busybox_image_runs_a_shell(docker_client, busybox):
    out = docker_client.containers.run(busybox, ["sh", "-c", "echo hello from $(basename $(readlink /bin/sh))"],
                                       remove=True)
    assert out.decode().strip() == "hello from busybox"


def test_images_are_reused_while_their_recipe_is_unchanged(docker_client, busybox):
    before = docker_client.images.get(busybox).id
    assert images.busybox_image(docker_client) == busybox
    assert docker_client.images.get(busybox).id == before


def test_a_changed_recipe_gets_a_new_tag():
    assert base_images.recipe_tag("x", b"a") == base_images.recipe_tag("x", b"a")
    assert base_images.recipe_tag("x", b"a") != base_images.recipe_tag("x", b"b")
    assert base_images.recipe_tag("x", b"ab") != base_images.recipe_tag("x", b"a", b"b")


def test_debian_python_image_has_a_venv_python_that_trusts_the_host_ca_bundle(docker_client, debian_python):
    script = ("import ssl, sys; print(sys.prefix); ctx = ssl.create_default_context(); "
              "print(ctx.cert_store_stats()['x509_ca'] > 0)")
    out = docker_client.containers.run(debian_python, ["python", "-c", script], remove=True).decode().split()
    assert out == ["/opt/venv", "True"]
    bundle = docker_client.containers.run(debian_python, ["cat", "/etc/ssl/certs/ca-certificates.crt"], remove=True)
    assert bundle == base_images.HOST_CA_BUNDLE.read_bytes()
    pip = docker_client.containers.run(debian_python, ["python", "-m", "pip", "--version"], remove=True).decode()
    assert "/opt/venv/" in pip


def test_python_base_uses_the_wanted_image_when_the_engine_has_it_and_makes_one_when_it_cannot_pull(
        docker_client, busybox, debian_python):
    said = []
    assert base_images.python_base(docker_client, busybox, say=said.append) == busybox and said == []
    made = base_images.python_base(docker_client, "pst-no-such-registry.invalid/python:3.10", say=said.append)
    assert made == debian_python, "no registry here: the local Debian Python base is made (or reused)"
    assert "cannot be pulled" in said[0] and "debootstrap" in said[0]
