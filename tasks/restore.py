"""`invoke restore --from=...` and `invoke resume`: a backup set back into production, or a drill."""
import sys
from datetime import datetime, timezone

from invoke import Exit, task

from ecosystem import backup as backups, backup_sets, engine, locks, plan as planning, processes, restore as restoring, stack
from ecosystem.errors import EcosystemError

from ._common import recorded, settings, unwinding_on_sigterm
from .processes import stop_processes


def _known_processes(s) -> list[str]:
    """Every process the plan launches (continuous, morning, the chain), plus run_backups."""
    names = [p.process for p in planning.plan_for(s, datetime.now(timezone.utc).astimezone(s.tz).date())]
    return list(dict.fromkeys(names + ["run_backups"]))


def _confirm(name: str, yes: bool) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        raise Exit("restore replaces MongoDB and the Parquet store: add --yes to confirm (no terminal to ask on)",
                   code=2)
    answer = input(f"This replaces production MongoDB and Parquet data with {name}. Type the set's name to go on: ")
    if answer.strip() != name:
        raise Exit("not confirmed: nothing was changed", code=1)


@task(name="restore", help={
    "from_": "the set: its name, a path to its folder, or latest (the newest good set)",
    "what": "comma-separated parts: db, parquet, volumes (default db,parquet: restored together)",
    "verify": "a restore drill: into a scratch MongoDB and scratch volumes, compared, removed; production untouched",
    "yes": "do not ask for confirmation", "resume": "set the processes to GO afterwards (default: NO-RUN)",
    "no_safety_backup": "skip the backup of the current state taken first"})
def restore(c, from_="latest", what=None, verify=False, yes=False, resume=False, no_safety_backup=False):
    """Restore a backup set (checked whole first), or drill it with --verify."""
    s = settings(c)
    try:
        parts = backups.parse_what(what) if what else None
    except ValueError as exc:
        raise Exit(str(exc), code=2) from None
    # the backup lock first: no backup's retention can delete the set while it is checked and restored
    with unwinding_on_sigterm(), recorded(c, "restore", step="drill" if verify else None) as run, \
            locks.exclusive(s.state_dir, "backup", wait_seconds=60):
        folder = backup_sets.resolve(s.backup_dir, from_, needs=parts or ("db", "parquet"))
        manifest = restoring.check_set(folder, parts)
        parts = restoring.parts_of(manifest, parts)
        print(f"{manifest.name}: manifest and every checksum verified; archives read to their end and safe")
        if manifest.status != "good":
            print(f"warning: {manifest.name} is {manifest.status}: {manifest.status_reason}")
        if verify:
            differences = restoring.drill(s, folder, manifest, parts)
            if differences:
                raise EcosystemError(f"drill of {manifest.name}: " + "; ".join(differences),
                                     fix="this set does not restore as written: keep the older sets")
            run.detail = f"{manifest.name}: {', '.join(parts)} restored into scratch and matched its manifest"
            print(f"drill passed: {run.detail}; scratch resources removed, production untouched")
            return
        _confirm(manifest.name, yes)
        with locks.exclusive(s.state_dir, "weekly", wait_seconds=120), locks.exclusive(s.state_dir, "eod"):
            run.detail = _restore_production(c, s, folder, manifest, parts, safety=not no_safety_backup,
                                             resume=resume)
    print(restoring.CHECKLIST if not resume else "processes are back to GO (--resume)")


def _restore_production(c, s, folder, manifest, parts, *, safety: bool, resume: bool) -> str:
    """Hold every launch (the restore marker, NO-RUN) before anything changes; MongoDB before
    the volumes; release the hold only when everything matched."""
    from ecosystem import mongo

    client = engine.connect()
    target = backups.Sources.of(s)
    if "db" in parts:  # MongoDB must answer (container, credentials) before any volume is wiped
        mongo.counts(target.mongo_container, target.mongo_user)
    marker = restoring.RestoreMarker(s.state_dir)
    marker.note(manifest.name)
    running = processes.running_processes(client, s)
    if running:
        with recorded(c, "stop") as stop_run:
            stop_processes(c, s, running, stop_run)
    control = stack.process_control(s, client)
    for name in _known_processes(s):
        control.no_run(name)
    if safety:
        kinds = tuple(k for k in ("db", "parquet", "volumes") if k in parts)
        saved = backups.take(s.backup_dir, target, kinds, tag=backup_sets.SAFETY_TAG, suspect_ratio=0.0,
                             say=lambda line: print("  safety backup: " + line))
        print(f"safety backup of the current state: {saved.name}")
    project = stack.compose(s)
    cold_db = "db" in parts and manifest.how == "cold"
    if cold_db:
        project.stop(["mongo_db"], timeout=120)
    try:
        differences = restoring.restore_into(folder, manifest, parts, target, say=lambda line: print("  " + line))
    finally:
        if cold_db:
            project.up(["mongo_db"], wait=True, no_recreate=True)
    if cold_db:
        differences += restoring.compare_counts(manifest, mongo.counts(target.mongo_container, target.mongo_user))
    if differences:
        raise EcosystemError(f"restored {manifest.name}, but it differs from its manifest: " + "; ".join(differences),
                             fix="nothing is launched (restore marker, NO-RUN): restore the safety backup or another "
                                 "set, or `invoke resume` once you have checked")
    control = stack.process_control(s, client)
    control.startup()  # process records and IB client ids restored from the past are cleared
    for name in _known_processes(s):
        (control.go if resume else control.no_run)(name)
    marker.clear()
    return f"{manifest.name}: {', '.join(parts)} restored; startup ran; processes {'GO' if resume else 'NO-RUN'}"


@task
def resume(c):
    """After a restore: set every process pysystemtrade runs back to GO."""
    s = settings(c)
    with recorded(c, "resume") as run:
        control = stack.process_control(s, engine.connect())
        names = _known_processes(s)
        for name in names:
            control.go(name)
        held = restoring.RestoreMarker(s.state_dir)
        if held.read() is not None:
            print(f"note: the restore of {held.read()} had not completed; launches are allowed again on your word")
            held.clear()
        run.detail = "GO: " + ", ".join(names)
    print(f"processes back to GO: {', '.join(names)}")
