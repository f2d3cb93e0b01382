//! `UnixDatagram`: a pair, bind + connect, send_to / recv_from with the sender's path,
//! truncation reported as std reports it, errors naming the path of a missing socket
//! file, receives dropped in flight, conversions to and from std, and descriptors back to
//! baseline.

mod support;

use ringio::net::UnixDatagram;
use std::io::ErrorKind;
use std::net::Shutdown;
use std::os::linux::net::SocketAddrExt;

use std::time::Duration;
use support::check_fds;
use support::temp_dir::TempDir;
use support::{assert_settled, fd_names, poll_once_and_drop, serial, watchdog};

#[test]
fn a_pair_exchanges_messages_with_their_boundaries() {
    let _serial = serial();
    watchdog("datagram pair", Duration::from_secs(30));
    let before = fd_names();
    ringio::run(async {
        let (a, b) = UnixDatagram::pair().unwrap();
        for msg in [&b"one"[..], b"", b"three"] {
            assert_eq!(a.send(msg).await.0.unwrap(), msg.len());
        }
        for want in [&b"one"[..], b"", b"three"] {
            let (res, buf) = b.recv(vec![0u8; 64]).await;
            assert_eq!(&buf[..res.unwrap()], want, "one message per receive");
        }
        assert!(a.local_addr().unwrap().is_unnamed());
        assert!(b.peer_addr().unwrap().is_unnamed());

        // The other way, while a receive waits.
        let wait = ringio::spawn(async move { a.recv(vec![0u8; 8]).await });
        ringio::yield_now().await;
        b.send(b"back").await.0.unwrap();
        let (res, buf) = wait.await.unwrap();
        assert_eq!(&buf[..res.unwrap()], b"back");

        // A closed peer: ECONNREFUSED for the sender.
        let err = b.send(b"gone").await.0.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
    });
    check_fds(&before, "datagram pair");
}

#[test]
fn bound_sockets_see_the_senders_path_and_answer_it() {
    let _serial = serial();
    watchdog("datagram bind", Duration::from_secs(30));
    let dir = TempDir::new("bind");
    let before = fd_names();
    ringio::run(async {
        let (spath, cpath) = (dir.path("server"), dir.path("client"));
        let server = UnixDatagram::bind(&spath).unwrap();
        let client = UnixDatagram::bind(&cpath).unwrap();
        assert_eq!(server.local_addr().unwrap().as_pathname(), Some(&*spath));

        client.send_to(b"request", &spath).await.0.unwrap();
        let (res, buf) = server.recv_from(vec![0u8; 64]).await;
        let (n, from) = res.unwrap();
        assert_eq!(&buf[..n], b"request");
        assert_eq!(from.as_pathname(), Some(&*cpath), "the sender's path");
        server.send_to_addr(b"reply", &from).await.0.unwrap();
        let (res, buf) = client.recv_from(vec![0u8; 64]).await;
        let (n, from) = res.unwrap();
        assert_eq!(&buf[..n], b"reply");
        assert_eq!(from.as_pathname(), Some(&*spath));

        // connect: send without an address; only the peer's messages come in.
        client.connect(&spath).unwrap();
        assert_eq!(client.peer_addr().unwrap().as_pathname(), Some(&*spath));
        client.send(b"connected").await.0.unwrap();
        let (res, buf) = server.recv(vec![0u8; 64]).await;
        assert_eq!(&buf[..res.unwrap()], b"connected");

        // An unbound sender is unnamed and cannot be answered.
        let anon = UnixDatagram::unbound().unwrap();
        anon.send_to(b"anon", &spath).await.0.unwrap();
        let (res, _) = server.recv_from(vec![0u8; 64]).await;
        let (_, from) = res.unwrap();
        assert!(from.is_unnamed(), "{from:?}");
        let err = server.send_to_addr(b"x", &from).await.0.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);

        // Abstract names.
        let name = format!("ringio-dg-test-{}", std::process::id());
        let abs = UnixDatagram::bind_abstract(&name).unwrap();
        let addr = abs.local_addr().unwrap();
        assert_eq!(addr.as_abstract_name(), Some(name.as_bytes()));
        anon.send_to_addr(b"abstract", &addr).await.0.unwrap();
        let (res, buf) = abs.recv(vec![0u8; 64]).await;
        assert_eq!(&buf[..res.unwrap()], b"abstract");
    });
    check_fds(&before, "datagram bind");
}

#[test]
fn a_message_longer_than_the_buffer_is_cut_as_std_cuts_it() {
    let _serial = serial();
    let msg: Vec<u8> = (0..100u8).collect();
    // std first: what a plain recv_from reports.
    let (sa, sb) = std::os::unix::net::UnixDatagram::pair().unwrap();
    sa.send(&msg).unwrap();
    sa.send(b"next").unwrap();
    let mut small = [0u8; 10];
    let std_n = sb.recv(&mut small).unwrap();
    let std_next = sb.recv(&mut [0u8; 64]).unwrap();
    assert_eq!((std_n, std_next), (10, 4));

    ringio::run(async {
        let (a, b) = UnixDatagram::pair().unwrap();
        a.send(msg.clone()).await.0.unwrap();
        a.send(b"next").await.0.unwrap();
        let (res, buf) = b.recv_from(Vec::with_capacity(10)).await;
        let (n, _) = res.unwrap();
        assert_eq!(n, std_n, "the stored count, as std reports it");
        assert_eq!(&buf[..], &msg[..10]);
        // The rest of the long message is gone: the next receive is the next message.
        let (res, buf) = b.recv(vec![0u8; 64]).await;
        assert_eq!(res.unwrap(), std_next);
        assert_eq!(&buf[..4], b"next");
    });
}

#[test]
fn errors_name_the_path_of_a_missing_or_stale_socket_file() {
    let _serial = serial();
    let dir = TempDir::new("errors");
    let before = fd_names();
    ringio::run(async {
        let missing = dir.path("missing");
        let sock = UnixDatagram::unbound().unwrap();
        let shown = missing.display().to_string();

        let err = sock.send_to(b"x", &missing).await.0.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
        assert!(err.to_string().contains(&shown), "{err}");

        let err = sock.connect(&missing).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
        assert!(err.to_string().contains(&shown), "{err}");

        let err = UnixDatagram::bind(dir.path("no-dir/sock")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
        assert!(err.to_string().contains("no-dir/sock"), "{err}");

        // A stale file: bound once, socket gone, file left.
        let stale = dir.path("stale");
        drop(UnixDatagram::bind(&stale).unwrap());
        let err = sock.send_to(b"x", &stale).await.0.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
        assert!(
            err.to_string().contains(&stale.display().to_string()),
            "{err}"
        );
        let err = UnixDatagram::bind(&stale).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AddrInUse);
        assert!(err.to_string().contains("stale"), "{err}");

        // Not connected; shut down.
        let err = sock.send(b"x").await.0.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotConnected, "{err}");
        let (a, _b) = UnixDatagram::pair().unwrap();
        a.shutdown(Shutdown::Write).unwrap();
        let err = a.send(b"x").await.0.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BrokenPipe);
    });
    check_fds(&before, "datagram errors");
}

#[test]
fn receives_dropped_in_flight_leave_nothing_behind() {
    let _serial = serial();
    watchdog("datagram drops", Duration::from_secs(30));
    let before = fd_names();
    ringio::run(async {
        let (a, b) = UnixDatagram::pair().unwrap();
        for _ in 0..50 {
            poll_once_and_drop(b.recv(vec![0u8; 64]));
            ringio::yield_now().await;
        }
        assert_settled("dropped receives").await;
        // The socket still works, and no cancelled receive took a message.
        a.send(b"after").await.0.unwrap();
        let (res, buf) = b.recv(vec![0u8; 64]).await;
        assert_eq!(&buf[..res.unwrap()], b"after");

        // Dropped with a receive in flight: the socket closes once it ends.
        poll_once_and_drop(b.recv_from(vec![0u8; 64]));
        drop(b);
        drop(a);
        assert_settled("socket dropped mid-receive").await;
    });
    check_fds(&before, "datagram drops");
}

#[test]
fn sockets_convert_to_and_from_std() {
    let _serial = serial();
    let before = fd_names();
    ringio::run(async {
        let (sa, sb) = std::os::unix::net::UnixDatagram::pair().unwrap();
        let (a, b) = (UnixDatagram::from(sa), UnixDatagram::from(sb));
        a.send(b"ring").await.0.unwrap();
        let (res, buf) = b.recv(vec![0u8; 8]).await;
        assert_eq!(&buf[..res.unwrap()], b"ring");

        // Back to std (after the ring used them: blocking again on either backend).
        let (a, b) = (a.into_std().unwrap(), b.into_std().unwrap());
        a.send(b"std").unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(b.recv(&mut buf).unwrap(), 3);
        b.set_read_timeout(Some(Duration::from_millis(1))).unwrap();
        let err = b.recv(&mut buf).unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
            "{err}"
        );
        assert!(!is_nonblocking(&b), "into_std gives a blocking socket");

        // With a receive of a dropped future in flight: a duplicate, the same socket.
        let (x, y) = UnixDatagram::pair().unwrap();
        poll_once_and_drop(y.recv(vec![0u8; 8]));
        let y = y.into_std().unwrap();
        y.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        assert_settled("the dropped receive, cancelled").await;
        x.send(b"dup").await.0.unwrap();
        assert_eq!(y.recv(&mut buf).unwrap(), 3);
        drop((x, y));
        assert_settled("into_std").await;
    });
    check_fds(&before, "std conversions");
}

fn is_nonblocking(s: &impl std::os::fd::AsRawFd) -> bool {
    // SAFETY: F_GETFL reads a descriptor's flags; no memory is passed.
    let flags = unsafe { libc::fcntl(s.as_raw_fd(), libc::F_GETFL) };
    flags & libc::O_NONBLOCK != 0
}
