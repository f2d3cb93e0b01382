//! UnixListener / UnixStream: echo on path and abstract sockets, stale socket files,
//! dropped accepts and reads (no fd leaked, no byte lost).

mod support;

use ringio::net::{UnixListener, UnixStream};
use ringio::time::{sleep, timeout};
use std::io::{ErrorKind, Read};
use std::net::Shutdown;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
use std::pin::pin;
use std::rc::Rc;
use std::time::Duration;
use support::temp_dir::TempDir;
use support::{fd_count, in_flight, poll_noop, poll_once_and_drop, serial, settle};

/// Serves one connection at a time: echoes bytes back until the client closes.
fn spawn_echo(listener: UnixListener, connections: usize) -> ringio::JoinHandle<()> {
    ringio::spawn(async move {
        for _ in 0..connections {
            let (s, peer) = listener.accept().await.unwrap();
            assert!(peer.is_unnamed(), "clients that did not bind are unnamed");
            let mut buf = Vec::with_capacity(8192);
            loop {
                buf.clear();
                let (res, b) = s.read(buf).await;
                if res.unwrap() == 0 {
                    break;
                }
                let (res, b) = s.write_all(b).await;
                res.unwrap();
                buf = b;
            }
        }
    })
}

/// Sends 1 MiB in uneven chunks and checks every byte comes back.
async fn echo_round_trip(client: &UnixStream) {
    let mut rng = support::Rng::new(7);
    let mut sent = 0usize;
    while sent < 1 << 20 {
        let len = 1 + rng.below(20_000) as usize;
        let mut msg = vec![0u8; len];
        rng.fill(&mut msg);
        let (res, msg) = client.write_all(msg).await;
        res.unwrap();
        let (res, back) = client.read_exact(Vec::with_capacity(len)).await;
        res.unwrap();
        assert_eq!(back, msg);
        sent += len;
    }
}

#[test]
fn echo_round_trip_on_a_path_socket() {
    let _serial = serial();
    support::watchdog("unix_echo_path", Duration::from_secs(60));
    let dir = TempDir::new("echo");
    let path = dir.path("echo.sock");
    ringio::run(async {
        let listener = UnixListener::bind(&path).unwrap();
        assert_eq!(listener.local_addr().unwrap().as_pathname(), Some(&*path));
        let server = spawn_echo(listener, 2);
        for _ in 0..2 {
            let client = UnixStream::connect(&path).await.unwrap();
            assert_eq!(client.peer_addr().unwrap().as_pathname(), Some(&*path));
            assert!(client.local_addr().unwrap().is_unnamed());
            echo_round_trip(&client).await;
            client.shutdown(Shutdown::Write).unwrap();
            assert_eq!(client.read(vec![0u8; 8]).await.0.unwrap(), 0);
        }
        server.await.unwrap();
    });
    assert!(
        path.exists(),
        "the socket file is left for the caller to remove"
    );
}

#[test]
fn echo_round_trip_on_an_abstract_socket() {
    let _serial = serial();
    support::watchdog("unix_echo_abstract", Duration::from_secs(60));
    ringio::run(async {
        let name = format!("ringio-test-{}", std::process::id());
        let listener = UnixListener::bind_abstract(&name).unwrap();
        assert_eq!(
            listener.local_addr().unwrap().as_abstract_name(),
            Some(name.as_bytes())
        );
        // The name is taken while the listener lives.
        let e = UnixListener::bind_abstract(&name).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::AddrInUse);
        let server = spawn_echo(listener, 2);
        let client = UnixStream::connect_abstract(&name).await.unwrap();
        echo_round_trip(&client).await;
        drop(client);
        // A path starting with NUL names the same abstract socket.
        let client = UnixStream::connect(format!("\0{name}")).await.unwrap();
        assert_eq!(
            client.peer_addr().unwrap().as_abstract_name(),
            Some(name.as_bytes())
        );
        echo_round_trip(&client).await;
        drop(client);
        server.await.unwrap();
        // Gone with the socket: nothing stale remains.
        let e = UnixStream::connect_abstract(&name).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionRefused);
    });
}

#[test]
fn a_stale_socket_file_gives_clear_errors() {
    let _serial = serial();
    let dir = TempDir::new("stale");
    let path = dir.path("stale.sock");
    // A server that exits without removing its socket file.
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    ringio::run(async {
        let e = UnixStream::connect(&path).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionRefused);
        let msg = e.to_string();
        assert!(msg.contains(&*path.to_string_lossy()), "{msg}");
        assert!(msg.contains("stale"), "{msg}");

        let e = UnixListener::bind(&path).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::AddrInUse);
        let msg = e.to_string();
        assert!(msg.contains(&*path.to_string_lossy()), "{msg}");
        assert!(msg.contains("remove it"), "{msg}");
        assert!(
            path.exists(),
            "the stale file is never removed for the caller"
        );

        // No file at all is a different error.
        let e = UnixStream::connect(dir.path("none.sock"))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);

        // Once the caller removes it, bind works.
        std::fs::remove_file(&path).unwrap();
        let _listener = UnixListener::bind(&path).unwrap();
        // Too long for sun_path.
        let long = dir.path(&"x".repeat(200));
        assert_eq!(
            UnixListener::bind(long).unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
    });
}

#[test]
fn writing_to_a_closed_peer_is_an_error_not_sigpipe() {
    let _serial = serial();
    ringio::run(async {
        let (a, b) = UnixStream::pair().unwrap();
        drop(b);
        let (res, _) = a.write_all(vec![1u8; 1 << 16]).await;
        assert_eq!(res.unwrap_err().kind(), ErrorKind::BrokenPipe);
        let (res, buf) = a.read_exact(vec![0u8; 4]).await;
        assert_eq!(res.unwrap_err().kind(), ErrorKind::UnexpectedEof);
        assert!(buf.len() == 4);
    });
}

/// On the epoll backend the second write goes out at its push, without a slot (its rule
/// 11): its error still comes back whole, with the buffer.
#[test]
fn a_write_after_the_peer_left_fails_after_one_that_worked() {
    let _serial = serial();
    ringio::run(async {
        let (a, b) = UnixStream::pair().unwrap();
        let (res, _) = a.write_all(b"first".to_vec()).await;
        res.unwrap();
        drop(b);
        let (res, buf) = a.write_all(b"second".to_vec()).await;
        assert_eq!(res.unwrap_err().kind(), ErrorKind::BrokenPipe);
        assert_eq!(buf, b"second");
    });
}

#[test]
fn dropped_accepts_leak_no_fd() {
    let _serial = serial();
    support::watchdog("unix_dropped_accepts", Duration::from_secs(60));
    ringio::run(async {
        let name = format!("ringio-test-accept-{}", std::process::id());
        let listener = UnixListener::bind_abstract(&name).unwrap();
        let baseline = fd_count();
        for _ in 0..5_000 {
            poll_once_and_drop(listener.accept());
            assert!(timeout(Duration::ZERO, listener.accept()).await.is_err());
        }
        // What stays in flight is the listener's one multishot accept.
        assert!(settle(Duration::from_secs(5), || in_flight() == 1).await);
        assert_eq!(fd_count(), baseline, "descriptors leaked");

        // Accepts dropped just as clients arrive: the connections wait in the listener
        // for the next accept.
        let mut clients = Vec::new();
        for i in 0..200u64 {
            clients.push(UnixStream::connect_abstract(&name).await.unwrap());
            let _ = timeout(Duration::from_micros(i % 10), listener.accept()).await;
        }
        drop(clients);
        // Connections still queued belong to the listener, not to us: accept them until
        // the count is back, not until one accept waits 20 ms (a loaded machine that
        // stalls the loop can see that timeout expire before a queued completion).
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while fd_count() != baseline && std::time::Instant::now() < deadline {
            if let Ok(Ok((s, _))) = timeout(Duration::from_millis(20), listener.accept()).await {
                drop(s);
            }
        }
        assert!(settle(Duration::from_secs(5), || in_flight() == 1).await);
        assert_eq!(fd_count(), baseline, "descriptors leaked");
        drop(listener);
        assert!(settle(Duration::from_secs(5), || in_flight() == 0).await);
    });
}

#[test]
fn accept_dropped_after_completion_leaves_the_connection_to_the_next() {
    let _serial = serial();
    let dir = TempDir::new("late");
    let path = dir.path("late.sock");
    ringio::run(async {
        let listener = UnixListener::bind(&path).unwrap();
        let baseline = fd_count();
        let mut client;
        {
            let mut accept = pin!(listener.accept());
            // Polled while no client is there: pending on both backends (on epoll an op
            // whose descriptor is ready would complete at this first poll).
            assert!(poll_noop(accept.as_mut()).is_pending());
            client = std::os::unix::net::UnixStream::connect(&path).unwrap();
            let before = ringio::metrics().ops_completed;
            sleep(Duration::from_millis(20)).await; // the CQE carrying the fd arrives
            assert!(
                ringio::metrics().ops_completed > before,
                "the accept did not complete before its drop"
            );
        }
        let (server, _) = timeout(Duration::from_secs(5), listener.accept())
            .await
            .expect("the accepted connection was lost")
            .unwrap();
        server.write_all(b"x").await.0.unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        assert_eq!(
            client.read(&mut [0u8; 1]).unwrap(),
            1,
            "not the same connection"
        );
        // Dropping the listener and the connection leaves only the client's fd.
        drop((server, listener));
        assert!(settle(Duration::from_secs(5), || in_flight() == 0).await);
        assert_eq!(fd_count(), baseline, "descriptors leaked");
        assert_eq!(client.read(&mut [0u8; 1]).unwrap(), 0, "server side closed");
    });
}

#[test]
fn dropped_reads_leak_nothing_and_lose_no_byte() {
    let _serial = serial();
    support::watchdog("unix_dropped_reads", Duration::from_secs(120));
    let dir = TempDir::new("reads");
    let path = dir.path("reads.sock");
    ringio::run(async {
        let std_listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let s = Rc::new(UnixStream::connect(&path).await.unwrap());
        let (peer, _) = std_listener.accept().unwrap();
        let baseline = fd_count();
        for _ in 0..5_000 {
            poll_once_and_drop(s.read(vec![0u8; 4096]));
            assert!(
                timeout(Duration::ZERO, s.read(vec![0u8; 4096]))
                    .await
                    .is_err()
            );
        }
        assert!(settle(Duration::from_secs(5), || in_flight() == 0).await);
        assert_eq!(fd_count(), baseline, "descriptors leaked");

        // Reads cancelled as data lands: their bytes come back on the next read.
        support::timeout_read_race(&s, peer, 200_000).await;
        assert!(settle(Duration::from_secs(5), || in_flight() == 0).await);
    });
}

#[test]
fn dropped_connects_leak_no_fd() {
    let _serial = serial();
    support::watchdog("unix_dropped_connects", Duration::from_secs(60));
    ringio::run(async {
        // A listener with a backlog of 0 that never accepts: once one connection waits in
        // its queue, further connects wait too.
        let name = format!("ringio-test-connect-{}", std::process::id());
        let sock =
            socket2::Socket::new(socket2::Domain::UNIX, socket2::Type::STREAM, None).unwrap();
        let mut abs = vec![0u8];
        abs.extend_from_slice(name.as_bytes());
        let addr = socket2::SockAddr::unix(std::ffi::OsStr::from_bytes(&abs)).unwrap();
        sock.bind(&addr).unwrap();
        sock.listen(0).unwrap();
        let baseline = fd_count();
        let mut held = Vec::new();
        for _ in 0..4 {
            if let Ok(Ok(s)) = timeout(
                Duration::from_millis(50),
                UnixStream::connect_abstract(&name),
            )
            .await
            {
                held.push(s);
            }
        }
        assert!(held.len() < 4, "the backlog should have filled");
        for i in 0..500u64 {
            poll_once_and_drop(UnixStream::connect_abstract(&name));
            let d = Duration::from_micros(i % 100);
            assert!(
                timeout(d, UnixStream::connect_abstract(&name))
                    .await
                    .is_err()
            );
        }
        drop(held);
        assert!(
            settle(Duration::from_secs(5), || in_flight() == 0).await,
            "in flight: {}",
            in_flight()
        );
        assert_eq!(fd_count(), baseline, "descriptors leaked");
    });
}

#[test]
fn split_halves_work_from_separate_tasks() {
    let _serial = serial();
    ringio::run(async {
        let (a, b) = UnixStream::pair().unwrap();
        let (read, write) = a.into_split();
        let reader = ringio::spawn(async move {
            let mut got = Vec::new();
            loop {
                let (res, buf) = read.read(Vec::with_capacity(4096)).await;
                if res.unwrap() == 0 {
                    return got;
                }
                got.extend_from_slice(&buf);
            }
        });
        let data: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
        let writer = {
            let data = data.clone();
            ringio::spawn(async move {
                write.write_all(data).await.0.unwrap();
                write.shutdown().unwrap();
            })
        };
        // b echoes what the write half sent back to the read half.
        let mut buf = Vec::with_capacity(8192);
        loop {
            buf.clear();
            let (res, bb) = b.read(buf).await;
            if res.unwrap() == 0 {
                break;
            }
            let (res, bb) = b.write_all(bb).await;
            res.unwrap();
            buf = bb;
        }
        b.shutdown(Shutdown::Write).unwrap();
        writer.await.unwrap();
        assert_eq!(reader.await.unwrap(), data);
    });
}

#[test]
fn a_connect_waiting_on_a_full_backlog_completes_once_the_server_accepts() {
    let _serial = serial();
    support::watchdog("unix_full_backlog", Duration::from_secs(60));
    ringio::run(async {
        let name = format!("ringio-test-backlog-{}", std::process::id());
        let sock =
            socket2::Socket::new(socket2::Domain::UNIX, socket2::Type::STREAM, None).unwrap();
        let mut abs = vec![0u8];
        abs.extend_from_slice(name.as_bytes());
        sock.bind(&socket2::SockAddr::unix(std::ffi::OsStr::from_bytes(&abs)).unwrap())
            .unwrap();
        sock.listen(0).unwrap();
        let first = UnixStream::connect_abstract(&name).await.unwrap();
        let n2 = name.clone();
        let second = ringio::spawn(async move { UnixStream::connect_abstract(&n2).await });
        sleep(Duration::from_millis(30)).await;
        assert!(
            !second.is_finished(),
            "the backlog is full: the connect must wait"
        );
        let (accepted, _) = sock.accept().unwrap();
        let second = timeout(Duration::from_secs(2), second).await;
        let second = second.expect("connect noticed the room").unwrap().unwrap();
        drop((first, second, accepted));
    });
}

/// Sets the soft RLIMIT_NOFILE; returns the previous one.
fn set_nofile_soft(limit: u64) -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit read and write the live local struct.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
        let old = lim.rlim_cur;
        lim.rlim_cur = limit;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &lim), 0);
        old
    }
}

#[test]
fn accept_out_of_descriptors_backs_off_then_recovers() {
    let _serial = serial();
    support::watchdog("unix_emfile", Duration::from_secs(60));
    ringio::run(async {
        let name = format!("ringio-test-emfile-{}", std::process::id());
        let listener = UnixListener::bind_abstract(&name).unwrap();
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(&name).unwrap();
        let _client = std::os::unix::net::UnixStream::connect_addr(&addr).unwrap();
        let old = set_nofile_soft(fd_count() as u64 + 8);
        let mut fillers = Vec::new();
        while let Ok(f) = std::fs::File::open("/dev/null") {
            fillers.push(f);
        }
        let e = listener.accept().await.unwrap_err();
        assert!(ringio::net::is_fd_exhaustion(&e), "{e}");
        // The next accepts pause first (10 ms, then 20 ms) instead of failing at once.
        for min in [10, 20] {
            let start = std::time::Instant::now();
            let e = listener.accept().await.unwrap_err();
            assert!(ringio::net::is_fd_exhaustion(&e), "{e}");
            assert!(start.elapsed() >= Duration::from_millis(min), "no back-off");
        }
        drop(fillers);
        set_nofile_soft(old);
        // The waiting client was kept in the backlog and is accepted now.
        let r = timeout(Duration::from_secs(2), listener.accept()).await;
        let (s, _) = r.expect("accept after recovery").unwrap();
        drop(s);
        // Serving goes on: a new client is accepted too.
        let _c2 = std::os::unix::net::UnixStream::connect_addr(&addr).unwrap();
        listener.accept().await.unwrap();
    });
}
