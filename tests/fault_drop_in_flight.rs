//! 10,000 reads, writes, accepts, connects and opens dropped at random points (unpolled,
//! queued, in the kernel, completed but untaken), the peer acting before or after each
//! drop: the kernel never writes freed memory (poison quarantine), no byte, connection or
//! file is lost or corrupted, and fds and metrics come back to their baselines. Where each
//! op was at its drop is measured (metrics, and for accepts the clients still pending),
//! and each kind must hit every point it names often enough.
//! One test per kind, each holding `serial()`: fd counts and the quarantine are global.
//! `RINGIO_DROPS` sets the drops per kind (default 2,000), e.g. fewer under valgrind.

mod support;

use ringio::fs::OpenOptions;
use ringio::net::{TcpListener, TcpStream};
use ringio::time::timeout;
use std::future::Future;
use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use support::{Rng, alloc, fd_names_settled, poll_noop, serial, settle};

#[global_allocator]
static ALLOC: alloc::Guard = alloc::Guard;

/// Drops per kind unless `RINGIO_DROPS` says otherwise: five kinds make the 10,000 of the
/// fault suite.
const DEFAULT_DROPS: usize = 2_000;
/// Share of drops that must hit an op whose SQE was pushed and whose CQE was not reaped.
const MIN_IN_FLIGHT: f64 = 0.25;
/// The same on epoll, where an op that finds its socket ready finishes at its first poll
/// and is never in flight: writes measured 30-36 % there (io_uring: 41-47 %), so the
/// floor leaves room for a loaded machine and still means 300 in-flight drops of 2,000.
const MIN_IN_FLIGHT_EPOLL: f64 = 0.15;
/// Share of drops each point a kind names (queued, in the kernel, ...) must get at least:
/// a change that stops the storm reaching one fails instead of passing unseen. The shares
/// follow the machine's timing: opens dropped with their CQE reaped but untaken came to
/// 1 % on a quiet machine (the CQE mostly arrives in the enter that submitted it) and to
/// more under load, so the floor is 0.25 %, 5 of 2,000: enough to show the point is hit.
const MIN_EACH: f64 = 0.0025;

/// The drop points every storm of ops with a slot must reach.
const SLOT_POINTS: &[State] = &[
    State::Unpolled,
    State::Queued,
    State::InKernel,
    State::Reaped,
];
/// Those the accept storm must reach: its listener's accept is armed once, so a drop
/// rarely finds its SQE queued.
const ACCEPT_POINTS: &[State] = &[State::Unpolled, State::InKernel, State::Reaped, State::Idle];

fn drops() -> usize {
    match std::env::var("RINGIO_DROPS") {
        Ok(s) => s.parse().expect("RINGIO_DROPS: a number of drops per kind"),
        Err(_) => DEFAULT_DROPS,
    }
}

/// When the op's future is dropped.
#[derive(Clone, Copy, Debug)]
enum Point {
    /// Created and dropped: no SQE.
    Unpolled,
    /// Polled once: the SQE is queued, no `io_uring_enter` has seen it.
    PolledOnce,
    /// Polled once, then the loop turned `n` times (submits, reaps), not polled again.
    AfterYields(u32),
    /// Polled once, then the loop turned until a CQE was reaped (for at most
    /// [`COMPLETION_WAIT`]), not polled again: the reaped-untaken drop, however long the
    /// kernel takes (an open punted to io-wq may take longer than a few turns).
    AfterCompletion,
    /// Inside `ringio::time::timeout` with this limit.
    Timeout(Duration),
}

/// When the peer acts, relative to the drop.
#[derive(Clone, Copy, Debug)]
enum Moment {
    BeforeDrop,
    RightAfter,
    AfterYield,
    /// Right after the op's first poll returned `Pending`, before the loop turns. Only
    /// [`Point::AfterYields`] turns the loop between that poll and the drop; at the other
    /// points this is `BeforeDrop`. The op waits first and its peer then makes it ready,
    /// so the turns before the drop complete it and reap its CQE: the reaped-untaken drop
    /// on both backends. On io_uring an op whose data was there before it was submitted
    /// gets there too; on epoll such an op completes at its first poll (it is tried when
    /// pushed), so this is how a storm there drops ops with their CQE reaped.
    WhileWaiting,
}

/// Where the op was when its future went away.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Never polled.
    Unpolled,
    /// The future returned `Ready`: nothing was dropped in flight.
    Completed,
    /// SQE pushed, not yet submitted by any `io_uring_enter`.
    Queued,
    /// SQE submitted, CQE not reaped. For accepts: a client's connection was pending in
    /// the kernel (its connect returned; no CQE reaped since the accept last polled empty).
    InKernel,
    /// CQE reaped, result not taken by the future. For accepts: the connection's CQE came
    /// after the future's last poll, so it waited in the listener.
    Reaped,
    /// Accepts only: waiting on the listener's armed accept with no connection pending,
    /// so nothing was at stake.
    Idle,
}

enum Outcome<T> {
    Done(T),
    Dropped,
}

#[derive(Default, Debug)]
struct Tally {
    unpolled: usize,
    completed: usize,
    queued: usize,
    in_kernel: usize,
    reaped: usize,
    idle: usize,
}

impl Tally {
    fn add(&mut self, s: State) {
        match s {
            State::Unpolled => self.unpolled += 1,
            State::Completed => self.completed += 1,
            State::Queued => self.queued += 1,
            State::InKernel => self.in_kernel += 1,
            State::Reaped => self.reaped += 1,
            State::Idle => self.idle += 1,
        }
    }

    fn get(&self, s: State) -> usize {
        match s {
            State::Unpolled => self.unpolled,
            State::Completed => self.completed,
            State::Queued => self.queued,
            State::InKernel => self.in_kernel,
            State::Reaped => self.reaped,
            State::Idle => self.idle,
        }
    }

    fn total(&self) -> usize {
        self.unpolled + self.completed + self.queued + self.in_kernel + self.reaped + self.idle
    }

    fn in_flight(&self) -> usize {
        self.queued + self.in_kernel
    }

    /// Prints the tally and checks the storm really hit ops in flight, and each point in
    /// `points` at least [`MIN_EACH`] of the time.
    fn report_and_check(&self, kind: &str, seed: u64, min_in_kernel: f64, points: &[State]) {
        let total = self.total();
        eprintln!(
            "{kind}: seed {seed:#x}: {total} ops: unpolled {}, completed {}, dropped queued {}, \
             dropped in kernel {}, dropped reaped-untaken {}, dropped idle {}; in flight at \
             drop {} ({:.0} %)",
            self.unpolled,
            self.completed,
            self.queued,
            self.in_kernel,
            self.reaped,
            self.idle,
            self.in_flight(),
            100.0 * self.in_flight() as f64 / total as f64,
        );
        for &point in points {
            assert!(
                self.get(point) as f64 >= MIN_EACH * total as f64,
                "{kind}: only {} of {total} drops were {point:?}: {self:?}",
                self.get(point)
            );
        }
        let min_in_flight = if support::on_epoll() {
            MIN_IN_FLIGHT_EPOLL
        } else {
            MIN_IN_FLIGHT
        };
        assert!(
            self.in_flight() as f64 >= min_in_flight * total as f64,
            "{kind}: only {} of {total} drops hit an op in flight",
            self.in_flight()
        );
        assert!(
            self.in_kernel as f64 >= min_in_kernel * total as f64,
            "{kind}: only {} of {total} drops hit an op in the kernel",
            self.in_kernel
        );
    }
}

/// The seed: `FAULT_SEED` (decimal or 0x-hex) to replay a run, else the clock.
fn seed(kind: u64) -> u64 {
    let base = match std::env::var("FAULT_SEED") {
        Ok(s) => match s.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16).expect("FAULT_SEED"),
            None => s.parse().expect("FAULT_SEED"),
        },
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64,
    };
    eprintln!("seed {base:#x} (replay with FAULT_SEED={base:#x})");
    base ^ kind.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

fn random_point(rng: &mut Rng) -> Point {
    match rng.below(8) {
        0 => Point::Unpolled,
        1 | 2 => Point::PolledOnce,
        3 | 4 => Point::AfterYields(1 + rng.below(3) as u32),
        5 => Point::AfterCompletion,
        _ => Point::Timeout(Duration::from_micros(rng.below(51))),
    }
}

/// The longest [`Point::AfterCompletion`] turns the loop waiting for a CQE.
const COMPLETION_WAIT: Duration = Duration::from_millis(20);

fn random_moment(rng: &mut Rng) -> Moment {
    match rng.below(3) {
        0 => Moment::BeforeDrop,
        1 => Moment::RightAfter,
        _ => Moment::AfterYield,
    }
}

/// For reads, whose peer's act (sending) makes them ready: one in four acts while the op
/// waits ([`Moment::WhileWaiting`]), the rest as [`random_moment`].
fn random_read_moment(rng: &mut Rng) -> Moment {
    match rng.below(4) {
        0 => Moment::WhileWaiting,
        _ => random_moment(rng),
    }
}

/// How [`drive`] tells where an op was when its future went away.
#[derive(Clone, Copy)]
enum Kind {
    /// The op owns a driver slot: the slot count says whether its CQE was reaped.
    Slot,
    /// An accept: it takes from the listener's multishot accept, which outlives it.
    /// `pending` clients had connected and were not yet claimed when it was made.
    Accept { pending: usize },
}

/// A future that notes, at each poll, what the metrics say about its op.
struct Probe<F: Future> {
    fut: Pin<Box<F>>,
    /// `ops_completed` after the last poll that returned `Pending`.
    completed_at_pending: u64,
    /// `enters` when a poll last pushed an SQE.
    enters_at_push: Option<u64>,
}

impl<F: Future> Future for Probe<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let before = ringio::metrics().ops_submitted;
        let res = self.fut.as_mut().poll(cx);
        let after = ringio::metrics();
        if after.ops_submitted > before {
            self.enters_at_push = Some(after.enters);
        }
        if res.is_pending() {
            self.completed_at_pending = after.ops_completed;
        }
        res
    }
}

/// Where a dropped accept's op was. Its last poll found the listener's queue empty, and
/// the listener's accept is the only op in flight, so a CQE reaped since then is a
/// connection waiting in the listener; without one, each of the `pending` clients whose
/// connect returned has its connection in the kernel (backlog, or a CQE not reaped).
fn accept_state<F: Future>(fut: &Probe<F>, pending: usize) -> State {
    let m = ringio::metrics();
    if m.ops_completed > fut.completed_at_pending {
        State::Reaped
    } else if fut.enters_at_push == Some(m.enters) {
        State::Queued
    } else if pending > 0 {
        State::InKernel
    } else {
        State::Idle
    }
}

/// Drops `fut` and says where its op was. For a slot op, nothing between the two metric
/// reads reaps a CQE, so the slot count falls by one exactly when the CQE had been reaped
/// (the drop frees the slot) and stays when the slot is orphaned until its CQE.
fn drop_classified<F: Future>(
    fut: Probe<F>,
    enters_after_push: u64,
    kind: Kind,
    pending: usize,
) -> State {
    if let Kind::Accept { .. } = kind {
        let state = accept_state(&fut, pending);
        drop(fut);
        return state;
    }
    let before = ringio::metrics();
    drop(fut);
    let after = ringio::metrics();
    if after.ops_in_flight < before.ops_in_flight {
        State::Reaped
    } else if before.enters == enters_after_push {
        State::Queued
    } else {
        State::InKernel
    }
}

/// Runs `fut` to the drop point `point`, calling `peer` once at `moment`; returns the
/// output if the future finished first, and tallies where the op was (see [`Kind`]).
async fn drive<F: Future>(
    fut: F,
    point: Point,
    moment: Moment,
    kind: Kind,
    tally: &mut Tally,
    peer: impl FnOnce(),
) -> Outcome<F::Output> {
    let mut peer = Some(peer);
    let mut act = || (peer.take().expect("the peer acts once"))();
    // For accepts: clients connected and unclaimed at the drop (`peer` connects one).
    let pending = match kind {
        Kind::Accept { pending } => {
            pending + usize::from(matches!(moment, Moment::BeforeDrop | Moment::WhileWaiting))
        }
        Kind::Slot => 0,
    };
    let mut fut = Probe {
        fut: Box::pin(fut),
        completed_at_pending: 0,
        enters_at_push: None,
    };
    let (state, out) = match point {
        Point::Unpolled => {
            if let Moment::BeforeDrop | Moment::WhileWaiting = moment {
                act();
            }
            drop(fut);
            (State::Unpolled, None)
        }
        Point::PolledOnce | Point::AfterYields(_) | Point::AfterCompletion => {
            if let Poll::Ready(out) = poll_noop(Pin::new(&mut fut)) {
                (State::Completed, Some(out))
            } else {
                let enters = ringio::metrics().enters;
                if let Moment::WhileWaiting = moment {
                    act();
                }
                match point {
                    Point::AfterYields(n) => {
                        for _ in 0..n {
                            ringio::yield_now().await;
                        }
                    }
                    Point::AfterCompletion => {
                        let start = Instant::now();
                        while ringio::metrics().ops_completed == fut.completed_at_pending
                            && start.elapsed() < COMPLETION_WAIT
                        {
                            ringio::yield_now().await;
                        }
                    }
                    _ => {}
                }
                if let Moment::BeforeDrop = moment {
                    act();
                }
                (drop_classified(fut, enters, kind, pending), None)
            }
        }
        Point::Timeout(limit) => {
            // "Before the drop" here is before the op starts: the data races the op.
            if let Moment::BeforeDrop | Moment::WhileWaiting = moment {
                act();
            }
            let enters = ringio::metrics().enters;
            match timeout(limit, &mut fut).await {
                Ok(out) => (State::Completed, Some(out)),
                // `Timeout` polls the op before its timer and gives up in that same poll,
                // so an op that timed out was pending, its CQE not reaped; nothing turns
                // the loop between here and the drop.
                Err(_) => {
                    let state = match kind {
                        Kind::Accept { .. } => accept_state(&fut, pending),
                        Kind::Slot if ringio::metrics().enters == enters => State::Queued,
                        Kind::Slot => State::InKernel,
                    };
                    drop(fut);
                    (state, None)
                }
            }
        }
    };
    tally.add(state);
    match moment {
        Moment::BeforeDrop | Moment::WhileWaiting => {}
        Moment::RightAfter => act(),
        Moment::AfterYield => {
            ringio::yield_now().await;
            act();
        }
    }
    match out {
        Some(out) => Outcome::Done(out),
        None => Outcome::Dropped,
    }
}

/// Runs one storm on a fresh runtime with the quarantine on, then checks that the
/// quarantine is clean, nothing is left in flight or pending, and no fd leaked.
fn storm<F, Fut>(kind: &'static str, kind_id: u64, min_in_kernel: f64, points: &[State], body: F)
where
    F: FnOnce(Rng) -> Fut,
    Fut: Future<Output = Tally>,
{
    let _serial = serial();
    support::watchdog(kind, Duration::from_secs(120));
    let corrupted_before = alloc::corrupted_blocks();
    let freed_before = alloc::quarantined();
    let seed = seed(kind_id);
    let fds_before = fd_names_settled(&[]);
    let start = Instant::now();
    alloc::quarantine_on();
    let tally = ringio::run(async {
        let m0 = ringio::metrics();
        let tally = body(Rng::new(seed)).await;
        let quiet = settle(Duration::from_secs(5), || {
            let m = ringio::metrics();
            m.ops_in_flight == 0 && m.timers_pending == 0
        })
        .await;
        // The quarantine first: a use-after-free would also leave other traces.
        assert_eq!(
            alloc::corrupted_blocks(),
            corrupted_before,
            "{kind}: the kernel wrote into freed memory"
        );
        let m = ringio::metrics();
        assert!(quiet, "{kind}: left behind: {m:?}");
        assert_eq!(m.tasks_alive, m0.tasks_alive, "{kind}: tasks left alive");
        tally
    });
    let checked = alloc::quarantined() - freed_before;
    let after = fd_names_settled(&fds_before);
    if after != fds_before {
        let gone: Vec<_> = fds_before.iter().filter(|f| !after.contains(f)).collect();
        let new: Vec<_> = after.iter().filter(|f| !fds_before.contains(f)).collect();
        panic!(
            "{kind}: descriptors leaked or closed: {} before, {} after; {} new, e.g. {:?}; \
             gone: {gone:?}",
            fds_before.len(),
            after.len(),
            new.len(),
            &new[..new.len().min(5)],
        );
    }
    assert_eq!(
        alloc::verify_and_release(),
        corrupted_before,
        "{kind}: the kernel wrote into freed memory"
    );
    eprintln!(
        "{kind}: {checked} frees checked by the quarantine, {:.2} s",
        start.elapsed().as_secs_f64()
    );
    tally.report_and_check(kind, seed, min_in_kernel, points);
}

#[test]
fn dropped_reads_at_random_points_touch_no_freed_memory_and_lose_no_byte() {
    storm("reads", 1, 0.10, SLOT_POINTS, |mut rng| async move {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let s = TcpStream::connect(std_listener.local_addr().unwrap())
            .await
            .unwrap();
        let (mut peer, _) = std_listener.accept().unwrap();
        drop(std_listener);
        let mut tally = Tally::default();
        let mut sent = Vec::new();
        let mut received = Vec::new();
        // Every byte that comes back must be the next one the peer sent.
        let check = |received: &[u8], sent: &[u8], from: usize| {
            assert!(received.len() <= sent.len(), "more bytes than were sent");
            if received[from..] != sent[from..received.len()] {
                let at = (from..received.len())
                    .find(|&i| received[i] != sent[i])
                    .unwrap();
                panic!(
                    "byte {at}: got {:#04x}, sent {:#04x}: lost or reordered by a dropped read \
                     ({} freed blocks written)",
                    received[at],
                    sent[at],
                    alloc::corrupted_blocks()
                );
            }
        };
        for _ in 0..drops() {
            let mut chunk = vec![0u8; 1 + rng.below(2048) as usize];
            rng.fill(&mut chunk);
            let (point, moment) = (random_point(&mut rng), random_read_moment(&mut rng));
            let buf = vec![0u8; 4096 + rng.below(4096) as usize];
            let out = drive(s.read(buf), point, moment, Kind::Slot, &mut tally, || {
                peer.write_all(&chunk).unwrap();
                sent.extend_from_slice(&chunk);
            })
            .await;
            if let Outcome::Done((res, buf)) = out {
                let from = received.len();
                received.extend_from_slice(&buf[..res.unwrap()]);
                check(&received, &sent, from);
            }
            // Mostly catch up, so the next read waits in the kernel; sometimes leave bytes
            // in the socket or in the stream's store of bytes kept from dropped reads.
            if rng.below(4) != 0 {
                while received.len() < sent.len() {
                    let (res, buf) = timeout(Duration::from_secs(5), s.read(vec![0u8; 8192]))
                        .await
                        .unwrap_or_else(|_| lost(received.len(), sent.len()));
                    let n = res.unwrap();
                    assert!(n > 0, "unexpected EOF");
                    let from = received.len();
                    received.extend_from_slice(&buf[..n]);
                    check(&received, &sent, from);
                }
            }
        }
        // The peer sends once more after the storm, then closes: every byte arrives.
        peer.write_all(b"the end").unwrap();
        sent.extend_from_slice(b"the end");
        drop(peer);
        loop {
            let (res, buf) = timeout(Duration::from_secs(5), s.read(vec![0u8; 8192]))
                .await
                .unwrap_or_else(|_| lost(received.len(), sent.len()));
            let n = res.unwrap();
            if n == 0 {
                break;
            }
            let from = received.len();
            received.extend_from_slice(&buf[..n]);
            check(&received, &sent, from);
        }
        assert_eq!(received.len(), sent.len(), "bytes lost by dropped reads");
        tally
    });
}

/// No byte came for 5 s though the peer sent more.
fn lost(received: usize, sent: usize) -> ! {
    panic!(
        "bytes lost by dropped reads: {received} of {sent} arrived ({} freed blocks written)",
        alloc::corrupted_blocks()
    )
}

/// A write's bytes are all its tag; neighbours differ, and no tag is 0 or the quarantine's
/// poison (0xA5), so bytes sent from a freed buffer show.
fn tag(i: usize) -> u8 {
    const TAGS: usize = 253;
    let t = (i % TAGS) as u8 + 1; // 1..=253
    if t == 0xA5 { 0xFE } else { t }
}

struct Sent {
    len: usize,
    /// Bytes the peer must have got: known when the future completed.
    exact: Option<usize>,
}

/// Splits what the peer received into a prefix of each write, in order. What is promised
/// (TcpStream::write/write_all "Cancel safety"): a completed write sent what it reports;
/// a dropped one sent an unknown prefix, maybe none.
fn check_writes(received: &[u8], writes: &[Sent]) {
    let mut pos = 0;
    for (i, w) in writes.iter().enumerate() {
        let run = received[pos..]
            .iter()
            .take(w.len)
            .take_while(|&&b| b == tag(i))
            .count();
        if let Some(exact) = w.exact {
            assert!(
                run == exact,
                "write {i} of {} bytes completed with {exact} sent, the peer got {run} of \
                 its tag {:#04x} at byte {pos} of the stream, then {} (0xa5: sent from \
                 freed memory)",
                w.len,
                tag(i),
                received
                    .get(pos + run)
                    .map_or("the end".to_string(), |b| format!("{b:#04x}")),
            );
        }
        pos += run;
    }
    if pos != received.len() {
        panic!(
            "byte {pos} of {}: {:#04x} is no prefix of any write (0xa5: sent from freed memory)",
            received.len(),
            received[pos]
        );
    }
}

#[test]
fn dropped_writes_at_random_points_send_only_a_prefix_of_their_own_buffer() {
    // On epoll a write is tried when pushed and sends what fits, so it waits only while the
    // socket has no room at all, and then until epoll reports room: an edge that comes
    // only once the bytes queued on the socket fall to two thirds of its send buffer (the
    // kernel's sk_stream_write_space). Here the peer's reads of up to 16 KiB a drop (32
    // KiB was tried too) never brought that edge within the few turns before a drop, and
    // a peer reading all it can keeps the socket from filling, so no write waits at all.
    // So a write dropped with its CQE reaped, which on io_uring is one that found room
    // when submitted, is demanded on io_uring only.
    let points: &[State] = if support::on_epoll() {
        &[State::Unpolled, State::Queued, State::InKernel]
    } else {
        SLOT_POINTS
    };
    storm("writes", 2, 0.10, points, |mut rng| async move {
        // A small receive window (set on the listener, inherited by the accepted socket)
        // fills quickly, so writes wait in the kernel for room.
        let sock =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        sock.set_recv_buffer_size(16 * 1024).unwrap();
        sock.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
            .unwrap();
        sock.listen(8).unwrap();
        let std_listener: std::net::TcpListener = sock.into();
        let s = TcpStream::connect(std_listener.local_addr().unwrap())
            .await
            .unwrap();
        let (mut peer, _) = std_listener.accept().unwrap();
        drop(std_listener);
        peer.set_nonblocking(true).unwrap();
        let mut received = Vec::new();
        // The peer reads what arrived, up to `budget` bytes, without waiting.
        let drain = |peer: &mut std::net::TcpStream, received: &mut Vec<u8>, budget: usize| {
            let mut buf = vec![0u8; 64 * 1024];
            let mut left = budget;
            while left > 0 {
                let want = left.min(buf.len());
                match peer.read(&mut buf[..want]) {
                    Ok(0) => break,
                    Ok(n) => {
                        received.extend_from_slice(&buf[..n]);
                        left -= n;
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) => panic!("peer read: {e}"),
                }
            }
        };
        let mut tally = Tally::default();
        let mut writes = Vec::new();
        for i in 0..drops() {
            let len = 1 + rng.below(32 * 1024) as usize;
            let buf = vec![tag(i); len];
            let (point, moment) = (random_point(&mut rng), random_moment(&mut rng));
            let budget = rng.below(16 * 1024) as usize;
            let act = || drain(&mut peer, &mut received, budget);
            let exact = if rng.below(2) == 0 {
                match drive(s.write(buf), point, moment, Kind::Slot, &mut tally, act).await {
                    Outcome::Done((res, _)) => Some(res.unwrap()),
                    Outcome::Dropped => None,
                }
            } else {
                match drive(s.write_all(buf), point, moment, Kind::Slot, &mut tally, act).await {
                    Outcome::Done((res, _)) => Some(res.map(|()| len).unwrap()),
                    Outcome::Dropped => None,
                }
            };
            writes.push(Sent { len, exact });
        }
        // Orphaned sends end (cancelled, or done if they won the race) before the last
        // write, so its bytes come last; the peer keeps reading meanwhile.
        assert!(
            settle(Duration::from_secs(5), || {
                drain(&mut peer, &mut received, usize::MAX);
                ringio::metrics().ops_in_flight == 0
            })
            .await
        );
        let last = vec![tag(drops()); 1000];
        let writer = async {
            let (res, _) = s.write_all(last).await;
            res.unwrap();
            s.shutdown(std::net::Shutdown::Write).unwrap();
        };
        let reader = async {
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let before = received.len();
                drain(&mut peer, &mut received, usize::MAX);
                if received.len() == before {
                    let mut b = [0u8; 1];
                    match peer.read(&mut b) {
                        Ok(0) => break,
                        Ok(_) => received.push(b[0]),
                        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                        Err(e) => panic!("peer read: {e}"),
                    }
                    assert!(Instant::now() < deadline, "the peer never saw EOF");
                    ringio::time::sleep(Duration::from_millis(1)).await;
                }
            }
        };
        ringio::gather!(writer, reader);
        writes.push(Sent {
            len: 1000,
            exact: Some(1000),
        });
        check_writes(&received, &writes);
        tally
    });
}

#[test]
fn dropped_accepts_at_random_points_lose_no_connection_and_leak_no_fd() {
    storm("accepts", 3, 0.20, ACCEPT_POINTS, |mut rng| async move {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mut tally = Tally::default();
        // Client connections whose server side nobody claimed yet, by client address.
        let mut waiting: Vec<std::net::TcpStream> = Vec::new();
        let mut claimed = 0usize;
        let claim = |waiting: &mut Vec<std::net::TcpStream>, peer: SocketAddr| {
            let at = waiting
                .iter()
                .position(|c| c.local_addr().unwrap() == peer)
                .unwrap_or_else(|| panic!("accepted {peer}, which no client is"));
            waiting.swap_remove(at)
        };
        for _ in 0..drops() {
            // A client connects before the drop more often than other peers act then, and
            // sometimes before the accept is made too, so that most drops find a connection
            // in the kernel or in the listener rather than an idle accept.
            let point = random_point(&mut rng);
            let moment = match rng.below(2) {
                0 => Moment::BeforeDrop,
                _ => random_moment(&mut rng),
            };
            if rng.below(4) == 0 {
                waiting.push(std::net::TcpStream::connect(addr).unwrap());
            }
            let pending = Kind::Accept {
                pending: waiting.len(),
            };
            let out = drive(
                listener.accept(),
                point,
                moment,
                pending,
                &mut tally,
                || {
                    waiting.push(std::net::TcpStream::connect(addr).unwrap());
                },
            )
            .await;
            if let Outcome::Done(res) = out {
                let (server, peer) = res.unwrap();
                let mut client = claim(&mut waiting, peer);
                check_pair(&server, &mut client).await;
                claimed += 1;
            }
            // Connections a dropped accept let through wait in the listener: the next
            // accepts get them. Sometimes leave a few waiting across drops.
            if rng.below(4) != 0 || waiting.len() > 8 {
                while !waiting.is_empty() {
                    let (server, peer) = timeout(Duration::from_secs(5), listener.accept())
                        .await
                        .expect("a connection was lost by a dropped accept")
                        .unwrap();
                    let mut client = claim(&mut waiting, peer);
                    check_pair(&server, &mut client).await;
                    claimed += 1;
                }
            }
        }
        eprintln!("accepts: {claimed} connections claimed");
        // Unclaimed connections die with the listener: their clients see the close.
        for _ in 0..5 {
            waiting.push(std::net::TcpStream::connect(addr).unwrap());
        }
        ringio::time::sleep(Duration::from_millis(5)).await;
        drop(listener);
        assert!(
            settle(Duration::from_secs(5), || ringio::metrics().ops_in_flight
                == 0)
            .await
        );
        for mut c in waiting {
            assert_closed(&mut c);
        }
        tally
    });
}

/// The accepted stream is the client's connection: a byte goes each way.
async fn check_pair(server: &TcpStream, client: &mut std::net::TcpStream) {
    client.write_all(b"c").unwrap();
    let (res, buf) = timeout(Duration::from_secs(5), server.read(vec![0u8; 4096]))
        .await
        .expect("the accepted stream got no byte");
    assert_eq!(&buf[..res.unwrap()], b"c");
    let (res, _) = server.write_all(b"s").await;
    res.unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut b = [0u8; 1];
    client.read_exact(&mut b).unwrap();
    assert_eq!(&b, b"s");
}

/// The other end of `c` was closed: `c` reads EOF (after any bytes) or a reset.
fn assert_closed(c: &mut std::net::TcpStream) {
    c.set_nonblocking(false).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut b = [0u8; 64];
    loop {
        match c.read(&mut b) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return,
            Err(e) => panic!("the other end is still open: {e}"),
        }
    }
}

#[test]
fn dropped_connects_at_random_points_close_their_socket_and_leak_no_fd() {
    storm("connects", 4, 0.10, SLOT_POINTS, |mut rng| async move {
        // A listen backlog of 1: when the peer does not accept for a while the queue is
        // full, SYNs are dropped and connects wait in the kernel (SYN retries).
        let sock =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        sock.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
            .unwrap();
        sock.listen(1).unwrap();
        let std_listener: std::net::TcpListener = sock.into();
        std_listener.set_nonblocking(true).unwrap();
        let addr = std_listener.local_addr().unwrap();
        let mut tally = Tally::default();
        // Server sides the peer accepted, with their client's address.
        let mut accepted: Vec<(std::net::TcpStream, SocketAddr)> = Vec::new();
        // The peer accepts up to `n` connections and sends a byte on each.
        let accept = |accepted: &mut Vec<(std::net::TcpStream, SocketAddr)>, n: u64| {
            for _ in 0..n {
                match std_listener.accept() {
                    Ok((mut c, a)) => {
                        c.set_nonblocking(false).unwrap();
                        // The client may be gone already: a reset is fine here.
                        let _ = c.write_all(b"p");
                        accepted.push((c, a));
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                    Err(e) => panic!("peer accept: {e}"),
                }
            }
        };
        let mut connected = Vec::new();
        let mut phase_accepts = true;
        for i in 0..drops() {
            // Phases of 50: the peer accepts, or lets the backlog fill.
            if i % 50 == 0 {
                phase_accepts = rng.below(2) == 0;
            }
            let n = if phase_accepts { 4 } else { 0 };
            let (point, moment) = (random_point(&mut rng), random_moment(&mut rng));
            let out = drive(
                TcpStream::connect(addr),
                point,
                moment,
                Kind::Slot,
                &mut tally,
                || accept(&mut accepted, n),
            )
            .await;
            if let Outcome::Done(res) = out {
                let s = res.unwrap();
                let (res, _) = s.write_all(b"c").await;
                res.unwrap();
                connected.push(s.local_addr().unwrap());
            }
        }
        // Orphaned connects end, and the peer takes the rest of its queue.
        assert!(
            settle(Duration::from_secs(5), || ringio::metrics().ops_in_flight
                == 0)
            .await
        );
        let all_reached = settle(Duration::from_secs(5), || {
            accept(&mut accepted, u64::MAX);
            connected
                .iter()
                .all(|a| accepted.iter().any(|(_, p)| p == a))
        })
        .await;
        // Every completed connect reached the peer, and every client socket, completed or
        // dropped, was closed by the runtime.
        assert!(all_reached, "a completed connect never reached the peer");
        eprintln!(
            "connects: {} completed, {} connections reached the peer",
            connected.len(),
            accepted.len()
        );
        for (c, _) in &mut accepted {
            assert_closed(c);
        }
        tally
    });
}

#[test]
fn dropped_opens_at_random_points_close_late_fds_and_leave_files_intact() {
    storm("opens", 5, 0.10, SLOT_POINTS, |mut rng| async move {
        // Made and removed inside the storm: `serial()` covers the directory's fds.
        let d = std::env::temp_dir().join(format!(
            "ringio-fault-drop-open-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir(&d).unwrap();
        let mut tally = Tally::default();
        let mut files = Vec::new();
        for i in 0..drops() {
            let path = d.join(format!("f{i}"));
            let content = format!("file {i} at {}", path.display()).into_bytes();
            let mut opts = OpenOptions::new();
            // Read-only (NotFound until the peer creates it), create, or create_new
            // (AlreadyExists if the peer was first); never truncate.
            let how = rng.below(3);
            match how {
                0 => opts.read(true),
                1 => opts.read(true).write(true).create(true),
                _ => opts.read(true).write(true).create_new(true),
            };
            let (point, moment) = (random_point(&mut rng), random_moment(&mut rng));
            let out = drive(
                opts.open(&path),
                point,
                moment,
                Kind::Slot,
                &mut tally,
                || {
                    let mut f = std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(&path)
                        .unwrap();
                    f.write_all(&content).unwrap();
                },
            )
            .await;
            match out {
                Outcome::Done(Ok(file)) => {
                    // The fd is this path's file: it reads what the peer wrote.
                    let (res, buf) = file.read_at(vec![0u8; 4096], 0).await;
                    assert_eq!(&buf[..res.unwrap()], &content[..], "wrong file opened");
                    drop(file);
                }
                Outcome::Done(Err(e)) => match (how, e.kind()) {
                    (0, ErrorKind::NotFound) | (2, ErrorKind::AlreadyExists) => {}
                    _ => panic!("open {} ({how}): {e}", path.display()),
                },
                Outcome::Dropped => {}
            }
            files.push((path, content));
        }
        assert!(
            settle(Duration::from_secs(5), || ringio::metrics().ops_in_flight
                == 0)
            .await
        );
        // No late open truncated or wrote anything.
        for (path, content) in &files {
            assert_eq!(&std::fs::read(path).unwrap(), content, "{}", path.display());
        }
        std::fs::remove_dir_all(&d).unwrap();
        tally
    });
}
