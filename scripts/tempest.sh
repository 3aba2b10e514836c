#!/usr/bin/env bash
# Upstream Tempest (pinned, from PyPI) on `tempest.api.volume` against the release
# emulator, as real Cinder passes it.
#
# Makes (or reuses) a venv with conformance/tempest/requirements.txt, starts
# target/release/cinderbox-emulator on a free port over a temporary data dir with the
# default world, writes tempest.conf (conformance/tempest/tempest.conf.in) and the
# pre-provisioned accounts, runs `tempest run` (serially; with dynamic credentials two
# workers, TEMPEST_CONCURRENCY) with
# conformance/tempest/exclude.txt, always stops the emulator and removes the temp dir.
# Exits non-zero when any test failed; the last line is Tempest's totals.
#
# Needs the release binary (scripts/test-all.sh builds it first). Environment:
# TEMPEST_CREDENTIALS (`static`, the default: the pre-provisioned accounts; `dynamic`:
# admin credentials only, Tempest makes a project and user per test class through
# Keystone's admin API), TEMPEST_VENV (default <repo>/.venv-tempest), PYTHON (default python3),
# TEMPEST_REGEX (default ^tempest\.api\.volume\.), TEMPEST_KEEP=1 (keep the work dir
# with tempest.log and emulator.log and print its path).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
HERE=$ROOT/conformance/tempest
VENV=${TEMPEST_VENV:-$ROOT/.venv-tempest}
PYTHON=${PYTHON:-python3}
REQUIREMENTS=$HERE/requirements.txt
REGEX=${TEMPEST_REGEX:-'^tempest\.api\.volume\.'}
READY_TIMEOUT_S=60
RUN_TIMEOUT_S=900
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/cinderbox-emulator
CREDENTIALS=${TEMPEST_CREDENTIALS:-static}
# Dynamic credentials give every test class its own project and user, so two workers
# cannot step on each other (most of a volume test is waiting on build_interval polls);
# the static accounts are too few to share between workers, so that pass stays serial.
if [[ $CREDENTIALS == dynamic ]]; then CONCURRENCY=${TEMPEST_CONCURRENCY:-2}; else CONCURRENCY=${TEMPEST_CONCURRENCY:-1}; fi
if ((CONCURRENCY > 1)); then RUN_MODE=(--concurrency "$CONCURRENCY"); MODE="$CONCURRENCY workers"; else RUN_MODE=(--serial); MODE=serial; fi
case $CREDENTIALS in
static | dynamic) ;;
*) echo "TEMPEST_CREDENTIALS must be static or dynamic, not '$CREDENTIALS'" >&2; exit 2 ;;
esac

say() { echo "# $*"; }

[[ -x $BIN ]] || { echo "no release emulator at $BIN (cargo build --release -p cinderbox-emulator)" >&2; exit 1; }

# --- venv: rebuilt only when requirements.txt or the Python version changed --------
stamp="$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1) $("$PYTHON" -c 'import sys; print(sys.version.split()[0])')"
if [[ -x $VENV/bin/tempest && "$(cat "$VENV/.requirements-stamp" 2>/dev/null)" == "$stamp" ]]; then
    say "reusing venv $VENV"
else
    say "creating venv $VENV"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check --no-input --progress-bar off \
        -r "$REQUIREMENTS"
    echo "$stamp" >"$VENV/.requirements-stamp"
fi

# --- emulator ---------------------------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cinderbox-tempest.XXXXXX")
EMULATOR_PID=
cleanup() {
    if [[ -n $EMULATOR_PID ]]; then
        kill "$EMULATOR_PID" 2>/dev/null || true
        wait "$EMULATOR_PID" 2>/dev/null || true
    fi
    if [[ ${TEMPEST_KEEP:-0} == 1 ]]; then
        say "kept $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$BIN" serve --listen 127.0.0.1:0 --data-dir "$WORK/data" --ready-file "$WORK/ready" \
    >"$WORK/emulator.log" 2>&1 &
EMULATOR_PID=$!

deadline=$((SECONDS + READY_TIMEOUT_S))
until [[ -s $WORK/ready ]]; do
    if ! kill -0 "$EMULATOR_PID" 2>/dev/null || ((SECONDS >= deadline)); then
        echo "emulator not ready within ${READY_TIMEOUT_S}s" >&2
        tail -n 30 "$WORK/emulator.log" >&2
        exit 1
    fi
    sleep 0.1
done
BASE=$(cat "$WORK/ready")
BASE=${BASE%/}
say "emulator at $BASE"

# --- tempest.conf, accounts -------------------------------------------------------
mkdir -p "$WORK/run" "$WORK/locks"
cp "$HERE/accounts.yaml" "$WORK/accounts.yaml"
sed -e "s#@BASE@#$BASE#g" -e "s#@WORK@#$WORK#g" "$HERE/tempest.conf.in" >"$WORK/tempest.conf"
if [[ $CREDENTIALS == dynamic ]]; then
    # Dynamic credentials: only the default world's admin is given; Tempest creates
    # (and afterwards deletes) a project and user per test class. Neutron is marked
    # unavailable here: the dynamic provider would otherwise clean up each project's
    # security groups through it, and the emulator has no Neutron.
    sed -i -e 's#^use_dynamic_credentials = False#use_dynamic_credentials = True\nadmin_username = admin\nadmin_password = admin\nadmin_project_name = admin\nadmin_domain_name = Default#' \
        -e '/^test_accounts_file = /d' -e 's#^neutron = True#neutron = False#' "$WORK/tempest.conf"
    grep -q '^use_dynamic_credentials = True' "$WORK/tempest.conf" ||
        { echo "tempest.conf.in has no 'use_dynamic_credentials = False' line to switch" >&2; exit 1; }
fi

# --- run --------------------------------------------------------------------------
say "tempest run --regex '$REGEX' ($MODE, $CREDENTIALS credentials)"
set +e
(cd "$WORK/run" && timeout "$RUN_TIMEOUT_S" "$VENV/bin/tempest" run \
    --config-file "$WORK/tempest.conf" --regex "$REGEX" \
    --exclude-list "$HERE/exclude.txt" "${RUN_MODE[@]}") >"$WORK/run.out" 2>&1
rc=$?
set -e

# Failed tests with their reasons, then Tempest's totals block folded into one line.
grep -E '^\{0\} .*\.\.\. FAILED' "$WORK/run.out" || true
if ((rc != 0)); then
    sed -n '/^=\{10,\}$/,/^Totals$/p' "$WORK/run.out" | grep -v '^Totals$' | tail -n 200
    say "emulator log (last 20 lines):"
    tail -n 20 "$WORK/emulator.log" | sed 's/^/#   /'
fi
totals=$(sed -n '/^Totals$/,/^Sum of execute time/p' "$WORK/run.out" |
    grep -E '^(Ran:| - )' | sed -e 's/^ - //' | paste -sd ',' - | sed -e 's/,/, /g')
if [[ -z $totals ]]; then
    tail -n 30 "$WORK/run.out"
    echo "Tempest tempest.api.volume ($CREDENTIALS credentials): no totals (tempest exited $rc)"
    exit 1
fi
echo "Tempest tempest.api.volume ($CREDENTIALS credentials): $totals"
exit "$rc"
