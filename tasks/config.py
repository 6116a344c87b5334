"""`invoke config`: the effective settings, secrets masked."""

from ._common import ecosystem_task, settings, table


@ecosystem_task(read_only=True)
def config(c):
    """Show the effective settings and where each came from (secrets masked)."""
    s = settings(c)
    print(table(("variable", "value", "source"), s.shown()))
    print(f"\ncompose project {s.compose_project}, subnet {s.subnet}, run history {s.history_path}")
