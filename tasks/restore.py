"""`invoke restore --from=...` and `invoke resume`: a backup set back into production, or a drill."""
import sys

from invoke import Exit

from ecosystem import backup as backups
from ecosystem import restore as restoring
from ecosystem import restore_job

from ._common import context, ecosystem_task, recorded, unwinding_on_sigterm


def _confirm(yes: bool):
    def confirm(name: str) -> None:
        if yes:
            return
        if not sys.stdin.isatty():
            raise Exit("restore replaces MongoDB and the Parquet store: add --yes to confirm (no terminal to ask on)",
                       code=2)
        answer = input(f"This replaces production MongoDB and Parquet data with {name}. "
                       "Type the set's name to go on: ")
        if answer.strip() != name:
            raise Exit("not confirmed: nothing was changed", code=1)
    return confirm


@ecosystem_task(name="restore", help={
    "from_": "the set: its name, a path to its folder, latest (the newest good set here), or smb:NAME / "
             "smb:latest (fetched from the share, decrypted and checked first)",
    "what": "comma-separated parts: db, parquet, volumes (default db,parquet: restored together)",
    "verify": "a restore drill: into a scratch MongoDB and scratch volumes, compared, removed; production untouched",
    "yes": "do not ask for confirmation", "resume": "set the processes to GO afterwards (default: NO-RUN)",
    "no_safety_backup": "skip the backup of the current state taken first",
    "dry_run": "check the set (read-only) and print what the restore would do; change nothing"})
def restore(c, from_="latest", what=None, verify=False, yes=False, resume=False, no_safety_backup=False,
            dry_run=False):
    """Restore a backup set (checked whole first), or drill it with --verify."""
    try:
        parts = backups.parse_what(what) if what else None
    except ValueError as exc:
        raise Exit(str(exc), code=2) from None
    if dry_run:
        print("\n".join(restore_job.plan(context(c), from_, parts, verify=verify, safety=not no_safety_backup,
                                          resume=resume)))
        return
    with unwinding_on_sigterm(), recorded(c, restore_job.JOB, step="drill" if verify else None) as run:
        restore_job.run(context(c), run, from_, parts, verify=verify, confirm=_confirm(yes),
                        safety=not no_safety_backup, resume=resume)
    if not verify:
        print(restoring.CHECKLIST if not resume else "processes are back to GO (--resume)")


@ecosystem_task(help={"dry_run": "print what it would set, change nothing"})
def resume(c, dry_run=False):
    """After a restore: set every process pysystemtrade runs back to GO."""
    if dry_run:
        print("\n".join(restore_job.resume_plan(context(c))))
        return
    with recorded(c, "resume") as run:
        names = restore_job.resume(context(c))
        run.detail = "GO: " + ", ".join(names)
    print(f"processes back to GO: {', '.join(names)}")
