"""Benchmark (not part of CI): `invoke eod`'s orchestration overhead per step, over a chain of ten steps.

Target: under one second per step of time beyond the steps' own runtime (the earlier setup
polled `docker ps` every 60 s). Reference, in the same run: the same ten launchers run one
after another with plain `docker compose run --rm` (no outcome, no record, no log tail), so
the ratio shows what judging each step costs on top of merely running it.

    .venv/bin/python -m tests.benchmarks.bench_eod [--seconds 1] [--rounds 3]

A step's own runtime is its container's life, from the engine's start event to its die
event (subscribed live). It builds the stand-in ecosystem under a unique suffix, runs the
rounds alternately, prints the medians, and removes everything.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import docker

from ecosystem import stack
from standins.pysystemtrade_repo import PROCESSES
from tests.support import images as test_images
from tests.support.ecosystem import build_and_start, make_ecosystem
from tests.support.stacks import remove_everything

CHAIN = [name.replace("run_daily_price_updates", "run_daily_prices_updates") for name in PROCESSES]
ROOT = Path(__file__).resolve().parents[2]


class Lives:
    """Container lifetimes (start to die) of one project, from the engine's live event stream."""

    def __init__(self, label: str) -> None:
        self._client = docker.from_env()
        self._stream = self._client.events(decode=True, filters={"type": "container", "label": label,
                                                                 "event": ["start", "die"]})
        self.started: dict[str, int] = {}
        self.lives: list[tuple[str, float]] = []
        threading.Thread(target=self._collect, daemon=True).start()

    def _collect(self) -> None:
        try:
            for event in self._stream:
                attributes = event["Actor"]["Attributes"]
                if attributes.get("org.pysystemtrade-ecosystem.role") == "control":
                    continue
                name = attributes.get("name", "?")
                if event["status"] == "start":
                    self.started[event["id"]] = event["timeNano"]
                elif event["id"] in self.started:
                    self.lives.append((name, (event["timeNano"] - self.started.pop(event["id"])) / 1e9))
        except Exception:  # noqa: BLE001 - background reader: the stream is closed under it at the end
            pass

    def take(self) -> list[tuple[str, float]]:
        time.sleep(0.5)  # the last die event
        taken, self.lives = self.lives, []
        return taken

    def close(self) -> None:
        self._stream.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="how long each stand-in step runs")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    client = docker.from_env()
    folder = Path(tempfile.mkdtemp(prefix="bench-eod-"))
    made = make_ecosystem(client, folder, test_images.debian_python_image(client), extra={
        "EOD_CHAIN": ",".join(CHAIN), "EOD_STOP_ON_FAILURE": "none", "WORKFLOW_WEEKDAY_START": "1",
        "WORKFLOW_WEEKDAY_END": "7"})
    lives = Lives(made.test_stack.label)
    try:
        control = ("process_configuration_start_time:\n" + "".join(f"  {p}: '00:00'\n" for p in CHAIN) +
                   "process_configuration_stop_time:\n" + "".join(f"  {p}: '23:59'\n" for p in CHAIN))
        build_and_start(made, {"private_control_config.yaml": control,
                               "standin_behaviour": f"seconds={args.seconds}\n"})
        s = made.settings
        project = stack.compose(s)
        env = {**os.environ, **project.env}
        eod_overheads, plain_overheads, eod_totals, plain_totals = [], [], [], []
        for round_number in range(args.rounds):
            start = time.perf_counter()
            made.run("eod", "--force", timeout=1800)
            total = time.perf_counter() - start
            own = sum(life for _, life in lives.take())
            eod_totals.append(total)
            eod_overheads.append((total - own) / len(CHAIN))

            start = time.perf_counter()
            for process in CHAIN:
                launcher = "run_daily_price_updates" if process == "run_daily_prices_updates" else process
                # upstream's launchers are mode 0644: the plain way to run one is with bash
                subprocess.run(project._argv("run", "--rm", "--no-deps", "-T", "daily_processes", "bash",
                                             f"{s.script_path}/{launcher}"), cwd=ROOT, env=env, check=True,
                               capture_output=True)
            total = time.perf_counter() - start
            own = sum(life for _, life in lives.take())
            plain_totals.append(total)
            plain_overheads.append((total - own) / len(CHAIN))
            print(f"round {round_number + 1}: eod {eod_totals[-1]:.1f}s ({eod_overheads[-1]:.2f}s/step beyond the "
                  f"steps' own runtime), plain compose run {plain_totals[-1]:.1f}s ({plain_overheads[-1]:.2f}s/step)",
                  flush=True)
        eod_step, plain_step = statistics.median(eod_overheads), statistics.median(plain_overheads)
        print(f"\n{len(CHAIN)} steps of {args.seconds}s each, median of {args.rounds} rounds:")
        print(f"  invoke eod: {statistics.median(eod_totals):.1f}s, overhead {eod_step:.2f}s per step "
              f"(target < 1.00 s): {'met' if eod_step < 1 else 'NOT met'}")
        print(f"  plain docker compose run: {statistics.median(plain_totals):.1f}s, "
              f"overhead {plain_step:.2f}s per step")
        print(f"  ratio of per-step overheads (eod / plain compose run): {eod_step / plain_step:.2f}x")
        # pysys-launch (keeping each run's whole output) runs inside the container: it counts as the steps'
        # own runtime above, so the ratio of whole chains shows its cost too
        print(f"  ratio of whole chains (eod / plain compose run): "
              f"{statistics.median(eod_totals) / statistics.median(plain_totals):.2f}x")
    finally:
        lives.close()
        made.run("down", check=False)
        remove_everything(client, made.test_stack)


if __name__ == "__main__":
    sys.exit(main())
