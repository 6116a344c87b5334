"""A stand-in for ecosystem.process_control.ProcessControl in unit tests: every record says the
process started just now (a naive local time, as pysystemtrade writes it) with a fixed status;
status changes are recorded in ``calls``."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from ecosystem.process_control import ProcessRecord

LONDON = ZoneInfo("Europe/London")


class RecordingControl:
    def __init__(self, status: str = "GO", tz: ZoneInfo = LONDON):
        self.calls, self.status, self.tz = [], status, tz

    def record(self, name):
        return ProcessRecord(name, self.status, False, datetime.now(self.tz).replace(tzinfo=None).isoformat(),
                             None, None, {})

    def go(self, name):
        self.calls.append(("go", name))

    def no_run(self, name):
        self.calls.append(("no_run", name))

    def pause(self, name):
        self.calls.append(("pause", name))
