"""`invoke run-scheduler` (the loop) and `invoke schedule` (what it would do)."""
import logging
import signal
import time as clock
from datetime import UTC, datetime, timedelta

from ecosystem import answers, commands, heartbeat, logs, scheduler_plan
from ecosystem import scheduler_loop as scheduler_module

from ._common import ROOT, ecosystem_task, history, settings, table, task_flags

log = logging.getLogger("tasks.scheduler")


def _jobs(s):
    return scheduler_plan.jobs(s, task_flags)


@ecosystem_task(name="run-scheduler", help={"once": "run one tick and exit (for a check or a cron-style setup)"})
def run_scheduler(c, once=False):
    """Run the scheduler loop: weekly sync every minute, the window's opening and close, the nightly and weekend
    pipelines, the Sunday gateway check and your own jobs (SCHEDULER_JOBS)."""
    import schedule

    s = settings(c)
    logs.configure(s.log_level, log_file=scheduler_log_path(s))
    record = history(c)
    checks = (scheduler_module.offload_age_check(record, max_age=timedelta(hours=s.offload_max_age_hours), tz=s.tz),
              ) if s.smb_configured else ()
    pinger = heartbeat.Pinger(s.heartbeat_url.reveal() if s.heartbeat_url else None)
    loop = scheduler_module.Scheduler(_jobs(s), record, tz=s.tz, heartbeat=scheduler_module.heartbeat_path(s),
                                      launch=lambda command: commands.start_invoke(command, ROOT), checks=checks,
                                      pinger=pinger, term_grace=timedelta(seconds=s.job_stop_seconds))
    stopping = []

    def stop(signum, frame):
        stopping.append(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    def tick():
        try:
            for line in loop.tick():
                print(f"{datetime.now(s.tz):%a %H:%M:%S} {line}", flush=True)
        except Exception as exc:  # said, recorded (an alert), and the next tick is the next minute's
            log.error("a tick failed (%s: %s); going on", type(exc).__name__, exc, exc_info=logs.debugging())
            loop.tick_failed(exc)

    if not once:
        heartbeat.notify("READY=1")  # before the first tick, which may catch up a long downtime
    pinger.ping("alive", "scheduler started")
    tick()
    if once:
        return
    schedule.every().minute.at(":00").do(tick)
    if pinger:
        schedule.every(round(s.heartbeat_interval_minutes * 60)).seconds.do(pinger.ping, "alive")
    print(f"scheduler running (heartbeat {scheduler_module.heartbeat_path(s)}, log {scheduler_log_path(s)}); "
          "SIGTERM or Ctrl-C "
          "stops it cleanly", flush=True)
    while not stopping:
        schedule.run_pending()
        heartbeat.notify("WATCHDOG=1")  # only a loop that turns feeds systemd's watchdog
        idle = schedule.idle_seconds()
        clock.sleep(min(max(idle or 1.0, 0.2), 5.0))
    heartbeat.notify("STOPPING=1")
    print("scheduler: stopping; running jobs are asked to finish cleanly", flush=True)
    loop.stop()


def scheduler_log_path(s):
    """Where run-scheduler keeps its own log lines (rotated), besides stderr (the journal under systemd)."""
    return s.state_dir / "logs" / "scheduler.log"


@ecosystem_task(read_only=True, name="schedule",
                help={"days": "show the slots of the next N days (default 7); runs nothing",
                      "json": f"print them as JSON (schema {answers.SCHEDULE}; see the README)"})
def show_schedule(c, days=7, json=False):  # not `schedule`: that is the library the loop runs on
    """List the scheduled jobs and their next runs, and the scheduler's heartbeat."""
    import json as json_module

    s = settings(c)
    now = datetime.now(UTC)
    slots = scheduler_plan.next_runs(_jobs(s), now, s.tz, days=int(days))
    try:
        said = json_module.loads(scheduler_module.heartbeat_path(s).read_text())
        looked: datetime | None = datetime.fromisoformat(said["looked"])
    except (OSError, ValueError, KeyError, TypeError):
        looked = None
    state, age = answers.scheduler_state(looked, now, stale=timedelta(minutes=3))
    if json:
        print(json_module.dumps(answers.schedule(slots, looked, state, age), indent=1))
        return
    print("weekly.sync: every minute")
    print(table(("job", "slot", "at", "runs"), [(x.job, x.key, x.at.astimezone(s.tz).strftime("%a %Y-%m-%d %H:%M"),
                                                 "invoke " + " ".join(x.command)) for x in slots]))
    if looked is None:
        print("\nscheduler: no heartbeat yet (start it: invoke run-scheduler)")
    else:
        shown = state if state != "not running" else f"NOT running (last heartbeat {int(age or 0) // 60} min ago)"
        print(f"\nscheduler: {shown}; last looked {looked.astimezone(s.tz):%a %H:%M:%S}")
