"""The backup as a job: taken in the dead time, MongoDB and Parquet together, then retention.

``run`` is what `invoke backup` does. It holds the backup lock and the launch locks (`weekly`, `eod`:
no launch while the set is taken, so the two stores stay in step). It waits for running processes to
end (``--force`` stops them cleanly instead). For a cold set it stops MongoDB cleanly, and it starts
again whatever it stopped (the cold marker lets a killed backup be repaired by the next backup,
``up`` or ``weekly sync``). It takes the set, then prunes with the retention rules. A set that is not
good never triggers retention.
"""
from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from . import backup as backups
from . import backup_sets, locks, mongo, processes, retention
from . import restore as restoring
from .errors import EcosystemError

if TYPE_CHECKING:
    from .backup_sets import Manifest
    from .context import Context
    from .history import RunHandle
    from .processes import RunningProcess

JOB = "backup"
CSV_PROGRAM = "from sysproduction.backup_db_to_csv import backup_db_to_csv; backup_db_to_csv()"


def run(ctx: Context, run: RunHandle, kinds: tuple[str, ...], *, cold: bool, force: bool) -> Manifest:
    """Take one set of ``kinds`` as ``run``; prune once it is good; return its manifest."""
    s = ctx.settings
    with (locks.exclusive(s.state_dir, JOB, wait_seconds=s.lock_wait_seconds),
          locks.exclusive(s.state_dir, locks.WEEK, wait_seconds=120),
          locks.exclusive(s.state_dir, "eod")):
        held = restoring.RestoreMarker(s.state_dir).state()
        if held is not None and held["phase"] == restoring.RestoreMarker.SWITCHING:
            raise EcosystemError(f"a restore of {held['set']} stopped while it changed production: a backup now "
                                 "would keep a mixed state as a good set",
                                 fix=f"finish it first: invoke restore --from={held['set']} --yes (it rolls "
                                     "production back to its safety backup, then restores)")
        for line in backups.remove_stale_partials(s.backup_dir, datetime.now(UTC)):
            ctx.say(f"removed {line}, left by a backup that was killed")
        from .offload import remove_stale_fetches

        for line in remove_stale_fetches(s.backup_dir):
            ctx.say(f"removed {line}, left by a fetch from the share that was stopped")
        for line in restart_after_cold(ctx):
            ctx.say(line)
        still = wait_for_processes(ctx, force)
        stopped = []
        marker = backups.ColdMarker(s.state_dir)
        if cold or still:
            marker.note(["mongo_db"] if cold else [], [r.process for r in still])
        try:
            if still:
                processes.stop_each(ctx, still, run)
                stopped = [r.process for r in still]
            sources = backups.Sources.of(s)
            counts = None
            if cold:
                if "db" in kinds:  # counted while it runs: the copy of its stopped volumes cannot be counted
                    counts = mongo.counts(sources.mongo_container, sources.mongo_user)
                ctx.project.stop(["mongo_db"], timeout=120)  # a clean shutdown, never the 10 s default
            tty = sys.stdout.isatty()
            manifest = backups.take(s.backup_dir, sources, kinds, cold=cold, suspect_ratio=s.backup_suspect_ratio,
                                    db_counts=counts, csv_export=csv_export(ctx) if "csv" in kinds else None,
                                    say=lambda line: ctx.say(("\r  " if tty else "backup: ") + line),
                                    progress=_progress_bar if tty else None, own_state=own_state_of(ctx))
        finally:
            if cold or stopped:
                for line in restart_after_cold(ctx):
                    ctx.say(line)
        detail = f"{manifest.name}: {', '.join(kinds)}, {manifest.total_size} bytes ({manifest.how})"
        if manifest.status != "good":
            run.set("suspect", f"{detail}; suspect: {manifest.status_reason}")
        else:
            run.detail = detail
            for line in prune(ctx, dry_run=False):
                ctx.say(f"retention deleted {line}")
    return manifest


def own_state_of(ctx: Context) -> Callable[[Path], dict | None] | None:
    """What writes the ecosystem's own state into a set (encrypted to the backup key), or None
    with a warning when there is no key: the set is still taken, without it."""
    from . import backup_key, own_state

    try:
        key = backup_key.load_for(ctx.settings)
    except backup_key.BackupKeyError as exc:
        ctx.say(f"warning: this set carries no ecosystem state (.env, secrets, private config): {exc.message}; "
                f"{exc.fix}")
        return None
    def write(path: Path) -> dict | None:
        try:
            written = own_state.archive(ctx.settings, key, path)
        except (OSError, EcosystemError) as exc:  # the trading data's backup goes on without it
            path.unlink(missing_ok=True)
            ctx.say(f"warning: this set carries no ecosystem state: {getattr(exc, 'message', exc)}")
            return None
        if written["unread"]:
            ctx.say("warning: the ecosystem state in this set lacks what this user cannot read: "
                    + "; ".join(written["unread"]) + " (run the backup as the user that ran `invoke setup`)")
        return written

    return write


def wait_for_processes(ctx: Context, force: bool) -> list[RunningProcess]:
    """Wait (event-driven) for running pysystemtrade processes to end, up to BACKUP_WAIT_MINUTES;
    return those still running (only with ``force``; otherwise fail naming them)."""
    s = ctx.settings
    running = ctx.running()
    if not running:
        return []
    deadline = datetime.now(UTC).timestamp() + s.backup_wait_minutes * 60
    ctx.say(f"waiting up to {s.backup_wait_minutes} min for {', '.join(r.process for r in running)} to end "
            "(MongoDB and the Parquet store are backed up together, when nothing writes to them)")
    for item in running:
        processes.wait_exit(ctx.client, item.container, max(1.0, deadline - datetime.now(UTC).timestamp()))
    still = ctx.running()
    if still and not force:
        raise EcosystemError(f"pysystemtrade processes are still running after {s.backup_wait_minutes} min: "
                             + ", ".join(r.process for r in still),
                             fix="run the backup in the dead time (after the evening chain), or with --force "
                                 "(which stops them cleanly first)")
    return still


def restart_after_cold(ctx: Context) -> list[str]:
    """Start again what a cold backup stopped (from its marker); return what was done."""
    from . import plan as planning
    from . import trading_day

    s = ctx.settings
    marker = backups.ColdMarker(s.state_dir)
    stopped = marker.read()
    if stopped is None:
        return []
    done = []
    if stopped.get("services"):
        ctx.project.up(stopped["services"], wait=True, no_recreate=True)
        done.append("started again after a cold backup: " + ", ".join(stopped["services"]))
    relaunch = [p for p in stopped.get("processes", []) if p in trading_day.SERVICES]
    if relaunch:
        now = datetime.now(UTC)
        steps = {p.process: p for p in planning.plan_for(s, now.astimezone(s.tz).date())}
        running = {r.process for r in ctx.running()}
        for name in relaunch:
            step = steps.get(name)
            if step and name not in running and step.launch_at <= now < step.window_stop:
                done.append(trading_day.launch_or_record(ctx, trading_day.Due(step, 0, "stopped by a cold backup"),
                                                         now))
    marker.clear()
    return done


def csv_export(ctx: Context):
    """Return the CSV part of a set: pysystemtrade's own CSV export (backup_db_to_csv) run in the
    csv_backup service into csv_backup_directory (which must be under /data/backup, BACKUP_DIR
    on the host), then that folder archived into the set."""
    from . import archives, pysys_config
    from .process_control import CONTROL_LABEL

    s = ctx.settings
    directory = str(pysys_config.private_config(s).get("csv_backup_directory") or "")
    inside = PurePosixPath(directory)
    if not directory or not inside.is_relative_to("/data/backup") or inside == PurePosixPath("/data/backup") \
            or ".." in inside.parts:
        raise EcosystemError(f"csv_backup_directory is {directory or 'not set'} in private_config.yaml",
                             fix="set it to a folder under /data/backup, e.g. csv_backup_directory: /data/backup/csv "
                                 "(BACKUP_DIR on the host)")
    host = s.backup_dir / inside.relative_to("/data/backup")

    def export(partial):
        ctx.project.run_once("csv_backup", ["python3", "-c", CSV_PROGRAM], timeout=6 * 3600,
                             labels={CONTROL_LABEL: "control"})
        return {"files": archives.write_tar(host, partial / "csv.tar.gz")}
    return export


def prune(ctx: Context, *, dry_run: bool) -> list[str]:
    """Apply retention to the complete sets; return what was (or would be) deleted. With an SMB
    share set, a set not yet verified on the share is kept, whatever the rules say."""
    from .offload import Ledger

    s = ctx.settings
    infos = backup_sets.set_infos(backup_sets.sets(s.backup_dir))
    deleted = []
    offloaded = Ledger(s.state_dir).read() if s.smb_configured else None
    held = restoring.RestoreMarker(s.state_dir).state()
    for decision in retention.decide(infos, keep_last=s.backup_keep_last, keep_daily=s.backup_keep_daily,
                                     keep_weekly=s.backup_keep_weekly, tz=s.tz):
        if not decision.keep and held is not None and decision.name == held["safety"]:
            ctx.say(f"retention keeps {decision.name}: an unfinished restore may roll back to it")
            continue
        if not decision.keep and offloaded is not None and decision.name not in offloaded:
            ctx.say(f"retention keeps {decision.name} until it is verified on the share (invoke offload)")
            continue
        if not decision.keep:
            if not dry_run:
                shutil.rmtree(s.backup_dir / decision.name)
            deleted.append(f"{decision.name} ({decision.reason})")
    return deleted


def _progress_bar(file_name: str, size: int) -> None:
    """On a terminal: the bytes written so far, on one line."""
    print(f"\r  {file_name}: {size / 1e6:,.1f} MB written ", end="", flush=True)
