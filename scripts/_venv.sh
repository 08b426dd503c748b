# shellcheck shell=bash
# Sourced by scripts/run and scripts/test: cd to the repo root and make .venv match
# pyproject.toml + constraints.txt, reinstalling only when either file changed.

cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [[ ! -x .venv/bin/python ]]; then
    python=""
    for candidate in python3.11 python3; do
        if command -v "$candidate" >/dev/null \
            && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
            python="$candidate"
            break
        fi
    done
    if [[ -z "$python" ]]; then
        echo "error: Continuum needs Python >= 3.11 (python3.11 or python3 on PATH)" >&2
        exit 1
    fi
    echo "scripts: creating .venv with $python" >&2
    "$python" -m venv .venv
fi

stamp=.venv/.continuum-installed
wanted="$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)"
if [[ "$(cat "$stamp" 2>/dev/null || true)" != "$wanted" ]]; then
    echo "scripts: installing dependencies into .venv from constraints.txt" >&2
    if ! .venv/bin/python -m pip install -c constraints.txt -e '.[dev]' >.venv/install.log 2>&1; then
        cat .venv/install.log >&2
        echo "error: installing dependencies failed (log above, kept in .venv/install.log)" >&2
        exit 1
    fi
    echo "$wanted" >"$stamp"
fi
