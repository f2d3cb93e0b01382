//! Executor micro-benchmarks, ringio beside tokio's current-thread runtime: spawn + join
//! of a trivial task, `yield_now`, a 1-byte read through io_uring, timer insert + cancel.
//!
//! Run: `cargo bench -p ringio-compare --bench runtime`

mod common;

use std::future::{Future, poll_fn};
use std::hint::black_box;
use std::pin::pin;
use std::task::Poll;
use std::time::{Duration, Instant};

use common::{ringio_rt, tokio_rt};
use criterion::{Criterion, criterion_group, criterion_main};

/// Far enough away that no timer in the timer bench ever fires.
const NEVER: Duration = Duration::from_secs(1);

/// Polls `fut` exactly once and drops it: for a sleep, that registers the timer and then
/// cancels it.
async fn poll_once_then_drop<F: Future>(fut: F) {
    let mut fut = pin!(fut);
    poll_fn(|cx| {
        let _ = fut.as_mut().poll(cx);
        Poll::Ready(())
    })
    .await;
}

fn spawn_join(c: &mut Criterion) {
    let mut g = c.benchmark_group("spawn_join");
    let rt = ringio_rt();
    g.bench_function("ringio", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for i in 0..iters {
                    let h = ringio::spawn(async move { black_box(i) });
                    black_box(h.await.expect("task does not panic"));
                }
                start.elapsed()
            })
        })
    });
    let rt = tokio_rt();
    g.bench_function("tokio", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for i in 0..iters {
                    let h = tokio::spawn(async move { black_box(i) });
                    black_box(h.await.expect("task does not panic"));
                }
                start.elapsed()
            })
        })
    });
    g.finish();
}

fn yield_now(c: &mut Criterion) {
    let mut g = c.benchmark_group("yield_now");
    let rt = ringio_rt();
    g.bench_function("ringio", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    ringio::yield_now().await;
                }
                start.elapsed()
            })
        })
    });
    let rt = tokio_rt();
    g.bench_function("tokio", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    tokio::task::yield_now().await;
                }
                start.elapsed()
            })
        })
    });
    g.finish();
}

/// One 1-byte read of `/dev/zero`: the smallest real file operation, which the kernel
/// completes at once. ringio's goes through the ring (SQE pushed, one io_uring_enter, CQE
/// reaped, task woken); tokio's `fs::File` hands each read to its blocking pool, the path
/// a tokio user takes for files.
fn read_round_trip(c: &mut Criterion) {
    let mut g = c.benchmark_group("read_round_trip");
    let rt = ringio_rt();
    g.bench_function("ringio", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let zero = ringio::fs::File::open("/dev/zero")
                    .await
                    .expect("open /dev/zero");
                let mut buf = vec![0u8; 1];
                let start = Instant::now();
                for _ in 0..iters {
                    let (res, b) = zero.read_at(buf, 0).await;
                    res.expect("read /dev/zero");
                    buf = b;
                }
                start.elapsed()
            })
        })
    });
    let rt = tokio_rt();
    g.bench_function("tokio", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                use tokio::io::AsyncReadExt;
                let mut zero = tokio::fs::File::open("/dev/zero")
                    .await
                    .expect("open /dev/zero");
                let mut buf = [0u8; 1];
                let start = Instant::now();
                for _ in 0..iters {
                    let n = zero.read(&mut buf).await.expect("read /dev/zero");
                    assert_eq!(n, 1);
                }
                start.elapsed()
            })
        })
    });
    g.finish();
}

/// A `sleep(1 s)` polled once (the timer is inserted) and dropped (it is removed).
fn timer_insert_cancel(c: &mut Criterion) {
    let mut g = c.benchmark_group("timer_insert_cancel");
    let rt = ringio_rt();
    g.bench_function("ringio", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    poll_once_then_drop(ringio::time::sleep(NEVER)).await;
                }
                start.elapsed()
            })
        })
    });
    let rt = tokio_rt();
    g.bench_function("tokio", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    poll_once_then_drop(tokio::time::sleep(NEVER)).await;
                }
                start.elapsed()
            })
        })
    });
    g.finish();
}

criterion_group!(
    benches,
    spawn_join,
    yield_now,
    read_round_trip,
    timer_insert_cancel
);
criterion_main!(benches);
