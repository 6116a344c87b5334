"""`invoke setup`: folders, secret files, a starter private config, the reports clone and the containers."""
import os
import sys

from ecosystem import backup_key, pysys_config, repository, stack

from ._common import ecosystem_task, recorded, settings


def _own(path, uid):
    try:
        os.chown(path, uid, -1)
    except PermissionError:
        return False
    return True


@ecosystem_task(help={"dry_run": "print what would be done, change nothing"})
def setup(c, dry_run=False):
    """Create backup/ and reports/, the secret files, a starter private config, the reports clone and the containers."""
    s = settings(c)
    starter = pysys_config.plan_starter(s)
    steps = [f"create {s.backup_dir} and {s.reports_dir} (0750), owned by uid {s.container_uid}",
             f"write the secret files into {stack.secrets_dir(s)} (folder 0700, each file owned by its reader)",
             starter.intent(),
             (f"make the backup key {s.backup_key_file} (0600) and show it once" if not s.backup_key_file.exists()
              else f"keep the backup key {s.backup_key_file}"),
             f"restrict {s.private_config_dir} to uid {s.container_uid}"]
    if s.reports_remote:
        steps.append(f"make {s.reports_dir} a clone of {s.reports_remote} ({s.reports_branch})")
    steps.append(f"create the containers of {', '.join(stack.ALWAYS_ON)} (project {s.compose_project})")
    if dry_run:
        print("\n".join(f"would {step}" for step in steps))
        return
    with recorded(c, "setup") as run:
        if s.reports_remote:  # before the ownership change below, which git would call dubious
            print(f"{s.reports_dir}: " + repository.attach(s.reports_remote, s.reports_branch, s.reports_dir,
                                                           token=s.git_token, username=s.git_username))
        for folder in (s.backup_dir, s.reports_dir):
            folder.mkdir(parents=True, exist_ok=True)
            owned = _own(folder, s.container_uid)
            os.chmod(folder, 0o750)  # backups and reports are nobody else's business
            print(f"{folder}: ready" + ("" if owned else f" (not root: make it writable by uid {s.container_uid})"))
        written = stack.write_mounted_files(s)
        print(f"secret files in {stack.secrets_dir(s)}: " + ", ".join(f"{k} {v}" for k, v in written.notes.items()))
        key, made = backup_key.ensure(s.backup_key_file)
        print(backup_key.shown_once(key, terminal=sys.stdout.isatty()) if made
              else f"backup key: {key.path} (public {key.public})")
        print(pysys_config.write_starter(s, starter))  # before securing: it gets the same owner and modes
        print(stack.secure_private_config(s))
        stack.compose(s).create(list(stack.ALWAYS_ON))
        print(f"containers created: {', '.join(stack.ALWAYS_ON)}")
        run.detail = "ok"
