#!/usr/bin/env bash
# What the Rust build needs from the system: OpenSSL's libcrypto (the driver's md5 and SHA-2,
# `openssl` feature of driver/Cargo.toml, on by default) and pkg-config to find it.
# Installs Debian's libssl-dev and pkg-config when they are missing; does nothing otherwise.
set -euo pipefail
if command -v pkg-config >/dev/null && pkg-config --exists libcrypto; then
    exit 0
fi
SUDO=
if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; fi
echo "build-deps: installing libssl-dev and pkg-config (Debian)"
$SUDO apt-get install -y libssl-dev pkg-config ||
    { $SUDO apt-get update && $SUDO apt-get install -y libssl-dev pkg-config; }
