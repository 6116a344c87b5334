"""Failure alerts delivered to a real SMTP server on loopback through Apprise, throttled, with no secret in them."""
from __future__ import annotations

from tests.support.invoking import run_invoke

MAIL_PASSWORD = "sentinel-MAIL-pw-2468"
GIT_TOKEN = "sentinel-GIT-alerts-1357"


def readable(raw: str) -> str:
    """The message's subject and decoded plain-text body."""
    import email

    message = email.message_from_string(raw)
    body = next(part.get_payload(decode=True).decode() for part in message.walk()
                if part.get_content_type() == "text/plain")
    return f"{message['Subject']}\n{body}"


def run(tmp_path, values, *args):
    return run_invoke(tmp_path, values, *args, timeout=120)


def test_a_failure_becomes_one_alert_identical_ones_are_throttled_and_no_secret_is_in_them(tmp_path, smtp):
    url = (f"mailto://alerts:{MAIL_PASSWORD}@localhost:{smtp.port}?smtp=127.0.0.1&from=ecosystem@localhost"
           "&to=trader@localhost&mode=insecure")
    values = {"STATE_DIR": str(tmp_path / "state"), "BACKUP_DIR": str(tmp_path / "backup"), "ALERT_URLS": url,
              "GIT_TOKEN": GIT_TOKEN, "ALERT_THROTTLE_MINUTES": "60"}
    for _ in range(3):
        failed = run(tmp_path, values, "restore", "--from=pst-20991231T000000Z", "--yes")
        assert failed.returncode == 1
    messages = smtp.wait_for(1)
    assert len(messages) == 1, "three identical failures within the throttle window: one message"
    text = readable(messages[0])
    assert "restore failed" in text and "no backup set" in text and "what to do" in text
    values["ALERT_THROTTLE_MINUTES"] = "0"
    run(tmp_path, values, "restore", "--from=pst-20991231T000000Z", "--yes")
    messages = smtp.wait_for(2)
    assert len(messages) == 2 and "2 identical alert(s) were held back" in readable(messages[1])
    for message in messages:
        for text in (message, readable(message)):
            assert MAIL_PASSWORD not in text and GIT_TOKEN not in text


def test_a_bad_alert_url_is_a_clear_error(tmp_path):
    failed = run(tmp_path, {"STATE_DIR": str(tmp_path / "state"), "ALERT_URLS": "nonsense-scheme"},
                 "restore", "--from=latest", "--yes")
    assert failed.returncode == 2 and "ALERT_URLS" in failed.stderr and "nonsense" not in failed.stderr
