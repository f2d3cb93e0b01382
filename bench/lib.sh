# Shared by the benchmark scripts (sourced, not run): the cleanup trap, fresh server
# ports, starting a server pinned to CPU 0 and stopping it, a process's RSS, CPU time
# and sleeps.
#
# The sourcing script sets TMP (a scratch directory removed on exit) and defines
# `server_cmd NAME`, which prints the command line of server NAME (words split on spaces);
# it may set CPID and HPID (client and helper processes) for the cleanup to kill.

SPID=""
HPID=""
CPID=""
cleanup() {
    for p in $CPID $HPID $SPID; do
        kill "$p" 2>/dev/null || true
    done
    sleep 0.2
    for p in $CPID $HPID $SPID; do
        kill -9 "$p" 2>/dev/null || true
    done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A fresh port per server start: a killed io_uring server can hold its listener for a
# moment while the ring is torn down, and TIME_WAIT pairs never collide this way.
# Below the kernel's ephemeral range (net.ipv4.ip_local_port_range, 32768 up by
# default), where the clients' own ports come from: a server port there can be taken by
# a client socket of an earlier run, and the server would fail to bind.
PORT=$((17000 + RANDOM % 10000))

# Starts server $1 on CPU 0 at a fresh port; sets SPID and ADDR. Returns 1 if it does
# not say `listening on` within 10 s.
start_server() {
    PORT=$((PORT + 1))
    ADDR=127.0.0.1:$PORT
    local cmd
    cmd=$(server_cmd "$1")
    # shellcheck disable=SC2086 # the command is words on purpose
    taskset -c 0 $cmd --addr "$ADDR" >"$TMP/server.out" 2>"$TMP/server.err" &
    SPID=$!
    for _ in $(seq 100); do
        if grep -q "listening on" "$TMP/server.out" 2>/dev/null; then
            return 0
        fi
        if ! kill -0 "$SPID" 2>/dev/null; then
            break
        fi
        sleep 0.1
    done
    echo "  $1 did not start: $(head -c 500 "$TMP/server.err")" >&2
    stop_server
    return 1
}

stop_server() {
    [ -n "$SPID" ] || return 0
    kill "$SPID" 2>/dev/null || true
    for _ in $(seq 30); do
        kill -0 "$SPID" 2>/dev/null || break
        sleep 0.1
    done
    kill -9 "$SPID" 2>/dev/null || true
    wait "$SPID" 2>/dev/null || true
    SPID=""
}

rss_kib() {
    awk '/^VmRSS:/ {print $2}' /proc/"$1"/status 2>/dev/null || echo ""
}

# CPU time of every thread of $1, in nanoseconds (schedstat, finer than clock ticks).
cpu_ns() {
    cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%.0f", s}'
}

# Times every thread of $1 went to sleep waiting for something (voluntary context
# switches): for an event loop, its blocking waits that found nothing ready.
sleeps() {
    cat /proc/"$1"/task/*/status 2>/dev/null | awk '/^voluntary_ctxt_switches:/ {s += $2} END {printf "%.0f", s}'
}
