"""Logging at the task boundary: the lower layer's warnings reach stderr, masked on the handler,
configured once however often it is asked; the scheduler's file is rotated and private."""
from __future__ import annotations

import logging
import stat

import pytest

from ecosystem import logs
from ecosystem.secrets import MASK, Redactor


@pytest.fixture(autouse=True)
def clean_root():
    root = logging.getLogger()
    ours = [h for h in root.handlers if h.get_name() in (logs.STDERR_HANDLER, logs.FILE_HANDLER)]
    for handler in ours:  # an in-process task of an earlier test configured them: start from none
        root.removeHandler(handler)
    before, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in before:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)
    for handler in ours:
        root.addHandler(handler)
    logs._mask.redact = lambda text: text


def test_a_warning_of_the_lower_layer_reaches_stderr_concise_and_masked(capsys):
    logs.configure("WARNING", redact=Redactor(["hunter2"]))
    logging.getLogger("ecosystem.alerts").warning("could not send with %s", "hunter2")
    logging.getLogger("ecosystem.alerts").info("an info line is not for a person")
    try:
        raise ValueError("bad hunter2")
    except ValueError:
        logging.getLogger("apprise").exception("a library's failure")
    err = capsys.readouterr().err
    assert f"warning: could not send with {MASK}" in err
    assert "error: a library's failure" in err and "ValueError" in err
    assert "hunter2" not in err and "info line" not in err


def test_configuring_again_adjusts_the_level_and_the_redactor_and_never_doubles_a_line(capsys):
    logs.configure("WARNING")
    logs.configure("DEBUG", redact=Redactor(["s3cret"]))
    logging.getLogger("ecosystem.x").debug("value %s", "s3cret")
    err = capsys.readouterr().err
    assert err.count("value") == 1 and "debug: ecosystem.x: value ********" in err
    assert logs.debugging()


def test_the_scheduler_log_file_is_private_rotated_and_holds_info_lines(tmp_path, capsys):
    path = tmp_path / "logs" / "scheduler.log"
    logs.configure("WARNING", redact=Redactor(["hunter2"]), log_file=path)
    logging.getLogger("ecosystem.scheduler_loop").info("started nightly with hunter2")
    text = path.read_text()
    assert "INFO ecosystem.scheduler_loop: started nightly with ********" in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    handler = next(h for h in logging.getLogger().handlers if h.get_name() == logs.FILE_HANDLER)
    assert handler.maxBytes == logs.FILE_BYTES and handler.backupCount == logs.FILE_BACKUPS
    assert "started nightly" not in capsys.readouterr().err, "INFO goes to the file, not to a person at WARNING"
    handler.doRollover()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600, "the new file after a rollover is private too"
    assert (tmp_path / "logs" / "scheduler.log.1").exists()


def test_the_package_itself_only_has_a_null_handler():
    import ecosystem  # noqa: F401
    from tasks import _common  # noqa: F401

    assert [type(h) for h in logging.getLogger("ecosystem").handlers] == [logging.NullHandler]
