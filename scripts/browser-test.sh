#!/usr/bin/env bash
# The dashboard in a real browser: installs Debian's `chromium` if missing, starts the
# emulator (release build unless CINDERBOX_EMULATOR names another binary) with
# --dashboard-open, runs a small workload (a volume is created; a fault rule is added
# and made to fire) and loads /_cinderbox/ in headless Chromium after its script has
# polled. Checks the DOM: the volume is listed and reaches `available`, and the rule's
# `fired` counter rises from 0 to 1. Keeps a screenshot in target/dashboard.png.
# Run by scripts/test-all.sh (not by cargo test: installing chromium needs the network).
set -euo pipefail
cd "$(dirname "$0")/.."

EMU=${CINDERBOX_EMULATOR:-target/release/cinderbox-emulator}
[ -x "$EMU" ] || { echo "no emulator binary at $EMU (cargo build --release first)" >&2; exit 1; }

if ! command -v chromium >/dev/null; then
    echo "== installing chromium (Debian package)"
    export DEBIAN_FRONTEND=noninteractive
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get install -y chromium || { $SUDO apt-get update && $SUDO apt-get install -y chromium; }
fi

WORK=$(mktemp -d)
EMU_PID=""
cleanup() {
    [ -n "$EMU_PID" ] && kill "$EMU_PID" 2>/dev/null && wait "$EMU_PID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

"$EMU" serve --listen 127.0.0.1:0 --data-dir "$WORK/data" --ready-file "$WORK/ready" \
    --dashboard-open 2>"$WORK/emulator.log" >/dev/null &
EMU_PID=$!
for _ in $(seq 1 200); do [ -s "$WORK/ready" ] && break; sleep 0.1; done
BASE=$(tr -d '\n' <"$WORK/ready")
[ -n "$BASE" ] || { echo "emulator never ready" >&2; cat "$WORK/emulator.log" >&2; exit 1; }
echo "== emulator at $BASE"

login() { # user password project -> token
    curl -fsS -D - -o /dev/null -H 'Content-Type: application/json' \
        -d "{\"auth\":{\"identity\":{\"methods\":[\"password\"],\"password\":{\"user\":{\"name\":\"$1\",\"domain\":{\"name\":\"Default\"},\"password\":\"$2\"}}},\"scope\":{\"project\":{\"name\":\"$3\",\"domain\":{\"name\":\"Default\"}}}}}" \
        "$BASE/identity/v3/auth/tokens" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-subject-token"{print $2}'
}
ADMIN=$(login admin admin admin)
DEMO=$(login demo demo demo)
PROJECT=$(curl -fsS -H "X-Auth-Token: $DEMO" -H "X-Subject-Token: $DEMO" "$BASE/identity/v3/auth/tokens" | jq -r .token.project.id)

VOL=$(curl -fsS -H "X-Auth-Token: $DEMO" -H 'Content-Type: application/json' \
    -d '{"volume":{"size":1,"name":"dashboard-demo"}}' "$BASE/volume/v3/$PROJECT/volumes" | jq -r .volume.id)
curl -fsS -H "X-Auth-Token: $ADMIN" -H 'Content-Type: application/json' \
    -d '{"id":"extend-fails","operation":"volume.action.os-extend","effect":"503"}' \
    "$BASE/_cinderbox/faults" >/dev/null
echo "== volume $VOL, rule extend-fails"

chrome() { # extra flags...
    chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$(mktemp -d -p "$WORK")" --virtual-time-budget=4000 \
        --window-size=1280,900 "$@" "$BASE/_cinderbox/" 2>>"$WORK/chromium.log"
}
fired() { # dom -> the rule's fired counter as drawn
    grep -o 'data-rule="extend-fails" data-fired="[0-9]*"' <<<"$1" | grep -o '[0-9]*"$' | tr -d '"'
}

# Wait (through the API) for `available`, so the page is not racing the create job.
for _ in $(seq 1 100); do
    [ "$(curl -fsS -H "X-Auth-Token: $DEMO" "$BASE/volume/v3/$PROJECT/volumes/$VOL" | jq -r .volume.status)" = available ] && break
    sleep 0.1
done

BEFORE=$(chrome --dump-dom)
grep -q "data-volume=\"$VOL\" data-status=\"available\"" <<<"$BEFORE" \
    || { echo "FAIL: volume $VOL not shown as available" >&2; echo "$BEFORE" >&2; exit 1; }
[ "$(fired "$BEFORE")" = 0 ] || { echo "FAIL: rule not shown with fired=0" >&2; echo "$BEFORE" >&2; exit 1; }
echo "ok: volume shown available, rule shown with fired=0"

STATUS=$(curl -sS -o /dev/null -w '%{http_code}' -H "X-Auth-Token: $DEMO" -H 'Content-Type: application/json' \
    -d '{"os-extend":{"new_size":2}}' "$BASE/volume/v3/$PROJECT/volumes/$VOL/action")
[ "$STATUS" = 503 ] || { echo "FAIL: the rule did not fire (extend answered $STATUS)" >&2; exit 1; }

mkdir -p target
AFTER=$(chrome --dump-dom)
[ "$(fired "$AFTER")" = 1 ] || { echo "FAIL: fired counter did not rise to 1" >&2; echo "$AFTER" >&2; exit 1; }
grep -q '<td>extend-fails</td>' <<<"$(grep -o '<tbody id="requests">.*</tbody>' <<<"$AFTER" || true)" \
    || { echo "FAIL: the request log does not show the rule that fired" >&2; echo "$AFTER" >&2; exit 1; }
echo "ok: fired counter rose to 1, the request log names the rule"

chrome --screenshot="$PWD/target/dashboard.png" >/dev/null
[ -s target/dashboard.png ] || { echo "FAIL: no screenshot" >&2; exit 1; }
echo "== dashboard screenshot: target/dashboard.png"
