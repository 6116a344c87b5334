"""`invoke reports`: commit pysystemtrade's new and changed reports in reports/ and push them."""
from invoke import Exit

from ecosystem import reports as publishing

from ._common import ecosystem_task, recorded, settings


@ecosystem_task(help={"dry_run": "say what would be committed and removed; change nothing, push nothing"})
def reports(c, dry_run=False):
    """Commit new and changed reports (no temporary PDFs) and push them; a failed push keeps the commit."""
    s = settings(c)
    if not s.reports_remote:
        raise Exit("REPORTS_REMOTE is not set: there is nowhere to push the reports to (set it, then "
                   "`invoke setup` makes reports/ a clone)", code=2)
    if dry_run:
        result = publishing.publish(s.reports_dir, s.reports_branch, token=s.git_token, username=s.git_username,
                                    dry_run=True)
        print(f"would commit: {result.summary}; would remove: {', '.join(result.removed) or 'nothing'}; "
              f"then push {s.reports_branch}")
        return
    with recorded(c, "reports") as run:
        result = publishing.publish(s.reports_dir, s.reports_branch, token=s.git_token, username=s.git_username)
        run.detail = result.describe()
    print(f"reports: {result.describe()}")
