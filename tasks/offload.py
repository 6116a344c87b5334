"""`invoke offload`: copy the good backup sets to the SMB share, verified, with retention there."""
import sys

from invoke import Exit

from ecosystem import locks
from ecosystem import offload as offloading

from ._common import ecosystem_task, recorded, settings, unwinding_on_sigterm


def _progress(file_name: str, size: int) -> None:
    print(f"\r  {file_name}: {size / 1e6:,.1f} MB sent ", end="", flush=True)


@ecosystem_task(help={"dry_run": "say which sets would be sent and what retention on the share would delete; "
                                 "change nothing"})
def offload(c, dry_run=False):
    """Send every good backup set not yet on the SMB share (verified), then apply retention on the share."""
    s = settings(c)
    if not s.smb_configured:
        raise Exit("SMB_SERVER is not set: offload is off (set SMB_SERVER, SMB_SHARE, SMB_USER and SMB_PASSWORD; "
                   "`invoke doctor` checks the login)", code=2)
    tty = sys.stdout.isatty()

    def say(line: str) -> None:
        print(("\r  " if tty else "offload: ") + line)

    if dry_run:  # nothing is sent, so nothing is recorded: a dry run must not pass for the last good offload
        print(f"offload (dry run): {offloading.offload(s, dry_run=True, say=say).describe()}")
        return
    with unwinding_on_sigterm(), recorded(c, "offload") as run, \
            locks.exclusive(s.state_dir, "offload", wait_seconds=s.lock_wait_seconds):
        result = offloading.offload(s, say=say, progress=_progress if tty else None)
        run.detail = result.describe()
    print(f"offload: {result.describe()}")
