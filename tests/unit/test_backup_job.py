"""The backup job: retention applied on disk (taking sets on the engine is tests/integration/test_backup.py)."""
from datetime import UTC, datetime, timedelta

START = datetime(2026, 9, 1, 22, 30, tzinfo=UTC)  # a Tuesday evening


def test_prune_deletes_on_disk_what_retention_decides_and_dry_run_deletes_nothing(tmp_path):
    from ecosystem.backup_job import prune
    from ecosystem.backup_sets import Manifest
    from ecosystem.context import Context
    from ecosystem.history import History
    from ecosystem.settings import load_settings

    s = load_settings(tmp_path, environ={"BACKUP_DIR": str(tmp_path / "backup"), "BACKUP_KEEP_LAST": "0",
                                         "BACKUP_KEEP_DAILY": "0", "BACKUP_KEEP_WEEKLY": "0"})
    names = []
    for day in range(10):
        created = START + timedelta(days=day)
        name = f"pst-{created:%Y%m%dT%H%M%SZ}"
        (s.backup_dir / name).mkdir(parents=True)
        Manifest(name, created.isoformat(), "online", ["db"], {}, {}, {}, "good").write(s.backup_dir / name)
        names.append(name)
    ctx = Context(s, History(tmp_path / "history.jsonl"))
    (s.backup_dir / "csv").mkdir()  # pysystemtrade's CSV export folder is not a set
    assert len(prune(ctx, dry_run=True)) == 9 and len(list(s.backup_dir.iterdir())) == 11
    assert len(prune(ctx, dry_run=False)) == 9
    assert sorted(p.name for p in s.backup_dir.iterdir()) == ["csv", names[-1]]
