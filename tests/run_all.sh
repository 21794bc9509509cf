#!/usr/bin/env bash
# Runs every test of auditgate: the Rust unit and integration tests (the gateway and the verifier
# crate), then the real-client tests with the official Python SDKs, which it installs into a venv
# under target/ on first use.
set -euo pipefail
cd "$(dirname "$0")/.."

# The time-stamp tests (tests/it/audit_timestamp.rs) run a throwaway TSA with `openssl ts`.
if ! command -v openssl >/dev/null; then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq >/dev/null
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl >/dev/null
fi

# The PostgreSQL tests (tests/it/pg_support.rs) start a throwaway cluster from the server
# binaries; a fresh machine has none.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null; then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq >/dev/null
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi

cargo test --locked
# The verifier crate's own unit tests (crates/auditlog). Not `--workspace`: both packages build a
# `verify-log` binary (the gateway's for target/*/verify-log, the crate's for `cargo install`), and
# cargo warns when one invocation builds both into the same place.
cargo test --locked -p auditlog

venv=target/pyvenv
stamp="$venv/.requirements-$(sha256sum tests/python/requirements.txt | cut -c1-16)"
if [ ! -f "$stamp" ]; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/python/requirements.txt
    touch "$stamp"
fi
AUDITGATE_BIN="$PWD/target/debug/auditgate" "$venv/bin/python" -m pytest -q tests/python
