#!/usr/bin/env bash
# Real, unpatched OpenStack clients (openstack CLI, python-cinderclient, openstacksdk,
# keystoneauth1) against the emulator's release binary on a free port.
#
# Makes (or reuses) a venv with the pinned clients, builds the emulator, starts it over
# a temporary data dir, runs every test_*.py here, and always stops the emulator and
# removes the temp dir. Prints one line per check, then `N passed, M failed`; exits
# non-zero when any check failed.
#
# Environment: CLIENTS_VENV (default <repo>/.venv-clients), PYTHON (default python3),
# CLIENTS_VERBOSE=1 (tracebacks of failed checks). The emulator is built as part of the
# whole workspace's release build, so CI's one release build serves this script too.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$ROOT/conformance/clients
VENV=${CLIENTS_VENV:-$ROOT/.venv-clients}
PYTHON=${PYTHON:-python3}
REQUIREMENTS=$HERE/requirements.txt
READY_TIMEOUT_S=60
SCRIPT_TIMEOUT_S=600

say() { echo "# $*"; }

# --- venv: rebuilt only when requirements.txt or the Python version changed --------
stamp="$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1) $("$PYTHON" -c 'import sys; print(sys.version.split()[0])')"
if [[ -x $VENV/bin/python && "$(cat "$VENV/.requirements-stamp" 2>/dev/null)" == "$stamp" ]]; then
    say "reusing venv $VENV"
else
    say "creating venv $VENV"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV" || { rm -rf "$VENV" && "$PYTHON" -m venv --without-pip "$VENV"; }
    if [[ -x $VENV/bin/pip ]]; then
        pip=("$VENV/bin/pip")
    else # a Python without ensurepip: install into the venv with the outer pip
        pip=("$PYTHON" -m pip --python "$VENV/bin/python")
    fi
    "${pip[@]}" install --quiet --disable-pip-version-check --no-input --progress-bar off \
        -r "$REQUIREMENTS"
    echo "$stamp" >"$VENV/.requirements-stamp"
fi

# --- emulator ---------------------------------------------------------------------
say "building the emulator (release)"
(cd "$ROOT" && cargo build --release --workspace --locked)
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/cinderbox-emulator

WORK=$(mktemp -d "${TMPDIR:-/tmp}/cinderbox-clients.XXXXXX")
EMULATOR_PID=
cleanup() {
    if [[ -n $EMULATOR_PID ]]; then
        kill "$EMULATOR_PID" 2>/dev/null || true
        wait "$EMULATOR_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$BIN" serve --listen 127.0.0.1:0 --data-dir "$WORK/data" --ready-file "$WORK/ready" \
    --clouds-yaml "$WORK/clouds.yaml" >"$WORK/emulator.log" 2>&1 &
EMULATOR_PID=$!

deadline=$((SECONDS + READY_TIMEOUT_S))
until [[ -s $WORK/ready ]]; do
    if ! kill -0 "$EMULATOR_PID" 2>/dev/null || ((SECONDS >= deadline)); then
        echo "FAIL emulator start: not ready within ${READY_TIMEOUT_S}s" >&2
        tail -n 30 "$WORK/emulator.log" >&2
        echo "0 passed, 1 failed"
        exit 1
    fi
    sleep 0.1
done
say "emulator at $(cat "$WORK/ready")"

export OS_CLIENT_CONFIG_FILE=$WORK/clouds.yaml
export OS_CLOUD=cinderbox
export PATH=$VENV/bin:$PATH
export PYTHONDONTWRITEBYTECODE=1
unset OS_AUTH_URL OS_USERNAME OS_PASSWORD OS_PROJECT_NAME OS_TOKEN OS_AUTH_TYPE

# --- client scripts ---------------------------------------------------------------
passed=0
failed=0
for script in "$HERE"/test_*.py; do
    name=$(basename "$script")
    say "$name"
    out=$WORK/$name.out
    set +e
    (cd "$HERE" && timeout "$SCRIPT_TIMEOUT_S" "$VENV/bin/python" "$script") 2>"$WORK/$name.err" | tee "$out"
    rc=${PIPESTATUS[0]}
    set -e
    passed=$((passed + $(grep -c '^ok ' "$out" || true)))
    fails=$(grep -c '^FAIL ' "$out" || true)
    if ((rc != 0 && fails == 0)); then
        echo "FAIL $name: exited $rc: $(tail -n 1 "$WORK/$name.err")"
        fails=1
    fi
    if ((fails > 0)); then
        tail -n 20 "$WORK/$name.err" | sed 's/^/#   /'
    fi
    failed=$((failed + fails))
done

if ((failed > 0)); then
    say "emulator log (last 30 lines):"
    tail -n 30 "$WORK/emulator.log" | sed 's/^/#   /'
fi
echo "$passed passed, $failed failed"
((failed == 0))
