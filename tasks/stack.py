"""`invoke up`, `down`, `status`, `logs`: the running ecosystem."""
from datetime import UTC, datetime

from invoke import Exit

from ecosystem import answers, brief, overview, processes, run_logs, stack
from ecosystem.errors import EcosystemError, EngineUnavailable

from ._common import context, ecosystem_task, recorded, settings, table, task_flags


def _services(text, own: list[str]):
    names = [n.strip() for n in (text or "").split(",") if n.strip()]
    unknown = [n for n in names if n not in stack.SERVICES and n not in own]
    if unknown:
        raise Exit(f"unknown service {', '.join(unknown)}; the services are: "
                   f"{', '.join([*stack.SERVICES, *own])}", code=2)
    trading = [n for n in names if n not in stack.ALWAYS_ON and n not in own and n not in stack.ON_DEMAND]
    if trading:
        raise Exit(f"{', '.join(trading)} is not started by `up`: trading processes are launched by the "
                   "trading-day tasks and one-shot jobs by backup/restore", code=2)
    return names or [*stack.ALWAYS_ON, *own]


@ecosystem_task(help={"services": "comma-separated services (default: mongo_db, ib_gateway, pysys_runtime, jupyter, "
                                  "status_page, and those your docker-compose.override.yml or EXTRA_COMPOSE_FILES "
                                  "add; dashboard: upstream's dashboard, on demand)",
            "timeout": "seconds to wait for health (default 600)", "dry_run": "print the plan, change nothing"})
def up(c, services=None, timeout=600, dry_run=False):
    """Start MongoDB, the gateway, the pysystemtrade runtime, Jupyter and the status page; wait until healthy."""
    s = settings(c)
    names = _services(services, stack.own_services(s))
    if dry_run:
        print(f"would write the secret files into {stack.secrets_dir(s)}")
        print(f"would start {', '.join(names)} (project {s.compose_project}) and wait up to {timeout}s for health")
        return
    if "dashboard" in names and not stack.loopback_only(s):
        raise Exit(f"upstream's dashboard has no login: it is started only when BIND_ADDRESS is loopback (it is "
                   f"{s.bind_address}); set BIND_ADDRESS=127.0.0.1 and reach it through an SSH tunnel "
                   f"(ssh -L {s.dashboard_port}:127.0.0.1:{s.dashboard_port} this-host)", code=2)
    if "ib_gateway" in names and not (s.twsuserid and s.twspassword):
        raise Exit("the gateway cannot log in without TWSUSERID and TWSPASSWORD", code=2)
    with recorded(c, "up") as run:
        run.detail = stack.up(context(c), names, timeout=int(timeout),
                              gateway_named="ib_gateway" in [n.strip() for n in (services or "").split(",")])
    print(f"up and healthy: {run.detail}")


@ecosystem_task(help={"dry_run": "print the plan, change nothing"})
def down(c, dry_run=False):
    """Stop and remove every container of the ecosystem (volumes and data are kept)."""
    s = settings(c)
    if dry_run:
        print(f"would stop each running pysystemtrade process through its STOP status (grace {s.stop_grace_seconds}s, "
              f"then SIGTERM, then SIGKILL), then remove every container of {s.compose_project}; volumes are kept")
        return
    with recorded(c, "down") as run:
        stack.down(context(c), run)
    print(f"{s.compose_project}: no container left (volumes kept)")


def _ago(moment, now):
    if moment is None:
        return ""
    seconds = int((now - moment).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


@ecosystem_task(read_only=True, help={
    "json": f"print the facts as JSON (schema {answers.STATUS}; see the README)",
    "all_": "also show the services that are not created (the trading and one-shot ones, normally)"})
def status(c, json=False, all_=False):
    """The ecosystem at a glance: problems first, services, last chain, launches, gateway, data safety.

    Exits 1 when anything is degraded (each problem is listed with what to do), 3 when the Docker
    engine does not answer, 0 when all is good."""
    ctx = context(c)
    now = datetime.now(UTC)
    view, runs = overview.collect(ctx, now=now)
    if json:
        import json as json_module

        print(json_module.dumps(answers.overview(view, redact=ctx.redact), indent=1))
    else:
        _print_status(ctx, view, runs, now, all_=all_)
    if view.engine_unavailable:
        raise Exit(code=EngineUnavailable.exit_code)  # as every task says an engine that does not answer
    if view.degraded:
        raise Exit(code=1)


def _print_status(ctx, view, runs, now, *, all_: bool) -> None:
    s = ctx.settings
    head, _, rest = "\n".join(brief.lines(view)).partition("\n\nLAST CHAIN")
    print(ctx.redact(head))
    rows = view.services if not all_ else stack.listed_states(ctx.settings)
    print()
    print(table(("service", "container", "state", "health", "exit", "the engine says"),
                [(r.service, r.container, r.state, r.health, r.exit_shown, r.said) for r in rows]))
    print(ctx.redact("\n".join(line for line in ("\nLAST CHAIN" + rest).splitlines()
                                if not line.startswith("scheduler:"))))
    _scheduler_lines(s, now, runs)


@ecosystem_task(read_only=True, help={"service": "a service (its container logs) or a pysystemtrade process "
                       "like run_stack_handler (its records in the log server's file)",
            "since": "for a service: e.g. 2h, 30m or 2026-11-28T09:00", "tail": "at most this many lines (default 200)",
            "run": "for a process: a run's whole output, kept after its container is gone: last, N (1 = the "
                   "newest), a container name, or list"})
def logs(c, service, since=None, tail=200, run=None):
    """Show a service's container logs, or a pysystemtrade process's log records or a run's whole output."""
    ctx = context(c)
    if service.startswith("run_") or service == "startup":
        if run is not None:
            _run_output(ctx, service, run)
            return
        text = stack.process_log(ctx.settings, processes.canonical(service), tail=int(tail))
        print(ctx.redact(text) if text else f"no log records of {service} in the log server's file")
        print(f"(a run's whole output: invoke logs {service} --run last; all kept runs: --run list)")
        return
    if service not in stack.SERVICES:
        raise Exit(f"unknown service {service}; the services are: {', '.join(stack.SERVICES)}, "
                   "or give a process name like run_stack_handler", code=2)
    print(ctx.redact(ctx.project.logs(service, tail=int(tail), since=since)), end="")


def _run_output(ctx, process, which):
    s = ctx.settings
    kept = run_logs.listing(ctx, process)
    if which == "list":
        if not kept:
            print(f"no run of {process} has kept output yet")
            return
        print(table(("#", "started", "run (container)", "exit", "size"),
                    [(str(len(kept) - i), r.started.astimezone(s.tz).strftime("%a %d %b %H:%M:%S"), r.run,
                      "running or killed" if r.exit_code is None else str(r.exit_code), f"{r.size:,} B")
                     for i, r in enumerate(kept)]))
        return
    chosen = run_logs.choose(kept, which)
    print(ctx.redact(run_logs.read(ctx, process, chosen)), end="")


def _scheduler_lines(s, now, runs=()):
    """The scheduler's heartbeat, and each scheduled job's next run and last outcome."""
    from ecosystem import scheduler_loop as loop
    from ecosystem import scheduler_plan

    looked = overview.heartbeat(s)
    if looked is None:
        print("\nscheduler: never ran (invoke run-scheduler)")
    else:
        state, _age = answers.scheduler_state(looked, now, stale=overview.STALE_HEARTBEAT)
        when = f"heartbeat {_ago(looked, now)}" if looked <= now else f"heartbeat dated {looked:%Y-%m-%d %H:%M} UTC"
        print(f"\nscheduler: {state if state == 'running' else state.upper()} ({when})")
    last = {}
    for run in runs:
        if run.job == loop.JOB and run.step and run.outcome:
            last[run.step] = run
    try:
        upcoming: dict[str, scheduler_plan.Slot] = {}
        for slot in scheduler_plan.next_runs(scheduler_plan.jobs(s, task_flags), now, s.tz, days=8):
            upcoming.setdefault(slot.job, slot)
    except EcosystemError as exc:
        print(f"next runs unknown: {exc.message}")
        return
    names = list(upcoming) + [job for job in last if job not in upcoming]
    if names:
        print(table(("scheduled job", "next run", "last run", "outcome"),
                    [(job, upcoming[job].at.astimezone(s.tz).strftime("%a %d %b %H:%M") if job in upcoming else "",
                      f"{last[job].slot or ''} {_ago(last[job].start, now)}".strip() if job in last else "never",
                      last[job].outcome if job in last else "") for job in names]))
