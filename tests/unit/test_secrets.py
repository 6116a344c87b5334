from __future__ import annotations

import copy
import logging
import pickle

from ecosystem.secrets import MASK, Redactor, Secret, install_log_redaction


def test_secret_never_shows_itself():
    secret = Secret("hunter2")
    for text in (str(secret), repr(secret), f"{secret}", f"{secret!r}", "%s" % secret, str([secret])):
        assert "hunter2" not in text
    assert secret.reveal() == "hunter2"
    assert copy.deepcopy(secret).reveal() == "hunter2" and pickle.loads(pickle.dumps(secret)) == secret


def test_redactor_masks_every_secret_longest_first():
    redact = Redactor(["abc", "abcdef", ""])
    assert redact("x abcdef y abc") == f"x {MASK} y {MASK}"
    assert Redactor([])("abc") == "abc"


def test_log_redaction_covers_messages_arguments_and_tracebacks(caplog):
    logger = logging.getLogger("test.redaction")
    install_log_redaction(Redactor(["hunter2"]), logger)
    with caplog.at_level(logging.INFO, logger="test.redaction"):
        logger.info("password is %s", "hunter2")
        try:
            raise ValueError("bad hunter2")
        except ValueError:
            logger.exception("failed")
    assert "hunter2" not in caplog.text
    assert caplog.text.count(MASK) >= 2
