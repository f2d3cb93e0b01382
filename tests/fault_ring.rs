//! The ring misbehaving under the runtime: `io_uring_enter` failing with EAGAIN, EBUSY or
//! EINTR after SQEs were queued, and a completion queue that overflows while nobody reaps.
//! Every op still completes exactly once with its own bytes, nothing is freed while the
//! kernel may write it (the quarantine allocator checks, on for the whole of each test),
//! nothing is left behind (descriptors back to their baseline) and nothing is left
//! spinning (the core idles afterwards). Both tests take `support::serial()`: they share
//! the process's quarantine and count its descriptors. The epoll backend has neither an
//! `io_uring_enter` to fail nor a completion queue: both tests are io_uring's only.

mod support;

use ringio::fault;
use ringio::net::TcpStream;
use std::cell::Cell;
use std::io::{Read, Write};
use std::rc::Rc;
use std::time::Duration;
use support::alloc;

#[global_allocator]
static ALLOC: alloc::Guard = alloc::Guard;

const PAIRS: usize = 64;
const ROUNDS: usize = 50;
const MESSAGE: usize = 1000;

/// Connected pairs: a ringio stream and its std peer, served by a helper thread that echoes.
fn echo_peers(n: usize) -> (std::net::SocketAddr, std::thread::JoinHandle<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let peer = std::thread::spawn(move || {
        let conns: Vec<_> = (0..n).map(|_| listener.accept().unwrap().0).collect();
        let threads: Vec<_> = conns
            .into_iter()
            .map(|mut c| {
                std::thread::spawn(move || {
                    let mut buf = [0u8; 4096];
                    loop {
                        match c.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => c.write_all(&buf[..n]).unwrap(),
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
    });
    (addr, peer)
}

/// `ROUNDS` messages per stream through the echo peers, while a task keeps making enters
/// fail with `errno`. Returns how many enters failed, and how many of those had SQEs queued.
async fn traffic_under_failing_enters(errno: i32, addr: std::net::SocketAddr) -> (u64, u64) {
    let stop = Rc::new(Cell::new(false));
    let chaos = {
        let stop = stop.clone();
        ringio::spawn(async move {
            let mut rng = support::Rng::new(errno as u64);
            while !stop.get() {
                fault::fail_enters(errno, 1 + rng.below(4) as u32);
                ringio::yield_now().await;
                // Let some turns sleep in the kernel too: failures then hit the wait.
                if rng.below(4) == 0 {
                    ringio::time::sleep(Duration::from_micros(200)).await;
                }
            }
            fault::fail_enters(0, 0);
        })
    };
    let clients: Vec<_> = (0..PAIRS)
        .map(|i| {
            ringio::spawn(async move {
                let s = TcpStream::connect(addr).await.unwrap();
                let mut rng = support::Rng::new(i as u64 + 1);
                for _ in 0..ROUNDS {
                    let mut msg = vec![0u8; MESSAGE];
                    rng.fill(&mut msg);
                    let (res, sent) = s.write_all(msg).await;
                    res.unwrap();
                    // Fresh, large read buffers: a write into a freed one would show.
                    let (res, got) = s.read_exact(vec![0u8; MESSAGE]).await;
                    res.unwrap();
                    assert!(got == sent, "stream {i}: echoed bytes differ");
                }
            })
        })
        .collect();
    for c in clients {
        c.await.unwrap();
    }
    stop.set(true);
    chaos.await.unwrap();
    (
        fault::enters_failed(),
        fault::enters_failed_with_sqes_queued(),
    )
}

#[test]
fn failing_enters_lose_no_op_and_free_nothing_early() {
    let _serial = support::serial();
    if support::skip_on_epoll("enter failures are injected into io_uring_enter") {
        return;
    }
    support::watchdog("failing_enters", Duration::from_secs(120));
    let baseline_fds = support::fd_count();
    let watch = alloc::watch();
    for errno in [libc::EAGAIN, libc::EBUSY, libc::EINTR] {
        for entries in [4, 256] {
            let (addr, peer) = echo_peers(PAIRS);
            let rt = ringio::Runtime::builder()
                .ring_entries(entries)
                .build()
                .unwrap();
            let (failed, m) = rt.block_on(async move {
                fault::reset();
                let failed = traffic_under_failing_enters(errno, addr).await;
                assert_eq!(
                    alloc::corrupted_blocks(),
                    0,
                    "the kernel wrote freed memory"
                );
                let settled = support::settle(Duration::from_secs(5), || {
                    ringio::metrics().ops_in_flight == 0
                })
                .await;
                assert!(settled, "ops left in flight: {:?}", ringio::metrics());
                let m = ringio::metrics();
                support::assert_core_idle(&format!("enters failing with errno {errno}")).await;
                (failed, m)
            });
            peer.join().unwrap();
            eprintln!(
                "errno {errno}, ring of {entries}: {} of {} enters failed, {} with SQEs \
                 queued; {} ops",
                failed.0, m.enters, failed.1, m.ops_submitted
            );
            // The chaos task arms 1–4 failures per turn for the whole run.
            assert!(failed.1 >= 20, "only {failed:?} enters failed");
            assert_eq!(m.ops_submitted, m.ops_completed, "{m:?}");
            assert_eq!((m.tasks_alive, m.timers_pending), (0, 0), "{m:?}");
        }
    }
    fault::reset();
    let watched = watch.verify("failing enters");
    eprintln!("failing enters: {watched} frees watched, none written");
    assert_eq!(support::fd_count(), baseline_fds, "descriptors leaked");
}

#[test]
fn overflowing_completion_queue_completes_each_op_exactly_once() {
    let _serial = support::serial();
    if support::skip_on_epoll("no CQ on epoll") {
        return;
    }
    support::watchdog("cq_overflow", Duration::from_secs(60));
    const OPS: usize = 1000;
    const READS: usize = 200;
    let baseline_fds = support::fd_count();
    let watch = alloc::watch();
    // 4 SQ entries, so the CQ holds 8: the 1,000 CQEs overflow it more than a hundredfold.
    let rt = ringio::Runtime::builder().ring_entries(4).build().unwrap();
    let m = rt.block_on(async {
        let mut pairs = Vec::new();
        for i in 0..READS {
            let (a, b) = support::tcp_pair().await;
            b.write_all(vec![i as u8; 100]).await.0.unwrap();
            pairs.push(a);
        }
        // The other ops: one-byte reads that the kernel completes at once.
        let zero = Rc::new(ringio::fs::File::open("/dev/zero").await.unwrap());
        let start = ringio::metrics();
        let done: Rc<Vec<Cell<u32>>> = Rc::new((0..OPS).map(|_| Cell::new(0)).collect());
        fault::pause_reaping(true);
        let mut tasks = Vec::new();
        for (i, a) in pairs.into_iter().enumerate() {
            let done = done.clone();
            tasks.push(ringio::spawn(async move {
                let (res, buf) = a.read(vec![0u8; 4096]).await;
                // The bytes were there before the read: it gets them all at once.
                assert_eq!(res.unwrap(), 100);
                assert!(buf[..100].iter().all(|&b| b == i as u8), "read {i}");
                done[i].set(done[i].get() + 1);
            }));
        }
        for i in READS..OPS {
            let (done, zero) = (done.clone(), zero.clone());
            tasks.push(ringio::spawn(async move {
                zero.read_at(vec![0u8; 1], 0).await.0.unwrap();
                done[i].set(done[i].get() + 1);
            }));
        }
        // Every op is pushed (flushing the full SQ as it goes) while no CQE is reaped.
        ringio::time::sleep(Duration::from_millis(50)).await;
        let paused = ringio::metrics();
        assert_eq!(
            paused.ops_completed, start.ops_completed,
            "a CQE was reaped while reaping was paused"
        );
        assert_eq!(done.iter().map(Cell::get).sum::<u32>(), 0);
        fault::pause_reaping(false);
        for t in tasks {
            t.await.unwrap();
        }
        for (i, d) in done.iter().enumerate() {
            assert_eq!(d.get(), 1, "op {i} completed {} times", d.get());
        }
        let end = ringio::metrics();
        assert_eq!(end.ops_completed - start.ops_completed, OPS as u64);
        assert_eq!(end.ops_submitted - start.ops_submitted, OPS as u64);
        assert_eq!(end.ops_in_flight, 0);
        eprintln!(
            "{OPS} ops on a CQ of 8 with reaping paused: {} reaps found CQEs held back \
             in the kernel, {} CQEs dropped",
            end.cq_backlogs - start.cq_backlogs,
            end.cq_overflows
        );
        assert!(
            end.cq_backlogs > start.cq_backlogs,
            "the CQ never overflowed"
        );
        assert_eq!(end.cq_overflows, 0, "the kernel dropped CQEs");
        support::assert_core_idle("a CQ backlog").await;
        end
    });
    // The kernel kept the surplus (IORING_FEAT_NODROP) and counted nothing as dropped.
    assert_eq!(m.tasks_alive, 0);
    fault::reset();
    let watched = watch.verify("CQ overflow");
    eprintln!("CQ overflow: {watched} frees watched, none written");
    assert_eq!(support::fd_count(), baseline_fds, "descriptors leaked");
}
