"""`invoke build` and `invoke rollback`: the images, from your pysystemtrade branch."""
import sys

from invoke import Exit

from ecosystem import images, repository, stack
from ecosystem.errors import EcosystemError

from ._common import context, ecosystem_task, recorded, settings


@ecosystem_task(help={"service": "build only the image this service runs (e.g. jupyter, ib_gateway, stack_handler)",
            "no_pull_repo": "use the clone as it is; do not fetch your repository",
            "dry_run": "print what would be built, change nothing"})
def build(c, service=None, no_pull_repo=False, dry_run=False):
    """Build the pysystemtrade, Jupyter and gateway images (keeping the previous ones for rollback)."""
    s = settings(c)
    try:
        plans = images.plan_build(s, service)
    except EcosystemError as exc:
        raise Exit(str(exc), code=2) from None
    needs_repo = any(p.strip_private for p in plans)
    if dry_run:
        if needs_repo:
            action = "use the clone as it is" if no_pull_repo else "clone or fast-forward"
            print(f"would {action}: {s.pysystemtrade_repo_url or '(PYSYSTEMTRADE_REPO_URL not set)'} "
                  f"({s.pysystemtrade_branch}) in {s.pysystemtrade_clone_dir}")
        for plan in plans:
            print(f"would {images.describe(plan)}; keep the old one as {plan.previous}")
        return
    redact = s.redactor()
    with recorded(c, "build") as run:
        if needs_repo:
            with run.step("repository"):
                state = repository.sync(s.pysystemtrade_repo_url, s.pysystemtrade_branch, s.pysystemtrade_clone_dir,
                                        token=s.git_token, username=s.git_username, pull=not no_pull_repo)
            print(f"repository: {state.action} at {state.commit[:12]} ({state.branch})")
        client = context(c).client
        for plan in plans:
            with run.step(plan.key):
                print(f"building {plan.current} ...", flush=True)
                show = (lambda line: print("   ", line)) if sys.stdout.isatty() else None
                image_id = images.build(client, plan, redact=redact, progress=show)
            print(f"built {plan.current} ({image_id[7:19]})")
        images.record_build(s.state_dir, [p.repository for p in plans])
        run.detail = ", ".join(p.key for p in plans)


@ecosystem_task(help={"dry_run": "print what would be swapped, change nothing"})
def rollback(c, dry_run=False):
    """Put back the images the last build replaced and recreate the running services."""
    s = settings(c)
    repositories = images.last_build(s.state_dir) or [p.repository for p in images.plan_build(s)]
    if dry_run:
        for repo in repositories:
            print(f"would swap {repo}:current and {repo}:previous")
        print("would recreate the running services among: " + ", ".join(stack.ALWAYS_ON))
        return
    with recorded(c, "rollback") as run:
        ctx = context(c)
        client = ctx.client
        swapped = []
        for repo in repositories:
            try:
                current, previous = images.rollback(client, repo)
            except EcosystemError as exc:
                print(f"{repo}: {exc.message}")
                continue
            swapped.append(repo)
            print(f"{repo}:current is now {current[7:19]} (was {previous[7:19]}, kept as :previous)")
        if not swapped:
            raise EcosystemError("nothing was rolled back", fix="rollback needs two builds of an image")
        uses = {"pysystemtrade": "pysys_runtime", "pysystemtrade-jupyter": "jupyter",
                "pysystemtrade-gateway": "ib_gateway"}
        affected = {uses[r.removesuffix(s.name_suffix)] for r in swapped if r.removesuffix(s.name_suffix) in uses}
        running = [r.service for r in stack.service_states(ctx) if r.service in affected and r.state == "running"]
        if ctx.running() and "pysys_runtime" in running:
            running.remove("pysys_runtime")  # recreating it would kill every running process
            print("pysys_runtime keeps its image until no pysystemtrade process runs (invoke stop --all)")
        if running:
            ctx.project.up(running, wait=True)
            print("recreated: " + ", ".join(running))
        run.detail = f"swapped {', '.join(swapped)}; recreated {', '.join(running) or 'nothing'}"
