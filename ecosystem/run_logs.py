"""The complete output of each pysystemtrade process run, kept on the logs volume.

``pysys-launch`` (docker/pysystemtrade/pysys-launch, the command of every process container)
writes a run's whole output to ``/data/logs/runs/LAUNCHER/<UTC time>_<run>.log`` on the
``pysys_logs`` volume, where ``<run>`` is the container's name: the file outlives the container,
and the newest PYSYS_RUN_LOGS_KEEP files per launcher are kept. This module lists and reads
them from the host, in a throwaway helper container (no network, the volume read-only), so it
works whether or not the stack runs.
"""
from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from .errors import EcosystemError
from .plan import LAUNCHERS

if TYPE_CHECKING:
    from .context import Context

RUNS_DIR = "/data/logs/runs"
_NAME = re.compile(r"^(\d{8}T\d{6}Z)_(.+)\.log$")
_EXIT = re.compile(r"^# pysys-launch \S+ \(run .*\) exit code (-?\d+) at ")


@dataclass(frozen=True)
class RunLog:
    """One kept run: its file name, when it started (UTC), the container it ran in, its size and exit code."""

    file: str
    started: datetime
    run: str
    size: int
    exit_code: int | None  # None while it runs, or if it was killed before it could say


def folder(process: str) -> str:
    """Return the folder, inside the containers, of the kept runs of a process or launcher name
    (named after the launcher: run_daily_prices_updates runs as run_daily_price_updates)."""
    return f"{RUNS_DIR}/{LAUNCHERS.get(process, process)}"


def parse_listing(text: str) -> list[RunLog]:
    """Given lines ``SIZE<TAB>FILE<TAB>LAST LINE``, return the runs, oldest first."""
    found = []
    for line in text.splitlines():
        size, _, rest = line.partition("\t")
        file, _, last = rest.partition("\t")
        named = _NAME.match(file)
        if not named or not size.isdigit():
            continue
        started = datetime.strptime(named.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        ended = _EXIT.match(last)
        found.append(RunLog(file, started, named.group(2), int(size), int(ended.group(1)) if ended else None))
    return sorted(found, key=lambda r: (r.started, r.file))


def choose(runs: list[RunLog], which: str) -> RunLog:
    """Pick a run: ``last`` (the newest), ``N`` (the Nth newest, 1 = last), or text that names one
    run's container or file. Raise EcosystemError, listing what there is, if none or several match."""
    if not runs:
        raise EcosystemError("no run's output is kept for this process yet",
                             fix="runs launched by this ecosystem keep their output (pysys-launch); "
                                 "the log server's records: invoke logs PROCESS")
    which = which.strip()
    if which in ("", "last"):
        return runs[-1]
    if which.isdigit():
        index = int(which)
        if 1 <= index <= len(runs):
            return runs[-index]
        raise EcosystemError(f"only {len(runs)} runs are kept", fix=f"give --run 1 to {len(runs)}, or --run list")
    matches = [r for r in runs if which in r.file]
    if len(matches) == 1:
        return matches[0]
    raise EcosystemError(f"{'no run' if not matches else f'{len(matches)} runs'} match {which!r}",
                         fix="give --run last, a number (1 = the newest) or a container name from --run list")


def _helper(ctx: Context, script: str) -> str:
    from .engine import ContainerError, ImageNotFound
    from .images import image_names
    from .process_control import CONTROL_LABEL
    from .volumes import volume_name

    settings = ctx.settings
    image = image_names(settings)["pysystemtrade"]
    try:
        out = ctx.client.containers.run(image, ["sh", "-c", script], entrypoint=[], remove=True, network_disabled=True,
                                    volumes={volume_name(settings, "pysys_logs"): {"bind": "/data/logs", "mode": "ro"}},
                                    labels={CONTROL_LABEL: "control"})
    except ImageNotFound:
        raise EcosystemError(f"the image {image} is not built, so no process has run",
                             fix="invoke build") from None
    except ContainerError as exc:
        raise EcosystemError(f"cannot read the logs volume ({exc.exit_status})", fix="check invoke status") from None
    return out.decode("utf-8", "replace")


def listing(ctx: Context, process: str) -> list[RunLog]:
    """Return the kept runs of ``process`` (a process or launcher name), oldest first."""
    script = (f"cd {shlex.quote(folder(process))} 2>/dev/null || exit 0; for f in *.log; do [ -f \"$f\" ] || continue; "
              "printf '%s\\t%s\\t%s\\n' \"$(wc -c < \"$f\")\" \"$f\" \"$(tail -n 1 \"$f\")\"; done")
    return parse_listing(_helper(ctx, script))


def read(ctx: Context, process: str, run: RunLog) -> str:
    """Return the whole kept output of ``run`` of ``process``."""
    return _helper(ctx, "cat " + shlex.quote(f"{folder(process)}/{run.file}"))
