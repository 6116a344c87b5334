"""`invoke backup`: a verified backup set of MongoDB and the Parquet store, then retention."""
from invoke import Exit

from ecosystem import backup as backups
from ecosystem import backup_job, inventory

from ._common import context, ecosystem_task, history, recorded, settings, table, unwinding_on_sigterm


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


def _age(moment, now) -> str:
    if moment is None:
        return "never"
    days = (now - moment).days
    return "today" if days == 0 else f"{days}d ago"


@ecosystem_task(read_only=True, name="backups", help={
    "json": f"print JSON instead (schema {inventory.SCHEMA}, see the README)", "no_share": "do not read the SMB share"})
def backups_(c, json=False, no_share=False):
    """List every backup set: when, kind, size, status, where it is (here, share, both), last drilled."""
    import json as json_module
    from datetime import UTC, datetime

    s = settings(c)
    found, share = inventory.collect(s, history(c), share=not no_share)
    if json:
        print(json_module.dumps({"schema": inventory.SCHEMA, "backup_dir": str(s.backup_dir), "share": share,
                                 "sets": [entry.as_json() for entry in found]}, indent=1))
        return
    now = datetime.now(UTC)
    print(table(("set", "created", "kind", "size", "status", "where", "last drilled"),
                [(e.name, e.created.astimezone(s.tz).strftime("%a %d %b %H:%M") if e.created else "?", e.kind,
                  f"{e.size / 1e6:,.1f} MB" if e.size is not None else "?",
                  e.status + (f" ({e.status_reason})" if e.status != "good" and e.status_reason else ""),
                  e.where, _age(e.last_drilled, now)) for e in found]) if found else f"no set in {s.backup_dir}")
    print(f"\nthe share: {share}")
