"""Benchmark (not part of CI): `invoke status` against `docker compose ps`, on a running stack of ten services.

Target: the median whole-process time of `invoke status` is at most 2x that of
`docker compose ps` on the same stack. `invoke status` does all it does for the trader: the
problems, the services, the last chain and today's launches, the gateway and the statuses (as
the last observation wrote them: `invoke brief` makes one first), data safety, free disk, the
scheduler and the next runs. Run from the project folder:

    .venv/bin/python -m tests.benchmarks.bench_status [--runs 15]

It builds the stand-in ecosystem under a unique suffix (locally made base image, no registry),
starts the four always-on services plus six stand-in pysystemtrade processes that wait,
measures both commands alternately, prints the medians and the ratio, and removes everything.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import docker

from ecosystem import images, process_runs, stack
from ecosystem.settings import load_settings
from standins.pysystemtrade_repo import make_repo
from tests.support import images as test_images
from tests.support.stacks import remove_everything, unique_stack

ROOT = Path(__file__).resolve().parents[2]


def timed(argv, env) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True)
    if done.returncode not in (0, 1):  # `invoke status` exits 1 when something is degraded (no scheduler here)
        raise SystemExit(f"{argv} exited with {done.returncode}: {done.stderr.decode()[-2000:]}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--profile", metavar="PATH", help="also write a cProfile of one `invoke status` there")
    args = parser.parse_args()
    client = docker.from_env()
    test_stack = unique_stack(client)
    folder = Path(tempfile.mkdtemp(prefix="bench-status-"))
    origin = make_repo(folder / "origin")
    env_file = folder / ".env"
    base = test_images.debian_python_image(client)
    values = {"NAME_SUFFIX": test_stack.suffix, "IPV4_NETWORK_PART": test_stack.network_part,
              "STATE_DIR": str(folder / "state"), "BACKUP_DIR": str(folder / "backup"),
              "REPORTS_DIR": str(folder / "reports"), "PYSYSTEMTRADE_REPO_URL": f"file://{origin}",
              "PYTHON_BASE_IMAGE": base, "TWSUSERID": "bench-user", "TWSPASSWORD": "bench-password",
              "IB_API_PORT": "24001", "VNC_PORT": "25900", "JUPYTER_PORT": "28888", "STATUS_PAGE_PORT": "28787",
              "DASHBOARD_PORT": "28050"}
    env_file.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    settings = load_settings(ROOT, env_file=env_file, environ={})
    plans = {p.key: p for p in images.standin_plans(settings)}
    for plan in plans.values():
        images.build(client, plan)
    with env_file.open("a") as handle:
        handle.write(f"MONGO_IMAGE={plans['standin-mongo'].current}\n"
                     f"GATEWAY_BASE_IMAGE={plans['standin-gateway'].current}\n")
    env = {**os.environ, "ECOSYSTEM_ENV_FILE": str(env_file), "HEALTH_INTERVAL": "5s", "GATEWAY_START_PERIOD": "5s"}
    invoke = [sys.executable, "-m", "invoke"]
    settings = load_settings(ROOT, env_file=env_file, environ={})
    compose_env = {**os.environ, **stack.compose_env(settings)}
    project = stack.compose(settings)
    try:
        for task in (["build"], ["setup"], ["up"]):
            subprocess.run(invoke + task, cwd=ROOT, env=env, check=True, capture_output=True)
        for index, (service, argv) in enumerate(
                [("stack_handler", []), ("capital_update", [])] +
                [("daily_processes", [p]) for p in ("run_systems", "run_cleaners", "run_reports", "run_backups")]):
            project.run_detached(service, process_runs.command(argv[0]) if argv else [],
                                 name=f"bench{index}{test_stack.suffix}",
                                 environment={"STANDIN_BEHAVIOUR": "*=hang"})
        running = len(client.containers.list(
            filters={"label": f"com.docker.compose.project={settings.compose_project}"}))
        subprocess.run(invoke + ["brief"], cwd=ROOT, env=env, check=True, capture_output=True)  # observed.json
        ps = project._argv("ps", "--all")
        # a trader's second run finds the bytecode its first one cached; where PYTHONDONTWRITEBYTECODE
        # is set (as on some CI machines) every run would compile the edited modules again
        subprocess.run([sys.executable, "-m", "compileall", "-q", "tasks.py", "tasks", "ecosystem"], cwd=ROOT,
                       check=True, capture_output=True)
        timed(invoke + ["status"], env), timed(ps, compose_env)  # warm caches
        ours, theirs = [], []
        for _ in range(args.runs):
            ours.append(timed(invoke + ["status"], env))
            theirs.append(timed(ps, compose_env))
        if args.profile:
            subprocess.run([sys.executable, "-m", "cProfile", "-o", args.profile, "-m", "invoke", "status"], cwd=ROOT,
                           env=env, capture_output=True)
        a, b = statistics.median(ours), statistics.median(theirs)
        print(f"containers running: {running}")
        print(f"invoke status     median {a * 1000:7.1f} ms over {args.runs} runs")
        print(f"docker compose ps median {b * 1000:7.1f} ms over {args.runs} runs")
        print(f"ratio {a / b:.2f}x (target: at most 2x)")
    finally:
        subprocess.run(project._argv("--profile", "*", "down", "--timeout", "1"), cwd=ROOT, env=compose_env,
                       capture_output=True)
        remove_everything(client, test_stack)


if __name__ == "__main__":
    main()
