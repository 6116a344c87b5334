#!/usr/bin/env bash
# Provision everything the tests need (scripts/install.sh --for-tests), then run them all:
# unit tests (no Docker) and integration tests (real Docker engine, Samba, git).
# Extra arguments go to pytest, e.g. scripts/test.sh tests/unit -x
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh --for-tests
exec .venv/bin/python -m pytest "$@"
