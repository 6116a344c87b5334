"""The locally built test images: they run, they are cached by recipe, and Python trusts the host CAs."""
from __future__ import annotations

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
    assert images.recipe_tag("x", b"a") == images.recipe_tag("x", b"a")
    assert images.recipe_tag("x", b"a") != images.recipe_tag("x", b"b")
    assert images.recipe_tag("x", b"ab") != images.recipe_tag("x", b"a", b"b")


def test_debian_python_image_has_a_venv_python_that_trusts_the_host_ca_bundle(docker_client, debian_python):
    script = ("import ssl, sys; print(sys.prefix); ctx = ssl.create_default_context(); "
              "print(ctx.cert_store_stats()['x509_ca'] > 0)")
    out = docker_client.containers.run(debian_python, ["python", "-c", script], remove=True).decode().split()
    assert out == ["/opt/venv", "True"]
    bundle = docker_client.containers.run(debian_python, ["cat", "/etc/ssl/certs/ca-certificates.crt"], remove=True)
    assert bundle == images.HOST_CA_BUNDLE.read_bytes()
    pip = docker_client.containers.run(debian_python, ["python", "-m", "pip", "--version"], remove=True).decode()
    assert "/opt/venv/" in pip
