#!/usr/bin/env bash
# Runs every test: the Rust workspace (unit, black-box, fault, reliability and
# conformance tests, including upstream glance_store through its adapter), then real
# OpenStack clients (openstack CLI, cinderclient, openstacksdk) against the release
# emulator, the dashboard in headless Chromium (scripts/browser-test.sh, screenshot in
# target/dashboard.png), the benchmark's quick smoke run, and last the `cinderbox` Python wheel and
# its pytest fixtures (python/run-tests.sh). Installs what it needs (Python
# virtual environments) by itself.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo test (workspace)"
cargo test --workspace --locked

echo "== release build (emulator for the clients, benchmark)"
cargo build --release --workspace --locked

echo "== benchmark smoke run (--quick; numbers are reported, never asserted)"
target/release/cinderbox-bench --quick --out target/bench-quick.json

echo "== the dashboard in headless Chromium (installs Debian's chromium if missing)"
bash scripts/browser-test.sh

echo "== real OpenStack clients against the emulator"
bash conformance/clients/run.sh

# Last: maturin's build of the same two main.rs writes target/release/cinderbox-emulator
# too (an equivalent binary); the steps above use the workspace's own.
echo "== Python package: build the wheel, install it into a fresh venv, pytest its fixtures"
bash python/run-tests.sh
