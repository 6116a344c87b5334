"""`invoke doctor`: the preflight table."""
from invoke import Exit

from ecosystem import answers, pysys_config
from ecosystem import doctor as checks
from ecosystem.errors import SettingsError
from ecosystem.secrets import Redactor
from ecosystem.settings import load_settings

from ._common import ROOT, ecosystem_task, table


@ecosystem_task(read_only=True, help={"json": f"print the checks as JSON (schema {answers.DOCTOR}; see the "
                                               "README); the exit code is the same"})
def doctor(c, json=False):
    """Check the host and settings are ready: engine, compose, ports, disk, SMB, reports remote, private config."""
    try:
        loaded, error = load_settings(ROOT), None
    except SettingsError as exc:
        loaded, error = None, exc
    results = checks.run_checks(checks.DoctorInputs(settings=loaded, settings_error=error))
    # the settings' secrets and the private config's (the user name in mongo_host is shown, as in the table)
    redact = Redactor(loaded.secret_values() + pysys_config.secret_values(loaded, users=False)) if loaded \
        else Redactor([])
    if json:
        import json as json_module

        answer = answers.doctor(results, redact)
        print(json_module.dumps(answer, indent=1))
        if not answer["healthy"]:
            raise Exit(code=1)
        return
    rows = [(r.verdict.upper(), r.check, redact(r.detail)) for r in results]
    print(table(("verdict", "check", "detail"), rows))
    fixes = [(r.check, redact(r.fix)) for r in results if r.fix and r.verdict in ("fail", "warn")]
    if fixes:
        print("\nHow to fix:")
        for name, fix in fixes:
            print(f"  {name}: {fix}")
    failed = sum(r.verdict == "fail" for r in results)
    warned = sum(r.verdict == "warn" for r in results)
    if failed:
        raise Exit(f"\ndoctor: {failed} check(s) failed, {warned} warning(s)", code=1)
    print(f"\ndoctor: ready ({warned} warning(s))")
