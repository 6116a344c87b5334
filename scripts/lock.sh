#!/usr/bin/env bash
# Regenerate the locks from pyproject.toml: every package, transitive ones included, pinned with
# its hashes. requirements.txt is what `scripts/install.sh` installs (--require-hashes);
# requirements-dev.txt adds the tests' and the linters' (constrained to the same runtime pins).
# Run after changing a dependency in pyproject.toml, and commit both files.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python -m pip install --quiet --disable-pip-version-check "pip-tools==7.7.0"
compile() { .venv/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url \
              --no-emit-find-links "$@"; }
compile --output-file requirements.txt pyproject.toml
compile --extra dev --constraint requirements.txt --output-file requirements-dev.txt pyproject.toml
