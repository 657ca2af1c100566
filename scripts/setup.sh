#!/usr/bin/env bash
# Idempotent set-up for a clone of chatdev: the virtualenv, the package with its
# extras, the Docker engine and the sandbox runner image (and, for the test
# suite, Debian's chromium). A second run takes seconds.
#
#   scripts/setup.sh embedded   # for `make demo`: the 1.5B model that needs no download
#   scripts/setup.sh dev        # for `make test`: pytest and the 0.5B test model
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-dev}"
python="${PYTHON:-python3}"

say() { printf '\033[1msetup:\033[0m %s\n' "$*"; }

if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "setup: chatdev needs Python 3.11 or newer ($python is $("$python" --version 2>&1))" >&2
    exit 3
fi

if [ ! -x .venv/bin/python ]; then
    say "creating the virtualenv .venv"
    "$python" -m venv .venv
fi

stamp=".venv/.installed-${extras}"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    if ! .venv/bin/python -c 'import llama_cpp' 2>/dev/null; then
        say "installing chatdev[${extras}]: the first time compiles llama-cpp-python (about 10 minutes on 2 cores; pip caches it)"
    else
        say "installing chatdev[${extras}]"
    fi
    .venv/bin/pip install --disable-pip-version-check --progress-bar on -e ".[${extras}]"
    touch "$stamp"
fi

# the Docker engine and the runner image the generated programs run in
bash scripts/ensure_docker.sh

if [ "$extras" = "dev" ] && ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        say "installing Debian's chromium for the report tests"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
            || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
    else
        say "chromium is not installed: the browser tests of the report will be skipped"
    fi
fi
say "ready"
