//! The loop of the `queue_*_put_get` benches without criterion, for counting
//! instructions: `n` put+get pairs on one queue, in one task.
//!
//! ```text
//! cargo build --release -p ringio-compare --example queue_pairs
//! valgrind --tool=callgrind target/release/examples/queue_pairs unbounded 100000
//! valgrind --tool=callgrind target/release/examples/queue_pairs unbounded 200000
//! ```
//!
//! The difference between the two totals, divided by 100,000, is the cost of one pair
//! (start-up and shutdown cancel out). The first argument is `unbounded` or `bounded`
//! (ringio `Queue::new(0)` or `Queue::new(1024)`), or `tokio` (`mpsc::unbounded_channel`).

use std::hint::black_box;
use std::process::ExitCode;

/// Bound of the bounded queue, as in `benches/sync.rs`.
const BOUND: usize = 1_024;

/// A one-core ringio runtime, as in `benches/common`.
fn ringio_rt() -> ringio::Runtime {
    ringio::Runtime::builder()
        .workers(1)
        .build()
        .expect("io_uring must work on the bench machine")
}

// The two ringio loops are written out separately, as in `benches/sync.rs`: with more
// than one caller, the compiler keeps `Put::poll`, `Get::poll` and their drops out of
// line, as in the bench binary (one caller lets it inline the whole loop, which halves
// the count and measures something no real program does).

fn ringio_unbounded(n: u64) {
    ringio_rt().block_on(async {
        let q = ringio::sync::Queue::new(0);
        for i in 0..n {
            q.put(i).await.expect("not shut down");
            black_box(q.get().await.expect("not shut down"));
        }
    });
}

fn ringio_bounded(n: u64) {
    ringio_rt().block_on(async {
        let q = ringio::sync::Queue::new(BOUND);
        for i in 0..n {
            q.put(i).await.expect("not shut down");
            black_box(q.get().await.expect("not shut down"));
        }
    });
}

fn tokio_pairs(n: u64) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio current-thread runtime");
    rt.block_on(async {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        for i in 0..n {
            tx.send(i).expect("receiver alive");
            black_box(rx.recv().await.expect("sender alive"));
        }
    });
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n = args.get(1).and_then(|n| n.parse::<u64>().ok());
    match (args.first().map(String::as_str), n) {
        (Some("unbounded"), Some(n)) => ringio_unbounded(n),
        (Some("bounded"), Some(n)) => ringio_bounded(n),
        (Some("tokio"), Some(n)) => tokio_pairs(n),
        _ => {
            eprintln!("usage: queue_pairs unbounded|bounded|tokio <pairs>, got {args:?}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
