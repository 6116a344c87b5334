"""`invoke install-service`: the scheduler as a hardened systemd service of this checkout."""
import os
from pathlib import Path

from invoke import Exit

from ecosystem import commands, service
from ecosystem.errors import EXIT_USAGE
from ecosystem.settings import ENV_FILE_VARIABLE

from ._common import ROOT, ecosystem_task, settings


@ecosystem_task(name="install-service", record=False, help={
    "user": "the user the scheduler runs as (default: the checkout's owner); root or a member of the docker group",
    "unit_dir": "where the unit goes (default /etc/systemd/system)",
    "dry_run": "print the unit that would be installed; change nothing"})
def install_service(c, user="", unit_dir="", dry_run=False):
    """Install the scheduler (run-scheduler) as a sandboxed systemd service of this checkout, for a chosen user."""
    s = settings(c)
    unit_dir = unit_dir or str(service.UNIT_DIR)
    account = service.account(user or service.owner_of(ROOT))
    if not account.reaches_the_engine:
        raise Exit(f"user {account.name} cannot reach the Docker engine, so the scheduler could run nothing; add it "
                   f"to the docker group (usermod -aG {service.DOCKER_GROUP} {account.name}) or pass --user",
                   code=EXIT_USAGE)
    if not (ROOT / ".venv" / "bin" / "invoke").exists():
        raise Exit(f"{ROOT}/.venv has no invoke: run scripts/install.sh --no-demo first", code=EXIT_USAGE)
    # the .env this install read (ECOSYSTEM_ENV_FILE, resolved as the settings resolve it)
    env_file = s.env_file if os.environ.get(ENV_FILE_VARIABLE) else None
    text = service.render(s, checkout=ROOT, user=account, env_file=env_file)
    name = service.unit_name(s)
    if dry_run:
        print(f"# would install {Path(unit_dir) / name}\n{text}", end="")
        return
    systemd = Path("/run/systemd/system").is_dir()
    done = service.install(text, name=name, unit_dir=Path(unit_dir),
                           systemctl=(lambda argv: commands.run(["systemctl", *argv], timeout=120)) if systemd
                           else None)
    print(f"installed {done.path} (runs as {account.name}; stops within {s.job_stop_seconds + 60}s)")
    for line in done.said:
        print(f"  {line}")
