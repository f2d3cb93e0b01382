//! Cross-core wake-up cost: tasks on core 0 and core 1 hand a counter back and forth;
//! each hand-off is one wake of a task on the other core.
//!
//! `--pairs 1`: the other core is asleep at each wake (the wake-up path through the
//! ring). `--pairs 100`: both cores stay busy (wakes should cost no syscall).
//!
//! ```text
//! cargo run --release --example cross_core_wake -- --pairs 1 --rounds 100000
//! cargo run --release --example cross_core_wake -- --pairs 100 --rounds 5000
//! NOPIN=1 cargo run --release --example cross_core_wake   # cores not pinned
//! ```

use std::future::poll_fn;
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::Instant;

#[derive(Default)]
struct Mailbox(Mutex<(u64, Option<Waker>)>);

impl Mailbox {
    fn put(&self, v: u64) {
        let mut g = self.0.lock().unwrap();
        g.0 = v;
        if let Some(w) = g.1.take() {
            w.wake();
        }
    }
    async fn wait_for(&self, v: u64) {
        poll_fn(|cx| {
            let mut g = self.0.lock().unwrap();
            if g.0 >= v {
                Poll::Ready(())
            } else {
                g.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }
}

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map_or(default, |v| v.parse().expect("a number"))
}

fn main() {
    let pairs = arg("--pairs", 1);
    let rounds = arg("--rounds", 100_000);
    let pin = std::env::var_os("NOPIN").is_none();
    let rt = ringio::Runtime::builder()
        .workers(2)
        .pin_cores(pin)
        .build()
        .unwrap();
    let start = Instant::now();
    rt.block_on(async move {
        let mut hs = Vec::new();
        for _ in 0..pairs {
            let (a, b) = (Arc::new(Mailbox::default()), Arc::new(Mailbox::default()));
            let (a2, b2) = (a.clone(), b.clone());
            hs.push(ringio::spawn_on(1, move || async move {
                for i in 1..=rounds {
                    a2.wait_for(i).await;
                    b2.put(i);
                }
            }));
            hs.push(ringio::spawn(async move {
                for i in 1..=rounds {
                    a.put(i);
                    b.wait_for(i).await;
                }
            }));
        }
        for h in hs {
            h.await.unwrap();
        }
    });
    let el = start.elapsed();
    let wakes = 2 * pairs * rounds;
    let enters: u64 = rt.metrics_per_core().iter().map(|m| m.enters).sum();
    println!(
        "pairs={pairs} wakes={wakes} pinned={pin}: {:.0} ns/wake, {:.3} io_uring_enter/wake",
        el.as_nanos() as f64 / wakes as f64,
        enters as f64 / wakes as f64,
    );
}
