//! `sync` and `task` micro-benchmarks, ringio beside tokio's current-thread runtime:
//! semaphore and mutex (uncontended and contended), queue put/get, gather of 1,000 ready
//! futures. Each figure is per operation (per acquire, per lock, per put+get pair, per
//! gather of 1,000).
//!
//! Run: `cargo bench -p ringio-compare --bench sync`

mod common;

use std::hint::black_box;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use common::{ringio_rt, tokio_rt};
use criterion::{Criterion, criterion_group, criterion_main};

/// Tasks that pass one permit (or lock) around in the contended benches: enough for a
/// waiter list to build up, few enough that a loop turn stays in cache.
const CONTENDERS: u64 = 8;

/// Futures gathered per measured iteration, as the issue asks.
const GATHERED: u64 = 1_000;

/// Bound of the bounded queues: large enough that put never waits in the same-task bench.
const BOUND: usize = 1_024;

/// Bound of the two-task hand-off queue: small, so the producer really waits for room.
const HANDOFF_BOUND: usize = 64;

/// How many of `total` rounds contender `i` runs, so that the rounds add up to `total`.
fn share(total: u64, i: u64) -> u64 {
    total / CONTENDERS + u64::from(i < total % CONTENDERS)
}

fn semaphore_uncontended(c: &mut Criterion) {
    let mut g = c.benchmark_group("semaphore_uncontended");
    let rt = ringio_rt();
    g.bench_function("ringio", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let sem = ringio::sync::Semaphore::new(1);
                let start = Instant::now();
                for _ in 0..iters {
                    drop(black_box(sem.acquire().await));
                }
                start.elapsed()
            })
        })
    });
    let rt = tokio_rt();
    g.bench_function("tokio", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let sem = tokio::sync::Semaphore::new(1);
                let start = Instant::now();
                for _ in 0..iters {
                    drop(black_box(sem.acquire().await.expect("never closed")));
                }
                start.elapsed()
            })
        })
    });
    g.finish();
}

/// [`CONTENDERS`] tasks on a `Semaphore(1)`: each holds the permit across one
/// `yield_now`, so every acquire queues behind the others and is handed the permit by a
/// release. The figure is per acquire and includes that yield on both runtimes.
fn semaphore_contended(c: &mut Criterion) {
    let mut g = c.benchmark_group("semaphore_contended");
    let rt = ringio_rt();
    g.bench_function("ringio", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let sem = Rc::new(ringio::sync::Semaphore::new(1));
                let start = Instant::now();
                let tasks: Vec<_> = (0..CONTENDERS)
                    .map(|i| {
                        let sem = sem.clone();
                        ringio::spawn(async move {
                            for _ in 0..share(iters, i) {
                                let permit = sem.acquire().await;
                                ringio::yield_now().await;
                                drop(permit);
                            }
                        })
                    })
                    .collect();
                for t in tasks {
                    t.await.expect("contender does not panic");
                }
                start.elapsed()
            })
        })
    });
    let rt = tokio_rt();
    g.bench_function("tokio", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let sem = Arc::new(tokio::sync::Semaphore::new(1));
                let start = Instant::now();
                let tasks: Vec<_> = (0..CONTENDERS)
                    .map(|i| {
                        let sem = sem.clone();
                        tokio::spawn(async move {
                            for _ in 0..share(iters, i) {
                                let permit = sem.acquire().await.expect("never closed");
                                tokio::task::yield_now().await;
                                drop(permit);
                            }
                        })
                    })
                    .collect();
                for t in tasks {
                    t.await.expect("contender does not panic");
                }
                start.elapsed()
            })
        })
    });
    g.finish();
}

fn mutex_uncontended(c: &mut Criterion) {
    let mut g = c.benchmark_group("mutex_uncontended");
    let rt = ringio_rt();
    g.bench_function("ringio", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let m = ringio::sync::Mutex::new(0u64);
                let start = Instant::now();
                for _ in 0..iters {
                    *m.lock().await += 1;
                }
                black_box(m.into_inner());
                start.elapsed()
            })
        })
    });
    let rt = tokio_rt();
    g.bench_function("tokio", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let m = tokio::sync::Mutex::new(0u64);
                let start = Instant::now();
                for _ in 0..iters {
                    *m.lock().await += 1;
                }
                black_box(m.into_inner());
                start.elapsed()
            })
        })
    });
    g.finish();
}

/// As [`semaphore_contended`], with a lock held across one `yield_now`; per lock.
fn mutex_contended(c: &mut Criterion) {
    let mut g = c.benchmark_group("mutex_contended");
    let rt = ringio_rt();
    g.bench_function("ringio", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let m = Rc::new(ringio::sync::Mutex::new(0u64));
                let start = Instant::now();
                let tasks: Vec<_> = (0..CONTENDERS)
                    .map(|i| {
                        let m = m.clone();
                        ringio::spawn(async move {
                            for _ in 0..share(iters, i) {
                                let mut guard = m.lock().await;
                                ringio::yield_now().await;
                                *guard += 1;
                            }
                        })
                    })
                    .collect();
                for t in tasks {
                    t.await.expect("contender does not panic");
                }
                start.elapsed()
            })
        })
    });
    let rt = tokio_rt();
    g.bench_function("tokio", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let m = Arc::new(tokio::sync::Mutex::new(0u64));
                let start = Instant::now();
                let tasks: Vec<_> = (0..CONTENDERS)
                    .map(|i| {
                        let m = m.clone();
                        tokio::spawn(async move {
                            for _ in 0..share(iters, i) {
                                let mut guard = m.lock().await;
                                tokio::task::yield_now().await;
                                *guard += 1;
                            }
                        })
                    })
                    .collect();
                for t in tasks {
                    t.await.expect("contender does not panic");
                }
                start.elapsed()
            })
        })
    });
    g.finish();
}

/// One put and one get in the same task on an unbounded queue: ringio `Queue::new(0)`
/// beside tokio `mpsc::unbounded_channel` (tokio has no single-object queue; the
/// channel's send + recv is the same work: store, then take the item out).
fn queue_unbounded(c: &mut Criterion) {
    let mut g = c.benchmark_group("queue_unbounded_put_get");
    let rt = ringio_rt();
    g.bench_function("ringio", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let q = ringio::sync::Queue::new(0);
                let start = Instant::now();
                for i in 0..iters {
                    q.put(i).await.expect("not shut down");
                    black_box(q.get().await.expect("not shut down"));
                }
                start.elapsed()
            })
        })
    });
    let rt = tokio_rt();
    g.bench_function("tokio", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
                let start = Instant::now();
                for i in 0..iters {
                    tx.send(i).expect("receiver alive");
                    black_box(rx.recv().await.expect("sender alive"));
                }
                start.elapsed()
            })
        })
    });
    g.finish();
}

/// As [`queue_unbounded`] on a bounded queue: ringio `Queue::new(BOUND)` beside tokio
/// `mpsc::channel(BOUND)`, whose `send().await` takes a slot permit like `put` does.
fn queue_bounded(c: &mut Criterion) {
    let mut g = c.benchmark_group("queue_bounded_put_get");
    let rt = ringio_rt();
    g.bench_function("ringio", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let q = ringio::sync::Queue::new(BOUND);
                let start = Instant::now();
                for i in 0..iters {
                    q.put(i).await.expect("not shut down");
                    black_box(q.get().await.expect("not shut down"));
                }
                start.elapsed()
            })
        })
    });
    let rt = tokio_rt();
    g.bench_function("tokio", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let (tx, mut rx) = tokio::sync::mpsc::channel(BOUND);
                let start = Instant::now();
                for i in 0..iters {
                    tx.send(i).await.expect("receiver alive");
                    black_box(rx.recv().await.expect("sender alive"));
                }
                start.elapsed()
            })
        })
    });
    g.finish();
}

/// A producer task feeding the main task through a bounded queue of
/// [`HANDOFF_BOUND`]: both sides wait and wake each other; per item.
fn queue_handoff(c: &mut Criterion) {
    let mut g = c.benchmark_group("queue_handoff_two_tasks");
    let rt = ringio_rt();
    g.bench_function("ringio", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let q = Rc::new(ringio::sync::Queue::new(HANDOFF_BOUND));
                let start = Instant::now();
                let producer = ringio::spawn({
                    let q = q.clone();
                    async move {
                        for i in 0..iters {
                            q.put(i).await.expect("not shut down");
                        }
                    }
                });
                for _ in 0..iters {
                    black_box(q.get().await.expect("not shut down"));
                }
                producer.await.expect("producer does not panic");
                start.elapsed()
            })
        })
    });
    let rt = tokio_rt();
    g.bench_function("tokio", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let (tx, mut rx) = tokio::sync::mpsc::channel(HANDOFF_BOUND);
                let start = Instant::now();
                let producer = tokio::spawn(async move {
                    for i in 0..iters {
                        tx.send(i).await.expect("receiver alive");
                    }
                });
                for _ in 0..iters {
                    black_box(rx.recv().await.expect("sender alive"));
                }
                producer.await.expect("producer does not panic");
                start.elapsed()
            })
        })
    });
    g.finish();
}

/// Ten ready futures, joined in place by `tokio::join!`, outputs in order.
macro_rules! join10 {
    ($base:expr) => {{
        let b = $base;
        let r = |x: u64| async move { black_box(x) };
        let (a0, a1, a2, a3, a4, a5, a6, a7, a8, a9) = tokio::join!(
            r(b),
            r(b + 1),
            r(b + 2),
            r(b + 3),
            r(b + 4),
            r(b + 5),
            r(b + 6),
            r(b + 7),
            r(b + 8),
            r(b + 9)
        );
        [a0, a1, a2, a3, a4, a5, a6, a7, a8, a9]
    }};
}

/// `task::gather` of 1,000 ready futures, per gather. tokio has no join-all without the
/// `futures` crate; the closest in-place equivalent is `tokio::join!` (polls its futures
/// inside the caller, no task or allocation per future, outputs in order), which takes a
/// fixed list, so it runs in 100 chunks of 10 collected into one `Vec` like gather's.
/// With ready futures the chunks give the same outputs; with pending ones they would run
/// less concurrently, which makes this a lower bound for tokio. The spawn-based way
/// (what asyncio's gather does) is measured separately in `spawn_join_1000`.
fn gather_1000(c: &mut Criterion) {
    let mut g = c.benchmark_group("gather_1000_ready");
    let rt = ringio_rt();
    g.bench_function("ringio", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let futs = (0..GATHERED).map(|x| async move { black_box(x) });
                    black_box(ringio::task::gather(futs).await);
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
                    let mut out = Vec::with_capacity(GATHERED as usize);
                    for chunk in 0..GATHERED / 10 {
                        out.extend(join10!(chunk * 10));
                    }
                    black_box(out);
                }
                start.elapsed()
            })
        })
    });
    g.finish();
}

/// 1,000 trivial tasks spawned, then joined in order; per batch of 1,000.
fn spawn_join_1000(c: &mut Criterion) {
    let mut g = c.benchmark_group("spawn_join_1000");
    let rt = ringio_rt();
    g.bench_function("ringio", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let hs: Vec<_> = (0..GATHERED)
                        .map(|x| ringio::spawn(async move { black_box(x) }))
                        .collect();
                    for h in hs {
                        black_box(h.await.expect("task does not panic"));
                    }
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
                    let hs: Vec<_> = (0..GATHERED)
                        .map(|x| tokio::spawn(async move { black_box(x) }))
                        .collect();
                    for h in hs {
                        black_box(h.await.expect("task does not panic"));
                    }
                }
                start.elapsed()
            })
        })
    });
    g.finish();
}

criterion_group!(
    benches,
    semaphore_uncontended,
    semaphore_contended,
    mutex_uncontended,
    mutex_contended,
    queue_unbounded,
    queue_bounded,
    queue_handoff,
    gather_1000,
    spawn_join_1000
);
criterion_main!(benches);
