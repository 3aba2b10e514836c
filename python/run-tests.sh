#!/usr/bin/env bash
# Builds the `cinderbox` wheel (maturin, release), installs it into a fresh venv and runs
# python/tests against it: the pytest fixtures, openstacksdk through them, a fault rule
# firing, and no emulator process left behind after passing and failing tests.
#
# The wheel build shares the workspace's target/ (CARGO_TARGET_DIR), so after
# `cargo build --release --workspace` it compiles little more than the two `main.rs`.
# maturin lives in a venv under target/ kept while its pin holds; the test venv is made
# anew every run. Environment: PYTHON (default python3), CARGO_TARGET_DIR.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
HERE=$ROOT/python
PYTHON=${PYTHON:-python3}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
BUILD_VENV=$TARGET/venv-maturin
TEST_VENV=$TARGET/venv-wheel-test
WHEELS=$TARGET/wheels/cinderbox
PIP_FLAGS=(--quiet --disable-pip-version-check --no-input --progress-bar off)

say() { echo "# $*"; }

make_venv() {
    rm -rf "$1"
    "$PYTHON" -m venv "$1"
}

stamp="$(sha256sum "$HERE/requirements-build.txt" | cut -d' ' -f1) $("$PYTHON" -c 'import sys; print(sys.version.split()[0])')"
if [[ -x $BUILD_VENV/bin/maturin && "$(cat "$BUILD_VENV/.stamp" 2>/dev/null)" == "$stamp" ]]; then
    say "reusing $BUILD_VENV ($("$BUILD_VENV/bin/maturin" --version))"
else
    say "creating $BUILD_VENV"
    make_venv "$BUILD_VENV"
    "$BUILD_VENV/bin/pip" install "${PIP_FLAGS[@]}" -r "$HERE/requirements-build.txt"
    echo "$stamp" >"$BUILD_VENV/.stamp"
fi

say "building the wheel"
rm -rf "$WHEELS"
started=$SECONDS
set +e
(cd "$HERE" && PATH=$BUILD_VENV/bin:$PATH CARGO_TARGET_DIR=$TARGET "$BUILD_VENV/bin/maturin" build --release --locked \
    --out "$WHEELS") >"$TARGET/wheel-build.log" 2>&1
rc=$?
set -e
grep -v '^ *Compiling ' "$TARGET/wheel-build.log" || true
((rc == 0)) || { say "maturin failed ($rc)"; exit "$rc"; }
wheel=$(ls "$WHEELS"/cinderbox-*.whl)
say "wheel built in $((SECONDS - started)) s: $(basename "$wheel") ($(du -h "$wheel" | cut -f1))"

say "installing it into a fresh venv $TEST_VENV"
make_venv "$TEST_VENV"
"$TEST_VENV/bin/pip" install "${PIP_FLAGS[@]}" -r "$HERE/requirements-test.txt"
# --no-deps: its dependencies are the pinned ones above; `pip check` proves they suffice.
"$TEST_VENV/bin/pip" install "${PIP_FLAGS[@]}" --no-deps "$wheel"
"$TEST_VENV/bin/pip" check

say "pytest python/tests"
unset CINDERBOX_EMULATOR OS_CLOUD OS_CLIENT_CONFIG_FILE OS_AUTH_URL
export PATH=$TEST_VENV/bin:$PATH PYTHONDONTWRITEBYTECODE=1
cd "$HERE/tests"
# openstacksdk warns about its own deprecations; they are not ours to fix.
"$TEST_VENV/bin/python" -m pytest -p no:cacheprovider -v -W ignore::PendingDeprecationWarning \
    --rootdir "$HERE/tests" .
