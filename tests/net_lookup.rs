//! Name resolution off the core (`ringio::net::lookup_host`, and `TcpStream::connect`,
//! `UdpSocket::send_to` given a name): a name is looked up on the blocking pool, a numeric
//! address is parsed on the core, and a resolver that never answers stalls no timer and
//! no other connection of the core.
//!
//! Tests of names that only DNS could answer run in a child: this test binary re-run with
//! `RINGIO_LOOKUP_CHILD` set (as tests/runtime_unavailable.rs does). The child unshares its
//! mount namespace (unshare(2) CLONE_NEWNS; one thread's namespace, inherited by the
//! threads it starts afterwards: the runtime's core and its blocking pool), makes `/`
//! private so nothing leaks back to the host (mount_namespaces(7)), and bind-mounts its own
//! files over /etc: resolv.conf (`nameserver 127.0.0.1`, `options timeout:2 attempts:1`),
//! nsswitch.conf (`hosts: files dns`) and hosts (localhost only). It binds 127.0.0.1:53
//! itself, and either never answers or answers NXDOMAIN: no query leaves loopback and the
//! resolver's behaviour is known. Where that cannot be had (no CAP_SYS_ADMIN, port 53
//! taken) the test prints `SKIPPED: <reason>` and passes.
//!
//! Names the host's /etc/hosts answers (`localhost`) are tested in the parent.
//!
//! Every test counts descriptors or binds port 53, so each takes `support::serial()`.

mod support;

use ringio::net::{TcpListener, TcpStream, UdpSocket, lookup_host};
use ringio::time::{Instant, interval, timeout};
use std::ffi::CString;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;
use support::child::ChildOutput;

/// The child reads its resolver (`silent` or `nxdomain`) from this variable.
const CHILD_ENV: &str = "RINGIO_LOOKUP_CHILD";
/// Printed by a child whose checks all passed.
const MARKER_OK: &str = "RINGIO-LOOKUP-CHILD-OK";
/// Printed by a child that could not set up its resolver.
const MARKER_SKIPPED: &str = "RINGIO-LOOKUP-CHILD-SKIPPED";
/// How long the parent waits for a child. A child whose lookups block its core needs
/// 20 lookups × 2 s to finish, so this is above that: such a child fails on its figures
/// instead of being killed as a hang.
const CHILD_LIMIT: Duration = Duration::from_secs(60);
/// A name that neither the child's hosts file nor anything but DNS answers.
const SILENT_NAME: &str = "silent-resolver-test.example";
/// [`SILENT_NAME`] with a port.
const SILENT_NAME_80: &str = "silent-resolver-test.example:80";
/// The resolver's per-query timeout in the child (resolv.conf `timeout:`): one lookup of
/// a name nobody answers blocks a thread this long (`attempts:1`).
const RESOLVER_TIMEOUT: Duration = Duration::from_secs(2);
/// Lookups pending at once in the silent-resolver test.
const PENDING_LOOKUPS: usize = 20;
/// The ticker's period and how late a tick may be while lookups are pending.
const TICK: Duration = Duration::from_millis(10);
const TICK_LATE_LIMIT: Duration = Duration::from_millis(50);
/// Ticks the ticker waits for: 400 ms, longer than every timeout of the test.
const TICKS: u32 = 40;

/// Which name server the child runs on 127.0.0.1:53.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Resolver {
    /// Never answers: every lookup of a name not in the hosts file blocks for
    /// [`RESOLVER_TIMEOUT`].
    Silent,
    /// Answers every query with NXDOMAIN at once.
    NxDomain,
}

impl Resolver {
    fn name(self) -> &'static str {
        match self {
            Resolver::Silent => "silent",
            Resolver::NxDomain => "nxdomain",
        }
    }
}

/// Bind-mounts a file holding `content` over `target`. The temporary file is removed at
/// once: the mount keeps its inode alive.
fn bind_file(target: &str, content: &str) -> Result<(), String> {
    if std::fs::metadata(target).is_err() {
        return Err(format!("{target} does not exist, nothing to mount over"));
    }
    let name = target.rsplit('/').next().unwrap_or("file");
    let tmp = std::env::temp_dir().join(format!("ringio-lookup-{}-{name}", std::process::id()));
    std::fs::write(&tmp, content).map_err(|e| format!("write {}: {e}", tmp.display()))?;
    let src = CString::new(tmp.as_os_str().as_encoded_bytes()).expect("no NUL in a temp path");
    let dst = CString::new(target).expect("no NUL in a literal path");
    // SAFETY: both paths are live NUL-terminated strings for the whole call; a bind mount
    // reads no fstype and no data, which may be null (mount(2)).
    let rc = unsafe {
        libc::mount(
            src.as_ptr(),
            dst.as_ptr(),
            std::ptr::null(),
            libc::MS_BIND,
            std::ptr::null(),
        )
    };
    let err = io::Error::last_os_error();
    let _ = std::fs::remove_file(&tmp);
    if rc != 0 {
        return Err(format!("bind-mount over {target}: {err}"));
    }
    Ok(())
}

/// Gives the calling thread (and the threads it starts from now on) a private resolver:
/// see the module docs. Returns the socket of the name server, which must stay open.
fn private_resolver(resolver: Resolver) -> Result<std::net::UdpSocket, String> {
    let server = std::net::UdpSocket::bind("127.0.0.1:53")
        .map_err(|e| format!("cannot bind the name server on 127.0.0.1:53: {e}"))?;
    // SAFETY: unshare takes a flag word and touches no memory of ours.
    if unsafe { libc::unshare(libc::CLONE_NEWNS) } != 0 {
        return Err(format!(
            "unshare(CLONE_NEWNS): {}",
            io::Error::last_os_error()
        ));
    }
    // Without MS_PRIVATE on the whole tree, a shared `/` would propagate the bind mounts
    // below to the host's namespace (mount_namespaces(7), "Shared subtrees").
    // SAFETY: "/" is a live NUL-terminated string; a propagation change reads no source,
    // fstype or data, which may be null (mount(2)).
    let rc = unsafe {
        libc::mount(
            std::ptr::null(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        )
    };
    if rc != 0 {
        return Err(format!(
            "make / private in the new namespace: {}",
            io::Error::last_os_error()
        ));
    }
    bind_file(
        "/etc/resolv.conf",
        "nameserver 127.0.0.1\noptions timeout:2 attempts:1\n",
    )?;
    bind_file("/etc/nsswitch.conf", "hosts: files dns\n")?;
    bind_file("/etc/hosts", "127.0.0.1 localhost\n")?;
    if resolver == Resolver::NxDomain {
        let answering = server.try_clone().map_err(|e| format!("dup socket: {e}"))?;
        std::thread::spawn(move || answer_nxdomain(&answering));
    }
    Ok(server)
}

/// A name server that answers every query "no such name" (RFC 1035 4.1.1: the query's
/// header and question with QR set and RCODE 3), and stops at its first error.
fn answer_nxdomain(server: &std::net::UdpSocket) {
    let mut buf = [0u8; 512];
    while let Ok((n, from)) = server.recv_from(&mut buf) {
        // Header (12 bytes), then one question: labels up to a zero byte, QTYPE, QCLASS.
        let mut end = 12;
        while end < n && buf[end] != 0 {
            end += 1 + buf[end] as usize;
        }
        end += 1 + 4;
        if end > n || buf[4..6] != [0, 1] {
            continue;
        }
        let reply = &mut buf[..end];
        reply[2] |= 0x80; // QR: a response; opcode and RD as asked
        reply[3] = 0x80 | 3; // RA, RCODE NXDOMAIN
        reply[6..12].fill(0); // no answer, authority or additional records
        let _ = server.send_to(reply, from);
    }
}

/// Runs this binary's test `name` as a child with `CHILD_ENV=mode`.
fn run_child(name: &str, mode: &str) -> ChildOutput {
    support::child::run_test(name, &[(CHILD_ENV, Some(mode))], CHILD_LIMIT)
}

/// The test `name` with a private `resolver`: the parent starts the child and checks its
/// result; the child sets the resolver up and runs `checks`.
fn with_private_resolver(name: &str, resolver: Resolver, checks: fn()) {
    let _serial = support::serial();
    match std::env::var(CHILD_ENV) {
        Ok(mode) if mode == resolver.name() => {
            let server = match private_resolver(resolver) {
                Ok(s) => s,
                Err(why) => {
                    println!("{MARKER_SKIPPED}: {why}");
                    return;
                }
            };
            checks();
            drop(server);
            println!("{MARKER_OK}");
        }
        Ok(mode) => panic!("a child in mode {mode:?} ran {name}, which does not use it"),
        Err(_) => {
            let out = run_child(name, resolver.name());
            for line in out.stderr.lines().filter(|l| l.starts_with("child:")) {
                eprintln!("{line}");
            }
            // The harness prints the test's name on the same line before the marker.
            let skipped = out
                .stdout
                .lines()
                .find_map(|l| l.split_once(MARKER_SKIPPED));
            if let Some((_, why)) = skipped {
                eprintln!("SKIPPED: {}", why.trim_start_matches(": "));
                return;
            }
            assert!(
                out.status.success() && out.stdout.contains(MARKER_OK),
                "child `{name}` failed\n--- stdout\n{}\n--- stderr\n{}",
                out.stdout,
                out.stderr
            );
        }
    }
}

/// Waits up to `limit` for the descriptors to be `want` again; returns what they are.
fn fds_back_to(want: &[String], limit: Duration) -> Vec<String> {
    let start = std::time::Instant::now();
    loop {
        let now = support::fd_names();
        if now == want || start.elapsed() > limit {
            return now;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn localhost_resolves_to_loopback_with_the_port() {
    let _serial = support::serial();
    ringio::run(async {
        let addrs: Vec<SocketAddr> = lookup_host("localhost:4321").await.unwrap().collect();
        assert!(!addrs.is_empty());
        for a in &addrs {
            assert!(a.ip().is_loopback() && a.port() == 4321, "{addrs:?}");
        }
        let pair: Vec<SocketAddr> = lookup_host(("localhost".to_string(), 7))
            .await
            .unwrap()
            .collect();
        assert!(pair.iter().all(|a| a.ip().is_loopback() && a.port() == 7));
    });
}

#[test]
fn numeric_addresses_come_back_at_first_poll() {
    let _serial = support::serial();
    ringio::run(async {
        let v4: SocketAddr = "127.0.0.1:80".parse().unwrap();
        let v6: SocketAddr = "[::1]:443".parse().unwrap();
        macro_rules! at_first_poll {
            ($addr:expr, $want:expr) => {{
                let mut f = pin!(lookup_host($addr));
                match support::poll_noop(f.as_mut()) {
                    Poll::Ready(Ok(it)) => assert_eq!(it.collect::<Vec<_>>(), $want),
                    Poll::Ready(Err(e)) => panic!("{:?}: {e}", $addr),
                    Poll::Pending => panic!("{:?} went to the pool", $addr),
                }
            }};
        }
        at_first_poll!("127.0.0.1:80", [v4]);
        at_first_poll!("[::1]:443".to_string(), [v6]);
        at_first_poll!(v4, [v4]);
        at_first_poll!((IpAddr::V4(Ipv4Addr::LOCALHOST), 80), [v4]);
        at_first_poll!(("::1", 443), [v6]);
        let both = [v4, v6];
        at_first_poll!(&both[..], both);

        // A name goes to the pool; a hosts-file answer may come back before the first
        // poll returns, so only the silent-resolver test can show that it never blocks.
        let mut by_name = lookup_host("localhost:80").await.unwrap();
        assert!(by_name.all(|a| a.ip().is_loopback()));
    });
}

#[test]
fn malformed_addresses_fail_at_once_naming_the_input() {
    let _serial = support::serial();
    ringio::run(async {
        for bad in ["localhost", "localhost:http", "127.0.0.1:99999"] {
            let mut f = pin!(lookup_host(bad));
            let Poll::Ready(Err(e)) = support::poll_noop(f.as_mut()) else {
                panic!("{bad:?} did not fail at the first poll");
            };
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{bad}: {e}");
            assert!(e.to_string().contains(bad), "{bad}: {e}");
            let e = TcpStream::connect(bad).await.unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{bad}: {e}");
        }
    });
}

#[test]
fn connect_and_send_to_by_name_reach_local_sockets() {
    let _serial = support::serial();
    let baseline = support::fd_names();
    ringio::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepting = ringio::spawn(async move {
            for _ in 0..2 {
                let (s, _) = listener.accept().await.unwrap();
                s.write_all(b"hi").await.0.unwrap();
            }
        });
        let host = format!("localhost:{port}");
        for s in [
            TcpStream::connect(host.as_str()).await.unwrap(),
            TcpStream::connect(("localhost", port)).await.unwrap(),
        ] {
            let (res, buf) = s.read_exact(vec![0u8; 2]).await;
            res.unwrap();
            assert_eq!(buf, b"hi");
            assert_eq!(s.peer_addr().unwrap().port(), port);
        }
        accepting.await.unwrap();

        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = format!("localhost:{}", b.local_addr().unwrap().port());
        let (res, _) = a.send_to(b"ping", to).await;
        assert_eq!(res.unwrap(), 4);
        let (res, buf) = b.recv_from(vec![0u8; 8]).await;
        let (n, from) = res.unwrap();
        assert_eq!((&buf[..n], from), (&b"ping"[..], a.local_addr().unwrap()));
    });
    assert_eq!(fds_back_to(&baseline, Duration::from_secs(2)), baseline);
}

#[test]
fn udp_connect_takes_numbers_and_names() {
    let _serial = support::serial();
    ringio::run(async {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = b.local_addr().unwrap().port();
        a.connect(("localhost", port)).await.unwrap();
        assert_eq!(a.peer_addr().unwrap().port(), port);
        assert!(a.peer_addr().unwrap().ip().is_loopback());

        let c = UdpSocket::bind("127.0.0.1:0").unwrap();
        let c_port = c.local_addr().unwrap().port();
        a.connect(format!("127.0.0.1:{c_port}")).await.unwrap();
        assert_eq!(a.peer_addr().unwrap(), c.local_addr().unwrap());
        let addrs: Vec<_> = lookup_host(("localhost", port)).await.unwrap().collect();
        a.connect(&addrs[..]).await.unwrap();
        assert_eq!(a.peer_addr().unwrap().port(), port);
    });
}

/// A lookup of a name in the hosts file may finish on the pool before the first poll
/// returns, so how many of these were dropped pending varies; the silent-resolver test
/// drops lookups that are certainly pending.
#[test]
fn lookups_dropped_before_the_pool_answers_leak_nothing() {
    let _serial = support::serial();
    let baseline = support::fd_names();
    ringio::run(async {
        let mut pending = 0;
        for _ in 0..50 {
            pending += usize::from(support::poll_and_drop(lookup_host("localhost:80")));
            let _ = timeout(Duration::ZERO, TcpStream::connect("localhost:9")).await;
        }
        eprintln!("{pending} of 50 lookups were dropped pending");
        // The runtime still works and the pool still answers.
        assert!(lookup_host("localhost:80").await.unwrap().count() > 0);
    });
    assert_eq!(fds_back_to(&baseline, Duration::from_secs(5)), baseline);
}

#[test]
fn unresolvable_name_fails_naming_the_host() {
    with_private_resolver(
        "unresolvable_name_fails_naming_the_host",
        Resolver::NxDomain,
        unresolvable_name_checks,
    );
}

fn unresolvable_name_checks() {
    ringio::run(async {
        let start = Instant::now();
        let e = lookup_host("nosuch.invalid:80")
            .await
            .err()
            .expect("no such name");
        eprintln!(
            "child: lookup_host(\"nosuch.invalid:80\") failed after {:?} with kind {:?}: {e}",
            start.elapsed(),
            e.kind()
        );
        assert!(e.to_string().contains("\"nosuch.invalid\""), "{e}");
        let source = e.get_ref().and_then(|inner| inner.source());
        assert!(source.is_some(), "the resolver's own error is kept: {e:?}");
        // An answer (NXDOMAIN), not the resolver's timeout: the name server was reached.
        assert!(start.elapsed() < RESOLVER_TIMEOUT, "{:?}", start.elapsed());

        let e = TcpStream::connect("nosuch.invalid:80").await.unwrap_err();
        assert!(e.to_string().contains("\"nosuch.invalid\""), "{e}");
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        let (res, buf) = sock.send_to(b"x".to_vec(), ("nosuch.invalid", 80)).await;
        let e = res.unwrap_err();
        assert!(e.to_string().contains("\"nosuch.invalid\""), "{e}");
        assert_eq!(buf, b"x", "the buffer comes back");
        // The hosts file still answers before DNS (`hosts: files dns`).
        assert!(lookup_host("localhost:80").await.unwrap().count() > 0);
    });
}

#[test]
fn silent_resolver_stalls_no_timer_and_no_other_connect() {
    with_private_resolver(
        "silent_resolver_stalls_no_timer_and_no_other_connect",
        Resolver::Silent,
        silent_resolver_checks,
    );
}

fn silent_resolver_checks() {
    // The setup must make a plain blocking lookup take the resolver's whole timeout, or
    // the test would prove nothing.
    let start = std::time::Instant::now();
    let direct = std::net::ToSocketAddrs::to_socket_addrs(&(SILENT_NAME, 80));
    let blocked = start.elapsed();
    eprintln!("child: a blocking lookup of {SILENT_NAME} took {blocked:?}: {direct:?}");
    assert!(direct.is_err(), "{SILENT_NAME} resolved: {direct:?}");
    if blocked < RESOLVER_TIMEOUT * 3 / 4 {
        println!(
            "{MARKER_SKIPPED}: a lookup of {SILENT_NAME} returned after {blocked:?}, not \
             the resolver's {RESOLVER_TIMEOUT:?} timeout (nscd or another resolver \
             answers here); nothing to measure"
        );
        return;
    }

    let baseline = support::fd_names();
    let (worst_tick, (connect_took, connect), outcomes) = ringio::run(async {
        let ticker = ringio::spawn(async {
            let mut ticks = interval(TICK);
            let mut worst = Duration::ZERO;
            for _ in 0..TICKS {
                let due = ticks.tick().await;
                worst = worst.max(Instant::now() - due);
            }
            worst
        });
        let lookups: Vec<_> = (0..PENDING_LOOKUPS)
            .map(|_| {
                ringio::spawn(async {
                    let start = Instant::now();
                    let res = timeout(Duration::from_millis(300), lookup_host(SILENT_NAME_80));
                    (res.await.is_err(), start.elapsed())
                })
            })
            .collect();
        let start = Instant::now();
        let connect = timeout(
            Duration::from_millis(100),
            TcpStream::connect(SILENT_NAME_80),
        )
        .await;
        let connect_took = start.elapsed();
        let connect = match connect {
            Err(_elapsed) => None,
            Ok(res) => Some(format!("{res:?}")),
        };
        let mut outcomes = Vec::new();
        for h in lookups {
            outcomes.push(h.await.unwrap());
        }
        (ticker.await.unwrap(), (connect_took, connect), outcomes)
    });
    let slowest = outcomes.iter().map(|o| o.1).max().unwrap_or_default();
    eprintln!(
        "child: {PENDING_LOOKUPS} pending lookups: worst tick {worst_tick:?} late (limit \
         {TICK_LATE_LIMIT:?}); timeout(100 ms, connect) returned after {connect_took:?}; \
         slowest timeout(300 ms, lookup_host) returned after {slowest:?}"
    );
    assert!(
        worst_tick < TICK_LATE_LIMIT,
        "a tick was {worst_tick:?} late"
    );
    assert_eq!(connect, None, "the connect did not time out but returned");
    assert!(
        connect_took >= Duration::from_millis(100) && connect_took < Duration::from_millis(500),
        "timeout(100 ms, connect) returned after {connect_took:?}"
    );
    assert!(
        outcomes
            .iter()
            .all(|&(timed_out, took)| timed_out && took < Duration::from_millis(500)),
        "each lookup is still pending at its 300 ms timeout: {outcomes:?}"
    );
    // The dropped lookups still run on the pool (rule 3 of the lookup module); once the
    // resolver gives up their sockets are closed and nothing is left behind.
    let left = fds_back_to(&baseline, RESOLVER_TIMEOUT * 2);
    assert_eq!(
        left, baseline,
        "descriptors after the dropped lookups ended"
    );
}
