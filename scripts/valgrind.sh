#!/usr/bin/env bash
# Runs the drop-in-flight tests under valgrind memcheck and fails on any invalid access,
# uninitialised read or definite leak. "Possibly lost" blocks are the test watchdog
# threads, which are still sleeping when the process exits.
# Usage: bash scripts/valgrind.sh   (needs valgrind: apt-get install valgrind)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind not found: apt-get install valgrind" >&2; exit 2; }
bin=$(cargo test --test cancel_drop_in_flight --no-run --message-format=json 2>/dev/null \
    | grep -o '"executable":"[^"]*"' | tail -n 1 | cut -d'"' -f4)
log=$(mktemp)
valgrind --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=9 \
    "$bin" --test-threads=1 >"$log" 2>&1 || { tail -n 60 "$log"; exit 1; }
grep -E "^test result|definitely lost|ERROR SUMMARY" "$log"
