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
        assert members["sysproduction/linux/scripts/run_stack_handler"].mode & 0o444 == 0o444  # readable by all
        assert not any(b"SECRET-ACCOUNT" in archive.extractfile(m).read() for m in members.values() if m.isfile())


def test_missing_clone_says_to_build_without_no_pull_repo(settings):
    with pytest.raises(EcosystemError) as caught:
        images.write_context(images.plan_build(settings)[0], io.BytesIO())
    assert "--no-pull-repo" in caught.value.fix


def test_dry_run_description_names_tags_and_exclusions(settings):
    text = images.describe(images.plan_build(settings)[0])
    assert "pysystemtrade_x:current" in text and "without .git/ and private/" in text


# --- building upstream as it is: its dependency files, its Python, its known-bad pins -------------

UPSTREAM_180_SETUP = '''from distutils.version import StrictVersion
if StrictVersion(platform.python_version()) <= StrictVersion("3.10.0"):
    print("pysystemtrade requires Python 3.10.0 or later. Exiting.", file=sys.stderr)
'''


def test_dependencies_are_the_repositorys_requirements_files(tmp_path):
    (tmp_path / "requirements.txt").write_text("pandas==2.1.3\n-r requirements_extra.txt\n")
    (tmp_path / "requirements_extra.txt").write_text("psutil==5.6.6\n")
    source, files = images.dependencies(tmp_path)
    assert source == "requirements.txt" and set(files) == {"requirements.txt", "requirements_extra.txt"}


def test_dependencies_of_a_pyproject_only_repository(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\ndependencies = ["pandas>=2", "pymongo"]\n')
    source, files = images.dependencies(tmp_path)
    assert "pyproject.toml" in source and files["requirements.txt"] == b"pandas>=2\npymongo\n"


def test_no_dependency_file_is_a_clear_error(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.black]\nline-length = 88\n')  # as upstream 1.80's has no deps
    with pytest.raises(EcosystemError, match=r"neither requirements\.txt nor"):
        images.dependencies(tmp_path)


@pytest.mark.parametrize("files,expected", [
    ({"setup.py": UPSTREAM_180_SETUP}, (">3.10.0", "the Python version check in setup.py")),
    ({"setup.py": "setup(name='x', python_requires='>=3.10')"}, (">=3.10", "python_requires in setup.py")),
    ({"pyproject.toml": '[project]\nrequires-python = ">=3.10,<3.13"\n', "setup.py": UPSTREAM_180_SETUP},
     (">=3.10,<3.13", "requires-python in pyproject.toml")),
    ({"pyproject.toml": "[tool.black]\n"}, None),
])
def test_required_python_is_read_where_the_repository_declares_it(tmp_path, files, expected):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    assert images.required_python(tmp_path) == expected


def test_a_base_image_with_the_wrong_python_stops_before_building():
    images.check_python((">3.10.0", "setup.py"), "3.11.2", "base")  # 1.80 on bookworm's Python: fine
    images.check_python(None, "3.9.2", "base")
    with pytest.raises(EcosystemError) as caught:
        images.check_python((">3.10.0", "the Python version check in setup.py"), "3.10.0", "old:base")
    assert "requires Python >3.10.0" in caught.value.message and "3.10.0" in caught.value.message
    assert "PYTHON_BASE_IMAGE" in caught.value.fix


def test_pyyaml_5_without_the_cython_constraint_stops_with_the_pin_and_the_fix(tmp_path, settings):
    (tmp_path / "requirements.txt").write_text("pandas==2.1.3\npyyaml==5.4\n")
    shipped = images.SHIPPED_CONSTRAINTS.read_bytes()
    assert images.known_pin_problems({"requirements.txt": b"pyyaml==5.4\n"}, shipped) == []
    assert images.known_pin_problems({"requirements.txt": b"PyYAML == 5.4.1\n"}, b"") != []
    assert images.known_pin_problems({"requirements.txt": b"pyyaml==6.0.1\n"}, b"") == []
    empty = tmp_path / "none.txt"
    empty.write_text("# nothing\n")
    plan = images.ImagePlan("pysystemtrade", "p", images.ROOT / "docker" / "pysystemtrade" / "Dockerfile", tmp_path,
                            strip_private=True, constraints=empty)
    with pytest.raises(images.ImageBuildError) as caught:
        images.pysystemtrade_inputs(plan)
    assert "pyyaml==5.4" in caught.value.message and "cython<3" in caught.value.fix


def test_constraints_setting(tmp_path):
    def chosen(value):
        return images.constraints_file(load_settings(tmp_path, environ={"PYSYS_BUILD_CONSTRAINTS": value}))
    assert chosen("") == images.SHIPPED_CONSTRAINTS and chosen("none") is None
    assert chosen("mine.txt") == tmp_path / "mine.txt"


def test_a_failed_compile_names_the_pin():
    lines = ["  Running setup.py install for psutil: finished with status 'error'",
             "ERROR: Failed building wheel for pymongo", "Failed to build pymongo psutil"]
    said = images.diagnose_pip(lines, {"requirements.txt": b"pymongo==3.11.3\npsutil==5.6.6  # pinned\n"}, "3.12.1")
    assert "pymongo==3.11.3" in said and "psutil==5.6.6" in said and "3.12.1" in said
    assert images.diagnose_pip(["Step 3/19 : RUN apt-get update", "E: Unable to locate package"], {}, "3") == ""


def test_context_keeps_launchers_as_in_git_readable_by_all_and_adds_the_ecosystem_files(settings, tmp_path):
    clone = make_repo(tmp_path / "clone")
    launcher = clone / "sysproduction" / "linux" / "scripts" / "run_systems"
    launcher.chmod(0o600)  # as a umask 077 clone would leave it
    plan = images.plan_build(settings, "pysystemtrade")[0]
    plan = images.ImagePlan(plan.key, plan.repository, plan.dockerfile, clone, plan.buildargs, strip_private=True,
                            constraints=plan.constraints)
    inputs = images.pysystemtrade_inputs(plan)
    buffer = io.BytesIO()
    images.write_context(plan, buffer, inputs.files())
    members = {m.name: m for m in tarfile.open(fileobj=io.BytesIO(buffer.getvalue())).getmembers()}
    scripts = members["sysproduction/linux/scripts/run_systems"]
    assert scripts.mode & 0o444 == 0o444 and not scripts.mode & 0o111 and scripts.uid == 0
    assert members[".ecosystem/pysys-launch"].mode & 0o755 == 0o755
    assert ".ecosystem/deps/requirements.txt" in members and ".ecosystem/deps/constraints.txt" in members
