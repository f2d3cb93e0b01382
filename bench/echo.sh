#!/usr/bin/env bash
# The echo comparison: ringio's echo server (on io_uring, and on its epoll backend)
# beside tokio (current-thread and multi-thread), monoio and a raw io_uring floor, each
# driven (by default) by two clients: ringio's echo_client, and peer-uring-client
# (bench/peers), a single-thread client straight on io_uring that shares no code with
# ringio, so a client built on ringio cannot flatter ringio's server.
#
#   bash bench/echo.sh                 # full matrix, 3 interleaved rounds
#   bash bench/echo.sh --quick         # smoke run: 1 round, short, few configurations
#   bash bench/echo.sh --rounds 5 --duration 10
#   bash bench/echo.sh --quick --clients uring
#
# `--clients "ringio uring tokio"` picks the clients (default "ringio uring"): `ringio` =
# examples/echo_client, `uring` = peer-uring-client, `tokio` = peer-client (tokio
# current-thread). Every closed-loop configuration runs every server under every chosen
# client; the fixed-rate row needs echo_client's --rate and runs under `ringio` only (it
# is left out without it); the idle row is peer-idle's, whatever the clients.
#
# ringio's server receives into its buffer pool with multishot receives (the default);
# `--servers "ringio ringio-pooled ringio-owned ..."` adds its other two receive paths.
# `ringio-epoll` is the same server on the epoll backend (--backend epoll), as it runs
# where io_uring is denied; `ringio` is pinned to --backend io_uring, so neither row
# depends on RINGIO_BACKEND. echo_client always runs with --backend io_uring.
# Server on CPU 0, one core (ringio --workers 1, monoio --workers 1, tokio-mt with one
# worker thread); client on CPU 1 (echo_client --workers 1; the others are one thread).
# Loopback only. Each server is started, waited for (its `listening on` line), measured,
# and killed; within each configuration and round every client takes the servers in turn
# (ringio ringio-epoll raw monoio tokio-ct tokio-mt under echo_client, then under
# peer-uring-client, then again; backwards in even rounds), so slow drift of the machine
# hits every server alike and none always runs first.
#
# Measures: closed loop at 50, 1,000, 10,000 connections × 64 and 1,024 bytes (req/s,
# p50/p99/p99.9); a fixed-rate run (--rate 25000, 1,000 connections) for server CPU µs
# per request; 10,000 idle connections (bench/peers `peer-idle`) for server RSS per
# connection (VmRSS before the clients connect and while they are held).
#
# Writes bench/results/echo-<UTC time>.csv (one row per run, with a `client` column),
# prints markdown tables of medians per client with ratios to ringio under the same
# client and the min–max over rounds, and draws docs/echo-bench.svg from the first
# client's runs.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)

ROUNDS=3
DURATION=5
WARMUP=2
QUICK=0
SERVERS="ringio ringio-epoll raw monoio tokio-ct tokio-mt"
CLIENTS="ringio uring"
RATE=25000
IDLE_CONNS=10000
SVG=docs/echo-bench.svg

usage() {
    sed -n '2,39p' "$0" | sed 's/^# \{0,1\}//'
    echo "flags: --quick --rounds N --duration S --warmup S --rate R --servers \"ringio ringio-epoll raw ...\" --clients \"ringio uring tokio\" --svg FILE"
    echo "servers: ringio ringio-epoll ringio-epoll-pooled ringio-pooled ringio-owned raw monoio tokio-ct tokio-mt"
    echo "clients: ringio (echo_client) uring (peer-uring-client) tokio (peer-client)"
}

while [ $# -gt 0 ]; do
    case "$1" in
        --quick) QUICK=1 ;;
        --rounds) ROUNDS=$2; shift ;;
        --duration) DURATION=$2; shift ;;
        --warmup) WARMUP=$2; shift ;;
        --servers) SERVERS=$2; shift ;;
        --clients) CLIENTS=$2; shift ;;
        --svg) SVG=$2; shift ;;
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
    CLOSED_CONFIGS="50:64 1000:64 10000:64"
else
    CLOSED_CONFIGS="50:64 1000:64 10000:64 50:1024 1000:1024 10000:1024"
fi
for client in $CLIENTS; do
    case "$client" in
        ringio|uring|tokio) ;;
        *) echo "unknown client $client (ringio, uring, tokio)" >&2; exit 2 ;;
    esac
done
[ -n "${CLIENTS// /}" ] || { echo "--clients names no client" >&2; exit 2; }
has_client() { grep -qw -- "$1" <<<"$CLIENTS"; }

# 10,000 connections at --connect-concurrency 256 take a second or two to come up on
# loopback; their warm-up covers that.
WARMUP_10K=$((WARMUP > 4 ? WARMUP : 4))
IDLE_HOLD=4

for tool in jq taskset ss; do
    command -v "$tool" >/dev/null || { echo "echo.sh needs $tool" >&2; exit 2; }
done
if [ "$(nproc --all)" -lt 2 ]; then
    echo "echo.sh needs 2 CPUs (server on CPU 0, client on CPU 1)" >&2
    exit 2
fi

# 10,000 connections need 10,000+ fds in the server and in the client.
ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" -lt $((IDLE_CONNS + 200)) ]; then
    echo "RLIMIT_NOFILE hard limit $(ulimit -Hn) is below $((IDLE_CONNS + 200)): 10,000-connection runs will fail" >&2
fi

echo "== building (release)" >&2
cargo build --release --example echo_server --example echo_client >&2
cargo build --release -p ringio-peers >&2

BIN=$ROOT/target/release
CLIENT=$BIN/examples/echo_client
CLIENT_HELP=$("$CLIENT" --help 2>&1 || true)
has_flag() { grep -q -- "$1" <<<"$CLIENT_HELP"; }

TMP=$(mktemp -d /tmp/ringio-echo-bench.XXXXXX)
mkdir -p bench/results "$(dirname "$SVG")"
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
CSV=bench/results/echo-$STAMP.csv
LOG=bench/results/echo-$STAMP.log
# Everything said on stderr from here on also goes to the log.
exec 2> >(tee -a "$LOG" >&2)
echo "server,client,config,conns,size,round,req_s,p50_us,p99_us,p999_us,cpu_us_per_req,rss_base_kib,rss_kib,errors" >"$CSV"

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

# shellcheck source=bench/echo-servers.sh
. "$(dirname "$0")/echo-servers.sh"

# Sets CMD to the command line of client $1 against $ADDR, and CLIENT_SECS to how long
# it measures and warms up. Args: client conns size rate
client_cmd() {
    local client=$1 conns=$2 size=$3 rate=$4
    # echo_client and peer-client connect within their warm-up; peer-uring-client connects
    # every connection before its warm-up starts.
    local warm=$WARMUP
    [ "$conns" -ge 10000 ] && [ "$client" != uring ] && warm=$WARMUP_10K
    local common=(--addr "$ADDR" --conns "$conns" --size "$size" --duration "$DURATION" --warmup "$warm")
    case "$client" in
        ringio)
            CMD=("$CLIENT" "${common[@]}" --json)
            has_flag "--workers" && CMD+=(--workers 1)
            has_flag "--cpus" && CMD+=(--cpus 1)
            has_flag "--backend" && CMD+=(--backend io_uring)
            if [ "$rate" != 0 ]; then
                has_flag "--rate" && CMD+=(--rate "$rate")
            fi
            has_flag "--server-pid" && CMD+=(--server-pid "$SPID")
            ;;
        uring) CMD=("$BIN/peer-uring-client" "${common[@]}") ;;
        tokio) CMD=("$BIN/peer-client" "${common[@]}") ;;
    esac
    CLIENT_SECS=$((DURATION + warm))
}

# Runs client $2 against $ADDR; appends one CSV row.
# Args: server client config conns size round [rate]
run_client() {
    local server=$1 client=$2 config=$3 conns=$4 size=$5 round=$6 rate=${7:-0}
    client_cmd "$client" "$conns" "$size" "$rate"
    local c0 c1
    c0=$(cpu_ns "$SPID")
    set +e
    timeout $((CLIENT_SECS + 60)) taskset -c 1 "${CMD[@]}" >"$TMP/client.json" 2>"$TMP/client.err" &
    CPID=$!
    wait "$CPID"
    local rc=$?
    CPID=""
    set -e
    c1=$(cpu_ns "$SPID")
    local json
    json=$(grep '^{' "$TMP/client.json" | tail -1 || true)
    if [ -z "$json" ]; then
        echo "  $server $client $config c=$conns s=$size: client failed (exit $rc): $(tail -c 300 "$TMP/client.err")" >&2
        echo "$server,$client,$config,$conns,$size,$round,,,,,,,,$conns" >>"$CSV"
        return 0
    fi
    [ "$rc" = 0 ] || echo "  $server $client $config c=$conns s=$size: client exited $rc: $(tail -c 300 "$TMP/client.err")" >&2
    local req_s p50 p99 p999 errs cpu requests_total enters
    req_s=$(jq -r '.req_per_s // .req_s // empty' <<<"$json")
    p50=$(jq -r '.latency_us.p50 // .p50_us // empty' <<<"$json")
    p99=$(jq -r '.latency_us.p99 // .p99_us // empty' <<<"$json")
    p999=$(jq -r '.latency_us.p999 // .p999_us // empty' <<<"$json")
    errs=$(jq -r '.errors // 0' <<<"$json")
    enters=$(jq -r '.enters_per_req // empty' <<<"$json")
    cpu=""
    if [ "$config" = rate ]; then
        # The client's figure covers the measured window only; without it, the server's
        # CPU over the whole client run is shared out over every request it served.
        cpu=$(jq -r '.server_cpu_us_per_req // .server.cpu_us_per_req // empty' <<<"$json")
        if [ -z "$cpu" ]; then
            requests_total=$(jq -r '.requests_total // .requests' <<<"$json")
            cpu=$(awk -v a="$c0" -v b="$c1" -v n="$requests_total" 'BEGIN { if (n > 0) printf "%.3f", (b - a) / 1000 / n }')
        fi
    fi
    echo "$server,$client,$config,$conns,$size,$round,$req_s,$p50,$p99,$p999,$cpu,,,$errs" >>"$CSV"
    printf '  %-12s %-9s %-6s c=%-5s s=%-4s req/s=%-9s p50=%-6s p99=%-6s p99.9=%-6s cpu/req=%-6s errors=%s%s\n' \
        "$server" "$client" "$config" "$conns" "$size" "$req_s" "$p50" "$p99" "$p999" "${cpu:--}" "$errs" \
        "${enters:+ enters/req=$enters}" >&2
}

# 10,000 idle connections: server RSS before and while they are held.
run_idle() {
    local server=$1 round=$2
    sleep 0.3
    local base
    base=$(rss_kib "$SPID")
    timeout 90 taskset -c 1 "$BIN/peer-idle" --addr "$ADDR" --conns "$IDLE_CONNS" --hold "$IDLE_HOLD" \
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
    echo "$server,peer-idle,idle,$IDLE_CONNS,1,$round,,,,,,$base,$rss,$errs" >>"$CSV"
    local per=""
    [ -n "$rss" ] && per=$(( (rss - base) * 1024 / IDLE_CONNS ))
    printf '  %-12s %-9s idle   c=%-5s RSS %s -> %s KiB (%s B/conn)\n' "$server" peer-idle "$IDLE_CONNS" "$base" "${rss:--}" "${per:--}" >&2
}

# One measurement of one server under one client (peer-idle for `idle`): start, measure,
# stop. Args: server client kind conns size round
measure() {
    local server=$1 client=$2 kind=$3 conns=$4 size=$5 round=$6
    if ! start_server "$server"; then
        echo "$server,$client,$kind,$conns,$size,$round,,,,,,,,$conns" >>"$CSV"
        return 0
    fi
    case "$kind" in
        closed) run_client "$server" "$client" closed "$conns" "$size" "$round" ;;
        rate) run_client "$server" "$client" rate "$conns" "$size" "$round" "$RATE" ;;
        idle) run_idle "$server" "$round" ;;
    esac
    stop_server
}

{
    echo "ringio echo benchmark, $STAMP, $(uname -r), $(nproc --all) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
    echo "server on CPU 0 (taskset -c 0): ringio --workers 1 (io_uring; ringio-epoll: --backend epoll), raw (1 thread), monoio --workers 1, tokio-ct, tokio-mt with 1 worker thread"
    echo "clients [$CLIENTS] on CPU 1 (taskset -c 1): ringio = $CLIENT (--workers 1, --backend io_uring), uring = $BIN/peer-uring-client, tokio = $BIN/peer-client"
    echo "rounds=$ROUNDS duration=${DURATION}s warmup=${WARMUP}s (${WARMUP_10K}s at 10,000 conns, but for uring) closed=[$CLOSED_CONFIGS] rate=$RATE idle=$IDLE_CONNS"
    if has_client ringio; then
        has_flag "--rate" || echo "NOTE: this echo_client has no --rate: the 'rate' row is a closed-loop run at 1,000 connections"
        has_flag "--server-pid" || echo "NOTE: this echo_client has no --server-pid: CPU/req = server schedstat CPU over the whole client run / requests_total"
    else
        echo "NOTE: no fixed-rate row: it needs echo_client's --rate (client ringio)"
    fi
} >&2

START=$(date +%s)
for round in $(seq "$ROUNDS"); do
    echo "== round $round/$ROUNDS ($(( $(date +%s) - START )) s so far)" >&2
    # Even rounds take the servers backwards, so no server always runs first after the
    # machine changed configuration or client.
    order=$SERVERS
    [ $((round % 2)) = 0 ] && order=$(tr ' ' '\n' <<<"$SERVERS" | grep . | tac | tr '\n' ' ')
    for cfg in $CLOSED_CONFIGS; do
        for client in $CLIENTS; do
            for server in $order; do
                measure "$server" "$client" closed "${cfg%%:*}" "${cfg##*:}" "$round"
            done
        done
    done
    if has_client ringio; then
        for server in $order; do
            measure "$server" ringio rate 1000 64 "$round"
        done
    fi
    for server in $order; do
        measure "$server" peer-idle idle "$IDLE_CONNS" 1 "$round"
    done
done
echo "== done in $(( $(date +%s) - START )) s; CSV: $CSV" >&2

"$BIN/echo-plot" --csv "$CSV" --svg "$SVG" | tee -a "$LOG"
echo "log: $LOG  csv: $CSV  chart: $SVG" >&2
