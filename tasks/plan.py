"""`invoke plan`: the trading day as the scheduler will run it."""
from datetime import date, datetime

from invoke import Exit

from ecosystem import plan as planning
from ecosystem import week

from ._common import ecosystem_task, settings, table


@ecosystem_task(read_only=True, help={"day": "the day to plan, YYYY-MM-DD (default: today in TIMEZONE)"})
def plan(c, day=None):
    """Show a trading day's plan: launches, windows and the evening chain's order."""
    s = settings(c)
    try:
        day = date.fromisoformat(day) if day else datetime.now(s.tz).date()
    except ValueError:
        raise Exit(f"--day {day!r}: use YYYY-MM-DD, e.g. 2026-12-01", code=2) from None
    steps = planning.plan_for(s, day)

    def local(moment):
        return moment.astimezone(s.tz).strftime("%H:%M")

    print(f"plan for {day:%A %Y-%m-%d} ({s.timezone})")
    control_config = s.pysystemtrade_clone_dir / "syscontrol" / "control_config.yaml"
    if not control_config.exists():
        print(f"note: no {control_config} (run `invoke build`): pysystemtrade's default window 00:01-23:50 shown")
    window = week.WeekWindow.from_settings(s)
    if not any(week.phase(window, datetime.combine(day, datetime.min.time(), tzinfo=s.tz).replace(hour=h)).inside
               for h in range(24)):
        print("note: this day is outside the trading week (WORKFLOW_WEEKDAY_START/END): nothing is launched")
    print(table(("launch", "process", "kind", "window", "chain"),
                [(local(p.launch_at), p.process, p.kind, f"{local(p.window_start)}-{local(p.window_stop)}",
                  p.chain_position or "") for p in steps]))
