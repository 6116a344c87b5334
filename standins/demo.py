"""`invoke demo`: a compressed trading week on the shipped stand-ins, run by the real scheduler.

Nothing of the trader's own set-up is read or touched: the demo has its own folder (a fresh
``.env``, STATE_DIR, BACKUP_DIR, REPORTS_DIR), its own compose project, network, volumes and
images (a ``_demo…`` name suffix), a stand-in pysystemtrade repository, the stand-in MongoDB
and gateway, a stand-in SMB target (a private smbd on loopback) and a local bare git
repository for the reports.

The week is the scheduler's own: ``Scheduler`` and its planner over a simulated clock that goes
over seven days one due instant at a time, each due job run for real as an ``invoke`` process on
this engine, waited for, then the clock moves on. The demo's trading week is the five days that
end today (its timezone is chosen so that now is about noon there), so the processes that
``weekly open`` really starts run inside their windows whatever day the demo runs on, and each
evening chain is booked to a day that has been (``nightly --day``; a future day is refused);
the weekend pipeline follows on the sixth day and the gateway check on the seventh evening.
On the third day the scheduler is restarted (a new one, which picks up from the heartbeat),
and on the fourth evening it is down from 18:00 to 22:00, so that evening's nightly pipeline is
caught up at 22:00; on the seventh evening it is down from 19:00 to 23:30, past the 20:00 gateway
check's three hours, so that check is recorded ``missed`` (an alert, where alerts are set up).
Real processes run in real time: a stand-in process runs two seconds, and the demo's days share
one real day, so the day's continuous processes run at the first opening
and the later openings find them done ("in step with the plan").
"""
from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from ecosystem import backup_sets, commands, eod, images, scheduler_plan, trading_day
from ecosystem import scheduler_loop as scheduler_module
from ecosystem.history import History
from ecosystem.settings import KNOWN_NAMES, Settings, load_settings, write_env_file
from ecosystem.state_files import write_json

if TYPE_CHECKING:
    from standins.mail import SmtpServer
    from standins.smb_target import SambaServer

RESTART = (2, time(11, 0))                     # the third day, 11:00: the scheduler is restarted
SESSION_LOST, SESSION_BACK = (1, time(12, 0)), (1, time(12, 20))  # the second day: the gateway's session
                                                   # is lost at noon, and approved again 20 minutes later
OUTAGES = (((3, time(18, 0)), (3, time(22, 0))),   # the fourth evening: its nightly is caught up at 22:00
           ((6, time(19, 0)), (6, time(23, 30))))  # the seventh evening: the 20:00 gateway check (worth
                                                   # doing until 23:00) is recorded missed
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
TRADING_DAYS = 5
DEMO_ENV = {"HEALTH_INTERVAL": "1s", "GATEWAY_START_PERIOD": "5s"}  # compose's health checks, quicker


def noon_zone(now: datetime | None = None) -> str:
    """Return a fixed-offset zone (Etc/GMT±N) whose local time is now between 12:00 and 13:00, so
    the demo's real day sits inside every process window whatever time it runs."""
    now = now or datetime.now(UTC)
    offset = 12 - now.hour   # hours east of UTC: -11 .. +12
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"  # the Etc names have the sign inverted


@dataclass
class Workspace:
    root: Path                  # the project folder (tasks.py)
    folder: Path                # everything of the demo that is not in Docker
    suffix: str
    values: dict
    remote: Path                # the reports' bare repository
    smb: SambaServer | None = None
    mail: SmtpServer | None = None
    gateway_ids: tuple[str, str] | None = None   # the gateway's container before and after the week
    secrets: list[str] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)

    @property
    def env_file(self) -> Path:
        return self.folder / ".env"

    @property
    def settings(self) -> Settings:
        return load_settings(self.root, env_file=self.env_file, environ={})

    def write_env(self) -> None:
        write_env_file(self.env_file, self.values)

    def environ(self) -> dict[str, str]:
        """This process's environment without any of the trader's own settings, pointed at the demo's .env."""
        keep = {k: v for k, v in os.environ.items() if k not in KNOWN_NAMES}
        return keep | DEMO_ENV | {"ECOSYSTEM_ENV_FILE": str(self.env_file)}

    def log_path(self, name: str) -> Path:
        path = self.folder / "logs" / f"{len(self.logs) + 1:02d}-{name.replace(' ', '_')}.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        self.logs.append(path)
        return path

    def start(self, command: tuple[str, ...]) -> subprocess.Popen:
        """Start ``invoke COMMAND`` for the demo's ecosystem, its output into its own log file."""
        if not self.env_file.exists():  # without it the task would act on the built-in defaults: yours
            raise DemoFailed(f"the demo's .env ({self.env_file}) is not there; nothing was run")
        with open(self.log_path(command[0]), "w") as log:
            return commands.start_invoke(command, self.root, env=self.environ(), stdout=log)

    def run(self, *command: str, timeout: float = 1800) -> str:
        """Run ``invoke COMMAND`` to its end; return its output; raise DemoFailed if it fails. Interrupted
        (Ctrl-C) or past ``timeout``, the task and everything it started (its process group) are stopped."""
        child = self.start(command)
        try:
            code = child.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _stop_group(child)
            code = child.wait()
        except BaseException:
            _stop_group(child)
            raise
        output = self.logs[-1].read_text(errors="replace")
        if code != 0:
            raise DemoFailed(f"invoke {' '.join(command)} exited with code {code}", output)
        return output


def _stop_group(child: subprocess.Popen, grace: float = 30) -> None:
    """SIGTERM the child's process group (the task unwinds: a step through STOP), SIGKILL after ``grace``."""
    import signal

    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10)):
        try:
            os.killpg(child.pid, sig)
        except ProcessLookupError:
            return
        try:
            child.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


class DemoFailed(Exception):
    def __init__(self, message: str, output: str = "") -> None:
        super().__init__(message)
        self.output = output


def week_settings(now: datetime) -> dict[str, str]:
    """The demo's week: a timezone where ``now`` is about noon, five trading days ending on that day,
    the weekend pipeline on the sixth day at 10:00, the gateway's weekly login on the seventh at 18:00
    (its 2FA requests lasting 5 s) and the gateway check at 20:00."""
    zone = noon_zone(now)
    first = (now.astimezone(ZoneInfo(zone)) - timedelta(days=TRADING_DAYS - 1)).isoweekday()

    def day(offset: int) -> str:
        return DAY_NAMES[(first - 1 + offset) % 7]

    return {"TIMEZONE": zone, "WORKFLOW_WEEKDAY_START": str(first), "WORKFLOW_WEEKDAY_END": str((first + 3) % 7 + 1),
            "WEEKEND_PIPELINE_AT": f"{day(5)} 10:00", "GATEWAY_CHECK_AT": f"{day(6)} 20:00",
            "GATEWAY_WEEKLY_LOGIN_AT": f"{day(6)} 18:00", "GATEWAY_LOGIN_WINDOW": "3m", "GATEWAY_TWOFA_RETRY": "5s"}


def workspace(root: Path, folder: Path) -> Workspace:
    """Name the demo's ecosystem and choose its secrets (nothing is made yet: whatever happens next,
    ``remove`` finds everything by the suffix)."""
    broker = f"DU{secrets.randbelow(10 ** 7):07d}"  # the stand-in gateway is told to report it (a paper account)
    tws_password, smb_password = f"demo-tws-{secrets.token_hex(8)}", f"demo-smb-{secrets.token_hex(8)}"
    mail_password = f"demo-mail-{secrets.token_hex(8)}"
    return Workspace(root, folder, f"_demo{uuid.uuid4().hex[:6]}", {}, folder / "reports.git",
                     secrets=[broker, tws_password, smb_password, mail_password])


def prepare(client, ws: Workspace, *, base_image: str, say: Callable[[str], None]) -> None:
    """Make the demo's stand-in repository, remotes, .env and stand-in images."""
    from standins.mail import SmtpServer, mail_url
    from standins.net import free_network_part, free_ports
    from standins.pysystemtrade_repo import make_repo

    broker, tws_password, smb_password, mail_password = ws.secrets
    folder = ws.folder
    origin = make_repo(folder / "pysystemtrade-origin", private_sentinel=broker)
    commands.run(["git", "init", "--quiet", "--bare", "--initial-branch=main", str(ws.remote)], timeout=60)
    values = ws.values
    api_port, vnc_port, jupyter_port, page_port, dashboard_port = free_ports(5)
    values |= {"NAME_SUFFIX": ws.suffix, "IPV4_NETWORK_PART": free_network_part(client),
               **week_settings(datetime.now(UTC)),
               "STATE_DIR": str(folder / "state"), "BACKUP_DIR": str(folder / "backup"),
               "REPORTS_DIR": str(folder / "reports"), "PYSYSTEMTRADE_REPO_URL": f"file://{origin}",
               "TWSUSERID": "demo-user", "TWSPASSWORD": tws_password, "PYTHON_BASE_IMAGE": base_image,
               "IB_API_PORT": str(api_port), "VNC_PORT": str(vnc_port), "JUPYTER_PORT": str(jupyter_port),
               "STATUS_PAGE_PORT": str(page_port), "DASHBOARD_PORT": str(dashboard_port),
               "STOP_GRACE_SECONDS": "20", "STOP_TERM_SECONDS": "3",
               "BACKUP_WAIT_MINUTES": "5",
               "BACKUP_MIN_FREE_GB": "1", "REPORTS_REMOTE": f"file://{ws.remote}", "REPORTS_BRANCH": "main",
               "EOD_STEP_TIMEOUT_MINUTES": "10", "ORDER_GENERATOR_WAIT_MINUTES": "5", "BRIEF_AT": "none"}
    ws.mail = SmtpServer()  # the trader's mail: every alert and message of the week, on the timeline
    values["ALERT_URLS"] = mail_url(ws.mail.port, mail_password)
    ws.smb = _smb_target(folder, smb_password, say)
    if ws.smb is not None:
        values |= {"SMB_SERVER": "127.0.0.1", "SMB_PORT": str(ws.smb.port), "SMB_SHARE": ws.smb.share,
                   "SMB_FOLDER": "pysystemtrade-demo", "SMB_USER": ws.smb.user, "SMB_PASSWORD": smb_password}
    ws.write_env()
    plans = {p.key: p for p in images.standin_plans(ws.settings)}
    for plan in plans.values():
        say(f"building {plan.current} (stand-in)")
        images.build(client, plan)
    values |= {"MONGO_IMAGE": plans["standin-mongo"].current, "GATEWAY_BASE_IMAGE": plans["standin-gateway"].current}
    ws.write_env()


def _smb_target(folder: Path, password: str, say) -> SambaServer | None:
    from standins.smb_target import start_samba

    if shutil.which("smbd") is None and not Path("/usr/sbin/smbd").exists():
        say("no stand-in SMB target: Samba is not installed (scripts/install.sh installs it); offload is skipped")
        return None
    if os.geteuid() != 0:
        say("no stand-in SMB target: its user and password database need root; offload is skipped")
        return None
    return start_samba(folder / "smb", password)


def write_behaviour(ws: Workspace) -> None:
    """Tell the stand-in processes how to behave: two seconds each, and the reports process writes a report."""
    s = ws.settings
    path = Path(s.private_config_dir) / "standin_behaviour"
    path.write_text("seconds=2\nrun_reports=report\n")
    if os.geteuid() == 0:
        os.chown(path, s.container_uid, -1)
    path.chmod(0o600)


SEED = """
import json, pathlib
root = pathlib.Path('/data/db/standin-data')
for db, coll, n in (('production', 'futures_contract_prices', 500), ('production', 'capital', 60),
                    ('production', 'optimal_positions', 40), ('meta', 'roll_parameters', 12)):
    (root / db).mkdir(parents=True, exist_ok=True)
    (root / db / (coll + '.jsonl')).write_text(''.join(json.dumps({'i': i, 'sample': coll}) + '\\n' for i in range(n)))
"""


def seed(client, ws: Workspace) -> None:
    """Put sample collections into the stand-in MongoDB, as a set-up pysystemtrade has data (an empty
    database makes every backup ``suspect``, rightly)."""
    container = client.containers.get(f"mongo_db{ws.suffix}")
    result = container.exec_run(["python3", "-c", SEED], user="mongodb")
    if result.exit_code != 0:
        raise DemoFailed("could not seed the stand-in MongoDB", result.output.decode(errors="replace"))


@dataclass
class Entry:
    at: datetime          # simulated
    job: str
    slot: str
    how: str              # on time | caught up (...) | missed (...) | a note
    outcome: str = ""
    seconds: float = 0.0
    said: str = ""        # the job's last line


def _local(day, moment: time, tz) -> datetime:
    return datetime.combine(day, moment, tzinfo=tz).astimezone(UTC)


class StandinGateway:
    """The demo's hand on the stand-in gateway's session (standin_gateway.py's commands, run in its
    container): what IBKR and the trader's phone do."""

    SCRIPT = "/home/ibgateway/scripts/standin_gateway.py"

    def __init__(self, client, ws: Workspace) -> None:
        self.client, self.name = client, f"ib_gateway{ws.suffix}"

    def container_id(self) -> str:
        return self.client.containers.get(self.name).id

    def do(self, *args: str, client=None) -> dict:
        import json

        done = (client or self.client).containers.get(self.name).exec_run(["python3", self.SCRIPT, *args])
        if done.exit_code != 0:
            raise DemoFailed(f"the stand-in gateway refused {' '.join(args)}", done.output.decode(errors="replace"))
        text = done.output.decode(errors="replace").strip()
        return json.loads(text) if text.startswith("{") else {}

    def approve_late(self, mail: SmtpServer | None, timeout: float = 150) -> bool:
        """Approve the login once the trader's mail has the reminder (the first request went
        unanswered), as a trader who saw it; without a mail server, at the gateway's second 2FA
        request. False if neither came within ``timeout``."""
        import time as clock

        import docker
        from docker.errors import DockerException

        client = docker.from_env()  # its own: the week's thread uses the demo's client meanwhile
        try:
            deadline = clock.monotonic() + timeout
            while clock.monotonic() < deadline:
                try:
                    if mail is not None:
                        ready = any(x.endswith("approve the new IBKR login request on your phone now")
                                    for x in mail.subjects())
                    else:
                        state = self.do("state", client=client)
                        ready = state.get("state") == "awaiting 2FA" and state.get("request", 0) >= 2
                    if ready:
                        self.do("approve", client=client)
                        return True
                except (DockerException, DemoFailed, ValueError):
                    pass  # restarting: ask again
                clock.sleep(0.5)
            return False
        finally:
            client.close()


def week(ws: Workspace, *, say: Callable[[str], None], now: datetime | None = None, client=None) -> list[Entry]:
    """Run the scheduler over the demo week's simulated clock (see the module's docstring); return the timeline.

    With ``client`` the gateway's session plays its part: lost at noon on the second day and
    approved 20 minutes later, and the weekly login on the seventh evening approved late (after
    its second 2FA request); every alert and message mailed to the demo's mail server is put on
    the timeline at the instant that sent it."""
    import threading

    s = ws.settings
    tz = s.tz
    today = (now or datetime.now(UTC)).astimezone(tz).date()   # the last of its trading days
    first = today - timedelta(days=TRADING_DAYS - 1)
    start = _local(first, time(0), tz) - scheduler_plan.OPEN_LEAD - timedelta(minutes=20)
    end = _local(first, time(0), tz) + timedelta(days=7) - scheduler_plan.OPEN_LEAD - timedelta(minutes=1)
    restart = _local(first + timedelta(days=RESTART[0]), RESTART[1], tz)
    outages = [tuple(_local(first + timedelta(days=d), t, tz) for d, t in outage) for outage in OUTAGES]
    lost, back = (_local(first + timedelta(days=d), t, tz) for d, t in (SESSION_LOST, SESSION_BACK))
    from ecosystem.plan import plans_of

    gateway = StandinGateway(client, ws) if client is not None else None
    if gateway is not None:
        gateway.do("accounts", ws.secrets[0])  # the account of the demo's private_config.yaml
        first_id = gateway.container_id()
    run = SimulatedWeek(ws, scheduler_plan.trading_days_jobs(s, plans_of(s)), tz, say, start - timedelta(minutes=1),
                        first=first)
    say(f"(the demo's trading days are the five that end today, {first:%a %d %b} to {today:%a %d %b}, in a zone "
        "where it is now about noon; the timeline labels them Mon to Fri, the weekend Sat and Sun)")
    slots = scheduler_plan.slots_between(run.jobs, start - timedelta(minutes=1), end, tz)
    logins = {slot.at for slot in slots if slot.job == scheduler_plan.WEEKLY_LOGIN}
    instants = {slot.at for slot in slots} | {start, restart, *(b for _, b in outages)}
    instants |= {lost, back} if gateway is not None else set()
    mailed = 0
    try:
        for instant in sorted(t for t in instants if not any(gone <= t < b for gone, b in outages)):
            if instant == restart:
                run.restart(instant)
            for gone, b in outages:
                if instant == b:
                    run.note(gone, f"down until {day_label(b, tz, first)} (then it catches up what can "
                                   "still do its work, and records the rest missed)")
            approver = None
            if gateway is not None and instant == lost:
                gateway.do("logout")
                run.note(instant, "the gateway's session is lost (the stand-in logs out, as when IBKR drops it)")
            elif gateway is not None and instant == back:
                gateway.do("approve")
                run.note(instant, "the trader approves the login on the phone")
            elif gateway is not None and instant in logins:
                gateway.do("twofa-on", "5")  # from now on each start of the gateway asks for 2FA, every 5 s
                approver = threading.Thread(target=gateway.approve_late, args=(ws.mail,), daemon=True)
                approver.start()
            run.at(instant)
            if approver is not None:
                approver.join(timeout=30)
                run.note(instant, "the trader approved the weekly login late, after the reminder")
            if ws.mail is not None:
                for subject in ws.mail.subjects(mailed):
                    run.timeline.append(Entry(instant, "mail", "", subject.removeprefix("pysystemtrade ecosystem: ")))
                    run.say(format_entry(run.timeline[-1], tz, first))
                mailed = len(ws.mail.messages)
    finally:  # Ctrl-C or a failure: the jobs still running unwind cleanly (each in its own session)
        run.loop.stop(grace=120)
    if gateway is not None:
        ws.gateway_ids = (first_id, gateway.container_id())
    return sorted(run.timeline, key=lambda e: e.at)


class SimulatedWeek:
    """The real scheduler loop on a clock that moves only when told, each tick's jobs waited for."""

    def __init__(self, ws: Workspace, jobs, tz, say, looked: datetime, *, first=None) -> None:
        s = ws.settings
        self.ws, self.jobs, self.tz, self.say, self.first = ws, jobs, tz, say, first
        self.history = History(s.history_path)
        self.heartbeat = scheduler_module.heartbeat_path(s)
        write_json(self.heartbeat, {"looked": looked.isoformat()})  # the week starts here, not at the real now
        self.clock = looked
        self.timeline: list[Entry] = []
        self.pending: dict[str, Entry] = {}
        self.loop = self._new_loop()

    def _new_loop(self):
        return scheduler_module.Scheduler(self.jobs, self.history, tz=self.tz, heartbeat=self.heartbeat,
                                          launch=self.ws.start, clock=lambda: self.clock)

    def relabel(self, text: str) -> str:
        """``text`` (the planner's words) with each calendar day name of the demo's week put as the
        timeline labels it: the seven days have seven different names, so one pass maps them all."""
        if self.first is None:
            return text
        names = {(self.first + timedelta(days=n)).strftime("%a"): WEEK_LABELS[n] for n in range(7)}
        return re.sub(r"\b(Mon|Tue|Wed|Thu|Fri|Sat|Sun)\b(?= \d\d:\d\d)", lambda m: names[m.group(1)], text)

    def note(self, at: datetime, text: str) -> None:
        self.timeline.append(Entry(at, "scheduler", "", text))
        self.say(format_entry(self.timeline[-1], self.tz, self.first))

    def restart(self, at: datetime) -> None:
        """A new loop, as after a reboot: all it knows is the history and the heartbeat."""
        self.clock = at
        self.loop.stop(grace=120)
        self.loop = self._new_loop()
        self.note(at, "restarted (a new loop, picking up from its heartbeat)")

    def at(self, instant: datetime) -> None:
        """Tick at ``instant``, wait for what it started, and put each slot's outcome on the timeline."""
        self.clock = instant
        for decision in scheduler_plan.due(self.jobs, instant, since=self.loop.since, done=self.loop.done, tz=self.tz):
            how = self.relabel({"run": "on time", "catch_up": f"caught up: {decision.reason}"}.get(
                decision.action, f"missed: {decision.reason}"))
            self.pending[str(decision.slot)] = Entry(instant, decision.slot.job, decision.slot.key, how)
        self.loop.tick()
        self.loop.settle()
        ended = {f"{r.step}@{r.slot}": r for r in self.history.runs(job=scheduler_module.JOB) if r.outcome}
        for key, entry in list(self.pending.items()):
            if key in ended:
                run = ended[key]
                entry.outcome = run.outcome or ""
                entry.seconds = (run.end - run.start).total_seconds() if run.end else 0.0
                entry.said = "" if run.outcome == "missed" else _last_line(self.ws, entry.job)
                self.timeline.append(entry)
                self.say(format_entry(entry, self.tz, self.first))
                del self.pending[key]


def _last_line(ws: Workspace, job: str) -> str:
    name = job.split()[0]
    for path in reversed(ws.logs):
        if path.name.endswith(f"-{name}.log"):
            lines = [x for x in path.read_text(errors="replace").splitlines()
                     if x.strip() and not x.startswith(("note:", "warning:"))]
            return lines[-1] if lines else ""
    return ""


WEEK_LABELS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def day_label(moment: datetime, tz, first=None) -> str:
    """``Mon 19:55``: with ``first`` (the week's first trading day) the day is named by its place in the
    demo's week (Mon to Fri trade, Sat and Sun are the weekend), not by its calendar name."""
    local = moment.astimezone(tz)
    day = WEEK_LABELS[(local.date() - first).days % 7] if first is not None else local.strftime("%a")
    return f"{day} {local:%H:%M}"


def format_entry(entry: Entry, tz, first=None) -> str:
    """One timeline line (its day named as ``day_label`` names it)."""
    when = day_label(entry.at, tz, first)
    if entry.job == "scheduler":
        return f"{when}  scheduler {entry.how}"
    if entry.job == "mail":
        return f"{when}  mail      {entry.how}"
    said = f" | {entry.said[:110]}" if entry.said else ""
    return (f"{when}  {entry.job:<15} {entry.slot:<11} {entry.outcome or '-':<9} "
            f"{entry.seconds:5.0f}s  {entry.how}{said}")


@dataclass(frozen=True)
class Check:
    what: str
    ok: bool
    detail: str


def verdict(ws: Workspace, timeline: list[Entry]) -> list[Check]:
    """Check what the week should have left behind, from the history, the sets, the share and the remote."""
    s = ws.settings
    history = History(s.history_path)
    checks = []
    ran = [e for e in timeline if e.job not in ("scheduler", "mail")]
    planned = ["weekly.open", "nightly"] * TRADING_DAYS + ["weekly.close", "weekend", scheduler_plan.WEEKLY_LOGIN,
                                                          "gateway.status"]
    keys = [(e.job, e.slot) for e in ran]
    checks.append(Check("the week ran as planned: each day's opening and nightly pipeline, the close, the "
                        "weekend pipeline, the gateway's weekly login and check, each slot once",
                        [e.job for e in ran] == planned and len(set(keys)) == len(keys),
                        f"{len(ran)} slots in order" if [e.job for e in ran] == planned else
                        "ran: " + " ".join(e.job for e in ran)))
    trading = sorted({e.slot for e in ran if e.job == "nightly"})
    expected = {("nightly", trading[3] if len(trading) > 3 else "?"): ("caught up", "ok"),
                ("gateway.status", next((e.slot for e in ran if e.job == "gateway.status"), "?")): ("missed", "missed")}
    wrong = [f"{e.job}@{e.slot} {e.how.split(':')[0]} {e.outcome}" for e in ran
             if (e.how.split(":")[0], e.outcome) != expected.get((e.job, e.slot), ("on time", "ok"))]
    checks.append(Check("the outages were handled by the rules: the fourth evening caught up, the seventh "
                        "evening's gateway check missed (past its 3 h), everything else on time and ok",
                        not wrong, ", ".join(wrong) or f"{len(ran)} slots as expected"))
    checks.append(_gateway_messages(timeline))
    if ws.gateway_ids is not None:
        before, after = ws.gateway_ids
        checks.append(Check("no step of the week recreated the gateway's container (its weekly login restarted it)",
                            before == after, f"container {before[:12]}" + ("" if before == after else
                                                                            f", now {after[:12]}")))
    processes_ok = {r.step for r in history.runs(job=trading_day.JOB) if r.outcome == "ok" and r.step}
    wanted = {"run_stack_handler", "run_capital_update", *s.morning_processes}
    checks.append(Check("the day's processes ran and ended by themselves", wanted <= processes_ok,
                        f"ok: {', '.join(sorted(processes_ok & wanted)) or 'none'}"))
    chain: dict[str | None, dict[str, str]] = {}
    for run in history.runs(job=eod.JOB):
        if run.step and run.outcome:
            chain.setdefault(run.slot, {})[run.step] = run.outcome
    full = [day for day in trading if all(chain.get(day, {}).get(p) == "ok" for p in s.eod_chain)]
    checks.append(Check("the evening chain ran every step ok on each trading day", len(full) == len(trading) == 5,
                        f"{len(full)} of {len(trading)} days"))
    good = backup_sets.good_sets(s.backup_dir)
    broken = [m.name for m in good if backup_sets.verify(s.backup_dir / m.name, m)]
    cold = [m for m in good if m.how == "cold"]
    checks.append(Check("every backup set verifies (five nightly, one cold)",
                        len(good) >= 6 and bool(cold) and not broken,
                        f"{len(good)} good sets, {len(cold)} cold" + (f"; failing: {', '.join(broken)}" if broken
                                                                      else "")))
    drills = [r for r in history.runs(job="weekend") if r.step == "restore drill"]
    restored = [r for r in history.runs(job="restore") if r.outcome]
    checks.append(Check("the restore drill restored the cold backup", bool(drills) and drills[-1].outcome == "ok",
                        (restored[-1].detail if restored else drills[-1].detail) if drills else "no drill ran"))
    checks.append(_offloaded(s, good))
    checks.append(_pushed(ws))
    checks.append(_no_secret(ws))
    return checks


def _gateway_messages(timeline: list[Entry]) -> Check:
    """The gateway's session as the trader heard of it: the midday loss once and its return, then the
    weekly login's approve-now, a reminder and the confirmation, in that order and nothing more."""
    said = [e.how for e in timeline if e.job == "mail" and e.how.startswith(("gateway.session", "the gateway",
                                                                             "approve the"))]
    wanted = ["gateway.session failed", "the gateway is logged in again",
              "approve the IBKR login on your phone now", "approve the new IBKR login request on your phone now",
              "the gateway is logged in"]
    reminders = [x for x in said if x.startswith("approve the new")]
    heard = [x for x in said if not x.startswith("approve the new")]
    return Check("the gateway's session reached the trader's mail: the midday loss once, its return, then the weekly "
                 "login's approve-now, its reminder(s) and the confirmation",
                 bool(reminders) and heard == [w for w in wanted if not w.startswith("approve the new")] and
                 said.index(reminders[0]) == 3,
                 "; ".join(said) or "no gateway message")


def _offloaded(s: Settings, good) -> Check:
    if not s.smb_configured:
        return Check("the sets are on the stand-in SMB share", True, "skipped: no stand-in SMB target here")
    from ecosystem import backup_key, offload, smb

    plain: set[str] = set()
    with smb.session(smb.ShareAddress.from_settings(s)) as share:
        share.ensure_folder()
        remote = offload.remote_sets(share, backup_key.load_for(s), plain)
    missing = [m.name for m in good if remote.get(m.name) is None]
    return Check("the sets are on the stand-in SMB share, encrypted", bool(good) and not missing and not plain,
                 f"{len(remote)} on the share" + (f"; missing {', '.join(missing)}" if missing else "")
                 + (f"; not encrypted: {', '.join(sorted(plain))}" if plain else ""))


def _pushed(ws: Workspace) -> Check:
    result = commands.run(["git", "-C", str(ws.remote), "log", "--format=%s", "main"], timeout=60, check=False)
    commits = [x for x in result.stdout.splitlines() if x]
    files = commands.run(["git", "-C", str(ws.remote), "ls-tree", "-r", "--name-only", "main"], timeout=60,
                        check=False).stdout.split()
    return Check("the daily reports were committed and pushed to the (local) remote",
                 bool(commits) and any("report" in f for f in files),
                 f"{len(commits)} commit(s); files: {', '.join(files[:4]) or 'none'}")


def _no_secret(ws: Workspace) -> Check:
    s = ws.settings
    places = [s.history_path, *ws.logs]
    leaked = [str(p.name) for p in places if p.exists() and any(x in p.read_text(errors="replace") for x in ws.secrets)]
    dump = commands.run(["git", "-C", str(ws.remote), "log", "-p", "--all"], timeout=60, check=False).stdout
    if any(x in dump for x in ws.secrets):
        leaked.append("the reports remote")
    return Check("no secret in the history, the task output or the reports remote", not leaked,
                 ", ".join(leaked) or f"{len(ws.secrets)} secrets looked for in {len(places) + 1} places")


def outputs(ws: Workspace, folder: Path, say: Callable[[str], None]) -> list[Path]:
    """Leave the last day's brief and a picture of the status page (as its service serves it) in ``folder``."""
    from standins import browser

    folder.mkdir(parents=True, exist_ok=True)
    made = []
    brief = folder / "brief.txt"
    text = ws.run("brief", timeout=300)
    leaked = [n for n, secret in enumerate(ws.secrets) if secret in text]
    if leaked:
        raise DemoFailed(f"a secret of the demo ({len(leaked)} of them) is in the brief")
    brief.write_text("(the brief as `invoke brief` gives it after the demo's week: the week ran on a simulated clock "
                     "that is now days ahead, so its scheduler's last heartbeat is in the future and the brief "
                     "says the scheduler is not running, as it would for yours)\n\n" + text)
    made.append(brief)
    picture = folder / "status-page.png"
    try:
        browser.screenshot(f"http://127.0.0.1:{ws.settings.status_page_port}/", picture)
        made.append(picture)
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        say(f"no picture of the status page: {exc}")
    return made


def leftovers(client, suffix: str) -> list[str]:
    """Name every container, network, volume and image of the demo that is still on the engine."""
    found = [f"container {c.name}" for c in client.containers.list(ignore_removed=True, all=True) if suffix in c.name]
    found += [f"network {n.name}" for n in client.networks.list() if suffix in n.name]
    found += [f"volume {v.name}" for v in client.volumes.list() if suffix in v.name]
    found += [f"image {t}" for i in client.images.list() for t in i.tags if suffix in t]
    return found


def remove(client, ws: Workspace) -> list[str]:
    """Remove everything the demo made (the base image stays, for the next run), each part whatever
    happened to the others; return what is left."""
    from docker.errors import DockerException

    def quietly(action) -> None:
        try:
            action()
        except (DockerException, DemoFailed, OSError):
            pass  # what stays is named by leftovers() below

    try:
        if ws.env_file.exists():
            quietly(lambda: ws.run("down", timeout=600))
        for container in client.containers.list(ignore_removed=True, all=True):
            if ws.suffix in container.name:
                quietly(partial(container.remove, force=True, v=True))
        for network in client.networks.list():
            if ws.suffix in network.name:
                quietly(network.remove)
        for volume in client.volumes.list():
            if ws.suffix in volume.name:
                quietly(partial(volume.remove, force=True))
        for image in client.images.list():
            for tag in image.tags:
                if ws.suffix in tag:
                    quietly(partial(client.images.remove, tag, force=True))
        left = leftovers(client, ws.suffix)
    finally:
        if ws.smb is not None:
            ws.smb.stop()
        if ws.mail is not None:
            ws.mail.stop()
        shutil.rmtree(ws.folder, ignore_errors=True)
    if ws.smb is not None and ws.smb.process is not None and ws.smb.process.poll() is None:
        left.append("the stand-in smbd")
    if ws.folder.exists():
        left.append(f"the folder {ws.folder}")
    return left
