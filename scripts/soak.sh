#!/usr/bin/env bash
# The long versions of the fault suite, in release; about 3 minutes in all (plus build):
#  - tests/fault_churn.rs for 60 s: 10,000 connections held at once and closed (the
#    baseline), then ~10,000 connection slots churned (close, reset, idle timeout,
#    verified echoes); descriptors, metrics and RSS checked against the baseline, the
#    heap to a few bytes per churned connection, and the idle CPU after (~70 s);
#  - tests/fault_timers.rs with 100,000 timers spread over 30 s (half dropped) and a
#    10 ms interval watched for 120 s (both run at once, ~2 min).
# CI runs the short versions through `cargo test`: churn for 10 s, timers over 10 s and
# the interval for 30 s.
# What the tests read: RINGIO_CHURN_SECS (churn length), RINGIO_CHURN_CONNS (held and
# churned connections, default 10,000: both processes need that many descriptors plus
# 100, or the test fails saying so), RINGIO_SOAK_TIMER_SECS and
# RINGIO_SOAK_INTERVAL_SECS (at least 2).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "==> fault_churn, 60 s"
RINGIO_CHURN_SECS=60 cargo test --release --test fault_churn -- --nocapture

echo "==> fault_timers: timers over 30 s, interval for 120 s"
RINGIO_SOAK_TIMER_SECS=30 RINGIO_SOAK_INTERVAL_SECS=120 \
    cargo test --release --test fault_timers -- --nocapture

# The property tests (src/**/prop_tests.rs) with many more cases than `cargo test` runs,
# and the loom models (src/runtime/loom_models.rs) with a higher preemption bound than
# CI's (3, and 2 for the three-thread mpsc model): 4, and 3 for the mpsc model, which
# was still running after 15 minutes with 4 (about 3 minutes with 3). Here: about 70 s
# of property tests and 3 minutes of loom models, plus a release build of each.
echo "==> property tests, PROPTEST_CASES=200000"
PROPTEST_CASES=200000 cargo test --release -p ringio --lib prop_tests

loom_dir="${CARGO_TARGET_DIR:-target}/loom"
echo "==> loom models, LOOM_MAX_PREEMPTIONS=4 (the mpsc pair: 3)"
LOOM_MAX_PREEMPTIONS=4 RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR="$loom_dir" \
    cargo test --release -p ringio --lib loom -- --skip loom_mpsc_two_senders_bounded
LOOM_MAX_PREEMPTIONS=3 RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR="$loom_dir" \
    cargo test --release -p ringio --lib loom_mpsc_two_senders_bounded
