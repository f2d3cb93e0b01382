#!/usr/bin/env bash
# Hostile peers against the echo server (examples/echo_server, one core, CPU 0), all on
# loopback, interleaved over --rounds:
#
#   1. 100 healthy clients at a fixed rate (echo_client --rate, latency from each
#      request's scheduled send) alone: their p99;
#   2. the same beside 5,000 slowloris connections (examples/hostile_peers --mode slow:
#      one byte a second each, never reading): their p99, and the server's RSS per slow
#      connection (RSS with them open minus RSS before, over their number);
#   3. a connect flood (hostile_peers --mode flood: 50,000 attempts, each reset at once),
#      then how long until a fresh connection echoes a byte: the server must be alive and
#      serving within 1 s of the flood's end.
#
#   bash bench/hostile.sh                    # 3 rounds, ~3 minutes
#   bash bench/hostile.sh --rounds 1 --slow 1000 --attempts 10000
#
# Clients run on CPU 1. Prints a markdown table of medians (min-max over rounds).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

ROUNDS=3
SLOW=5000
ATTEMPTS=50000
HEALTHY=100
RATE=10000
DURATION=8
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) ROUNDS=$2; shift ;;
        --slow) SLOW=$2; shift ;;
        --attempts) ATTEMPTS=$2; shift ;;
        --duration) DURATION=$2; shift ;;
        -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
        *) echo "unknown flag $1" >&2; exit 2 ;;
    esac
    shift
done
for tool in jq taskset; do
    command -v "$tool" >/dev/null || { echo "hostile.sh needs $tool" >&2; exit 2; }
done
ulimit -n "$(ulimit -Hn)"

echo "== building (release)" >&2
cargo build --release --example echo_server --example echo_client --example hostile_peers >&2
BIN=$ROOT/target/release
TMP=$(mktemp -d /tmp/ringio-hostile.XXXXXX)

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

server_cmd() { echo "$BIN/examples/echo_server --workers 1"; }

# p99 in µs of $HEALTHY clients at $RATE req/s against $ADDR; fails on any error.
healthy_p99() {
    local json
    json=$(taskset -c 1 "$BIN/examples/echo_client" --addr "$ADDR" --conns "$HEALTHY" \
        --rate "$RATE" --duration "$DURATION" --warmup 2 --json 2>"$TMP/client.err")
    if [ "$(jq -r .errors <<<"$json")" != 0 ]; then
        echo "healthy clients saw errors: $json" >&2
        return 1
    fi
    jq -r .latency_us.p99 <<<"$json"
}

# Milliseconds until a new connection to $ADDR echoes one byte (gives up after 10 s).
first_echo_ms() {
    local start now
    start=$(date +%s%N)
    while :; do
        if timeout 1 bash -c "exec 3<>/dev/tcp/${ADDR%:*}/${ADDR#*:}; printf x >&3; head -c1 <&3" \
            >/dev/null 2>&1; then
            now=$(date +%s%N)
            echo $(((now - start) / 1000000))
            return 0
        fi
        now=$(date +%s%N)
        if [ $(((now - start) / 1000000)) -gt 10000 ]; then
            echo "never"
            return 1
        fi
        sleep 0.01
    done
}

# median and min-max of the numbers on stdin
summary() {
    sort -n | awk '{v[NR] = $1} END {
        if (NR == 0) { print "-"; exit }
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf "%s (%s-%s)", m, v[1], v[NR] }'
}

: >"$TMP/alone"; : >"$TMP/beside"; : >"$TMP/ratio"; : >"$TMP/rss"; : >"$TMP/back"
for r in $(seq "$ROUNDS"); do
    start_server echo
    alone=$(healthy_p99)
    rss0=$(rss_kib "$SPID")
    taskset -c 1 "$BIN/examples/hostile_peers" --addr "$ADDR" --mode slow --conns "$SLOW" \
        --duration $((DURATION + 10)) >"$TMP/slow.out" 2>&1 &
    HPID=$!
    for _ in $(seq 300); do
        grep -q "connections open" "$TMP/slow.out" && break
        sleep 0.1
    done
    grep "connections open" "$TMP/slow.out" >&2 || { echo "slow connections never came up" >&2; exit 1; }
    sleep 2 # every slow connection has sent a byte by now
    rss1=$(rss_kib "$SPID")
    beside=$(healthy_p99)
    kill "$HPID" 2>/dev/null || true
    wait "$HPID" 2>/dev/null || true
    HPID=""
    echo "$alone" >>"$TMP/alone"
    echo "$beside" >>"$TMP/beside"
    awk -v a="$alone" -v b="$beside" 'BEGIN {printf "%.2f\n", b / a}' >>"$TMP/ratio"
    awk -v a="$rss0" -v b="$rss1" -v n="$SLOW" 'BEGIN {printf "%.0f\n", (b - a) * 1024 / n}' >>"$TMP/rss"
    echo "round $r: p99 alone ${alone} us, beside $SLOW slow ${beside} us; RSS ${rss0} -> ${rss1} KiB" >&2

    taskset -c 1 "$BIN/examples/hostile_peers" --addr "$ADDR" --mode flood --attempts "$ATTEMPTS" >&2
    back=$(first_echo_ms)
    kill -0 "$SPID" 2>/dev/null || { echo "round $r: the server died in the flood" >&2; exit 1; }
    echo "$back" >>"$TMP/back"
    echo "round $r: first echo ${back} ms after the flood" >&2
    stop_server
done

echo
echo "| echo_server, one core | median (min-max over $ROUNDS rounds) |"
echo "|---|---|"
echo "| p99 of $HEALTHY clients at $RATE req/s, alone (µs) | $(summary <"$TMP/alone") |"
echo "| same beside $SLOW slowloris connections (µs) | $(summary <"$TMP/beside") |"
echo "| ratio | $(summary <"$TMP/ratio") |"
echo "| server RSS per slowloris connection (bytes) | $(summary <"$TMP/rss") |"
echo "| first echo after $ATTEMPTS connect attempts (ms) | $(summary <"$TMP/back") |"
