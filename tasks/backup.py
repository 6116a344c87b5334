"""`invoke backup`: a verified backup set of MongoDB and the Parquet store, then retention."""
from invoke import Exit

from ecosystem import backup as backups
from ecosystem import backup_job

from ._common import context, ecosystem_task, recorded, unwinding_on_sigterm


@ecosystem_task(help={"what": "comma-separated: db, parquet, volumes, csv (default db,parquet: taken together)",
                      "cold": "stop MongoDB cleanly and copy its volumes instead of an online dump "
                              "(started again afterwards)",
                      "force": "do not wait for running processes: stop them cleanly first (relaunched afterwards)",
                      "dry_run": "print what would be written and what retention would delete; change nothing"})
def backup(c, what=None, cold=False, force=False, dry_run=False):
    """Write a verified backup set (MongoDB and Parquet together), then apply retention."""
    ctx = context(c)
    try:
        kinds = backups.parse_what(what)
    except ValueError as exc:
        raise Exit(str(exc), code=2) from None
    if dry_run:
        print(f"would write a {'cold' if cold else 'online'} set of {', '.join(kinds)} into "
              f"{ctx.settings.backup_dir}, once no pysystemtrade process runs")
        doomed = backup_job.prune(ctx, dry_run=True)
        print("retention would delete: " + (", ".join(doomed) if doomed else "nothing"))
        return
    with unwinding_on_sigterm(), recorded(c, backup_job.JOB) as run:
        manifest = backup_job.run(ctx, run, kinds, cold=cold, force=force)
    if manifest.status != "good":
        raise Exit(f"backup {manifest.name} is SUSPECT: {manifest.status_reason}; it never counts as good "
                   "and retention keeps the older sets", code=1)
    print(f"backup {manifest.name} written and checksummed ({manifest.total_size} bytes)")
