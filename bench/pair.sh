#!/usr/bin/env bash
# Two echo servers at one closed-loop configuration, many interleaved rounds: the paired
# comparison behind a claim like "at least as fast as tokio at 1,000 connections".
# Each round runs A then B (B then A in even rounds, so neither always goes first after
# the machine was idle) under the same client, and the figure is the median of the
# per-round ratios A/B, with their min–max, for throughput and for server CPU per
# request. Adjacent runs share the machine's state, so a ratio taken within a round is
# steadier than a ratio of medians taken across rounds.
#
# Naming one server twice (`bash bench/pair.sh tokio-ct tokio-ct`) measures the noise
# itself: how far apart two runs of the same server land here. A ratio that stays
# inside that spread is not a difference.
#
#   bash bench/pair.sh ringio-epoll tokio-ct
#   bash bench/pair.sh --conns 50 --client uring --rounds 12 ringio-epoll tokio-ct
#   bash bench/pair.sh --rate 25000 --conns 50 --rounds 16 ringio-epoll tokio-ct
#
# `--rate R` makes it a fixed-rate comparison: the client (ringio's, the one with a
# rate) sends R requests a second in all, both servers serve the same load, and the
# figure is the server CPU per request.
#
# Servers are echo.sh's (bench/echo-servers.sh); clients: tokio (peer-client, default),
# uring (peer-uring-client), ringio (examples/echo_client on io_uring; the default with
# --rate). Server on CPU 0, client on CPU 1, loopback only. Server CPU is read from
# /proc/PID/task/*/schedstat over the client's measured window (after its warm-up) and
# divided by the requests the client counted in that window; so are the server's sleeps
# (its threads' voluntary context switches), reported per 1,000 requests: on loopback each
# one is a wake-up the client's send pays for. Where the client is the limit, throughput
# goes with them, so the summary also gives A's throughput over B's at the same rate of
# sleeps (a line fitted to each server's runs, one slope for both). Writes
# bench/results/pair-<UTC time>.csv.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)

CLIENT=
CONNS=1000
SIZE=64
ROUNDS=8
DURATION=4
WARMUP=2
RATE=0

usage() {
    # The comment block at the top of this file.
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
    echo "flags: --client tokio|uring|ringio --conns N --size B --rounds N --duration S --warmup S --rate R; then servers A B"
}

servers=()
while [ $# -gt 0 ]; do
    case "$1" in
        --client) CLIENT=$2; shift ;;
        --conns) CONNS=$2; shift ;;
        --size) SIZE=$2; shift ;;
        --rounds) ROUNDS=$2; shift ;;
        --duration) DURATION=$2; shift ;;
        --warmup) WARMUP=$2; shift ;;
        --rate) RATE=$2; shift ;;
        -h|--help) usage; exit 0 ;;
        -*) echo "unknown flag $1" >&2; usage >&2; exit 2 ;;
        *) servers+=("$1") ;;
    esac
    shift
done
[ "${#servers[@]}" = 2 ] || { echo "name two servers (A B)" >&2; usage >&2; exit 2; }
# The fixed rate is the ringio client's: the default client with --rate.
if [ -z "$CLIENT" ]; then
    CLIENT=tokio
    [ "$RATE" != 0 ] && CLIENT=ringio
fi
if [ "$RATE" != 0 ] && [ "$CLIENT" != ringio ]; then
    echo "--rate needs the ringio client (echo_client), the one that sends at a fixed rate" >&2
    exit 2
fi
case "$CLIENT" in
    tokio|uring|ringio) ;;
    *) echo "unknown client $CLIENT (tokio, uring, ringio)" >&2; exit 2 ;;
esac
for tool in jq taskset; do
    command -v "$tool" >/dev/null || { echo "pair.sh needs $tool" >&2; exit 2; }
done
ulimit -n "$(ulimit -Hn)"
# Connections come up within the warm-up; 10,000 of them take a second or two.
[ "$CONNS" -ge 10000 ] && [ "$WARMUP" -lt 4 ] && WARMUP=4

echo "== building (release)" >&2
cargo build --release --example echo_server --example echo_client >&2
cargo build --release -p ringio-peers >&2

BIN=$ROOT/target/release
TMP=$(mktemp -d /tmp/ringio-pair.XXXXXX)
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=bench/echo-servers.sh
. "$(dirname "$0")/echo-servers.sh"
for s in "${servers[@]}"; do
    server_cmd "$s" >/dev/null
done

mkdir -p bench/results
CSV=bench/results/pair-$(date -u +%Y%m%dT%H%M%SZ).csv
echo "round,slot,server,client,conns,size,req_s,cpu_us_per_req,sleeps_per_kreq" >"$CSV"

common=(--conns "$CONNS" --size "$SIZE" --duration "$DURATION" --warmup "$WARMUP")
case "$CLIENT" in
    tokio) client_cmd=("$BIN/peer-client" "${common[@]}") ;;
    uring) client_cmd=("$BIN/peer-uring-client" "${common[@]}") ;;
    ringio) client_cmd=("$BIN/examples/echo_client" "${common[@]}" --json --workers 1 --backend io_uring) ;;
esac
if [ "$RATE" != 0 ]; then
    client_cmd+=(--rate "$RATE")
fi

# One run of server $1 (slot $2: A or B) in round $3; sets REQ_S, CPU (µs per request)
# and SLEEPS (per 1,000 requests), all empty if the run failed. Not run in a subshell,
# so the cleanup trap knows the server and client it started.
run() {
    local server=$1 slot=$2 round=$3
    REQ_S=""
    CPU=""
    SLEEPS=""
    start_server "$server" || return 0
    timeout $((DURATION + WARMUP + 60)) taskset -c 1 "${client_cmd[@]}" --addr "$ADDR" \
        >"$TMP/client.out" 2>"$TMP/client.err" &
    CPID=$!
    # peer-uring-client connects everything before its warm-up starts; the others
    # connect within it. The window is the client's measured one either way, give or
    # take the connect time at 10,000 connections.
    sleep "$WARMUP"
    local c0 c1 s0 s1
    c0=$(cpu_ns "$SPID")
    s0=$(sleeps "$SPID")
    sleep "$DURATION"
    c1=$(cpu_ns "$SPID")
    s1=$(sleeps "$SPID")
    wait "$CPID" || true
    CPID=""
    stop_server
    local json
    json=$(grep '^{' "$TMP/client.out" | tail -1 || true)
    REQ_S=$(jq -r '.req_per_s // .req_s // empty' <<<"$json" 2>/dev/null || true)
    if [ -z "$REQ_S" ]; then
        echo "  $server: client failed: $(tail -c 300 "$TMP/client.err")" >&2
        return 0
    fi
    CPU=$(awk -v a="$c0" -v b="$c1" -v r="$REQ_S" -v d="$DURATION" \
        'BEGIN { printf "%.3f", (b - a) / 1000 / (r * d) }')
    SLEEPS=$(awk -v a="$s0" -v b="$s1" -v r="$REQ_S" -v d="$DURATION" \
        'BEGIN { printf "%.2f", (b - a) * 1000 / (r * d) }')
    echo "$round,$slot,$server,$CLIENT,$CONNS,$SIZE,$REQ_S,$CPU,$SLEEPS" >>"$CSV"
}

echo "A=${servers[0]} B=${servers[1]} client=$CLIENT conns=$CONNS size=$SIZE rate=$RATE rounds=$ROUNDS duration=${DURATION}s warmup=${WARMUP}s" >&2
ratios=()
sleeps_a=()
sleeps_b=()
for round in $(seq "$ROUNDS"); do
    order=(A B)
    [ $((round % 2)) = 0 ] && order=(B A)
    for slot in "${order[@]}"; do
        if [ "$slot" = A ]; then
            run "${servers[0]}" A "$round"
            ra=$REQ_S ca=$CPU sa=$SLEEPS
        else
            run "${servers[1]}" B "$round"
            rb=$REQ_S cb=$CPU sb=$SLEEPS
        fi
    done
    if [ -z "$ra" ] || [ -z "$rb" ]; then
        echo "  round $round: a run failed, left out" >&2
        continue
    fi
    line=$(awk -v ra="$ra" -v rb="$rb" -v ca="$ca" -v cb="$cb" \
        'BEGIN { printf "%.4f %.4f", ra / rb, ca / cb }')
    sleeps_a+=("$sa")
    sleeps_b+=("$sb")
    ratios+=("$line")
    printf '  round %-2s A %9.0f req/s %6s us/req %6s sleeps/kreq   B %9.0f req/s %6s us/req %6s sleeps/kreq   A/B %s\n' \
        "$round" "$ra" "$ca" "$sa" "$rb" "$cb" "$sb" "$line" >&2
done
[ "${#ratios[@]}" -gt 0 ] || { echo "no round completed" >&2; exit 1; }

# Median and min–max of the numbers on stdin, one per line.
median_range() {
    sort -g | awk '
        { v[NR] = $1 }
        END {
            m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            printf "%.3f [%.3f-%.3f] over %d rounds", m, v[1], v[NR], NR
        }'
}
# Column $1 of the per-round ratios: 1 throughput, 2 server CPU per request.
ratio_column() {
    printf '%s\n' "${ratios[@]}" | awk -v c="$1" '{ print $c }'
}
echo "${servers[0]} / ${servers[1]}, $CLIENT client, $CONNS x $SIZE B:"
echo "  throughput ratio (higher: A faster): $(ratio_column 1 | median_range)"
echo "  server CPU per request ratio (lower: A cheaper): $(ratio_column 2 | median_range)"
echo "  server sleeps per 1,000 requests: A $(printf '%s\n' "${sleeps_a[@]}" | median_range)"
echo "                                    B $(printf '%s\n' "${sleeps_b[@]}" | median_range)"
# Throughput against sleeps: per server, their correlation over its runs; and with one
# slope fitted to both (least squares, a line per server), how far A's line is above B's,
# that is A's throughput over B's at the same rate of sleeps. Not at a fixed rate, where
# the client sets the throughput.
if [ "$RATE" = 0 ]; then
awk -F, 'NR > 1 && $9 != "" {
        g = $2; x = $9; y = $7
        n[g]++; sx[g] += x; sy[g] += y; sxx[g] += x * x; sxy[g] += x * y; syy[g] += y * y
    }
    END {
        if (n["A"] < 3 || n["B"] < 3) exit
        for (g in n) {
            mx[g] = sx[g] / n[g]; my[g] = sy[g] / n[g]
            cxx[g] = sxx[g] - n[g] * mx[g] * mx[g]
            cxy[g] = sxy[g] - n[g] * mx[g] * my[g]
            cyy[g] = syy[g] - n[g] * my[g] * my[g]
            r[g] = (cxx[g] > 0 && cyy[g] > 0) ? cxy[g] / sqrt(cxx[g] * cyy[g]) : 0
        }
        if (cxx["A"] <= 0 || cxx["B"] <= 0) {
            print "  req/s against sleeps: not fitted (a server'"'"'s sleeps did not vary over its runs)"
            exit
        }
        b = (cxy["A"] + cxy["B"]) / (cxx["A"] + cxx["B"])
        d = (my["A"] - my["B"]) - b * (mx["A"] - mx["B"])
        printf "  req/s against sleeps: correlation A %.2f, B %.2f; slope %.0f req/s per sleep/kreq;\n", r["A"], r["B"], b
        printf "    at the same rate of sleeps A serves %+.0f req/s (%+.1f %%) against B\n", d, 100 * d / my["B"]
    }' "$CSV"
fi
echo "csv: $CSV" >&2
