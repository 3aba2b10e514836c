#!/usr/bin/env bash
# Runs every test: the Rust workspace (unit, black-box, conformance), then real
# OpenStack clients (openstack CLI, cinderclient, openstacksdk) against the emulator.
# Installs what it needs (a Python venv) by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --locked
bash conformance/clients/run.sh
