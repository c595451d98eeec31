#!/usr/bin/env bash
# Cold vs warm `make demo` in a fresh clone of this repository.
# Cold: new clone, no .venv, no jars, pip's cache bypassed (every wheel downloaded again).
# Warm: the same clone again, everything installed: only the stack start and the demo job run.
# Usage: bash bench/setup/make_demo_time.sh   (uses ports 8123/9092/8090 or free ones; stops the stack after)
set -euo pipefail
repo=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
work=$(mktemp -d)
trap 'cd "$work/clone" 2>/dev/null && .venv/bin/trackflow down >/dev/null 2>&1; rm -rf "$work"' EXIT
git clone --quiet "$repo" "$work/clone"
cd "$work/clone"

seconds() { local start=$(date +%s.%N); "$@" > "$work/$1-$2.log" 2>&1; python3 -c "import sys; print(float(sys.argv[1]) - float(sys.argv[2]))" "$(date +%s.%N)" "$start"; }

cold=$(PIP_NO_CACHE_DIR=1 seconds make demo)
.venv/bin/trackflow down >/dev/null
warm=$(seconds make demo)
printf '%-34s %8.1fs\n' "make demo, cold (fresh clone)" "$cold" "make demo, warm (re-run)" "$warm"
