//! Accepts on a kernel without multishot accept (`fault::pretend_missing(MultishotAccept)`),
//! where a listener takes one connection per single-shot SQE.
//!
//! 10,000 accept futures (`RINGIO_DROPS` to run fewer, e.g. under valgrind) dropped at
//! random points: unpolled, polled once, after loop turns, inside a timeout, and after the
//! accept's CQE was reaped; std clients connect before, during and after each. Where each
//! future's op was at its drop is measured (metrics), not assumed. Checked: every client's
//! connection is accepted by a later `accept` and is that client's (a byte each way); each
//! accept SQE gave exactly one claimed connection, so the single-shot path ran and no SQE's
//! connection was closed; a connection left in the listener is closed with it; fds come
//! back to their baseline. A second test shares one listener between tasks.
//! Every test takes `serial()`: fd counts are process-wide.

mod support;

use ringio::fault::{self, Missing};
use ringio::net::{TcpListener, TcpStream};
use ringio::time::timeout;
use std::cell::RefCell;
use std::future::Future;
use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};
use support::{Rng, fd_names_settled, serial, settle};

/// Drops when `RINGIO_DROPS` is not set: the fault suite's 10,000.
const DEFAULT_DROPS: usize = 10_000;
/// How long a connection may take to come out of the listener before it counts as lost.
const LOST_AFTER: Duration = Duration::from_secs(5);

fn drops() -> usize {
    match std::env::var("RINGIO_DROPS") {
        Ok(s) => s.parse().expect("RINGIO_DROPS: a number of drops"),
        Err(_) => DEFAULT_DROPS,
    }
}

/// The seed: `FAULT_SEED` (decimal or 0x-hex) to replay a run, else the clock.
fn seed() -> u64 {
    let seed = match std::env::var("FAULT_SEED") {
        Ok(s) => match s.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16).expect("FAULT_SEED"),
            None => s.parse().expect("FAULT_SEED"),
        },
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64,
    };
    eprintln!("seed {seed:#x} (replay with FAULT_SEED={seed:#x})");
    seed
}

/// Runs `body` on a runtime whose thread pretends the kernel has no multishot accept, and
/// checks that the process's descriptors are the same afterwards.
fn without_multishot_accept<F: Future<Output = ()>>(name: &'static str, body: F) {
    let _serial = serial();
    support::watchdog(name, Duration::from_secs(300));
    let before = fd_names_settled(&[]);
    fault::reset();
    fault::pretend_missing(Missing::MultishotAccept);
    let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| ringio::run(body)));
    fault::reset();
    if let Err(panic) = res {
        std::panic::resume_unwind(panic);
    }
    let after = fd_names_settled(&before);
    assert_eq!(after, before, "{name}: descriptors leaked or closed");
}

/// When the accept future is dropped.
#[derive(Clone, Copy, Debug)]
enum Point {
    Unpolled,
    /// Polled once: if it armed the accept, the SQE is queued, no enter has seen it.
    PolledOnce,
    /// Polled once, then the loop turned `n` times without polling it again.
    AfterYields(u32),
    /// Polled once, a client connected, the loop turned until the accept's CQE was reaped:
    /// the kernel made the connection's fd, the future never took it.
    AfterCqe,
    /// Inside `ringio::time::timeout` with this limit.
    Timeout(Duration),
}

/// When a client connects, relative to the future.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Client {
    None,
    BeforePoll,
    BeforeDrop,
    AfterDrop,
}

fn random_point(rng: &mut Rng) -> Point {
    match rng.below(10) {
        0 => Point::Unpolled,
        1 | 2 => Point::PolledOnce,
        3 | 4 => Point::AfterYields(1 + rng.below(3) as u32),
        5..=7 => Point::AfterCqe,
        _ => Point::Timeout(Duration::from_micros(rng.below(51))),
    }
}

fn random_client(rng: &mut Rng) -> Client {
    match rng.below(4) {
        0 => Client::None,
        1 => Client::BeforePoll,
        2 => Client::BeforeDrop,
        _ => Client::AfterDrop,
    }
}

/// Where the listener's accept was when a future went away.
#[derive(Default, Debug)]
struct Tally {
    unpolled: usize,
    /// The future returned its connection: nothing was dropped.
    completed: usize,
    /// The accept SQE was pushed and no `io_uring_enter` had seen it yet.
    queued: usize,
    /// Submitted, no CQE reaped.
    in_kernel: usize,
    /// The accept's CQE was reaped after the future's last poll: its connection (an fd
    /// the kernel made) was waiting for the future when it was dropped.
    reaped: usize,
}

/// What the probed accepts saw, shared by every probe of one test.
#[derive(Default)]
struct Log {
    tally: Tally,
    /// SQEs pushed while an accept future was being polled: accept SQEs only.
    accept_sqes: u64,
    /// `enters` when the newest accept SQE was pushed.
    enters_at_push: u64,
}

/// An accept future that records, when dropped unfinished, where its op was, read from
/// the metrics: nothing but accepts has an op in flight while a probe is alive.
struct Probe<F: Future> {
    fut: Pin<Box<F>>,
    log: Rc<RefCell<Log>>,
    /// `ops_completed` after the last poll that returned `Pending`.
    completed_at_pending: Option<u64>,
    done: bool,
    /// Tally where it was dropped (the storm's futures; not the catch-up accepts).
    tally: bool,
}

impl<F: Future> Probe<F> {
    fn new(fut: F, log: &Rc<RefCell<Log>>, tally: bool) -> Self {
        Probe {
            fut: Box::pin(fut),
            log: log.clone(),
            completed_at_pending: None,
            done: false,
            tally,
        }
    }
}

impl<F: Future> Future for Probe<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let before = ringio::metrics().ops_submitted;
        let res = self.fut.as_mut().poll(cx);
        let after = ringio::metrics();
        {
            let mut log = self.log.borrow_mut();
            log.accept_sqes += after.ops_submitted - before;
            if after.ops_submitted > before {
                log.enters_at_push = after.enters;
            }
        }
        match res {
            Poll::Ready(_) => self.done = true,
            Poll::Pending => self.completed_at_pending = Some(after.ops_completed),
        }
        res
    }
}

impl<F: Future> Drop for Probe<F> {
    fn drop(&mut self) {
        if !self.tally {
            return;
        }
        let m = ringio::metrics();
        let mut log = self.log.borrow_mut();
        let at_push = log.enters_at_push;
        let t = &mut log.tally;
        match self.completed_at_pending {
            _ if self.done => t.completed += 1,
            None => t.unpolled += 1,
            // The only op in flight is the listener's accept: a CQE reaped since the last
            // poll is its connection.
            Some(c) if m.ops_completed > c => t.reaped += 1,
            Some(_) if m.enters == at_push => t.queued += 1,
            Some(_) => t.in_kernel += 1,
        }
    }
}

/// Client connections whose server side nobody claimed yet.
struct Clients {
    addr: SocketAddr,
    waiting: Vec<std::net::TcpStream>,
    claimed: usize,
}

impl Clients {
    fn connect(&mut self) {
        self.waiting
            .push(std::net::TcpStream::connect(self.addr).unwrap());
    }

    /// `server` must be a waiting client's connection: a byte goes each way.
    async fn claim(&mut self, server: TcpStream, peer: SocketAddr) {
        let at = self
            .waiting
            .iter()
            .position(|c| c.local_addr().unwrap() == peer)
            .unwrap_or_else(|| panic!("accepted {peer}, which no waiting client is"));
        let mut client = self.waiting.swap_remove(at);
        client.write_all(b"c").unwrap();
        let (res, buf) = timeout(LOST_AFTER, server.read(vec![0u8; 16]))
            .await
            .expect("the accepted stream got no byte");
        assert_eq!(&buf[..res.unwrap()], b"c", "not the client's connection");
        let (res, _) = server.write_all(b"s").await;
        res.unwrap();
        client.set_read_timeout(Some(LOST_AFTER)).unwrap();
        let mut b = [0u8; 1];
        client.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"s");
        self.claimed += 1;
    }
}

#[test]
fn dropped_single_shot_accepts_at_random_points_lose_no_connection() {
    let drops = drops();
    without_multishot_accept("single_shot_drops", async move {
        let mut rng = Rng::new(seed());
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut clients = Clients {
            addr: listener.local_addr().unwrap(),
            waiting: Vec::new(),
            claimed: 0,
        };
        let log = Rc::new(RefCell::new(Log::default()));
        let start = Instant::now();
        for _ in 0..drops {
            let (point, client) = (random_point(&mut rng), random_client(&mut rng));
            if client == Client::BeforePoll {
                clients.connect();
            }
            let mut fut = Probe::new(listener.accept(), &log, true);
            let mut connect_before_drop = client == Client::BeforeDrop;
            let out = match point {
                Point::Unpolled => None,
                Point::Timeout(limit) => {
                    if connect_before_drop {
                        clients.connect();
                        connect_before_drop = false;
                    }
                    timeout(limit, &mut fut).await.ok()
                }
                Point::PolledOnce | Point::AfterYields(_) | Point::AfterCqe => {
                    match Pin::new(&mut fut).poll(&mut Context::from_waker(Waker::noop())) {
                        Poll::Ready(out) => Some(out),
                        Poll::Pending => {
                            if let Point::AfterYields(n) = point {
                                for _ in 0..n {
                                    ringio::yield_now().await;
                                }
                            }
                            if let Point::AfterCqe = point {
                                await_cqe(&mut clients, &mut connect_before_drop).await;
                            }
                            None
                        }
                    }
                }
            };
            if connect_before_drop {
                clients.connect();
            }
            drop(fut);
            if client == Client::AfterDrop {
                clients.connect();
            }
            if let Some(res) = out {
                let (server, peer) = res.unwrap();
                clients.claim(server, peer).await;
            }
            // Mostly catch up; sometimes leave a few waiting (in the listener's accept or
            // the kernel's backlog) across drops.
            if rng.below(4) == 0 || clients.waiting.len() > 8 {
                catch_up(&listener, &mut clients, &log).await;
            }
        }
        catch_up(&listener, &mut clients, &log).await;
        let elapsed = start.elapsed();
        let log = Rc::into_inner(log).expect("no probe left").into_inner();
        let t = &log.tally;
        let state = format!("{listener:?}");
        eprintln!(
            "{drops} accept futures in {:.2} s: {t:?}; {} connections claimed; {} accept SQEs; {state}",
            elapsed.as_secs_f64(),
            clients.claimed,
            log.accept_sqes
        );
        assert!(
            state.contains("single_shot: true"),
            "the listener did not fall back to single-shot accepts: {state}"
        );
        // One SQE for the refused multishot accept, then one per connection, plus the one
        // still armed: an SQE whose connection was closed, or a second accept armed beside
        // the first, would show here (so would a multishot accept: one SQE for all).
        let armed = u64::from(state.contains("single_armed: true"));
        assert_eq!(
            log.accept_sqes,
            1 + clients.claimed as u64 + armed,
            "accept SQEs: 1 refused multishot + {} connections + {armed} armed",
            clients.claimed
        );
        // Each drop point the test names was hit, measured at the drop.
        for (what, n, min) in [
            ("unpolled", t.unpolled, 0.02),
            ("queued", t.queued, 0.02),
            ("in the kernel", t.in_kernel, 0.05),
            ("reaped, untaken", t.reaped, 0.10),
        ] {
            assert!(
                n as f64 >= min * drops as f64,
                "only {n} of {drops} drops hit the accept {what}: {t:?}"
            );
        }
        left_in_listener_dies_with_it(listener, &mut clients).await;
    });
}

/// Connects a client if none is waiting, then turns the loop until the armed accept's
/// CQE is reaped.
async fn await_cqe(clients: &mut Clients, connect_now: &mut bool) {
    let completed = ringio::metrics().ops_completed;
    if *connect_now || clients.waiting.is_empty() {
        clients.connect();
        *connect_now = false;
    }
    let reaped = settle(LOST_AFTER, || ringio::metrics().ops_completed > completed).await;
    assert!(
        reaped,
        "the kernel never completed the accept of a waiting client"
    );
}

/// Accepts until every client is claimed: a connection a dropped accept took waits in the
/// listener, the others in the kernel's backlog.
async fn catch_up(listener: &TcpListener, clients: &mut Clients, log: &Rc<RefCell<Log>>) {
    while !clients.waiting.is_empty() {
        let (server, peer) = timeout(LOST_AFTER, Probe::new(listener.accept(), log, false))
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "a connection was lost by a dropped accept: {} clients never accepted",
                    clients.waiting.len()
                )
            })
            .unwrap();
        clients.claim(server, peer).await;
    }
}

/// A connection the listener's accept took while no future waited is closed with the
/// listener: its client sees the close, and no descriptor stays open (the caller checks).
async fn left_in_listener_dies_with_it(listener: TcpListener, clients: &mut Clients) {
    let mut fut = Box::pin(listener.accept());
    assert!(
        fut.as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
            .is_pending()
    );
    await_cqe(clients, &mut true).await;
    drop(fut);
    drop(listener);
    let quiet = settle(LOST_AFTER, || ringio::metrics().ops_in_flight == 0).await;
    assert!(quiet, "left in flight: {:?}", ringio::metrics());
    let mut c = clients.waiting.pop().expect("the client just connected");
    c.set_read_timeout(Some(LOST_AFTER)).unwrap();
    let mut b = [0u8; 16];
    match c.read(&mut b) {
        Ok(0) => {}
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
        other => panic!("the listener's connection is still open: {other:?}"),
    }
}

#[test]
fn tasks_sharing_a_single_shot_listener_are_all_woken() {
    const TASKS: usize = 4;
    const EACH: usize = 100;
    without_multishot_accept("single_shot_shared", async {
        let listener = Rc::new(TcpListener::bind("127.0.0.1:0").unwrap());
        let addr = listener.local_addr().unwrap();
        // Each task takes exactly EACH connections: one never woken for its share hangs.
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                let listener = listener.clone();
                ringio::spawn(async move {
                    let mut peers = Vec::new();
                    for _ in 0..EACH {
                        let (s, peer) = listener.accept().await.unwrap();
                        s.write_all(b"hi").await.0.unwrap();
                        peers.push(peer);
                    }
                    peers
                })
            })
            .collect();
        let clients = ringio::spawn_blocking(move || {
            (0..TASKS * EACH)
                .map(|_| {
                    let mut c = std::net::TcpStream::connect(addr).unwrap();
                    c.set_read_timeout(Some(LOST_AFTER)).unwrap();
                    let mut b = [0u8; 2];
                    c.read_exact(&mut b)
                        .expect("connection never served: a task sharing the listener slept");
                    c
                })
                .collect::<Vec<_>>()
        });
        let clients = timeout(Duration::from_secs(60), clients)
            .await
            .expect("clients hung")
            .unwrap();
        let mut peers = std::collections::HashSet::new();
        for t in tasks {
            let got = timeout(LOST_AFTER, t)
                .await
                .expect("a task sharing the listener was never woken for its share")
                .unwrap();
            for p in got {
                assert!(peers.insert(p), "{p} accepted twice");
            }
        }
        let mine: std::collections::HashSet<_> =
            clients.iter().map(|c| c.local_addr().unwrap()).collect();
        assert_eq!(peers, mine, "each client accepted exactly once");
        let state = format!("{listener:?}");
        assert!(
            state.contains("single_shot: true"),
            "the listener did not fall back to single-shot accepts: {state}"
        );
        drop(listener);
        let quiet = settle(LOST_AFTER, || ringio::metrics().ops_in_flight == 0).await;
        assert!(quiet, "left in flight: {:?}", ringio::metrics());
    });
}
