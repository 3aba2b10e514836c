#!/usr/bin/env bash
# Runs every test: the Rust workspace (unit, black-box, fault, reliability and
# conformance tests; no network), upstream glance_store through its adapter (which
# installs its venv from PyPI), then against the release emulator: upstream Tempest's
# tempest.api.volume (scripts/tempest.sh, with static accounts, then with dynamic
# credentials), the dashboard in headless Chromium
# (scripts/browser-test.sh, screenshot in target/dashboard.png), the benchmark's quick
# smoke run, the real OpenStack clients (openstack CLI, cinderclient, openstacksdk), and
# last the `cinderbox` Python wheel and its pytest fixtures (python/run-tests.sh).
# Installs what it needs (Python virtual environments, Debian's chromium) by itself.
set -euo pipefail
cd "$(dirname "$0")/.."

# libcrypto for the driver (Debian's libssl-dev), if the machine lacks it
bash scripts/build-deps.sh

echo "== cargo test (workspace; hermetic: no network)"
cargo test --workspace --locked

echo "== the driver without OpenSSL (RustCrypto's md5 and SHA-2): its unit tests"
cargo test -p cinderbox-driver --no-default-features --lib --locked

# Upstream glance_store (Python) through its adapter: these build a venv from PyPI
# (conformance/adapters/python-glance-store/setup.sh), so they sit behind a feature.
echo "== upstream glance_store through the adapter (builds the venv from PyPI)"
cargo test -p cinderbox-conformance --features upstream-python --locked \
    --test python_driver --test adapter_protocol

echo "== release build (emulator for the clients, benchmark)"
cargo build --release --workspace --locked

echo "== upstream Tempest (tempest.api.volume) against the release emulator, static accounts"
bash scripts/tempest.sh

echo "== upstream Tempest (tempest.api.volume), dynamic credentials (Keystone's admin API)"
TEMPEST_CREDENTIALS=dynamic bash scripts/tempest.sh

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
