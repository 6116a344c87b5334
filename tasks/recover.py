"""`invoke recover`: rebuild this host from the share (the newest good set, or one named)."""
from ecosystem import backup as backups
from ecosystem import mongo, recovery

from ._common import call_task, context, ecosystem_task, forget_settings, recorded


@ecosystem_task(help={"from_": "smb:latest (default: the newest good set on the share carrying the ecosystem's "
                               "state) or smb:NAME",
                      "dry_run": "read the share and say what would be done; change nothing"})
def recover(c, from_="smb:latest", dry_run=False):
    """On a new host with only the SMB settings and the backup key: fetch a set from the share, put back
    the ecosystem's state, build, set up, start, restore; every process left NO-RUN."""
    if dry_run:
        print("\n".join(recovery.plan(context(c), from_)))
        return
    with recorded(c, "recover") as run:
        ctx = context(c)
        name, _manifest = recovery.choose(ctx, from_)
        with run.step("fetch"):
            folder = recovery.fetch(ctx, name)
        with run.step("state"):
            state = recovery.read_state(ctx, folder)
            recovery.put_back_env(ctx, state)
        forget_settings(c)  # from here on the settings are the recovered .env's, this host's keys on top
        call_task(c, "build")
        ctx = context(c)
        recovery.own_state.put_back_private(state, ctx.settings, name, say=ctx.say)
        call_task(c, "setup")
        call_task(c, "up")
        target = backups.Sources.of(ctx.settings)
        documents = sum(mongo.counts(target.mongo_container, target.mongo_user).values())
        call_task(c, "restore", from_=name, yes=True, no_safety_backup=documents == 0)
        run.detail = (f"{name} fetched from the share; state put back; built, set up, started; restored; processes "
                      "NO-RUN")
    print(f"recovered from {name}: every process is NO-RUN; follow the checklist above")
