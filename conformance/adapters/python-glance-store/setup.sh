#!/usr/bin/env bash
# Builds (or reuses) the virtual environment with upstream glance_store for adapter.py.
#
#   setup.sh [--glance-store VERSION] [VENV_DIR]
#
# VERSION is the pinned upstream release: 5.7.0 (default; requirements.txt) or 5.4.1
# (stable/2026.1; requirements-5.4.1.txt). Each version has its own venv: for 5.7.0 VENV_DIR
# defaults to $CINDERBOX_GLANCE_VENV, else <repo>/.venv-glance-store; for another version
# to the same path with "-VERSION" appended.
#
# The venv is reused when its stamp (hash of requirements.txt + the Python version) matches
# and glance_store imports; otherwise it is rebuilt from scratch. Progress goes to stderr;
# the last line on stdout is the venv's python, for the caller to run adapter.py with.
# Needs python3 >= 3.10 with the venv module and pip, and access to PyPI (or a wheel
# mirror configured for pip). Exits non-zero with a one-line reason on failure.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"

say() { echo "setup.sh: $*" >&2; }
fail() {
    echo "setup.sh: error: $*" >&2
    exit 1
}

version=5.7.0
if [[ "${1:-}" == "--glance-store" ]]; then
    [[ $# -ge 2 ]] || fail "--glance-store needs a version (5.7.0 or 5.4.1)"
    version="$2"
    shift 2
fi
base_venv="${CINDERBOX_GLANCE_VENV:-$repo/.venv-glance-store}"
case "$version" in
5.7.0)
    requirements="$here/requirements.txt"
    default_venv="$base_venv"
    ;;
5.4.1)
    requirements="$here/requirements-5.4.1.txt"
    default_venv="$base_venv-5.4.1"
    ;;
*) fail "glance_store $version is not pinned here; pinned: 5.7.0, 5.4.1" ;;
esac
venv="${1:-$default_venv}"
python="${PYTHON:-python3}"
stamp_file="$venv/.cinderbox-requirements-stamp"

command -v "$python" >/dev/null 2>&1 ||
    fail "'$python' not found; install Python 3.10+ (or set PYTHON=/path/to/python3)"
"$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' ||
    fail "$("$python" --version 2>&1) is too old: glance-store $version needs Python 3.10+"
"$python" -c 'import venv, ensurepip' 2>/dev/null ||
    fail "$python has no venv/ensurepip module; install it (Debian: apt-get install python3-venv)"

pyver="$("$python" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')"
stamp="$( (cat "$requirements"; echo "python $pyver") | sha256sum | cut -d' ' -f1)"

if [[ -f "$stamp_file" && "$(cat "$stamp_file")" == "$stamp" ]] &&
    "$venv/bin/python" -c 'import glance_store, cinderclient, os_brick' 2>/dev/null; then
    say "reusing $venv (requirements unchanged)"
    echo "$venv/bin/python"
    exit 0
fi

started=$(date +%s)
say "building $venv (glance_store $version) with Python $pyver from $requirements (takes a minute or two the first time)"
rm -rf "$venv"
"$python" -m venv "$venv" || fail "cannot create the virtual environment at $venv"
# Keep the venv out of git without touching the repository's .gitignore.
echo '*' >"$venv/.gitignore"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    --require-virtualenv -r "$requirements" >&2 ||
    fail "pip could not install $requirements into $venv (see pip's output above; is PyPI reachable?)"
"$venv/bin/python" -c 'import glance_store, cinderclient, os_brick, oslo_privsep, oslo_context' ||
    fail "the venv at $venv was built but glance_store or its cinder extras do not import"
got="$("$venv/bin/python" -c 'from importlib import metadata; print(metadata.version("glance_store"))')"
[[ "$got" == "$version" ]] || fail "the venv at $venv has glance_store $got, not $version"
echo "$stamp" >"$stamp_file"
say "built $venv in $(($(date +%s) - started)) s"
echo "$venv/bin/python"
