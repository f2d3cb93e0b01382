//! `TcpListener::accept`: the multishot accept kept armed per listener (dropped listeners
//! leak no descriptor, the queue of unclaimed connections is bounded, tasks sharing a
//! listener each get distinct connections) and running out of descriptors (EMFILE).
//!
//! Every test takes `support::serial()`: they count the process's descriptors, which any
//! other test running at the same time would disturb.
//!
//! EMFILE: an accept loop that hits EMFILE keeps serving the connections it has, does not
//! spin, and accepts again once descriptors are freed (the back-off described in
//! `src/net/accept.rs`; the README's fault suite). [`emfile_backs_off_and_recovers`]
//! re-runs this binary as a child with `RINGIO_EMFILE_CHILD` set. The child is an echo
//! server with a soft RLIMIT_NOFILE of [`CHILD_NOFILE`], written like a real server: on
//! EMFILE/ENFILE it counts the failure and calls `accept` again at once, with no sleep of
//! its own, so only the listener's built-in back-off stands between it and a spin. It
//! reports its counters on stdout every [`STATS_EVERY`]. The parent (the test) opens more
//! clients than the child can hold, and reads the counters to judge.

mod support;

use ringio::net::{TcpListener, is_fd_exhaustion};
use ringio::time::{sleep, timeout};
use std::cell::Cell;
use std::io::{self, BufRead, BufReader, ErrorKind, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::rc::Rc;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::{fd_count, in_flight, serial, settle};

// ---------------------------------------------------------------- the multishot accept

#[test]
fn dropping_listener_with_multishot_accept_leaks_no_fd() {
    let _serial = serial();
    support::watchdog("listener_drop_fd", Duration::from_secs(60));
    const LISTENERS: usize = 40;
    const QUEUED: usize = 4;
    ringio::run(async {
        let fd_base = fd_count();
        let base = in_flight();
        let mut clients = Vec::new();
        // Many listeners armed at once, each with connections queued in its accept.
        let mut listeners = Vec::new();
        for _ in 0..LISTENERS {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let first = std::net::TcpStream::connect(addr).unwrap();
            drop(listener.accept().await.unwrap()); // arms the multishot accept
            clients.push(first);
            for _ in 0..QUEUED {
                clients.push(std::net::TcpStream::connect(addr).unwrap());
            }
            listeners.push(listener);
        }
        // Listeners + clients + the accepted-unclaimed server sides.
        let expected = fd_base + LISTENERS + clients.len() + LISTENERS * QUEUED;
        assert!(
            settle(Duration::from_secs(5), || fd_count() >= expected).await,
            "connections were not accepted into the listeners: {} fds, expected {expected}",
            fd_count()
        );
        assert_eq!(
            in_flight(),
            base + LISTENERS,
            "one multishot accept per listener"
        );
        drop(listeners);
        // Listeners dropped at once after connects, armed or not, queued or in backlog.
        for round in 0..LISTENERS {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            if round % 2 == 0 {
                // Armed by an accept that is dropped before any connection comes.
                assert!(
                    timeout(Duration::ZERO, listener.accept()).await.is_err(),
                    "no client yet"
                );
            }
            for _ in 0..1 + round % 5 {
                clients.push(std::net::TcpStream::connect(addr).unwrap());
            }
            if round % 3 == 0 {
                ringio::yield_now().await;
            }
            drop(listener);
        }
        assert!(
            settle(Duration::from_secs(5), || in_flight() == base).await,
            "ops in flight: {} (baseline {base})",
            in_flight()
        );
        // Only the clients' own descriptors remain; each sees its server side gone.
        assert!(
            settle(Duration::from_secs(5), || fd_count()
                == fd_base + clients.len())
            .await,
            "accepted fds leaked: {} fds, expected {}",
            fd_count(),
            fd_base + clients.len()
        );
        for (i, c) in clients.iter_mut().enumerate() {
            c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut b = [0u8; 1];
            match c.read(&mut b) {
                Ok(0) => {}
                Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
                other => panic!("client {i} not closed: {other:?}"),
            }
        }
        drop(clients);
        assert!(
            settle(Duration::from_secs(5), || fd_count() == fd_base).await,
            "descriptors leaked: {} now, {fd_base} before",
            fd_count()
        );
    });
}

#[test]
fn listener_accepts_past_its_queue_limit() {
    let _serial = serial();
    support::watchdog("accept_queue_limit", Duration::from_secs(60));
    const CONNS: usize = 300;
    ringio::run(async {
        let fd_base = fd_count();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let first = std::net::TcpStream::connect(addr).unwrap();
        let (s, _) = listener.accept().await.unwrap();
        drop(s);
        // Far more connections than the multishot accept keeps unclaimed (64) arrive
        // while nobody accepts; the rest wait in the backlog.
        let mut clients: Vec<_> = (0..CONNS)
            .map(|_| std::net::TcpStream::connect(addr).unwrap())
            .collect();
        sleep(Duration::from_millis(50)).await;
        // Descriptors beyond the listener and the clients: connections accepted and
        // waiting unclaimed in the listener (see `accept_queue_limit_leaves_later_connections_in_the_backlog`).
        let unclaimed = fd_count() - (fd_base + 1 + 1 + CONNS);
        eprintln!("accept queue: {unclaimed} of {CONNS} waiting connections took an fd");
        let mut peers = std::collections::HashSet::new();
        for i in 0..CONNS {
            let (s, peer) = timeout(Duration::from_secs(5), listener.accept())
                .await
                .unwrap_or_else(|_| panic!("accept {i} hung: the accept was not re-armed"))
                .unwrap();
            assert!(peers.insert(peer), "connection {peer} accepted twice");
            s.write_all(b"k".to_vec()).await.0.unwrap();
        }
        for c in &mut clients {
            let mut b = [0u8; 1];
            c.read_exact(&mut b).unwrap();
            assert_eq!(&b, b"k");
        }
        drop(listener);
        drop(clients);
        drop(first);
        assert!(settle(Duration::from_secs(5), || in_flight() == 0).await);
        assert!(
            settle(Duration::from_secs(5), || fd_count() == fd_base).await,
            "descriptors leaked: {} now, {fd_base} before",
            fd_count()
        );
    });
}

/// Once connections wait unclaimed past `ACCEPT_QUEUE` (64), the listener stops its
/// multishot accept, so later connections wait in the kernel's backlog, holding no fd of
/// ours, until someone accepts again. (A burst that arrives between two loop turns is
/// taken whole: one run of the kernel's multishot accept drains the backlog.)
#[test]
fn accept_queue_limit_leaves_later_connections_in_the_backlog() {
    let _serial = serial();
    support::watchdog("accept_queue_bound", Duration::from_secs(60));
    const BURST: usize = 300;
    const LATER: usize = 50;
    ringio::run(async {
        let fd_base = fd_count();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let first = std::net::TcpStream::connect(addr).unwrap();
        drop(listener.accept().await.unwrap()); // arms the multishot accept
        let mut clients: Vec<_> = (0..BURST)
            .map(|_| std::net::TcpStream::connect(addr).unwrap())
            .collect();
        sleep(Duration::from_millis(50)).await;
        let burst_taken = fd_count() - (fd_base + 1 + 1 + BURST);
        assert!(burst_taken <= BURST);
        // The accept is stopped now: these stay in the backlog.
        clients.extend((0..LATER).map(|_| std::net::TcpStream::connect(addr).unwrap()));
        sleep(Duration::from_millis(50)).await;
        let taken = fd_count() - (fd_base + 1 + 1 + BURST + LATER);
        assert_eq!(
            taken, burst_taken,
            "connections made after the accept queue filled took fds"
        );
        // Accepting again takes every one of them, each once.
        let mut peers = std::collections::HashSet::new();
        for _ in 0..BURST + LATER {
            let (_s, peer) = timeout(Duration::from_secs(5), listener.accept())
                .await
                .expect("a waiting connection was never accepted")
                .unwrap();
            assert!(peers.insert(peer), "{peer} accepted twice");
        }
        drop((listener, clients, first));
    });
}

#[test]
fn tasks_sharing_a_listener_accept_each_connection_once() {
    let _serial = serial();
    support::watchdog("shared_listener", Duration::from_secs(60));
    const CONNS: usize = 300;
    const TASKS: usize = 8;
    ringio::run(async {
        let listener = Rc::new(TcpListener::bind("127.0.0.1:0").unwrap());
        let addr = listener.local_addr().unwrap();
        let accepted = Rc::new(std::cell::RefCell::new(Vec::new()));
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                let (listener, accepted) = (listener.clone(), accepted.clone());
                ringio::spawn(async move {
                    loop {
                        let (s, peer) = listener.accept().await.unwrap();
                        s.write_all(b"hi".to_vec()).await.0.unwrap();
                        accepted.borrow_mut().push((s, peer));
                    }
                })
            })
            .collect();
        let clients = ringio::spawn_blocking(move || {
            (0..CONNS)
                .map(|_| {
                    let mut c = std::net::TcpStream::connect(addr).unwrap();
                    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                    let mut b = [0u8; 2];
                    c.read_exact(&mut b).expect("connection never served");
                    assert_eq!(&b, b"hi");
                    c
                })
                .collect::<Vec<_>>()
        });
        let clients = timeout(Duration::from_secs(30), clients)
            .await
            .expect("clients hung")
            .unwrap();
        assert!(settle(Duration::from_secs(5), || accepted.borrow().len() == CONNS).await);
        let peers: std::collections::HashSet<_> =
            accepted.borrow().iter().map(|(_, p)| *p).collect();
        let mine: std::collections::HashSet<_> =
            clients.iter().map(|c| c.local_addr().unwrap()).collect();
        assert_eq!(peers, mine, "each client accepted exactly once");
        for t in &tasks {
            t.cancel();
        }
        drop(tasks);
        accepted.borrow_mut().clear();
        drop(listener);
        drop(clients);
        assert!(settle(Duration::from_secs(5), || in_flight() == 0).await);
    });
}

// ---------------------------------------------------------------- EMFILE: the test and its bounds

const TEST_NAME: &str = "emfile_backs_off_and_recovers";
/// Set in the child's environment; the test function acts as the child when it sees it.
const CHILD_ENV: &str = "RINGIO_EMFILE_CHILD";
/// The child's soft descriptor limit: small, so 100 clients are well past it.
const CHILD_NOFILE: u64 = 64;
/// Clients the parent opens; the kernel backlog (4096) takes those the child cannot accept.
const CLIENTS: usize = 100;
/// Clients the parent closes to give the child descriptors back.
const CLOSED: usize = 40;
/// How often the child prints its counters.
const STATS_EVERY: Duration = Duration::from_millis(200);
/// The child stops by itself after this long, whatever the parent does.
const CHILD_LIMIT: Duration = Duration::from_secs(20);
/// The whole test, parent side.
const TEST_LIMIT: Duration = Duration::from_secs(60);
/// How long the parent waits for one echo or one expected child report.
const STEP_LIMIT: Duration = Duration::from_secs(5);
/// Accept attempts per second allowed while out of descriptors. The back-off (10 ms
/// doubling to 100 ms) gives about 10/s; re-arming at once gives hundreds of thousands.
const MAX_ATTEMPTS_PER_SEC: f64 = 200.0;
/// How long the rate is measured over.
const RATE_WINDOW: Duration = Duration::from_secs(1);

#[test]
fn emfile_backs_off_and_recovers() {
    let _serial = support::serial();
    if std::env::var_os(CHILD_ENV).is_some() {
        child_server();
    } else {
        parent();
    }
}

// ---------------------------------------------------------------- child: the echo server

/// The child's counters; one core, so plain `Cell`s.
#[derive(Default)]
struct Counters {
    attempts: Cell<u64>,
    failures: Cell<u64>,
    other_errors: Cell<u64>,
    accepted: Cell<u64>,
    open: Cell<u64>,
}

fn bump(c: &Cell<u64>) {
    c.set(c.get() + 1);
}

fn child_server() {
    support::watchdog("net_accept EMFILE child", CHILD_LIMIT);
    // The parent closing our stdin (or dying) ends the child.
    std::thread::spawn(|| {
        let _ = io::copy(&mut io::stdin(), &mut io::sink());
        std::process::exit(0);
    });
    set_nofile_soft_limit(CHILD_NOFILE);
    assert!(
        support::fd_count() + 10 < CHILD_NOFILE as usize,
        "the child starts with too many descriptors open ({})",
        support::fd_count()
    );

    ringio::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let port = listener.local_addr().expect("local_addr").port();
        let counters = Rc::new(Counters::default());
        let start = Instant::now();
        print_line(&format!("PORT {port}"));

        let c = counters.clone();
        ringio::spawn(async move {
            loop {
                ringio::time::sleep(STATS_EVERY).await;
                print_line(&format!(
                    "ATTEMPTS {} FAILURES {} OTHER {} ACCEPTED {} OPEN {} MS {}",
                    c.attempts.get(),
                    c.failures.get(),
                    c.other_errors.get(),
                    c.accepted.get(),
                    c.open.get(),
                    start.elapsed().as_millis()
                ));
            }
        });

        loop {
            bump(&counters.attempts);
            match listener.accept().await {
                Ok((stream, _)) => {
                    bump(&counters.accepted);
                    bump(&counters.open);
                    let c = counters.clone();
                    ringio::spawn(async move {
                        support::echo_until_eof(stream).await;
                        c.open.set(c.open.get() - 1);
                    });
                }
                // What a real server does: note it and go on. No sleep here on purpose.
                Err(e) if is_fd_exhaustion(&e) => bump(&counters.failures),
                Err(e) => {
                    bump(&counters.other_errors);
                    eprintln!("child: accept failed with an unexpected error: {e}");
                }
            }
        }
    });
}

fn print_line(line: &str) {
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn set_nofile_soft_limit(soft: u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the live local struct.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    assert_eq!(rc, 0, "getrlimit: {}", io::Error::last_os_error());
    lim.rlim_cur = soft.min(lim.rlim_max);
    // SAFETY: setrlimit reads the live local struct.
    let rc = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) };
    assert_eq!(rc, 0, "setrlimit: {}", io::Error::last_os_error());
}

// ---------------------------------------------------------------- parent: the test proper

/// One counters line from the child.
#[derive(Clone, Copy, Debug)]
struct Stats {
    attempts: u64,
    failures: u64,
    other_errors: u64,
    accepted: u64,
    open: u64,
    /// Child's clock, since its runtime started.
    ms: u64,
}

enum Report {
    Port(u16),
    Stats(Stats),
}

/// Parses a child report. A report may follow libtest's `test <name> ... ` on the same
/// line, so keys are looked up anywhere in the line.
fn parse_line(line: &str) -> Option<Report> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let get = |key: &str| -> Option<u64> {
        let i = words.iter().position(|w| *w == key)?;
        words.get(i + 1)?.parse().ok()
    };
    if let Some(port) = get("PORT") {
        return u16::try_from(port).ok().map(Report::Port);
    }
    Some(Report::Stats(Stats {
        attempts: get("ATTEMPTS")?,
        failures: get("FAILURES")?,
        other_errors: get("OTHER")?,
        accepted: get("ACCEPTED")?,
        open: get("OPEN")?,
        ms: get("MS")?,
    }))
}

/// The running child server; killed when dropped, so a failing assert leaves nothing behind.
struct Server {
    child: Child,
    stdin: Option<ChildStdin>,
    reports: Receiver<Report>,
    stderr: Arc<Mutex<String>>,
}

impl Server {
    fn start() -> Server {
        let exe = std::env::current_exe().expect("current_exe");
        let mut child = Command::new(exe)
            .args(["--exact", TEST_NAME, "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the child server");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("piped stdout");
        let mut stderr_pipe = child.stderr.take().expect("piped stderr");
        let (tx, reports) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if let Some(r) = parse_line(&line)
                    && tx.send(r).is_err()
                {
                    return;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr_pipe.read(&mut buf) {
                if n == 0 {
                    return;
                }
                sink.lock()
                    .expect("stderr lock")
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Server {
            child,
            stdin,
            reports,
            stderr,
        }
    }

    fn child_stderr(&self) -> String {
        self.stderr.lock().expect("stderr lock").clone()
    }

    fn next_report(&self, deadline: Instant) -> Report {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.reports.recv_timeout(left) {
            Ok(r) => r,
            Err(RecvTimeoutError::Timeout) => {
                panic!(
                    "no report from the child in time; its stderr:\n{}",
                    self.child_stderr()
                )
            }
            Err(RecvTimeoutError::Disconnected) => {
                panic!(
                    "the child server exited early; its stderr:\n{}",
                    self.child_stderr()
                )
            }
        }
    }

    fn port(&self) -> u16 {
        let deadline = Instant::now() + STEP_LIMIT;
        loop {
            if let Report::Port(p) = self.next_report(deadline) {
                return p;
            }
        }
    }

    /// The next counters line for which `cond` holds, within [`STEP_LIMIT`].
    fn stats_until(&self, what: &str, mut cond: impl FnMut(&Stats) -> bool) -> Stats {
        let deadline = Instant::now() + STEP_LIMIT;
        loop {
            if Instant::now() > deadline {
                panic!(
                    "child never reported {what}; stderr:\n{}",
                    self.child_stderr()
                );
            }
            if let Report::Stats(s) = self.next_report(deadline) {
                assert_eq!(s.other_errors, 0, "accept failed with other errors: {s:?}");
                if cond(&s) {
                    return s;
                }
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        drop(self.stdin.take()); // the child exits on EOF
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends five bytes on `client` and expects them back within [`STEP_LIMIT`].
fn assert_echo(client: &mut std::net::TcpStream, what: &str) {
    let msg = *b"ping!";
    client
        .write_all(&msg)
        .unwrap_or_else(|e| panic!("{what}: write: {e}"));
    let mut back = [0u8; 5];
    client
        .read_exact(&mut back)
        .unwrap_or_else(|e| panic!("{what}: no echo within {STEP_LIMIT:?}: {e}"));
    assert_eq!(back, msg, "{what}: echo differs");
}

fn parent() {
    support::watchdog(TEST_NAME, TEST_LIMIT);
    let server = Server::start();
    let port = server.port();

    let mut clients: Vec<Option<std::net::TcpStream>> = (0..CLIENTS)
        .map(|i| {
            let c = std::net::TcpStream::connect(("127.0.0.1", port))
                .unwrap_or_else(|e| panic!("client {i}: connect: {e}"));
            c.set_read_timeout(Some(STEP_LIMIT))
                .expect("set_read_timeout");
            c.set_nodelay(true).expect("set_nodelay");
            Some(c)
        })
        .collect();

    // The child is out of descriptors once accepts fail; its first clients are connected.
    let exhausted = server.stats_until("an accept failing with EMFILE", |s| s.failures > 0);
    eprintln!("child out of descriptors: {exhausted:?}");
    assert!(
        (exhausted.accepted as usize) < CLIENTS && exhausted.accepted >= 5,
        "the child should hold some but not all clients: {exhausted:?}"
    );

    // Existing connections are still served meanwhile.
    for (i, client) in clients.iter_mut().take(5).enumerate() {
        assert_echo(
            client.as_mut().expect("open"),
            &format!("client {i} during EMFILE"),
        );
    }

    // Accept attempts per second while the shortage lasts: bounded by the back-off.
    let first = server.stats_until("counters while failing", |s| {
        s.failures > exhausted.failures
    });
    let last = server.stats_until("counters a second later", |s| {
        s.ms >= first.ms + RATE_WINDOW.as_millis() as u64
    });
    assert_eq!(
        last.accepted, first.accepted,
        "nothing was closed, so nothing new should be accepted: {first:?} -> {last:?}"
    );
    let secs = (last.ms - first.ms) as f64 / 1000.0;
    let rate = (last.attempts - first.attempts) as f64 / secs;
    eprintln!(
        "accept attempts while out of descriptors: {} in {secs:.2} s = {rate:.1}/s \
         ({} failures in total, {} connections held)",
        last.attempts - first.attempts,
        last.failures,
        last.open
    );
    assert!(
        rate < MAX_ATTEMPTS_PER_SEC,
        "accept spins on EMFILE: {rate:.0} attempts/s (limit {MAX_ATTEMPTS_PER_SEC})"
    );
    assert!(
        last.failures > first.failures,
        "accepts should keep failing: {last:?}"
    );

    // Give descriptors back: clients accepted in connect order, so the first one still
    // waiting in the backlog is number `accepted`.
    let waiting = last.accepted as usize;
    assert!(
        waiting >= CLOSED && waiting + 1 < CLIENTS,
        "the first waiting client must not be one we close: {last:?}"
    );
    for c in clients.iter_mut().take(CLOSED) {
        drop(c.take());
    }
    let closed_at = Instant::now();
    assert_echo(
        clients[waiting].as_mut().expect("open"),
        &format!("client {waiting}, waiting in the backlog"),
    );
    eprintln!(
        "client {waiting} (from the backlog) echoed {:?} after {CLOSED} clients closed",
        closed_at.elapsed()
    );
    let recovered = server.stats_until("accepts succeeding again", |s| {
        s.accepted as usize >= waiting + CLOSED / 2
    });
    eprintln!("after recovery: {recovered:?}");
    // Still-open first-generation clients were served throughout.
    assert_echo(
        clients[CLOSED].as_mut().expect("open"),
        &format!("client {CLOSED} after recovery"),
    );
    drop(server);
}
