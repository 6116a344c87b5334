"""`invoke config`: the effective settings, secrets masked."""

from ecosystem import answers

from ._common import ecosystem_task, settings, table


@ecosystem_task(read_only=True, help={"changed": "only the settings you changed from their built-in defaults",
                                      "json": f"print them as JSON (schema {answers.CONFIG}; see the README)"})
def config(c, changed=False, json=False):
    """Show the effective settings and where each came from (secrets masked)."""
    s = settings(c)
    rows = s.changed() if changed else s.shown()
    if json:
        import json as json_module

        print(json_module.dumps(answers.config(s, rows, changed_only=changed), indent=1))
        return
    print(table(("variable", "value", "source"), rows) if rows else "every setting is at its built-in default")
    print(f"\ncompose project {s.compose_project}, subnet {s.subnet}, run history {s.history_path}")
