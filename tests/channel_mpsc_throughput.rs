//! Four producer threads, each on its own runtime, push a million messages through a
//! bounded channel to a consumer on the main thread's runtime: none lost, none
//! duplicated, each producer's order kept.

mod support;

use std::time::{Duration, Instant};

use ringio::channel::mpsc;

const PRODUCERS: usize = 4;
/// A million messages in all. Debug builds take under a second too (measured
/// ~0.8 s on 2 cores), so the count is the same in debug and release.
const PER_PRODUCER: u64 = 250_000;
const CAPACITY: usize = 1024;

#[test]
fn mpsc_four_producers_one_consumer_million_messages() {
    support::watchdog(
        "mpsc_four_producers_one_consumer_million_messages",
        Duration::from_secs(60),
    );
    let start = Instant::now();
    let (tx, mut rx) = mpsc::channel::<(usize, u64)>(CAPACITY);
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|id| {
            let tx = tx.clone();
            std::thread::spawn(move || {
                ringio::run(async move {
                    for seq in 0..PER_PRODUCER {
                        tx.send((id, seq)).await.expect("the consumer outlives us");
                    }
                })
            })
        })
        .collect();
    drop(tx);

    let next = ringio::run(async move {
        let mut next = [0u64; PRODUCERS];
        while let Some((id, seq)) = rx.recv().await {
            assert_eq!(
                seq, next[id],
                "producer {id}: lost, duplicated or reordered"
            );
            next[id] += 1;
        }
        next
    });
    for p in producers {
        p.join().expect("producer thread");
    }
    assert_eq!(next, [PER_PRODUCER; PRODUCERS]);
    eprintln!(
        "{} messages through a channel of {CAPACITY} in {:?}",
        PER_PRODUCER * PRODUCERS as u64,
        start.elapsed()
    );
}
