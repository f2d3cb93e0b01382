#!/usr/bin/env bash
# Runs each drop-in-flight test under valgrind memcheck, one process per test, and fails
# on any invalid access, uninitialised read, definite leak, test failure or stall:
# - tests/cancel_drop_in_flight.rs: each op dropped mid-flight;
# - tests/net_pool_recv.rs: dropped pooled and multishot receives, the buffer pool run dry;
# - tests/net_accept.rs: dropped listeners with their multishot accept armed, the accept
#   queue's limit;
# - tests/io_cancel_race.rs: the cancel-race storms;
# - tests/fault_runtime_drop.rs: runtimes shut down with 3,000 ops pending, also by a panic;
# - tests/fault_drop_in_flight.rs: reads, writes, accepts, connects and opens dropped at
#   random points (RINGIO_DROPS per kind: 300 here, not 2,000, to save time; fewer leave
#   too few samples for the tests' checks that each drop point was reached);
# - tests/fault_single_shot_accept.rs: accepts dropped at random points without multishot
#   accept (RINGIO_DROPS in all).
# "Possibly lost" blocks are the test watchdog threads, still sleeping when the process
# exits.
#
# The tests are built with `--features valgrind,fault-injection`: the fault suites need
# the fault hooks, and `valgrind` zeroes receive buffers before the kernel fills them,
# since memcheck does not see io_uring's writes and would call the received bytes
# uninitialised (io_cancel_race reads into spare Vec capacity on purpose).
#
# Exit status: 0 only if every test that ran passed. A failed build, a suite with no test
# binary or no tests, a memcheck error, a failed test and a timeout all fail the run. The
# only timeouts that do not are those of the tests in `stall_ok` below, each with the
# reason it is known to stall under the tool; `skip` lists the tests not run at all.
#
# Usage: bash scripts/valgrind.sh   (needs valgrind: apt-get install valgrind). About 10
# minutes on 2 cores plus the build; 12 if the allowed stall happens. SUITES="a b" runs
# only those test files; RINGIO_DROPS=n and RINGIO_STORM_BYTES=n change the storms' size.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || {
    echo "valgrind not found: apt-get install valgrind" >&2
    exit 2
}
export RINGIO_DROPS=${RINGIO_DROPS:-300}
# net_pool_recv's cancelled-stream storm reads this many bytes (1,000,000 natively): a
# million takes 70-110 s under memcheck, and 250,000 still caught its reordering bug in 5
# of 6 runs.
export RINGIO_STORM_BYTES=${RINGIO_STORM_BYTES:-250000}
# io_cancel_race's reads race timeouts of up to this many µs (50 natively): a loop turn
# under memcheck takes milliseconds, so 50 µs timeouts always expired first.
export RINGIO_RACE_MAX_US=${RINGIO_RACE_MAX_US:-1000}
# fault_runtime_drop's bound on a shutdown with 3,000 ops pending (1 s natively): memcheck
# runs it 20-50 times slower.
export RINGIO_SHUTDOWN_LIMIT_MS=${RINGIO_SHUTDOWN_LIMIT_MS:-30000}
# Seconds per test before it counts as stalled (then SIGKILL 10 s later: a thread blocked
# under the tool may not take SIGTERM). The slowest passing tests take about 90 s
# (io_cancel_race's three 10,000-read races).
limit=180

# Tests not run: a helper thread (a writer, the clients, a second core) must run while the
# ring thread sleeps in io_uring_enter, and memcheck, which runs one thread at a time, does
# not run it then (seen as "hung" panics or stalls, never as a memcheck error). They run
# natively in `cargo test`.
declare -A skip
for t in dropped_recv_pooled_loses_no_byte dropped_recv_streams_lose_no_byte \
    each_core_has_its_own_pool read_cancelled_as_data_arrives_loses_no_byte \
    recv_stream_reports_eof_and_errors \
    slow_recv_stream_reader_holds_bounded_buffers \
    tasks_sharing_a_listener_accept_each_connection_once \
    tasks_sharing_a_single_shot_listener_are_all_woken \
    wakers_fired_after_their_runtime_is_gone_on_any_thread_neither_panic_nor_touch_freed_memory \
    worker_core_whose_main_panics_takes_every_core_down_within_1s_clean \
    worker_core_with_1000_pending_ops_shuts_its_ring_down_on_its_thread_within_1s_clean; do
    skip[$t]="needs another thread to run while the ring thread waits in the kernel"
done
# Under memcheck every dropped write's CQE comes at the first enter (0 of 300 drops found
# a write waiting in the kernel, against ~14 % natively: the writing socket's send buffer
# grows, and ringio has no way to set it), so the storm cannot reach the point it exists
# for and fails its own check that it did. No other suite here drops writes: dropped
# writes are checked natively only (the quarantine allocator in `cargo test`).
skip[dropped_writes_at_random_points_send_only_a_prefix_of_their_own_buffer]="the storm \
cannot hold a write in the kernel under the tool (see the note above)"
# Its echo server is a child process, which memcheck does not follow (no --trace-children):
# the tool would watch only the parent's std clients, and the child's EMFILE timings are
# what the test checks.
skip[emfile_backs_off_and_recovers]="its server runs in a child process, outside the tool"
# One task writes the lines, another reads each under a 0-50 us timeout; under the tool it
# never finished before its own 120 s watchdog aborted it (2 of 2 runs, no memcheck error
# reported before).
skip[timed_out_read_lines_lose_no_line]="does not finish under the tool (see the note above)"
# On epoll (RINGIO_BACKEND=epoll) an open runs on the blocking pool, and memcheck runs one
# thread at a time, so the pool finishes most opens before the storm drops them: 15 of
# 300 drops found one still running (the storm needs 10 %). Natively it passes there.
if [ "${RINGIO_BACKEND:-}" = epoll ]; then
    skip[dropped_opens_at_random_points_close_late_fds_and_leave_files_intact]="on epoll \
the pool finishes opens before the storm can drop them under the tool (see the note above)"
fi

# Tests that usually pass under the tool but are known to stall in some runs; for them a
# timeout is reported, not failed. Memcheck found nothing wrong in them before the stall.
declare -A stall_ok=(
    [dropping_runtime_with_pending_ops_returns_quickly]="its helper thread accepts the \
connections the runtime waits for, and memcheck may keep it off the CPU while the ring \
thread holds the tool's lock in io_uring_enter"
)

features=valgrind,fault-injection
suites=${SUITES:-"cancel_drop_in_flight net_pool_recv net_accept io_cancel_race \
fault_runtime_drop fault_drop_in_flight fault_single_shot_accept"}
failed=0
start=$SECONDS
for suite in $suites; do
    if ! json=$(cargo test -q --features "$features" --test "$suite" --no-run \
        --message-format=json); then
        echo "FAILED   $suite: the build failed" >&2
        exit 1
    fi
    bin=$(printf '%s\n' "$json" | grep -o '"executable":"[^"]*"' | tail -n 1 | cut -d'"' -f4 \
        || true)
    if [ -z "$bin" ] || [ ! -x "$bin" ]; then
        echo "FAILED   $suite: cargo named no test binary" >&2
        exit 1
    fi
    if ! tests=$("$bin" --list | sed -n 's/: test$//p') || [ -z "$tests" ]; then
        echo "FAILED   $suite: $bin lists no tests" >&2
        exit 1
    fi
    for t in $tests; do
        if [ -n "${skip[$t]:-}" ]; then
            echo "skipped  $suite::$t: ${skip[$t]}"
            continue
        fi
        log=$(mktemp)
        t0=$SECONDS
        rc=0
        timeout -k 10 "$limit" valgrind --leak-check=full --errors-for-leak-kinds=definite \
            --error-exitcode=9 "$bin" --test-threads=1 --exact "$t" >"$log" 2>&1 || rc=$?
        took=$((SECONDS - t0))
        summary=$(grep -E "ERROR SUMMARY" "$log" | sed 's/^==[0-9]*== //' || true)
        case $rc in
            0) echo "ok       $suite::$t (${took} s): $summary" ;;
            124 | 137)
                if [ -n "${stall_ok[$t]:-}" ]; then
                    echo "stalled  $suite::$t after ${limit} s (allowed: ${stall_ok[$t]})"
                else
                    echo "FAILED   $suite::$t: no result after ${limit} s"
                    grep -m 3 -A 2 "panicked at" "$log" || true
                    tail -n 20 "$log"
                    failed=1
                fi
                ;;
            *)
                echo "FAILED   $suite::$t (exit $rc, ${took} s)"
                grep -m 3 -A 2 "panicked at" "$log" || true
                tail -n 20 "$log"
                failed=1
                ;;
        esac
        rm -f "$log"
    done
done
echo "valgrind: $((SECONDS - start)) s, $([ $failed = 0 ] && echo passed || echo FAILED)"
exit $failed
