#!/usr/bin/env bash
# Provision everything the tests need (scripts/install.sh --for-tests), then check lint (ruff) and
# types (mypy) and run every test: unit tests (no Docker) and integration tests (real Docker engine,
# Samba, git).
# Extra arguments go to pytest instead, e.g. scripts/test.sh tests/unit -x
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh --for-tests
if [ $# -eq 0 ]; then
  # lint and types first, at zero findings (configured in pyproject.toml; the same as the pre-commit hooks)
  .venv/bin/ruff check .
  .venv/bin/mypy
  set -- tests
fi  # every suite: unit, integration, upstream (a bare pytest runs the unit suite only)
exec .venv/bin/python -m pytest -n 0 "$@"  # one process: the integration tests share one Docker engine
