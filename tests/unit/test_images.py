"""Image plans and build contexts: what goes in, what never does."""
from __future__ import annotations

import io
import tarfile

import pytest

from ecosystem import images
from ecosystem.errors import EcosystemError
from ecosystem.settings import load_settings
from standins.pysystemtrade_repo import make_repo


@pytest.fixture
def settings(tmp_path):
    return load_settings(tmp_path, environ={"NAME_SUFFIX": "_x", "STATE_DIR": str(tmp_path / "state")})


def test_full_build_plan_in_dependency_order(settings):
    plans = images.plan_build(settings)
    assert [p.key for p in plans] == ["pysystemtrade", "jupyter", "ib_gateway"]
    assert plans[0].current == "pysystemtrade_x:current" and plans[0].previous == "pysystemtrade_x:previous"
    assert plans[1].buildargs["PYSYSTEMTRADE_IMAGE"] == "pysystemtrade_x:current"
    assert plans[2].buildargs["GATEWAY_BASE_IMAGE"] == "ghcr.io/gnzsnz/ib-gateway:stable"
    assert plans[0].buildargs["BASE_IMAGE"] == "python:3.10-slim-bookworm"


@pytest.mark.parametrize("service,key", [("stack_handler", "pysystemtrade"), ("daily_processes", "pysystemtrade"),
                                         ("jupyter", "jupyter"), ("ib_gateway", "ib_gateway")])
def test_a_service_builds_the_image_it_runs(settings, service, key):
    assert [p.key for p in images.plan_build(settings, service)] == [key]


def test_unknown_service_names_the_buildable_ones(settings):
    with pytest.raises(EcosystemError) as caught:
        images.plan_build(settings, "mongo_db")
    assert "stack_handler" in caught.value.fix and "MONGO_IMAGE" in caught.value.fix


def test_no_build_argument_is_a_secret(tmp_path):
    settings = load_settings(tmp_path, environ={"GIT_TOKEN": "tok-123456", "TWSPASSWORD": "pw-123456"})
    for plan in images.plan_build(settings) + images.standin_plans(settings):
        assert not any(v in str(plan.buildargs) for v in settings.secret_values())


def test_context_leaves_out_git_and_private_and_adds_the_dockerfile(settings, tmp_path):
    clone = make_repo(tmp_path / "clone", private_sentinel="SECRET-ACCOUNT")
    (clone / "docs" / "private").mkdir(parents=True)
    (clone / "docs" / "private" / "kept.md").write_text("a folder named private below the top is kept\n")
    plan = images.plan_build(settings)[0]
    plan = images.ImagePlan(plan.key, plan.repository, plan.dockerfile, clone, plan.buildargs, plan.strip_private)
    buffer = io.BytesIO()
    names = images.write_context(plan, buffer)
    assert not any(n == ".git" or n.startswith((".git/", "private/")) or n == "private" for n in names)
    assert "docs/private/kept.md" in names and "sysproduction/linux/scripts/run_stack_handler" in names
    buffer.seek(0)
    with tarfile.open(fileobj=buffer) as archive:
        members = {m.name: m for m in archive.getmembers()}
        assert images.CONTEXT_DOCKERFILE in members
        assert archive.extractfile(images.CONTEXT_DOCKERFILE).read() == plan.dockerfile.read_bytes()
        assert members["sysproduction/linux/scripts/run_stack_handler"].mode & 0o111
        assert not any(b"SECRET-ACCOUNT" in archive.extractfile(m).read() for m in members.values() if m.isfile())


def test_missing_clone_says_to_build_without_no_pull_repo(settings):
    with pytest.raises(EcosystemError) as caught:
        images.write_context(images.plan_build(settings)[0], io.BytesIO())
    assert "--no-pull-repo" in caught.value.fix


def test_dry_run_description_names_tags_and_exclusions(settings):
    text = images.describe(images.plan_build(settings)[0])
    assert "pysystemtrade_x:current" in text and "without .git/ and private/" in text
