#!/usr/bin/env bash
# The HTTP comparison: hyper on ringio (examples/hyper_server, on io_uring and on the
# epoll backend) beside the same hyper service on tokio (current-thread, and
# multi-thread with one worker) and a raw io_uring HTTP/1.1 floor, all answering
# `GET /` with `Hello, world!` over keep-alive HTTP/1.1, driven by wrk and by ringio's
# http_load.
#
#   bash bench/http.sh                  # full matrix, 3 interleaved rounds
#   bash bench/http.sh --quick          # smoke run: 1 round, short
#   bash bench/http.sh --clients wrk --rounds 5 --duration 10
#
# Servers: `ringio` = hyper_server --workers 1 with RINGIO_BACKEND=io_uring,
# `ringio-epoll` = the same with RINGIO_BACKEND=epoll, `tokio-ct` / `tokio-mt` =
# bench/peers `peer-hyper --flavor ct|mt --threads 1` (same routes, bodies and hyper
# settings), `raw` = bench/peers `peer-http-raw` (one io_uring, no runtime, same bytes
# on the wire). Server on CPU 0, client on CPU 1 (taskset). Loopback only. Each server
# is started, waited for (its `listening on` line), measured, and killed; the servers
# take turns within each configuration and round, so slow drift of the machine hits
# every server alike.
#
# Measures: closed loop `GET /` at 50, 1,000 and 10,000 keep-alive connections, each
# with wrk (`-t1 -cN --latency`, after a warm-up run of --warmup seconds) and with
# http_load (--workers 1 --warmup --json): req/s, p50/p99/p99.9 (wrk reports no p99.9);
# a fixed-rate run (http_load --rate 25000, 1,000 connections) for server CPU µs per
# request: utime+stime of the server from /proc/PID/stat over the measured window
# (sampled when the warm-up ends and when the duration ends), over the requests
# http_load counted; 10,000 idle keep-alive connections (bench/peers `peer-idle --http`:
# one `GET /` each, then held) for server RSS per connection (VmRSS before the clients
# connect and while they are held).
#
# Writes bench/results/http-<UTC time>.csv (one row per run) and .log, and prints a
# markdown table of medians with ratios to ringio and the min–max over rounds.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)

ROUNDS=3
DURATION=5
WARMUP=2
QUICK=0
SERVERS="ringio ringio-epoll raw tokio-ct tokio-mt"
CLIENTS="wrk http_load"
CONNS="50 1000 10000"
RATE=25000
RATE_CONNS=1000
IDLE_CONNS=10000

usage() {
    sed -n '2,32p' "$0" | sed 's/^# \{0,1\}//'
    echo "flags: --quick --rounds N --duration S --warmup S --rate R --conns \"50 1000 10000\""
    echo "       --servers \"ringio ringio-epoll raw tokio-ct tokio-mt\" --clients \"wrk http_load\""
}

while [ $# -gt 0 ]; do
    case "$1" in
        --quick) QUICK=1 ;;
        --rounds) ROUNDS=$2; shift ;;
        --duration) DURATION=$2; shift ;;
        --warmup) WARMUP=$2; shift ;;
        --servers) SERVERS=$2; shift ;;
        --clients) CLIENTS=$2; shift ;;
        --conns) CONNS=$2; shift ;;
        --rate) RATE=$2; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "unknown flag $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done

if [ "$QUICK" = 1 ]; then
    ROUNDS=1
    DURATION=2
    WARMUP=1
fi
# 10,000 connections take a second or two to come up on loopback; their warm-up covers
# that.
WARMUP_10K=$((WARMUP > 3 ? WARMUP : 3))
IDLE_HOLD=4

has_client() { grep -qw "$1" <<<"$CLIENTS"; }

for tool in jq taskset; do
    command -v "$tool" >/dev/null || { echo "http.sh needs $tool" >&2; exit 2; }
done
if [ "$(nproc --all)" -lt 2 ]; then
    echo "http.sh needs 2 CPUs (server on CPU 0, client on CPU 1)" >&2
    exit 2
fi
if has_client wrk && ! command -v wrk >/dev/null; then
    echo "== installing wrk" >&2
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get install -y wrk >&2 || { $SUDO apt-get update >&2 && $SUDO apt-get install -y wrk >&2; }
fi

# 10,000 connections need 10,000+ fds in the server and in the client.
ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" -lt $((IDLE_CONNS + 200)) ]; then
    echo "RLIMIT_NOFILE hard limit $(ulimit -Hn) is below $((IDLE_CONNS + 200)): 10,000-connection runs will fail" >&2
fi

echo "== building (release)" >&2
cargo build --release --features hyper,tokio-io --example hyper_server >&2
if has_client http_load; then
    if ! cargo build --release --features hyper,tokio-io --example http_load >&2; then
        echo "http_load does not build: measuring with wrk only" >&2
        CLIENTS=${CLIENTS//http_load/}
    fi
fi
cargo build --release -p ringio-peers --bin peer-hyper --bin peer-http-raw --bin peer-idle --bin http-table >&2

BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release
LOAD=$BIN/examples/http_load
CLK_TCK=$(getconf CLK_TCK)

TMP=$(mktemp -d /tmp/ringio-http-bench.XXXXXX)
mkdir -p bench/results
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
CSV=bench/results/http-$STAMP.csv
LOG=bench/results/http-$STAMP.log
# Everything said on stderr from here on also goes to the log.
exec 2> >(tee -a "$LOG" >&2)
echo "server,client,config,conns,round,req_s,p50_us,p90_us,p99_us,p999_us,max_us,cpu_us_per_req,rss_base_kib,rss_kib,errors,behind" >"$CSV"

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

# The command line of server $1 (words split on spaces; `env` sets its backend).
server_cmd() {
    case "$1" in
        ringio) echo "env RINGIO_BACKEND=io_uring $BIN/examples/hyper_server --workers 1" ;;
        ringio-epoll) echo "env RINGIO_BACKEND=epoll $BIN/examples/hyper_server --workers 1" ;;
        raw) echo "$BIN/peer-http-raw" ;;
        tokio-ct) echo "$BIN/peer-hyper --flavor ct" ;;
        tokio-mt) echo "$BIN/peer-hyper --flavor mt --threads 1" ;;
        *) echo "unknown server $1" >&2; return 1 ;;
    esac
}

# utime + stime of every thread of $1, in clock ticks (/proc/PID/stat fields 14 and 15;
# the command name in field 2 may hold spaces, so count from the closing parenthesis).
cpu_ticks() {
    sed 's/.*) //' /proc/"$1"/stat 2>/dev/null | awk '{print $12 + $13}'
}

# A wrk latency like `123.45us`, `1.23ms` or `2.00s`, in µs.
wrk_us() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        if (u == "us") f = 1; else if (u == "ms") f = 1000; else if (u == "s") f = 1000000;
        else if (u == "m") f = 60000000; else { print ""; exit }
        printf "%.1f", n * f }'
}

# One CSV row and one line on stderr.
# Args: server client config conns round req_s p50 p90 p99 p999 max cpu rss_base rss errors behind
record() {
    local IFS=,
    echo "$*" >>"$CSV"
    printf '  %-12s %-9s %-6s c=%-5s req/s=%-9s p50=%-7s p99=%-7s p99.9=%-7s cpu/req=%-6s errors=%s\n' \
        "$1" "$2" "$3" "$4" "${6:--}" "${7:--}" "${9:--}" "${10:--}" "${12:--}" "${15:--}" >&2
}

# wrk, closed loop, $conns connections: a warm-up run, then the measured one.
run_wrk() {
    local server=$1 conns=$2 round=$3
    local warm=$WARMUP
    [ "$conns" -ge 10000 ] && warm=$WARMUP_10K
    local url=http://$ADDR/
    set +e
    timeout $((warm + 30)) taskset -c 1 wrk -t1 -c"$conns" -d"${warm}s" "$url" >/dev/null 2>&1
    timeout $((DURATION + 60)) taskset -c 1 wrk -t1 -c"$conns" -d"${DURATION}s" --latency "$url" \
        >"$TMP/wrk.out" 2>"$TMP/wrk.err" &
    CPID=$!
    wait "$CPID"
    local rc=$?
    CPID=""
    set -e
    local out req_s
    out=$(cat "$TMP/wrk.out")
    req_s=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    if [ -z "$req_s" ]; then
        echo "  $server wrk c=$conns: wrk failed (exit $rc): $(tail -c 300 "$TMP/wrk.err")" >&2
        record "$server" wrk closed "$conns" "$round" "" "" "" "" "" "" "" "" "" "$conns" ""
        return 0
    fi
    local p50 p90 p99 max errs
    p50=$(wrk_us "$(awk '$1 == "50%" {print $2}' <<<"$out")")
    p90=$(wrk_us "$(awk '$1 == "90%" {print $2}' <<<"$out")")
    p99=$(wrk_us "$(awk '$1 == "99%" {print $2}' <<<"$out")")
    max=$(wrk_us "$(awk '$1 == "Latency" && NF >= 4 {print $4; exit}' <<<"$out")")
    # Socket errors (connect, read, write, timeout) and non-2xx/3xx answers.
    errs=$(awk '/Socket errors:/ {gsub(/,/, ""); e += $4 + $6 + $8 + $10}
                /Non-2xx or 3xx responses:/ {e += $NF}
                END {print e + 0}' <<<"$out")
    record "$server" wrk closed "$conns" "$round" "$req_s" "$p50" "$p90" "$p99" "" "$max" "" "" "" "$errs" ""
}

# http_load, closed loop or at --rate $rate; at a rate, also server CPU µs per request
# over the measured window.
run_load() {
    local server=$1 config=$2 conns=$3 round=$4 rate=${5:-0}
    local warm=$WARMUP
    [ "$conns" -ge 10000 ] && warm=$WARMUP_10K
    local args=(--addr "$ADDR" --path / --method GET --conns "$conns" --duration "$DURATION"
        --warmup "$warm" --workers 1 --json)
    [ "$rate" != 0 ] && args+=(--rate "$rate")
    set +e
    timeout $((DURATION + warm + 60)) taskset -c 1 "$LOAD" "${args[@]}" >"$TMP/load.json" 2>"$TMP/load.err" &
    CPID=$!
    local c0="" c1=""
    if [ "$config" = rate ]; then
        sleep "$warm"
        c0=$(cpu_ticks "$SPID")
        sleep "$DURATION"
        c1=$(cpu_ticks "$SPID")
    fi
    wait "$CPID"
    local rc=$?
    CPID=""
    set -e
    local json
    json=$(grep '^{' "$TMP/load.json" | tail -1 || true)
    if [ -z "$json" ]; then
        echo "  $server http_load $config c=$conns: failed (exit $rc): $(tail -c 300 "$TMP/load.err")" >&2
        record "$server" http_load "$config" "$conns" "$round" "" "" "" "" "" "" "" "" "" "$conns" ""
        return 0
    fi
    local req_s p50 p90 p99 p999 max errs behind requests cpu=""
    req_s=$(jq -r '.rps // empty | . * 10 | round / 10' <<<"$json")
    p50=$(jq -r '.p50_us // empty' <<<"$json")
    p90=$(jq -r '.p90_us // empty' <<<"$json")
    p99=$(jq -r '.p99_us // empty' <<<"$json")
    p999=$(jq -r '.p999_us // empty' <<<"$json")
    max=$(jq -r '.max_us // empty' <<<"$json")
    errs=$(jq -r '.errors // 0 | if type == "object" then ([.[]] | add // 0) else . end' <<<"$json")
    behind=$(jq -r '.behind // empty' <<<"$json")
    requests=$(jq -r '.requests // 0' <<<"$json")
    if [ -n "$c0" ] && [ -n "$c1" ]; then
        cpu=$(awk -v a="$c0" -v b="$c1" -v n="$requests" -v hz="$CLK_TCK" \
            'BEGIN { if (n > 0) printf "%.3f", (b - a) * 1000000 / hz / n }')
    fi
    record "$server" http_load "$config" "$conns" "$round" "$req_s" "$p50" "$p90" "$p99" "$p999" "$max" "$cpu" "" "" "$errs" "$behind"
}

# 10,000 idle keep-alive connections (one `GET /` each first): server RSS before and
# while they are held.
run_idle() {
    local server=$1 round=$2
    sleep 0.3
    local base
    base=$(rss_kib "$SPID")
    timeout 90 taskset -c 1 "$BIN/peer-idle" --http --addr "$ADDR" --conns "$IDLE_CONNS" --hold "$IDLE_HOLD" \
        >"$TMP/idle.out" 2>"$TMP/idle.err" &
    HPID=$!
    local held=0
    for _ in $(seq 600); do
        if grep -q "holding" "$TMP/idle.out" 2>/dev/null; then
            held=1
            break
        fi
        kill -0 "$HPID" 2>/dev/null || break
        sleep 0.1
    done
    local rss="" errs=$IDLE_CONNS
    if [ "$held" = 1 ]; then
        sleep 0.5
        rss=$(rss_kib "$SPID")
        errs=0
    else
        echo "  $server idle: holder failed: $(tail -c 300 "$TMP/idle.err")" >&2
    fi
    wait "$HPID" 2>/dev/null || true
    HPID=""
    echo "$server,peer-idle,idle,$IDLE_CONNS,$round,,,,,,,,$base,$rss,$errs," >>"$CSV"
    local per=""
    [ -n "$rss" ] && [ -n "$base" ] && per=$(( (rss - base) * 1024 / IDLE_CONNS ))
    printf '  %-12s idle      c=%-5s RSS %s -> %s KiB (%s B/conn)\n' "$server" "$IDLE_CONNS" "$base" "${rss:--}" "${per:--}" >&2
}

# One measurement of one server: start, measure, stop.
measure() {
    local server=$1 client=$2 config=$3 conns=$4 round=$5
    if ! start_server "$server"; then
        record "$server" "$client" "$config" "$conns" "$round" "" "" "" "" "" "" "" "" "" "$conns" ""
        return 0
    fi
    case "$client:$config" in
        wrk:closed) run_wrk "$server" "$conns" "$round" ;;
        http_load:closed) run_load "$server" closed "$conns" "$round" ;;
        http_load:rate) run_load "$server" rate "$RATE_CONNS" "$round" "$RATE" ;;
        peer-idle:idle) run_idle "$server" "$round" ;;
    esac
    stop_server
}

{
    echo "ringio HTTP benchmark, $STAMP, $(uname -r), $(nproc --all) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
    echo "server on CPU 0 (taskset -c 0): ringio = hyper_server --workers 1 (RINGIO_BACKEND=io_uring; ringio-epoll: RINGIO_BACKEND=epoll), raw = peer-http-raw, tokio-ct / tokio-mt (1 worker) = peer-hyper"
    echo "clients on CPU 1 (taskset -c 1): [$CLIENTS] wrk = $(command -v wrk || echo none) -t1; http_load = $LOAD --workers 1"
    echo "rounds=$ROUNDS duration=${DURATION}s warmup=${WARMUP}s (${WARMUP_10K}s at 10,000 conns) conns=[$CONNS] rate=$RATE x $RATE_CONNS conns idle=$IDLE_CONNS"
    awk '$1 > 1.0 {print "WARNING: load average " $1 " before the first run: other work on these 2 CPUs will skew the cells"}' /proc/loadavg
    has_client http_load || echo "NOTE: no http_load: the fixed-rate row (server CPU µs/req) is not measured (wrk has no fixed rate)"
} >&2

START=$(date +%s)
for round in $(seq "$ROUNDS"); do
    # Other work on the machine skews every cell; the load average says how much.
    echo "== round $round/$ROUNDS ($(( $(date +%s) - START )) s so far; load average $(cut -d' ' -f1-3 /proc/loadavg))" >&2
    for conns in $CONNS; do
        for client in $CLIENTS; do
            for server in $SERVERS; do
                measure "$server" "$client" closed "$conns" "$round"
            done
        done
    done
    if has_client http_load; then
        for server in $SERVERS; do
            measure "$server" http_load rate "$RATE_CONNS" "$round"
        done
    fi
    for server in $SERVERS; do
        measure "$server" peer-idle idle "$IDLE_CONNS" "$round"
    done
done
echo "== done in $(( $(date +%s) - START )) s; CSV: $CSV" >&2

"$BIN/http-table" --csv "$CSV" | tee -a "$LOG"
echo "log: $LOG  csv: $CSV" >&2
