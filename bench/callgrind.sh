#!/usr/bin/env bash
# User-space instructions per echo request, counted exactly: the server runs under
# valgrind's callgrind while `echo_client` sends a fixed rate over a few connections; the
# counters are zeroed after a warm-up and dumped after a fixed window, so the count covers
# RATE x WINDOW requests and nothing of start-up. Kernel time is not counted (callgrind
# sees user space only), which is the point: the syscalls of ringio on epoll and of tokio
# are the same per request, and this tells their user-space costs apart without the
# machine's noise. How many requests a loop turn carries decides how much the per-turn
# costs (the wait, the timers) weigh, so it is printed too: requests per call of the
# loop's turn (ringio's `Core::turn`, tokio's `Context::park`). Under valgrind the
# client's sends come in bursts: at RATE=2000 about 2 requests per turn, at 6000 about 5,
# at 20000 about 11. The fixed-rate cell of the README (25,000 req/s, 50 connections, no
# valgrind) carries more (both servers sleep about 1,000 times a second there), so
# RATE=20000 comes nearest to it.
#
# Usage: bash bench/callgrind.sh [SERVER...]   SERVER: ringio-epoll (default), tokio-ct
#   CONNS=50 RATE=2000 WINDOW=8: connections, requests per second, seconds counted.
# Prints one line per server: instructions in the window and per request; the callgrind
# file is kept for `callgrind_annotate` (its path is printed). io_uring is not measured:
# callgrind cannot run a ring (the kernel writes completions it does not see).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || {
    echo "== installing valgrind" >&2
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get install -y valgrind >&2 || { $SUDO apt-get update >&2 && $SUDO apt-get install -y valgrind >&2; }
}
CONNS=${CONNS:-50}
RATE=${RATE:-2000}
WINDOW=${WINDOW:-8}
servers=("${@:-ringio-epoll}")
ADDR=127.0.0.1:7300
OUT=$(mktemp -d /tmp/ringio-callgrind.XXXXXX)

echo "== building (release)" >&2
cargo build --release --example echo_server --example echo_client >&2
for s in "${servers[@]}"; do
    [ "$s" = tokio-ct ] && cargo build --release -p ringio-peers --bin peer-tokio-ct >&2
done

for s in "${servers[@]}"; do
    case $s in
        ringio-epoll) cmd=(target/release/examples/echo_server --workers 1 --backend epoll --addr "$ADDR") ;;
        tokio-ct) cmd=(target/release/peer-tokio-ct --addr "$ADDR") ;;
        *) echo "unknown server $s (ringio-epoll, tokio-ct)" >&2; exit 2 ;;
    esac
    file=$OUT/$s.out
    taskset -c 0 valgrind --tool=callgrind --callgrind-out-file="$file" "${cmd[@]}" \
        >/dev/null 2>"$OUT/$s.log" &
    pid=$!
    trap 'kill $pid 2>/dev/null' EXIT
    sleep 4 # valgrind starts slowly
    taskset -c 1 target/release/examples/echo_client --addr "$ADDR" --rate "$RATE" \
        --conns "$CONNS" --workers 1 --duration $((WINDOW + 3)) --warmup 1 >/dev/null 2>&1 &
    client=$!
    sleep 2
    callgrind_control -z "$pid" >/dev/null 2>&1
    sleep "$WINDOW"
    callgrind_control -d "$pid" >/dev/null 2>&1
    wait "$client"
    kill -INT "$pid" 2>/dev/null || true
    sleep 0.5
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    trap - EXIT
    dump=$(ls -t "$file".* | tail -1)
    ir=$(sed -n 's/^totals: //p; s/^summary: //p' "$dump" | head -1)
    requests=$((RATE * WINDOW))
    case $s in
        ringio-epoll) turn='ringio::runtime::core::Core::turn' ;;
        tokio-ct) turn='current_thread::Context::park' ;;
    esac
    turns=$(callgrind_annotate --inclusive=yes --tree=calling --threshold=100 "$dump" 2>/dev/null |
        grep -F "> " | grep -F "$turn (" | head -1 | sed -E 's/.*\(([0-9,]+)x\).*/\1/' | tr -d ,)
    per_turn=$(awk -v r="$requests" -v t="${turns:-0}" 'BEGIN { if (t > 0) printf "%.1f", r / t; else print "?" }')
    echo "$s: $ir instructions over $requests requests: $((ir / requests)) per request," \
        "$per_turn requests per turn ($dump)"
done
