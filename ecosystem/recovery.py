"""`invoke recover`: a new host rebuilt from the share, given only the SMB settings and the backup key.

The steps, each its own function so the task stays thin and its dry run says the same: choose the
newest good set on the share that carries the ecosystem's own state (or the one named); fetch it
(decrypted, every file checked against its manifest) into BACKUP_DIR; put back the ``.env`` and
the secret files (this host's keys win); then the task builds, puts back the private config,
sets up, starts the stack and restores the set (a safety backup first only if this host's
MongoDB already holds documents), leaving every process NO-RUN for the trader's checklist.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from . import backup_key, backup_sets, locks, own_state, restore_job
from .backup_sets import OWN_STATE, BackupSetError

if TYPE_CHECKING:
    from .backup_sets import Manifest
    from .context import Context

NEEDS = ("db", "parquet")


def choose(ctx: Context, from_: str) -> tuple[str, Manifest]:
    """The set to recover from (``smb:latest``: the newest good one carrying the ecosystem's state
    and both stores; or ``smb:NAME``) and its manifest, read from the share; refuse one that does
    not carry them."""
    if not from_.startswith(restore_job.SHARE):
        from_ = restore_job.SHARE + from_
    name, manifest = restore_job.share_set_name(ctx, from_, NEEDS, carrying=OWN_STATE)
    missing = [k for k in NEEDS if k not in manifest.what]
    if missing or OWN_STATE not in manifest.files:
        what = ", ".join([*missing, *([] if OWN_STATE in manifest.files else ["the ecosystem's state"])])
        raise BackupSetError(f"{name} on the share does not carry {what}: a host cannot be rebuilt from it",
                             fix="recover from a set taken by this version (invoke backups lists them), or "
                                 "rebuild by hand: setup, build, up, then invoke restore --from=smb:NAME")
    return name, manifest


def fetch(ctx: Context, name: str) -> Path:
    """Bring ``name`` from the share into BACKUP_DIR (checked file by file), unless a copy that passes
    its checks is here already (a recover run again); return its folder. Holds the backup lock."""
    folder = ctx.settings.backup_dir / name
    with locks.exclusive(ctx.settings.state_dir, "backup", wait_seconds=ctx.settings.lock_wait_seconds):
        if folder.is_dir():
            problems = backup_sets.verify(folder, backup_sets.Manifest.read(folder))
            if not problems:
                ctx.say(f"{name} is here already and passes its checks: not fetched again")
                return folder
            raise BackupSetError(f"{name} here fails its checks: " + "; ".join(problems),
                                 fix=f"remove {folder} and run recover again (it fetches the set again)")
        with restore_job.fetched(ctx, restore_job.SHARE + name, NEEDS):
            pass  # kept as BACKUP_DIR/NAME
    return folder


def read_state(ctx: Context, folder: Path) -> own_state.OwnState:
    return own_state.read(folder / OWN_STATE, backup_key.load_for(ctx.settings))


def put_back_env(ctx: Context, state: own_state.OwnState) -> Path:
    """The ``.env`` and secret files of the set, this host's own keys winning; return the ``.env``."""
    return own_state.put_back_env(state, ctx.settings, say=ctx.say)


def plan(ctx: Context, from_: str) -> list[str]:
    """What recover would do, reading the share but changing nothing."""
    name, manifest = choose(ctx, from_)
    s = ctx.settings
    return [f"would fetch {name} ({manifest.created}, {manifest.how}, {manifest.total_size / 1e6:,.1f} MB) from the "
            f"share into {s.backup_dir}, decrypting it and checking every file against its manifest",
            f"would put back its .env into {s.env_file or s.root / '.env'} (this host's keys win; the old one kept "
            f"as .before-recover) and its secret files into {s.state_dir / own_state.RECOVERED_SECRETS}",
            "would build the images (invoke build), put back the private config, then invoke setup and invoke up",
            f"would restore {name} (db, parquet; a safety backup first only if MongoDB here holds documents), "
            "leave every process NO-RUN and print the checklist"]
