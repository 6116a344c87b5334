"""Benchmark (not part of CI): the scheduler loop's own cost while idle between jobs.

Targets: averaged over ten minutes of real time, under 1% of a core, and under 80 MB RSS.
It runs the real loop (the `schedule` library ticking `Scheduler.tick` every minute over a
stand-in repository's plan and a run history of a month of runs), with `weekly sync` launched
as a trivial child (`true`), so what is measured is the loop itself, not the jobs it starts.
For reference, the same measurement of a bare `time.sleep` loop in the same run is printed.

    .venv/bin/python -m tests.benchmarks.bench_scheduler_idle [--minutes 10]
"""
from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path


def child_main(folder: Path, minutes: float) -> None:
    import schedule

    from ecosystem import plan as planning
    from ecosystem import scheduler_loop as loop_module
    from ecosystem import scheduler_plan
    from ecosystem.history import History
    from ecosystem.settings import load_settings
    from standins.pysystemtrade_repo import make_repo

    clone = make_repo(folder / "clone")
    s = load_settings(folder, environ={"PYSYSTEMTRADE_CLONE_DIR": str(clone), "STATE_DIR": str(folder / "state")})
    history = History(s.history_path)
    start = datetime.now(UTC) - timedelta(days=30)
    for day in range(30):  # a month of runs to read on every tick
        for step in ("run_stack_handler", "run_capital_update", "run_systems"):
            history.record("day", "ok", "ran", step=step, slot=(start + timedelta(days=day)).date().isoformat())
    cache = {}

    def plan_of(day):
        return cache.setdefault(day, planning.plan_for(s, day))
    loop = loop_module.Scheduler(scheduler_plan.trading_days_jobs(s, plan_of), history, tz=s.tz,
                                 heartbeat=folder / "heartbeat.json", launch=lambda command: subprocess.Popen(["true"]))
    schedule.every().minute.at(":00").do(loop.tick)
    cpu0, wall0 = time.process_time(), time.monotonic()
    while time.monotonic() - wall0 < minutes * 60:
        schedule.run_pending()
        time.sleep(min(max(schedule.idle_seconds() or 1.0, 0.2), 5.0))
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{cpu / wall * 100:.3f} {rss:.1f}")


def sleeper_main(minutes: float) -> None:
    cpu0, wall0 = time.process_time(), time.monotonic()
    while time.monotonic() - wall0 < minutes * 60:
        time.sleep(1.0)
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    print(f"{cpu / wall * 100:.3f} {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--child", default="")
    args = parser.parse_args()
    if args.child == "loop":
        child_main(Path(tempfile.mkdtemp(prefix="bench-scheduler-")), args.minutes)
        return
    if args.child == "sleep":
        sleeper_main(args.minutes)
        return
    me = [sys.executable, "-m", "tests.benchmarks.bench_scheduler_idle", "--minutes", str(args.minutes)]
    loop = subprocess.Popen(me + ["--child", "loop"], stdout=subprocess.PIPE, text=True)
    sleeper = subprocess.Popen(me + ["--child", "sleep"], stdout=subprocess.PIPE, text=True)
    loop_cpu, loop_rss = map(float, loop.communicate()[0].split()[-2:])
    sleep_cpu, sleep_rss = map(float, sleeper.communicate()[0].split()[-2:])
    print(f"over {args.minutes:g} min of real time:")
    print(f"  scheduler loop: {loop_cpu:.3f}% of a core (target < 1%: {'met' if loop_cpu < 1 else 'NOT met'}), "
          f"max RSS {loop_rss:.1f} MB (target < 80 MB: {'met' if loop_rss < 80 else 'NOT met'})")
    print(f"  reference, a bare sleep loop: {sleep_cpu:.3f}% of a core, max RSS {sleep_rss:.1f} MB")


if __name__ == "__main__":
    main()
