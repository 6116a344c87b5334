"""The restore as a job: a backup set back into production, or a drill of it, and `resume`.

``run`` holds the backup lock first (no backup's retention deletes the set while it is checked and
restored), checks the whole set before anything changes, and either drills it (scratch MongoDB and
volumes, compared, removed) or, once confirmed, restores production in two phases: every launch
held (the restore marker, every process NO-RUN), a safety backup of the current state, the set
restored into scratch and checked against its manifest (phase one: production untouched), then
production switched to the checked copy (phase two: MongoDB first, volumes copied, each compared).
A switch that fails is rolled back from the safety backup, checked against its manifest; a switch
stopped outright (SIGKILL, power) is rolled back by the next ``restore``. Production ends wholly as
before or wholly as the set. ``resume`` sets every process back to GO.
"""
from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from . import backup as backups
from . import backup_sets, locks, mongo, processes
from . import plan as planning
from . import restore as restoring
from .errors import EcosystemError

if TYPE_CHECKING:
    from .backup_sets import Manifest
    from .context import Context
    from .history import RunHandle

JOB = "restore"


def run(ctx: Context, run: RunHandle, from_: str, parts: tuple[str, ...] | None, *, verify: bool,
        confirm: Callable[[str], None], safety: bool, resume: bool) -> None:
    """Restore the set ``from_`` names (or drill it with ``verify``) as ``run``; ``confirm(name)``
    returns to go on and raises to stop before production is touched."""
    s = ctx.settings
    with locks.exclusive(s.state_dir, "backup", wait_seconds=s.lock_wait_seconds):
        if not verify:  # first: its rollback ends the helpers a stopped restore left writing
            with locks.exclusive(s.state_dir, locks.WEEK, wait_seconds=120), locks.exclusive(s.state_dir, "eod"):
                rolled = finish_interrupted(ctx)
            if rolled:
                ctx.say(rolled)
        from .offload import remove_stale_fetches

        stale = restoring.Drill.remove_stale(s) + remove_stale_fetches(s.backup_dir)
        if stale:
            ctx.say(f"removed what a stopped restore or drill left: {', '.join(stale)}")
        with fetched(ctx, from_, parts or ("db", "parquet")) as (given, source):
            folder, manifest, parts, checked = _checked_set(s, given, parts)
            for line in checked:
                ctx.say(line)
            if verify:
                differences = restoring.drill(s, folder, manifest, parts)
                if differences:
                    raise EcosystemError(f"drill of {manifest.name}{source}: " + "; ".join(differences),
                                         fix="this set does not restore as written: keep the older sets")
                run.detail = (f"{manifest.name}: {', '.join(parts)}{source} restored into scratch and matched "
                              "its manifest")
                ctx.say(f"drill passed: {run.detail}; scratch resources removed, production untouched")
                return
            confirm(manifest.name)
            with locks.exclusive(s.state_dir, locks.WEEK, wait_seconds=120), locks.exclusive(s.state_dir, "eod"):
                run.detail = into_production(ctx, folder, manifest, parts, safety=safety, resume=resume) + source


SHARE = "smb:"


def share_set_name(ctx: Context, from_: str, needs: tuple[str, ...],
                   carrying: str | None = None) -> tuple[str, Manifest]:
    """The set ``smb:NAME`` or ``smb:latest`` names on the share (``latest``: the newest good one
    holding ``needs``, and the file ``carrying`` if given), and its manifest (read and decrypted;
    nothing is fetched)."""
    from . import backup_key, offload, smb

    s = ctx.settings
    if not s.smb_configured:
        raise EcosystemError(f"--from={from_} reads the SMB share, and SMB_SERVER is not set",
                             fix="set SMB_SERVER, SMB_SHARE, SMB_USER and SMB_PASSWORD (and BACKUP_KEY_FILE)")
    wanted = from_[len(SHARE):]
    key = backup_key.load_for(s)
    with smb.session(smb.ShareAddress.from_settings(s)) as share:
        if wanted == "latest":
            remote = offload.remote_sets(share, key)
            if carrying:
                remote = {n: m for n, m in remote.items() if m is not None and carrying in m.files}
            wanted = offload.newest_on_share(remote, needs)
        names = [n for n in share.listdir() if backup_sets.NAME.match(n)]
        if wanted not in names:
            raise backup_sets.BackupSetError(f"there is no set {wanted!r} on the share; there (newest last): "
                                             + (", ".join(sorted(names)[-10:]) or "none"),
                                             fix="give one of those names: --from=smb:NAME, or --from=smb:latest")
        manifest, _sealed = offload.read_remote(share, wanted, key)
    if manifest is None:
        raise backup_sets.BackupSetError(f"{wanted} on the share has no readable manifest",
                                         fix="fetch another set (invoke backups lists them)")
    return wanted, manifest


@contextmanager
def fetched(ctx: Context, from_: str, needs: tuple[str, ...]) -> Iterator[tuple[str, str]]:
    """For ``smb:NAME`` or ``smb:latest``, fetch the set from the share (decrypted, each file checked
    against its manifest) and yield its folder and how to say where it came from. A set not here
    becomes the local set NAME at once (in the ledger of what is on the share), so a restore that
    fails after it can be run again from it; one already here is fetched beside it
    (``.fetched-NAME``: a drill from the share reads the share) and removed after. Any other
    ``from_`` is yielded as it is."""
    if not from_.startswith(SHARE):
        yield from_, ""
        return
    from . import backup_key, offload, smb

    s = ctx.settings
    name, _manifest = share_set_name(ctx, from_, needs)
    address = smb.ShareAddress.from_settings(s)
    ctx.say(f"fetching {name} from the share {address.unc()}")
    with smb.session(address) as share:
        folder, _manifest = offload.fetch_set(share, name, s.backup_dir, backup_key.load_for(s),
                                              say=lambda line: ctx.say("  " + line))
    if not (s.backup_dir / name).exists():
        folder.rename(s.backup_dir / name)
        backup_sets.fsync_folder(s.backup_dir)
        offload.Ledger(s.state_dir).add(name, address.unc())
        ctx.say(f"the fetched {name} is kept in {s.backup_dir}")
        yield str(s.backup_dir / name), " (fetched from the share)"
        return
    try:
        yield str(folder), " (fetched from the share)"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _checked_set(s, from_: str, parts: tuple[str, ...] | None) -> tuple[Path, Manifest, tuple[str, ...], list[str]]:
    """Resolve the set ``from_`` names and check it whole (read-only); return its folder, manifest,
    the parts to restore, and what to say about it. Raise BackupSetError if it fails a check."""
    folder = backup_sets.resolve(s.backup_dir, from_, needs=parts or ("db", "parquet"))
    manifest = restoring.check_set(folder, parts)
    said = [f"{manifest.name}: manifest and every checksum verified; archives read to their end and safe"]
    if manifest.status != "good":
        said.append(f"warning: {manifest.name} is {manifest.status}: {manifest.status_reason}")
    return folder, manifest, restoring.parts_of(manifest, parts), said


def plan(ctx: Context, from_: str, parts: tuple[str, ...] | None, *, verify: bool, safety: bool,
         resume: bool) -> list[str]:
    """What ``run`` would do, changing nothing (its dry run): the set resolved and checked whole as
    ``run`` checks it (read-only), then the steps of ``into_production`` in their order."""
    s = ctx.settings
    said = []
    held = restoring.RestoreMarker(s.state_dir).state()
    if not verify and held is not None and held["phase"] == restoring.RestoreMarker.SWITCHING:
        said.append(f"would first roll production back to {held['safety']}: the restore of {held['set']} stopped "
                    "while it changed production" if held["safety"] else
                    f"warning: the restore of {held['set']} (no safety backup) stopped while it changed production")
    if from_.startswith(SHARE):
        name, manifest = share_set_name(ctx, from_, parts or ("db", "parquet"))
        said.append(f"would fetch {name} from the share ({manifest.total_size / 1e6:,.1f} MB), decrypt it and check "
                    "every file against its manifest, then check it whole as a local set")
        folder, parts = Path(f"the fetched copy of {name}"), restoring.parts_of(manifest, parts)
    else:
        folder, manifest, parts, checked = _checked_set(s, from_, parts)
        said += checked
    if verify:
        return [*said, f"would drill {', '.join(parts)}: restored into a scratch MongoDB and scratch volumes, "
                       "compared with the manifest, removed; production untouched"]
    said.append(f"would ask you to confirm by typing {manifest.name} (--yes: no question)")
    names = planning.known_processes(s)
    said.append("would hold every launch (the restore marker) and set every process NO-RUN: " + ", ".join(names))
    running = ctx.running()
    if running:
        said.append("would stop, gracefully: " + ", ".join(r.process for r in running))
    if safety:
        kinds = [k for k in ("db", "parquet", "volumes") if k in parts]
        said.append(f"would take a safety backup of the current {', '.join(kinds)} into {s.backup_dir}")
    if "db" in parts and manifest.how == "cold":
        said.append("would stop MongoDB (the set is a cold one) and start it again after")
    said.append(f"would restore {', '.join(parts)} from {folder} (MongoDB before the volumes) and compare the "
                "counts with the manifest")
    said.append("would run pysystemtrade's startup (process records and IB client ids from the past cleared)")
    said.append("would set every process GO (--resume)" if resume
                else "would leave every process NO-RUN, then print the checklist (`invoke resume` sets them GO)")
    return said


def into_production(ctx: Context, folder: Path, manifest: Manifest, parts: tuple[str, ...], *,
                    safety: bool, resume: bool) -> str:
    """Hold every launch (the restore marker, NO-RUN) before anything changes; take the safety
    backup; stage the set into scratch and check it (phase one: a set that does not restore as
    written is refused with production untouched); then switch production to it (phase two). If
    the switch fails, production is rolled back from the safety backup, checked against its
    manifest, and both are recorded. The hold is released only when everything matched. Return
    what was done."""
    s = ctx.settings
    target = backups.Sources.of(s)
    if "db" in parts:  # MongoDB must answer (container, credentials) before any volume is wiped
        mongo.counts(target.mongo_container, target.mongo_user)
    marker = restoring.RestoreMarker(s.state_dir)
    marker.note(manifest.name)
    running = ctx.running()
    if running:
        with ctx.history.run("stop") as stop_run:
            processes.stop_each(ctx, running, stop_run)
    control = ctx.control()
    for name in planning.known_processes(s):
        control.no_run(name)
    saved = None
    if safety:
        kinds = tuple(k for k in ("db", "parquet", "volumes") if k in parts)
        saved = backups.take(s.backup_dir, target, kinds, tag=backup_sets.SAFETY_TAG, suspect_ratio=0.0,
                             say=lambda line: ctx.say("  safety backup: " + line))
        ctx.say(f"safety backup of the current state: {saved.name}")
    with restoring.Drill(s) as scratch:
        ctx.say(f"phase one: {', '.join(parts)} restored into scratch and checked against the manifest")
        differences = restoring.stage(scratch, folder, manifest, parts, say=lambda line: ctx.say("  " + line))
        if differences:
            marker.clear()  # production was not touched
            raise EcosystemError(f"{manifest.name} does not restore as written: " + "; ".join(differences),
                                 fix="production is untouched (processes NO-RUN: `invoke resume` sets them GO); "
                                     "restore another set")
        marker.note(manifest.name, phase=marker.SWITCHING, safety=saved.name if saved else None)
        ctx.say("phase two: production switched to the checked copy")
        try:
            differences = restoring.switch(scratch, folder, manifest, parts, target, ctx.project,
                                           say=lambda line: ctx.say("  " + line))
            if differences:
                raise EcosystemError(f"restored {manifest.name}, but production differs from it: "
                                     + "; ".join(differences))
            marker.note(manifest.name, phase=marker.SWITCHED)  # production is the set: nothing to roll back
        except BaseException as exc:  # noqa: BLE001 - whatever stopped the switch (SIGTERM too): never left mixed
            if saved is None:
                raise EcosystemError(f"the restore of {manifest.name} failed after production changed "
                                     f"({_reason(exc)}), and there is no safety backup to roll back to "
                                     "(--no-safety-backup)", fix="production may be mixed: nothing is launched; "
                                     "restore a set: invoke restore --from=NAME") from None
            reason = _reason(exc)
            try:
                rolled = roll_back(ctx, saved.name)
            except EcosystemError as failure:  # its class kept: an engine that is gone still exits 3
                failure.message = (f"the restore of {manifest.name} failed after production changed ({reason}), "
                                   f"and the rollback failed too: {failure.message}")
                failure.fix = ((failure.fix + "; then ") if failure.fix else "") + \
                    f"run `invoke restore --from={manifest.name} --yes` again: it rolls back first, then restores"
                raise failure from None
            raise EcosystemError(f"the restore of {manifest.name} failed after production changed ({reason}); "
                                 + rolled, fix="nothing is launched (processes NO-RUN); read the history "
                                 "(invoke history --job restore), then restore again or `invoke resume`") from None
    control = ctx.control()
    control.startup()  # process records and IB client ids restored from the past are cleared
    for name in planning.known_processes(s):
        (control.go if resume else control.no_run)(name)
    marker.clear()
    return f"{manifest.name}: {', '.join(parts)} restored; startup ran; processes {'GO' if resume else 'NO-RUN'}"


def _reason(exc: BaseException) -> str:
    return exc.message if isinstance(exc, EcosystemError) else type(exc).__name__


def roll_back(ctx: Context, safety_name: str) -> str:
    """Put production back from the safety set ``safety_name``, check it against that set's
    manifest, record the rollback (``restore``, step ``rollback``: ok, or failed and alerted) and
    return what became of production, for the restore's own message."""
    s = ctx.settings
    marker = restoring.RestoreMarker(s.state_dir)
    with ctx.history.run(JOB, step="rollback") as run:
        folder = s.backup_dir / safety_name
        manifest = backup_sets.Manifest.read(folder)
        ctx.say(f"rolling back to the safety backup {safety_name}")
        restoring.stop_writers(s, ctx.project, say=lambda line: ctx.say("  " + line))
        differences = restoring.roll_back(folder, manifest, backups.Sources.of(s), ctx.project,
                                          say=lambda line: ctx.say("  " + line))
        if differences:
            raise EcosystemError(f"the rollback to {safety_name} does not match it: " + "; ".join(differences),
                                 fix=f"restore it again by hand: invoke restore --from={safety_name}")
        run.detail = f"production rolled back to {safety_name} and checked against its manifest"
    marker.clear()  # production is as before; every process stays NO-RUN until the trader resumes
    return f"rolled back to the safety backup {safety_name} and checked: production is as it was before"


def finish_interrupted(ctx: Context) -> str | None:
    """If an earlier restore was stopped (SIGKILL, a power cut, the engine) while it changed
    production, roll production back to that restore's safety backup; return what was done, or None."""
    held = restoring.RestoreMarker(ctx.settings.state_dir).state()
    if held is None or held["phase"] != restoring.RestoreMarker.SWITCHING:
        return None
    if not held["safety"]:  # nothing to roll back to: the restore asked for now replaces what it restores
        restoring.stop_writers(ctx.settings, ctx.project, say=ctx.say)
        ctx.project.up(["mongo_db"], wait=True, no_recreate=True)
        return (f"warning: an earlier restore of {held['set']} (without a safety backup) stopped while it changed "
                "production: this restore replaces the parts it restores; restore db and parquet together")
    ctx.say(f"an earlier restore of {held['set']} stopped while it changed production: rolling back first")
    return roll_back(ctx, held["safety"])


def resume_plan(ctx: Context) -> list[str]:
    """What ``resume`` would do, changing nothing."""
    state = restoring.RestoreMarker(ctx.settings.state_dir).state()
    if state is not None and state["phase"] == restoring.RestoreMarker.SWITCHING:
        return [f"would refuse: the restore of {state['set']} stopped while it changed production (it may be "
                "mixed); `invoke restore --from=NAME --yes` rolls it back first"]
    said = ["would set GO: " + ", ".join(planning.known_processes(ctx.settings))]
    held = restoring.RestoreMarker(ctx.settings.state_dir).read()
    if held is not None:
        said.append(f"would lift the hold of the restore of {held}, which had not completed")
    return said


def resume(ctx: Context) -> list[str]:
    """Set every process pysystemtrade runs back to GO and lift an incomplete restore's hold;
    return the processes."""
    held = restoring.RestoreMarker(ctx.settings.state_dir)
    state = held.state()
    if state is not None and state["phase"] == held.SWITCHING:
        raise EcosystemError(f"the restore of {state['set']} stopped while it changed production: it may be mixed",
                             fix="run `invoke restore --from=NAME --yes` (it rolls production back to the "
                                 f"safety backup {state['safety'] or '(none)'} first), then resume")
    control = ctx.control()
    names = planning.known_processes(ctx.settings)
    for name in names:
        control.go(name)
    if held.read() is not None:
        ctx.say(f"note: the restore of {held.read()} had not completed; launches are allowed again on your word")
        held.clear()
    return names
