from __future__ import annotations

import copy
import pickle

from ecosystem.secrets import MASK, Redactor, Secret


def test_secret_never_shows_itself():
    secret = Secret("hunter2")
    # "%s" % secret is on purpose: %-formatting is one of the ways a secret could show itself
    for text in (str(secret), repr(secret), f"{secret}", f"{secret!r}", "%s" % secret, str([secret])):  # noqa: UP031
        assert "hunter2" not in text
    assert secret.reveal() == "hunter2"
    assert copy.deepcopy(secret).reveal() == "hunter2" and pickle.loads(pickle.dumps(secret)) == secret


def test_redactor_masks_every_secret_longest_first():
    redact = Redactor(["abc", "abcdef", ""])
    assert redact("x abcdef y abc") == f"x {MASK} y {MASK}"
    assert Redactor([])("abc") == "abc"
