#!/usr/bin/env bash
# Runs every test: the Rust workspace (unit, black-box, fault, reliability and
# conformance tests; no network), then upstream glance_store through its adapter (which
# installs its venv from PyPI), then real
# OpenStack clients (openstack CLI, cinderclient, openstacksdk) against the release
# emulator (after upstream Tempest's tempest.api.volume, scripts/tempest.sh), then the
# benchmark's quick smoke run. Installs what it needs (Python
# virtual environments) by itself.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo test (workspace; hermetic: no network)"
cargo test --workspace --locked

# Upstream glance_store (Python) through its adapter: these build a venv from PyPI
# (conformance/adapters/python-glance-store/setup.sh), so they sit behind a feature.
echo "== upstream glance_store through the adapter (builds the venv from PyPI)"
cargo test -p cinderbox-conformance --features upstream-python --locked \
    --test python_driver --test adapter_protocol

echo "== release build (emulator for the clients, benchmark)"
cargo build --release --workspace --locked

echo "== upstream Tempest (tempest.api.volume) against the release emulator"
bash scripts/tempest.sh

echo "== benchmark smoke run (--quick; numbers are reported, never asserted)"
target/release/cinderbox-bench --quick --out target/bench-quick.json

echo "== real OpenStack clients against the emulator"
bash conformance/clients/run.sh
