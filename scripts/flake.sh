#!/usr/bin/env bash
# Runs the whole test suite (the README's `cargo test --features fault-injection`, debug, as
# CI runs it) RUNS times with the machine loaded, and lists every test that ever failed.
# A CI run that fails by chance throws away a whole submission, so the list must be empty.
#
# Load: BURNERS CPU burners (default 2: one per core of the 2-core CI machine) run beside
# every test run, at the same priority. LOAD=cargo instead runs a second copy of the suite
# beside each run (in its own target directory, so both really run at once).
#
# Usage: bash scripts/flake.sh [RUNS]      (default 5; about 3 minutes a run on 2 cores)
#        BURNERS=4 bash scripts/flake.sh 10
#        LOAD=cargo bash scripts/flake.sh 3
# Exit code: 0 if no test failed in any run, 1 if one did, 2 if the suite does not build.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${1:-5}
burners=${BURNERS:-2}
load=${LOAD:-burners}
out=$(mktemp -d)
features=(--features fault-injection)

echo "==> building the suite"
cargo test "${features[@]}" --no-run >"$out/build.log" 2>&1 || {
    tail -n 40 "$out/build.log"
    echo "the suite does not build" >&2
    exit 2
}
if [ "$load" = cargo ]; then
    CARGO_TARGET_DIR=target/flake-load cargo test "${features[@]}" --no-run >"$out/build-load.log" 2>&1 || {
        tail -n 40 "$out/build-load.log"
        exit 2
    }
fi

load_pids=()
start_load() {
    load_pids=()
    if [ "$load" = cargo ]; then
        (CARGO_TARGET_DIR=target/flake-load cargo test "${features[@]}" --no-fail-fast \
            >"$out/load-$1.log" 2>&1 || true) &
        load_pids+=($!)
    else
        for _ in $(seq "$burners"); do
            (while :; do :; done) &
            load_pids+=($!)
        done
    fi
}
stop_load() {
    for pid in "${load_pids[@]}"; do
        # The cargo load runs in a subshell: end its children (cargo, the test binaries) too.
        pkill -P "$pid" 2>/dev/null || true
        kill "$pid" 2>/dev/null || true
    done
    wait "${load_pids[@]}" 2>/dev/null || true
    load_pids=()
}
trap stop_load EXIT

for i in $(seq "$runs"); do
    start_load "$i"
    t0=$(date +%s)
    rc=0
    cargo test "${features[@]}" --no-fail-fast >"$out/run-$i.log" 2>&1 || rc=$?
    t1=$(date +%s)
    stop_load
    # "Running tests/x.rs (...)" names the binary; "test name ... FAILED" a failed test; a
    # binary that died (abort, signal) has no such line, only "error: test failed".
    awk -v run="$i" '
        /^     Running / { bin = $2 }
        /^   Doc-tests / { bin = "doctests " $2 }
        / \.\.\. FAILED$/ { sub(/^test /, ""); sub(/ \.\.\. FAILED$/, ""); print bin " :: " $0 }
        /process didn.t exit successfully.*signal/ { print bin " :: (the binary was killed by a signal)" }
    ' "$out/run-$i.log" | sort -u >"$out/failed-$i.txt"
    n=$(wc -l <"$out/failed-$i.txt")
    echo "run $i/$runs: exit $rc, $((t1 - t0)) s, $n failed (log: $out/run-$i.log)"
    sed 's/^/    /' "$out/failed-$i.txt"
    if [ "$rc" -ne 0 ] && [ "$n" -eq 0 ]; then
        echo "    (cargo test failed without a failing test line: see the log)"
        echo "(unnamed failure in run $i)" >>"$out/failed-$i.txt"
    fi
done

echo
echo "==> tests that ever failed in $runs runs (load: $load$([ "$load" = burners ] && echo ", $burners burners"))"
cat "$out"/failed-*.txt | sort | uniq -c | sort -rn >"$out/summary.txt"
if [ -s "$out/summary.txt" ]; then
    cat "$out/summary.txt"
    exit 1
fi
echo "none"
