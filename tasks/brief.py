"""`invoke brief`: the overview as one message, printed, or sent to ALERT_URLS (the scheduler sends it at BRIEF_AT)."""
from datetime import UTC, datetime

from invoke import Exit

from ecosystem import answers, observed, overview
from ecosystem import brief as briefing
from ecosystem.errors import EcosystemError

from ._common import context, ecosystem_task, recorded, settings


@ecosystem_task(help={
    "send": "send it to ALERT_URLS (and remember when: the next brief lists the alerts since this one)",
    "json": f"print it as JSON (schema {answers.BRIEF}; see the README)",
    "dry_run": "print it, send nothing"})
def brief(c, send=False, json=False, dry_run=False):
    """Print, or send, the brief: all good or each problem, with what to do.

    Then the last chain, today's launches, the gateway, statuses that are not GO, the last good
    backup, offload and drill, free disk and the alerts since the last brief."""
    s = settings(c)
    if send and not s.alert_urls:
        raise Exit("there is nowhere to send the brief: set ALERT_URLS (e.g. mailto://user:pass@host) in .env",
                   code=2)
    ctx = context(c)
    if send and not dry_run:
        with recorded(c, "brief") as run:
            view = _view(ctx)
            run.detail = view.headline
            if not briefing.send(s, view, _sender(s), ctx.redact):
                raise EcosystemError("the brief was not delivered", fix="check ALERT_URLS (invoke doctor) and the "
                                     "mail or chat service it names")
        print(f"brief sent: {view.headline}")
        return
    view = _view(ctx)
    if json:
        import json as json_module

        text = "\n".join(briefing.lines(view))
        print(json_module.dumps(answers.overview(view, schema=answers.BRIEF, redact=ctx.redact,
                                                 title=ctx.redact(briefing.title(view)), text=ctx.redact(text)),
                                indent=1))
        return
    print(ctx.redact("\n".join(briefing.lines(view))))


def _view(ctx):
    """The overview with the statuses and the gateway read now (a brief is worth one slow read)."""
    try:
        observed.observe(ctx, client_id=observed.BRIEF_CLIENT_ID)
    except EcosystemError as exc:  # the engine, say: the overview shows what is known, the services say why
        ctx.say(f"could not read the statuses and the gateway now: {exc.message}")
    return overview.collect(ctx, now=datetime.now(UTC))[0]


def _sender(s):
    from ecosystem.alerts import apprise_sender

    try:
        return apprise_sender(s.alert_urls.reveal().split())
    except ValueError as exc:
        raise Exit(f"ALERT_URLS: {exc}; see https://github.com/caronc/apprise/wiki for the forms", code=2) from None
