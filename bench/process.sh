#!/usr/bin/env bash
# Spawning and reaping a batch of child processes, all running at once: ringio's
# `process::Command` on one core (examples/process_bench --mode ringio), tokio's
# `process` on a current-thread runtime (bench/peers `peer-spawn`), and std's
# `process::Command` on threads (process_bench --mode std --threads 64), interleaved.
#
#   bash bench/process.sh                       # 1,000 children of `true`, 3 rounds
#   bash bench/process.sh --children 2000 --rounds 5
#
# Each run prints wall time, its own CPU time (user + system, getrusage RUSAGE_SELF) and
# the children's (RUSAGE_CHILDREN). Runs on CPUs 0-1 (taskset), nothing else measured.
# Prints a markdown table of medians with the min-max over rounds.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=3
CHILDREN=1000
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) ROUNDS=$2; shift ;;
        --children) CHILDREN=$2; shift ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "unknown flag $1" >&2; exit 2 ;;
    esac
    shift
done

cargo build --release --example process_bench
cargo build --release -p ringio-peers --bin peer-spawn
ringio=target/release/examples/process_bench
tokio=target/release/peer-spawn

out=$(mktemp)
for r in $(seq "$ROUNDS"); do
    taskset -c 0,1 "$ringio" --children "$CHILDREN" --mode ringio --json >>"$out"
    taskset -c 0,1 "$tokio" "$CHILDREN" >>"$out"
    taskset -c 0,1 "$ringio" --children "$CHILDREN" --mode std --threads 64 --json >>"$out"
    echo "round $r done" >&2
done
cat "$out" >&2
python3 - "$out" "$CHILDREN" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
print(f"\n{sys.argv[2]} children of `true`, medians of {len(rows)//3} rounds (min-max):\n")
print("| | wall ms | CPU ms (spawner) | CPU ms (children) | failed |")
print("|---|---|---|---|---|")
for mode in ["ringio", "tokio", "std"]:
    rs = [r for r in rows if r["mode"] == mode]
    cell = lambda k: f"{statistics.median(r[k] for r in rs):.1f} ({min(r[k] for r in rs):.1f}-{max(r[k] for r in rs):.1f})"
    print(f"| {mode} | {cell('wall_ms')} | {cell('cpu_ms')} | {cell('children_cpu_ms')} | {sum(r['failed'] for r in rs)} |")
PY
rm -f "$out"
