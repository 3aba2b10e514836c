#!/usr/bin/env bash
# The long runs (CINDERBOX_LONG=1): crash-restart, hostile input, load and the driver's
# parsers, with one seed for all of them, and a dated summary of their figures.
#
#   scripts/soak.sh [--seed N] [--short] [--out DIR]
#
#   --seed N   seed for every run (default: the current Unix time, printed): the crash
#              test takes it as CINDERBOX_SEED, the proptest-based ones as
#              PROPTEST_RNG_SEED. The load test is not seeded (64 clients race by design).
#   --short    the CI-sized variants (CINDERBOX_LONG unset): a quick check of this script.
#   --out DIR  where the summary goes (default target/soak/); the file is
#              soak-<UTC date and time>.txt, and the last one is also soak-latest.txt.
#
# Exit status: 0 when every run passed, 1 otherwise (the summary says which). CPU-heavy:
# on a 2-core machine the long runs take tens of minutes.
set -euo pipefail
cd "$(dirname "$0")/.."

# The runs, one per line: name | cargo test arguments. Keep this list the only place that
# names test binaries.
RUNS=(
    "crash   | -p cinderbox-emulator --test main crash::"
    "hostile | -p cinderbox-emulator --test main hostile::"
    "load    | -p cinderbox-emulator --test main load::"
    "parsers | -p cinderbox-driver --test main parsers::"
)

seed="$(date +%s)"
long=1
out_dir="target/soak"
while [[ $# -gt 0 ]]; do
    case "$1" in
        --seed) seed="$2"; shift 2 ;;
        --short) long=0; shift ;;
        --out) out_dir="$2"; shift 2 ;;
        *) echo "soak.sh: unknown argument '$1' (see the header of $0)" >&2; exit 2 ;;
    esac
done
[[ "$seed" =~ ^[0-9]+$ ]] || { echo "soak.sh: --seed takes a decimal number" >&2; exit 2; }

mkdir -p "$out_dir"
stamp="$(date -u +%Y-%m-%dT%H%MZ)"
summary="$out_dir/soak-$stamp.txt"
logs="$out_dir/soak-$stamp.logs"
mkdir -p "$logs"

if [[ $long == 1 ]]; then export CINDERBOX_LONG=1; else unset CINDERBOX_LONG; fi
export CINDERBOX_SEED="$seed" PROPTEST_RNG_SEED="$seed"

{
    echo "cinderbox soak run $stamp"
    echo "command: scripts/soak.sh --seed $seed$([[ $long == 0 ]] && echo ' --short')"
    echo "mode: $([[ $long == 1 ]] && echo 'long (CINDERBOX_LONG=1)' || echo 'short (CI sizes)')"
    echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (dirty)')"
    echo "machine: $(nproc) cores, $(uname -sr)"
    echo
} >"$summary"

echo "soak.sh: building the test binaries" >&2
for run in "${RUNS[@]}"; do
    # shellcheck disable=SC2086 # the arguments are meant to split
    cargo test --locked --no-run ${run#*|} 2>&1 | tail -1 >&2
done

failed=0
for run in "${RUNS[@]}"; do
    name="$(echo "${run%%|*}" | xargs)"
    args="${run#*|}"
    log="$logs/$name.log"
    echo "soak.sh: $name (log: $log)" >&2
    started=$(date +%s)
    # shellcheck disable=SC2086
    if cargo test --locked $args -- --nocapture --test-threads 1 >"$log" 2>&1; then
        status=passed
    else
        status=FAILED
        failed=1
    fi
    took=$(($(date +%s) - started))
    {
        echo "== $name: $status in ${took} s (cargo test$args)"
        # Each test prints its figures on one line that starts with what it measured.
        # (after libtest's "test <name> ... " when a test runs alone)
        grep -oE '(crash: |hostile [a-z ]+: |load: |parsers: |odd characters: ).*' "$log" || true
        grep -E '^test result:' "$log" || true
        [[ $status == passed ]] || grep -E 'panicked|FAILED' "$log" | head -5
        echo
    } >>"$summary"
done

echo "overall: $([[ $failed == 0 ]] && echo 'all runs passed' || echo 'some runs FAILED')" >>"$summary"
cp "$summary" "$out_dir/soak-latest.txt"
cat "$summary"
exit "$failed"
