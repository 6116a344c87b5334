"""Talking to git remotes without leaking the token or hanging on a prompt.

The token reaches git through an askpass helper that reads it from the git
process's environment: never on a command line, in a URL or in ``.git/config``.
"""
from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from . import commands
from .errors import CommandFailed, GitRemoteError
from .secrets import Redactor, Secret

ASKPASS_SCRIPT = """#!/bin/sh
case "$1" in
  Username*|username*) printf '%s\\n' "$ECOSYSTEM_GIT_USERNAME" ;;
  *) printf '%s\\n' "$ECOSYSTEM_GIT_TOKEN" ;;
esac
"""


@contextmanager
def git_environment(token: Secret | None, username: str, *, trusted: str | None = None) -> Iterator[dict[str, str]]:
    """Yield environment variables for a git process: no prompts, the token through askpass.

    ``trusted`` names a work tree git may use although another user owns it (reports/ belongs
    to the containers' user, which git would otherwise call dubious ownership).
    """
    # no prompt, and no credential helper: a helper would be asked first (an old login) and
    # would store the token in plain text (credential.helper=store) after it worked
    env = {"GIT_TERMINAL_PROMPT": "0", "GCM_INTERACTIVE": "never",
           "GIT_SSH_COMMAND": "ssh -o BatchMode=yes -o ConnectTimeout=15",
           "GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "credential.helper", "GIT_CONFIG_VALUE_0": ""}
    if trusted:
        env |= {"GIT_CONFIG_COUNT": "2", "GIT_CONFIG_KEY_1": "safe.directory", "GIT_CONFIG_VALUE_1": trusted}
    if not token:
        yield env
        return
    with tempfile.TemporaryDirectory(prefix="ecosystem-askpass-") as folder:
        script = os.path.join(folder, "askpass.sh")
        with open(script, "w") as handle:
            handle.write(ASKPASS_SCRIPT)
        os.chmod(script, stat.S_IRWXU)
        yield env | {"GIT_ASKPASS": script, "ECOSYSTEM_GIT_USERNAME": username or "git",
                     "ECOSYSTEM_GIT_TOKEN": token.reveal()}


def ls_remote(url: str, *, token: Secret | None, username: str, timeout: float = 30,
              runner=commands.run) -> dict[str, str]:
    """Return {ref: sha} of the branches at ``url``; raise GitRemoteError if it does not answer in time."""
    redact = Redactor([token.reveal()] if token else [])
    argv = ["git", "-c", "http.lowSpeedLimit=1000", "-c", "http.lowSpeedTime=20", "ls-remote", "--heads", "--", url]
    with git_environment(token, username) as env:
        try:
            out = runner(argv, timeout=timeout, env=env, redact=redact).stdout
        except CommandFailed as exc:
            reason = exc.output.strip().splitlines()[-1] if exc.output.strip() else exc.message
            raise GitRemoteError(f"the git remote {url} did not answer: {redact(reason)}",
                                 fix="check the URL, the network and GIT_TOKEN (or GIT_TOKEN_FILE)") from None
    refs = {}
    for line in out.splitlines():
        sha, _, ref = line.partition("\t")
        if ref:
            refs[ref] = sha
    return refs
