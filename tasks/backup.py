"""`invoke backup`: a verified backup set of MongoDB and the Parquet store, then retention."""
import sys
from datetime import datetime, timezone

from invoke import Exit, task

from ecosystem import backup as backups, backup_sets, engine, locks, mongo, processes, retention, stack
from ecosystem.errors import EcosystemError
from ecosystem.offload import Ledger

from ._common import history, recorded, settings, unwinding_on_sigterm
from .processes import stop_processes


def _wait_for_processes(s, client, force: bool) -> list:
    """Wait (event-driven) for running pysystemtrade processes to end, up to BACKUP_WAIT_MINUTES;
    return those still running (only with --force; otherwise fail naming them)."""
    running = processes.running_processes(client, s)
    if not running:
        return []
    deadline = datetime.now(timezone.utc).timestamp() + s.backup_wait_minutes * 60
    print(f"waiting up to {s.backup_wait_minutes} min for {', '.join(r.process for r in running)} to end "
          "(MongoDB and the Parquet store are backed up together, when nothing writes to them)")
    for item in running:
        processes.wait_exit(client, item.container, max(1.0, deadline - datetime.now(timezone.utc).timestamp()))
    still = processes.running_processes(client, s)
    if still and not force:
        raise EcosystemError(f"pysystemtrade processes are still running after {s.backup_wait_minutes} min: "
                             + ", ".join(r.process for r in still),
                             fix="run the backup in the dead time (after the evening chain), or with --force "
                                 "(which stops them cleanly first)")
    return still


def restart_after_cold(c, s, client) -> list[str]:
    """Start again what a cold backup stopped (from its marker); return what was done."""
    from ecosystem import trading_day

    marker = backups.ColdMarker(s.state_dir)
    stopped = marker.read()
    if stopped is None:
        return []
    done = []
    if stopped.get("services"):
        stack.compose(s).up(stopped["services"], wait=True, no_recreate=True)
        done.append("started again after a cold backup: " + ", ".join(stopped["services"]))
    relaunch = [p for p in stopped.get("processes", []) if p in trading_day.SERVICES]
    if relaunch:
        from ecosystem import plan as planning

        now = datetime.now(timezone.utc)
        steps = {p.process: p for p in planning.plan_for(s, now.astimezone(s.tz).date())}
        running = {r.process for r in processes.running_processes(client, s)}
        for name in relaunch:
            step = steps.get(name)
            if step and name not in running and step.launch_at <= now < step.window_stop:
                done.append(trading_day.launch_or_record(stack.compose(s), client, s, history(c),
                                                         trading_day.Due(step, 0, "stopped by a cold backup"), now))
    marker.clear()
    return done


CSV_PROGRAM = "from sysproduction.backup_db_to_csv import backup_db_to_csv; backup_db_to_csv()"


def _csv_export(s):
    """Return the CSV part of a set: pysystemtrade's own CSV export (backup_db_to_csv) run in the
    csv_backup service into csv_backup_directory (which must be under /data/backup, BACKUP_DIR
    on the host), then that folder archived into the set."""
    from pathlib import PurePosixPath

    from ecosystem import archives, pysys_config
    from ecosystem.process_control import CONTROL_LABEL

    directory = str(pysys_config.private_config(s).get("csv_backup_directory") or "")
    inside = PurePosixPath(directory)
    if not directory or not inside.is_relative_to("/data/backup") or inside == PurePosixPath("/data/backup") \
            or ".." in inside.parts:
        raise EcosystemError(f"csv_backup_directory is {directory or 'not set'} in private_config.yaml",
                             fix="set it to a folder under /data/backup, e.g. csv_backup_directory: /data/backup/csv "
                                 "(BACKUP_DIR on the host)")
    host = s.backup_dir / inside.relative_to("/data/backup")

    def export(partial):
        stack.compose(s).run_once("csv_backup", ["python3", "-c", CSV_PROGRAM], timeout=6 * 3600,
                                  labels={CONTROL_LABEL: "control"})
        return {"files": archives.write_tar(host, partial / "csv.tar.gz")}
    return export


def _progress_bar(file_name: str, size: int) -> None:
    """On a terminal: the bytes written so far, on one line."""
    print(f"\r  {file_name}: {size / 1e6:,.1f} MB written ", end="", flush=True)


def prune(s, *, dry_run: bool) -> list[str]:
    """Apply retention to the complete sets; return what was (or would be) deleted."""
    import shutil

    infos = backup_sets.set_infos(backup_sets.sets(s.backup_dir))
    deleted = []
    offloaded = Ledger(s.state_dir).read() if s.smb_configured else None
    for decision in retention.decide(infos, keep_last=s.backup_keep_last, keep_daily=s.backup_keep_daily,
                                     keep_weekly=s.backup_keep_weekly, tz=s.tz):
        if not decision.keep and offloaded is not None and decision.name not in offloaded:
            print(f"retention keeps {decision.name} until it is verified on the share (invoke offload)")
            continue
        if not decision.keep:
            if not dry_run:
                shutil.rmtree(s.backup_dir / decision.name)
            deleted.append(f"{decision.name} ({decision.reason})")
    return deleted


@task(help={"what": "comma-separated: db, parquet, volumes, csv (default db,parquet: taken together)",
            "cold": "stop MongoDB cleanly and copy its volumes instead of an online dump (started again afterwards)",
            "force": "do not wait for running processes: stop them cleanly first (relaunched afterwards)",
            "dry_run": "print what would be written and what retention would delete; change nothing"})
def backup(c, what=None, cold=False, force=False, dry_run=False):
    """Write a verified backup set (MongoDB and Parquet together), then apply retention."""
    s = settings(c)
    try:
        kinds = backups.parse_what(what)
    except ValueError as exc:
        raise Exit(str(exc), code=2) from None
    if dry_run:
        print(f"would write a {'cold' if cold else 'online'} set of {', '.join(kinds)} into {s.backup_dir}, "
              "once no pysystemtrade process runs")
        doomed = prune(s, dry_run=True)
        print("retention would delete: " + (", ".join(doomed) if doomed else "nothing"))
        return
    # no launch while the set is taken (weekly sync, eod): the two stores must stay in step
    with unwinding_on_sigterm(), recorded(c, "backup") as run, locks.exclusive(s.state_dir, "backup"), \
            locks.exclusive(s.state_dir, "weekly", wait_seconds=120), locks.exclusive(s.state_dir, "eod"):
        client = engine.connect()
        for line in backups.remove_stale_partials(s.backup_dir, datetime.now(timezone.utc)):
            print(f"removed {line}, left by a backup that was killed")
        for line in restart_after_cold(c, s, client):
            print(line)
        still = _wait_for_processes(s, client, force)
        stopped = []
        marker = backups.ColdMarker(s.state_dir)
        if cold or still:
            marker.note(["mongo_db"] if cold else [], [r.process for r in still])
        try:
            if still:
                stop_processes(c, s, still, run)
                stopped = [r.process for r in still]
            sources = backups.Sources.of(s)
            counts = None
            if cold:
                if "db" in kinds:  # counted while it runs: the copy of its stopped volumes cannot be counted
                    counts = mongo.counts(sources.mongo_container, sources.mongo_user)
                stack.compose(s).stop(["mongo_db"], timeout=120)  # a clean shutdown, never the 10 s default
            tty = sys.stdout.isatty()
            manifest = backups.take(s.backup_dir, sources, kinds, cold=cold, suspect_ratio=s.backup_suspect_ratio,
                                    db_counts=counts, csv_export=_csv_export(s) if "csv" in kinds else None,
                                    say=lambda line: print(("\r  " if tty else "backup: ") + line),
                                    progress=_progress_bar if tty else None)
        finally:
            if cold or stopped:
                for line in restart_after_cold(c, s, client):
                    print(line)
        detail = f"{manifest.name}: {', '.join(kinds)}, {manifest.total_size} bytes ({manifest.how})"
        if manifest.status != "good":
            run.set("suspect", f"{detail}; suspect: {manifest.status_reason}")
        else:
            run.detail = detail
            for line in prune(s, dry_run=False):
                print(f"retention deleted {line}")
    if manifest.status != "good":
        raise Exit(f"backup {manifest.name} is SUSPECT: {manifest.status_reason}; it never counts as good "
                   "and retention keeps the older sets", code=1)
    print(f"backup {manifest.name} written and checksummed ({manifest.total_size} bytes)")
