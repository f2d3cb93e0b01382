//! TCP behaviour on loopback: echo, many connections, reset and half-closed peers.

mod support;

use ringio::net::{TcpListener, TcpStream};
use std::io::{Read, Write};
use std::net::Shutdown;
use std::rc::Rc;
use std::time::{Duration, Instant};
use support::Rng;

fn spawn_echo_server(listener: TcpListener) {
    ringio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((s, _)) => {
                    ringio::spawn(support::echo_until_eof(s));
                }
                Err(e) => panic!("accept failed: {e}"),
            }
        }
    });
}

#[test]
fn echo_round_trip() {
    ringio::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        spawn_echo_server(listener);
        let s = TcpStream::connect(addr).await.unwrap();
        s.set_nodelay(true).unwrap();
        assert!(s.nodelay().unwrap());
        assert_eq!(s.peer_addr().unwrap(), addr);
        let (res, _) = s.write_all(b"hello ringio".to_vec()).await;
        res.unwrap();
        let (res, buf) = s.read_exact(vec![0u8; 12]).await;
        res.unwrap();
        assert_eq!(&buf, b"hello ringio");
    });
}

#[test]
fn thousand_connections_each_echo_hundred_messages() {
    support::watchdog("thousand_connections", Duration::from_secs(120));
    support::rlimit::raise_nofile_limit().unwrap();
    const CONNS: usize = 1000;
    const MESSAGES: usize = 100;
    let start = Instant::now();
    let verified = ringio::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        spawn_echo_server(listener);
        let clients: Vec<_> = (0..CONNS)
            .map(|i| {
                ringio::spawn(async move {
                    let s = TcpStream::connect(addr).await.unwrap();
                    let mut rng = Rng::new(i as u64 + 1);
                    let mut bytes = 0usize;
                    for _ in 0..MESSAGES {
                        let len = 1 + rng.below(512) as usize;
                        let mut msg = vec![0u8; len];
                        rng.fill(&mut msg);
                        let (res, msg) = s.write_all(msg).await;
                        res.unwrap();
                        let (res, back) = s.read_exact(vec![0u8; len]).await;
                        res.unwrap();
                        assert_eq!(back, msg, "connection {i} got other bytes back");
                        bytes += len;
                    }
                    bytes
                })
            })
            .collect();
        let mut total = 0;
        for c in clients {
            total += c.await.unwrap();
        }
        total
    });
    eprintln!(
        "{CONNS} connections x {MESSAGES} messages: {verified} bytes verified in {:?}",
        start.elapsed()
    );
    assert!(verified > CONNS * MESSAGES);
}

#[test]
fn peer_reset_mid_transfer_is_an_error_not_a_panic() {
    ringio::run(async {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = std_listener.local_addr().unwrap();
        let s = TcpStream::connect(addr).await.unwrap();
        let (peer, _) = std_listener.accept().unwrap();
        // Linger 0: close sends RST instead of FIN.
        socket2::SockRef::from(&peer)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(peer);
        let (res, _) = s.read(vec![0u8; 64]).await;
        assert_eq!(res.unwrap_err().kind(), std::io::ErrorKind::ConnectionReset);
        // Writing after the reset: an error, never SIGPIPE (MSG_NOSIGNAL).
        let mut failed = false;
        for _ in 0..10 {
            let (res, _) = s.write_all(vec![7u8; 65536]).await;
            if res.is_err() {
                failed = true;
                break;
            }
        }
        assert!(failed, "writes to a reset peer must fail");
    });
}

#[test]
fn half_close_reads_data_then_zero() {
    ringio::run(async {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = std_listener.local_addr().unwrap();
        let s = TcpStream::connect(addr).await.unwrap();
        let (mut peer, _) = std_listener.accept().unwrap();
        peer.write_all(b"last words").unwrap();
        peer.shutdown(Shutdown::Write).unwrap();
        let (res, buf) = s.read_exact(vec![0u8; 10]).await;
        res.unwrap();
        assert_eq!(&buf, b"last words");
        let (res, _) = s.read(vec![0u8; 10]).await;
        assert_eq!(res.unwrap(), 0);
        // Our side can still write after the peer's half-close.
        s.write_all(b"ack".to_vec()).await.0.unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        let mut got = Vec::new();
        peer.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"ack");
    });
}

#[test]
fn read_exact_reports_eof_with_partial_data() {
    ringio::run(async {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = std_listener.local_addr().unwrap();
        let s = TcpStream::connect(addr).await.unwrap();
        let (mut peer, _) = std_listener.accept().unwrap();
        peer.write_all(b"abc").unwrap();
        drop(peer);
        let (res, buf) = s.read_exact(Vec::with_capacity(8)).await;
        assert_eq!(res.unwrap_err().kind(), std::io::ErrorKind::UnexpectedEof);
        assert_eq!(&buf, b"abc");
    });
}

#[test]
fn split_halves_work_from_different_tasks() {
    ringio::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        spawn_echo_server(listener);
        let (r, w) = TcpStream::connect(addr).await.unwrap().into_split();
        let w = Rc::new(w);
        let writer = ringio::spawn(async move {
            for i in 0..100u8 {
                w.write_all(vec![i; 100]).await.0.unwrap();
            }
        });
        let mut expected = Vec::new();
        for i in 0..100u8 {
            expected.extend(std::iter::repeat_n(i, 100));
        }
        let (res, got) = r.read_exact(vec![0u8; 10_000]).await;
        res.unwrap();
        assert_eq!(got, expected);
        writer.await.unwrap();
    });
}

#[test]
fn connect_refused_is_an_error() {
    ringio::run(async {
        // Bind then drop to find a port nobody listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let err = TcpStream::connect(("127.0.0.1", port)).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
    });
}

/// A write bigger than the socket buffers, to a peer that starts reading only later:
/// the first send takes what fits, the rest waits for room, and every byte arrives in
/// order (on the epoll backend the first send is made without an op, rule 11).
#[test]
fn write_all_larger_than_the_socket_buffers_arrives_whole() {
    const LEN: usize = 8 << 20;
    let (peer, addr) = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let peer = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            // Let the writer fill both socket buffers first.
            std::thread::sleep(Duration::from_millis(100));
            let mut got = Vec::with_capacity(LEN);
            s.read_to_end(&mut got).unwrap();
            got
        });
        (peer, addr)
    };
    let sent: Vec<u8> = (0..LEN).map(|i| (i % 251) as u8).collect();
    let expected = sent.clone();
    ringio::run(async move {
        let s = TcpStream::connect(addr).await.unwrap();
        let (res, back) = s.write_all(sent).await;
        res.unwrap();
        assert_eq!(back.len(), LEN, "the buffer comes back whole");
        s.shutdown(Shutdown::Write).unwrap();
    });
    let got = peer.join().unwrap();
    assert_eq!(got.len(), LEN, "every byte arrived");
    assert!(got == expected, "in order");
}

/// Writing nothing sends nothing: no op, no syscall counted.
#[test]
fn write_all_of_nothing_makes_no_op() {
    ringio::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        spawn_echo_server(listener);
        let s = TcpStream::connect(addr).await.unwrap();
        // Registers the socket with the epoll backend, so a send could go at once.
        let (res, _) = s.write_all(b"x".to_vec()).await;
        res.unwrap();
        let before = ringio::runtime::metrics().ops_submitted;
        let (res, _) = s.write_all(Vec::new()).await;
        res.unwrap();
        assert_eq!(ringio::runtime::metrics().ops_submitted, before);
        let (res, buf) = s.read_exact(vec![0u8; 1]).await;
        res.unwrap();
        assert_eq!(&buf, b"x");
    });
}
