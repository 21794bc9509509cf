#!/usr/bin/env bash
# Runs every test of auditgate: the Rust unit and integration tests, then the real-client tests with
# the official Python SDKs, which it installs into a venv under target/ on first use.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo test --locked

venv=target/pyvenv
stamp="$venv/.requirements-$(sha256sum tests/python/requirements.txt | cut -c1-16)"
if [ ! -f "$stamp" ]; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/python/requirements.txt
    touch "$stamp"
fi
AUDITGATE_BIN="$PWD/target/debug/auditgate" "$venv/bin/python" -m pytest -q tests/python
