//! Loom models of the cross-thread paths, run on the crate's own code with loom's
//! primitives swapped in (`loom_shim`):
//!
//! ```text
//! RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test --release --lib loom
//! ```
//!
//! Rules:
//! 1. Each model drives the real `Shared`, `BlockingPool`, `oneshot` and `mpsc` code and
//!    real tasks (`spawn_task`); what stands in for the rest is listed in `loom_shim`
//!    rule 3. The one piece written here is the core's loop ([`run_core`]): the order of
//!    `drain_remote`, `prepare_sleep`, the wait and `awake` in `Core::turn`, with the
//!    ring's wait on the eventfd replaced by `Shared::wait_woken`.
//! 2. A lost wake-up shows as a deadlock (every thread blocked), which loom reports; a
//!    task run twice, or a value lost or duplicated, fails an assertion.
//! 3. The search is bounded by loom's preemption bound: [`PREEMPTIONS`] unless
//!    `LOOM_MAX_PREEMPTIONS` says otherwise (`scripts/soak.sh` raises it); the `mpsc`
//!    model with three threads uses [`PREEMPTIONS_MPSC`].

use super::blocking::{Blocking, BlockingPool};
use super::shared::Shared;
use super::task::spawn_task;
use crate::channel::{mpsc, oneshot};
use loom::future::block_on;
use loom::thread;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Preemptions per execution that loom explores by default: every broken variant tried
/// (a fence dropped, the re-check in `prepare_sleep` dropped, a wake left out) fails
/// within it, and all models together run in about 16 s in release on 2 busy cores.
const PREEMPTIONS: usize = 3;

/// The bound for the model with three threads and three messages (`mpsc`), whose
/// executions grow fastest: 3 there took about 3 minutes alone.
const PREEMPTIONS_MPSC: usize = 2;

/// Runs `f` under loom with the preemption bound of rule 3.
fn model<F: Fn() + Sync + Send + 'static>(f: F) {
    bounded(PREEMPTIONS, f);
}

/// Runs `f` under loom with at most `preemptions`, unless `LOOM_MAX_PREEMPTIONS` is set.
fn bounded<F: Fn() + Sync + Send + 'static>(preemptions: usize, f: F) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(preemptions);
    }
    builder.check(f);
}

/// The core's loop turn reduced to its cross-thread part (rule 1): run what other
/// threads queued, then sleep unless `prepare_sleep` says not to, until `done`.
fn run_core(shared: &Shared, done: impl Fn() -> bool) {
    loop {
        while let Some(r) = shared.pop_remote() {
            r.run();
        }
        if done() {
            return;
        }
        if shared.prepare_sleep() {
            shared.wait_woken();
        }
        shared.awake();
    }
}

fn new_core() -> Arc<Shared> {
    Arc::new(Shared::new(0).expect("a model's eventfd cannot fail"))
}

/// Spawns `fut` as a task whose home is `home`, from whatever thread calls this.
fn spawn_on<F>(home: &Arc<Shared>, fut: F)
where
    F: Future<Output = ()> + 'static,
{
    let home = home.clone();
    drop(spawn_task(fut, move |r| home.push_remote(r), None, false));
}

/// (a) Two threads queue a task each on a core that is going to sleep: each task runs,
/// and runs once.
#[test]
fn loom_remote_push_races_sleep() {
    model(|| {
        let core = new_core();
        let runs: Arc<[AtomicUsize; 2]> = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
        let wakers: Vec<_> = (0..2)
            .map(|i| {
                let (core, runs) = (core.clone(), runs.clone());
                thread::spawn(move || {
                    spawn_on(&core, async move {
                        runs[i].fetch_add(1, Ordering::SeqCst);
                    })
                })
            })
            .collect();
        let all_ran = || runs.iter().all(|n| n.load(Ordering::SeqCst) > 0);
        run_core(&core, all_ran);
        for w in wakers {
            w.join().expect("the waker thread does not panic");
        }
        for n in runs.iter() {
            assert_eq!(n.load(Ordering::SeqCst), 1, "a task ran more than once");
        }
    });
}

/// (a) A task of the core waits on a oneshot; another thread's send wakes it through its
/// waker (`push_remote` + `unpark`) while the core goes to sleep; `stop` from a third
/// place is seen too.
#[test]
fn loom_waker_on_another_thread_wakes_sleeping_core() {
    model(|| {
        let core = new_core();
        let (tx, rx) = oneshot::channel::<u32>();
        let got = Arc::new(AtomicUsize::new(0));
        let seen = got.clone();
        spawn_on(&core, async move {
            let v = rx.await.expect("the sender sends");
            seen.fetch_add(v as usize, Ordering::SeqCst);
        });
        let sender = thread::spawn(move || tx.send(7).expect("the receiver waits"));
        run_core(&core, || got.load(Ordering::SeqCst) != 0);
        assert_eq!(got.load(Ordering::SeqCst), 7);
        sender.join().expect("the sender does not panic");
    });
}

/// (a) `stop` from another thread reaches a core about to sleep.
#[test]
fn loom_stop_reaches_sleeping_core() {
    model(|| {
        let core = new_core();
        let stopper = {
            let core = core.clone();
            thread::spawn(move || core.stop())
        };
        run_core(&core, || core.is_stopping());
        stopper.join().expect("the stopping thread does not panic");
    });
}

/// (b) A task on a core awaits a blocking job; the pool's thread runs it and its result
/// wakes the task on the sleeping core. Two jobs: the second finds the thread busy
/// (queued behind the first) or idle (woken through the condvar).
#[test]
fn loom_blocking_pool_hands_result_back() {
    model(|| {
        let core = new_core();
        let pool = BlockingPool::new(1, Duration::from_secs(3600));
        let sum = Arc::new(AtomicUsize::new(0));
        let (job_pool, seen) = (pool.clone(), sum.clone());
        spawn_on(&core, async move {
            for v in [20usize, 22] {
                let p = job_pool.clone();
                let job = spawn_task(
                    Blocking(Some(move || v)),
                    move |r| p.schedule(r),
                    None,
                    false,
                );
                let got = job.await.expect("the job does not panic");
                seen.fetch_add(got, Ordering::SeqCst);
            }
            seen.fetch_add(1000, Ordering::SeqCst);
        });
        run_core(&core, || sum.load(Ordering::SeqCst) >= 1000);
        assert_eq!(sum.load(Ordering::SeqCst), 1042);
        // Lets the pool's thread exit, so the execution ends with every thread done.
        pool.close();
    });
}

/// (c) oneshot: a send on one thread and an await on another.
#[test]
fn loom_oneshot_send_recv() {
    model(|| {
        let (tx, rx) = oneshot::channel::<u32>();
        let sender = thread::spawn(move || tx.send(5).expect("the receiver waits"));
        assert_eq!(block_on(rx), Ok(5));
        sender.join().expect("the sender does not panic");
    });
}

/// (c) oneshot: the sender dropped on another thread ends the wait with an error.
#[test]
fn loom_oneshot_sender_dropped() {
    model(|| {
        let (tx, rx) = oneshot::channel::<u32>();
        let dropper = thread::spawn(move || drop(tx));
        assert!(block_on(rx).is_err());
        dropper.join().expect("the dropping thread does not panic");
    });
}

/// (c) oneshot: the receiver dropped while a send races it: the value is either
/// delivered (then dropped with the receiver) or handed back, and dropped exactly once.
#[test]
fn loom_oneshot_receiver_dropped_during_send() {
    model(|| {
        let value = Arc::new(());
        let (tx, rx) = oneshot::channel::<Arc<()>>();
        let sent = value.clone();
        let sender = thread::spawn(move || {
            // Err hands the value back; either way it is dropped here or with `rx`.
            let _ = tx.send(sent);
        });
        drop(rx);
        sender.join().expect("the sender does not panic");
        assert_eq!(
            Arc::strong_count(&value),
            1,
            "the value leaked or was duplicated"
        );
    });
}

/// (d) mpsc with room for one: two senders on two threads, one sending one value and
/// the other two, against one receiver: every value arrives once, each sender's in
/// order, and a sender waiting for room is woken when the receiver frees it.
#[test]
fn loom_mpsc_two_senders_bounded() {
    bounded(PREEMPTIONS_MPSC, || {
        let (tx, mut rx) = mpsc::channel::<u32>(1);
        let senders: Vec<_> = (0..2u32)
            .map(|s| {
                let tx = tx.clone();
                thread::spawn(move || {
                    for k in 0..=s {
                        block_on(tx.send(s * 10 + k)).expect("the receiver is open");
                    }
                })
            })
            .collect();
        drop(tx);
        let mut got = Vec::new();
        while let Some(v) = block_on(rx.recv()) {
            got.push(v);
        }
        for s in senders {
            s.join().expect("a sender does not panic");
        }
        let from = |s: u32| {
            got.iter()
                .copied()
                .filter(|v| v / 10 == s)
                .collect::<Vec<_>>()
        };
        assert_eq!(from(0), [0]);
        assert_eq!(from(1), [10, 11]);
    });
}

/// (d) mpsc closed while two senders wait for room: each value is received or handed
/// back, never both, never neither, and no sender is left waiting.
#[test]
fn loom_mpsc_close_wakes_waiting_senders() {
    model(|| {
        let (tx, mut rx) = mpsc::channel::<u32>(1);
        let senders: Vec<_> = (0..2u32)
            .map(|s| {
                let tx = tx.clone();
                thread::spawn(move || u32::from(block_on(tx.send(s)).is_err()))
            })
            .collect();
        drop(tx);
        let first = block_on(rx.recv());
        rx.close();
        let mut received = usize::from(first.is_some());
        while let Some(_v) = block_on(rx.recv()) {
            received += 1;
        }
        let refused: u32 = senders
            .into_iter()
            .map(|s| s.join().expect("a sender does not panic"))
            .sum();
        assert_eq!(received + refused as usize, 2);
    });
}
