"""`invoke launch`, `invoke stop` and `invoke shell`: the pysystemtrade processes, handled as pysystemtrade expects."""
from datetime import UTC, datetime

from invoke import Exit

from ecosystem import processes, trading_day

from ._common import context, ecosystem_task, recorded

INTERACTIVE_TOOLS = ("interactive_controls", "interactive_diagnostics", "interactive_order_stack",
                     "interactive_update_roll_status", "interactive_manual_check_historical_prices",
                     "interactive_manual_check_fx_prices", "interactive_update_capital_manual")


@ecosystem_task(help={"process": "the process to stop, e.g. run_stack_handler", "all_": "stop every running process",
            "dry_run": "print the plan, change nothing"})
def stop(c, process=None, all_=False, dry_run=False):
    """Stop pysystemtrade processes cleanly: STOP status, a grace, then SIGTERM, SIGKILL last."""
    ctx = context(c)
    s = ctx.settings
    if bool(process) == bool(all_):
        raise Exit("name one process (--process run_stack_handler) or give --all", code=2)
    with recorded(c, "stop") as run:
        running = ctx.running()
        targets = running if all_ else [r for r in running if r.process == processes.canonical(process)]
        if not targets:
            run.detail = "nothing running" if all_ else f"{process} is not running"
            print(run.detail)
            return
        if dry_run:
            for target in targets:
                print(f"would set {target.process} to STOP, wait {s.stop_grace_seconds}s for {target.container} to "
                      f"end, put its status back, then SIGTERM (wait {s.stop_term_seconds}s), then SIGKILL")
            return
        results = processes.stop_each(ctx, targets, run)
        run.detail = ", ".join(f"{r.process} by {r.ended_by}" for r in results)


@ecosystem_task(record=False, help={"tool": "an interactive tool (e.g. interactive_controls) or empty for bash",
            "command": "run this command line instead, without a terminal (for scripts)"})
def shell(c, tool=None, command=None):
    """Open a terminal in the pysystemtrade environment (shared namespaces, private config, volumes)."""
    ctx = context(c)
    s = ctx.settings
    if tool and tool not in INTERACTIVE_TOOLS and not tool.startswith("run_"):
        raise Exit(f"unknown tool {tool}; the interactive tools are: {', '.join(INTERACTIVE_TOOLS)}", code=2)
    project = ctx.project
    if command:
        print(ctx.redact(project.run_once("daily_processes", ["bash", "-c", command], timeout=3600)), end="")
        return
    # upstream's launchers are mode 0644 in git: run with bash, as its crontab lines do
    code = project.run_interactive("daily_processes", ["bash", f"{s.script_path}/{tool}"] if tool else ["bash"])
    if code:
        raise Exit(code=code)


@ecosystem_task(help={"process": "the process to launch, e.g. run_stack_handler",
                      "force": "launch it even though the gateway is not logged in",
                      "dry_run": "say what would be done, change nothing"})
def launch(c, process, force=False, dry_run=False):
    """Launch one continuous or morning process now, by hand; its relaunch budget for today starts again."""
    # a refusal is said, not recorded (nothing was done); the launch is recorded by launch_by_hand
    print(trading_day.launch_by_hand(context(c), processes.canonical(process), datetime.now(UTC), force=force,
                                     dry_run=dry_run))
