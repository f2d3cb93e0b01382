//! UdpSocket: loopback round trips, truncation, connected sockets, dropped receives.

mod support;

use ringio::buf::IoBuf;
use ringio::net::UdpSocket;
use ringio::time::timeout;
use std::rc::Rc;
use std::time::Duration;
use support::{fd_count, in_flight, poll_and_drop, poll_once_and_drop, serial, settle};

/// Datagrams in flight at once in the round trip: far below what a loopback socket's
/// receive buffer holds (~200 KiB), so any loss is a bug, not congestion.
const WINDOW: usize = 64;

/// Echoes every datagram back to its sender until the task is dropped.
fn spawn_echo(sock: Rc<UdpSocket>) -> ringio::JoinHandle<()> {
    ringio::spawn(async move {
        let mut buf = Vec::with_capacity(2048);
        loop {
            buf.clear();
            let (res, b) = sock.recv_from(buf).await;
            let (_, from) = res.expect("echo recv_from");
            let (res, b) = sock.send_to(b, from).await;
            res.expect("echo send_to");
            buf = b;
        }
    })
}

#[test]
fn ten_thousand_datagrams_round_trip_on_loopback() {
    let _serial = serial();
    support::watchdog("udp_round_trip", Duration::from_secs(60));
    ringio::run(async {
        const TOTAL: u32 = 10_000;
        let server = Rc::new(UdpSocket::bind("127.0.0.1:0").unwrap());
        let server_addr = server.local_addr().unwrap();
        let echo = spawn_echo(server);
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        let (mut received, mut lost) = (0u32, 0u32);
        let mut seen = vec![false; TOTAL as usize];
        let mut next = 0u32;
        while next < TOTAL {
            let batch = (TOTAL - next).min(WINDOW as u32);
            for seq in next..next + batch {
                let mut msg = seq.to_be_bytes().to_vec();
                msg.extend((0..60).map(|i| (seq as u8).wrapping_add(i)));
                let (res, _) = client.send_to(msg, server_addr).await;
                assert_eq!(res.unwrap(), 64);
            }
            for _ in 0..batch {
                let r = timeout(
                    Duration::from_secs(2),
                    client.recv_from(Vec::with_capacity(128)),
                )
                .await;
                let Ok((res, buf)) = r else {
                    lost += 1;
                    continue;
                };
                let (n, from) = res.unwrap();
                assert_eq!((n, from), (64, server_addr));
                let seq = u32::from_be_bytes(buf[..4].try_into().unwrap());
                assert!((next..next + batch).contains(&seq), "stray datagram {seq}");
                for (i, b) in buf[4..].iter().enumerate() {
                    assert_eq!(*b, (seq as u8).wrapping_add(i as u8), "payload of {seq}");
                }
                assert!(!seen[seq as usize], "datagram {seq} twice");
                seen[seq as usize] = true;
                received += 1;
            }
            next += batch;
        }
        echo.cancel();
        let _ = echo.await;
        assert_eq!((received, lost), (TOTAL, 0), "datagrams lost on loopback");
        assert!(settle(Duration::from_secs(5), || in_flight() == 0).await);
    });
}

#[test]
fn a_datagram_longer_than_the_buffer_is_truncated_and_reported() {
    let _serial = serial();
    ringio::run(async {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = b.local_addr().unwrap();
        let long: Vec<u8> = (0..100u8).collect();
        for _ in 0..3 {
            a.send_to(long.clone(), to).await.0.unwrap();
        }
        a.send_to(b"short".to_vec(), to).await.0.unwrap();
        a.send_to(Vec::new(), to).await.0.unwrap();

        // recv_from: the count is what fits; the tail is gone.
        let (res, buf) = b.recv_from(Vec::with_capacity(10)).await;
        assert_eq!(res.unwrap(), (10, a.local_addr().unwrap()));
        assert_eq!(buf, &long[..10]);

        // recv_msg says it was cut and how long it was.
        let (res, buf) = b.recv_msg(Vec::with_capacity(10)).await;
        let meta = res.unwrap();
        assert!(meta.is_truncated());
        assert_eq!((meta.len(), meta.datagram_len()), (10, 100));
        assert_eq!(buf, &long[..10]);

        // A slice of a larger buffer bounds the datagram too.
        let (res, slice) = b.recv_msg(vec![0xAAu8; 32].slice(8..24)).await;
        let meta = res.unwrap();
        assert_eq!((meta.len(), meta.datagram_len()), (16, 100));
        let buf = slice.into_inner();
        assert_eq!(&buf[8..24], &long[..16]);
        assert!(buf[..8].iter().chain(&buf[24..]).all(|&x| x == 0xAA));

        // The next datagram is whole: truncation lost only the tail of the previous one.
        let (res, buf) = b.recv_msg(Vec::with_capacity(10)).await;
        let meta = res.unwrap();
        assert!(!meta.is_truncated());
        assert_eq!(&buf, b"short");

        // An empty datagram is a datagram, not EOF and not truncation.
        let (res, _) = b.recv_msg(Vec::with_capacity(10)).await;
        let meta = res.unwrap();
        assert!(meta.is_empty() && !meta.is_truncated());
    });
}

#[test]
fn connected_sockets_send_and_recv() {
    let _serial = serial();
    ringio::run(async {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        let stranger = UdpSocket::bind("127.0.0.1:0").unwrap();
        let (aa, ba) = (a.local_addr().unwrap(), b.local_addr().unwrap());

        // Without a peer, send has nowhere to go.
        let (res, _) = a.send(b"x").await;
        assert_eq!(res.unwrap_err().raw_os_error(), Some(libc::EDESTADDRREQ));
        assert!(a.peer_addr().is_err());

        a.connect(ba).await.unwrap();
        b.connect(aa).await.unwrap();
        assert_eq!(a.peer_addr().unwrap(), ba);

        // A connected socket only receives from its peer.
        stranger.send_to(b"noise", ba).await.0.unwrap();
        a.send(b"hello".to_vec()).await.0.unwrap();
        let (res, buf) = b.recv(Vec::with_capacity(64)).await;
        assert_eq!(res.unwrap(), 5);
        assert_eq!(buf, b"hello");

        // recv truncates like recv_from.
        b.send(vec![7u8; 50]).await.0.unwrap();
        let (res, buf) = a.recv(Vec::with_capacity(20)).await;
        assert_eq!(res.unwrap(), 20);
        assert_eq!(buf, vec![7u8; 20]);

        // send_to still works on a connected socket to its own peer.
        b.send_to(b"again", aa).await.0.unwrap();
        let (res, buf) = a.recv_from(Vec::with_capacity(64)).await;
        assert_eq!(res.unwrap(), (5, ba));
        assert_eq!(buf, b"again");

        // A datagram too large for UDP is refused, not truncated.
        let (res, _) = a.send(vec![0u8; 70_000]).await;
        assert_eq!(res.unwrap_err().raw_os_error(), Some(libc::EMSGSIZE));
    });
}

#[test]
fn a_closed_peer_port_is_reported_on_a_connected_socket() {
    let _serial = serial();
    ringio::run(async {
        let gone = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let gone_addr = gone.local_addr().unwrap();
        drop(gone);
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        a.connect(gone_addr).await.unwrap();
        a.send(b"anyone?").await.0.unwrap();
        // The ICMP port-unreachable comes back as ECONNREFUSED on the next receive.
        let r = timeout(Duration::from_secs(2), a.recv(Vec::with_capacity(16))).await;
        let (res, _) = r.expect("the error must end the receive");
        assert_eq!(
            res.unwrap_err().kind(),
            std::io::ErrorKind::ConnectionRefused
        );
    });
}

#[test]
fn dropped_receives_leave_nothing_in_flight_and_leak_no_fd() {
    let _serial = serial();
    support::watchdog("udp_dropped_recv", Duration::from_secs(60));
    ringio::run(async {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        let baseline = fd_count();
        for _ in 0..5_000 {
            // Half dropped before the SQE reached the kernel, half after.
            poll_once_and_drop(b.recv_from(vec![0u8; 1500]));
            let r = timeout(Duration::ZERO, b.recv_from(vec![0u8; 1500])).await;
            assert!(r.is_err(), "nothing was sent, the receive must time out");
        }
        // Sends dropped before and after submission: each datagram is sent or not, the
        // buffer lives until the CQE either way. On epoll a send is tried when pushed (its
        // first poll) and a UDP socket has room for it at once, so it completes then and is
        // dropped done, never in flight; on io_uring the first poll only queues it.
        let to = b.local_addr().unwrap();
        for i in 0..1_000u32 {
            let pending = poll_and_drop(a.send_to(i.to_be_bytes().to_vec(), to));
            assert!(
                pending || support::on_epoll(),
                "expected the send to be in flight"
            );
            let _ = timeout(Duration::ZERO, a.send_to(vec![1u8; 512], to)).await;
        }
        assert!(
            settle(Duration::from_secs(5), || in_flight() == 0).await,
            "ops left in flight: {}",
            in_flight()
        );
        assert_eq!(fd_count(), baseline, "descriptors leaked");
        // Drain what those sends delivered (zeroed buffers: valgrind-clean comparisons).
        while let Ok((res, _)) = timeout(Duration::from_millis(20), b.recv(vec![0u8; 600])).await {
            res.unwrap();
        }

        // Receives dropped while datagrams arrive: some datagrams may be lost with their
        // dropped buffers (documented), but nothing stays in flight and the socket works.
        for i in 0..2_000u32 {
            a.send_to(i.to_be_bytes().to_vec(), to).await.0.unwrap();
            let d = Duration::from_micros(u64::from(i % 20));
            let _ = timeout(d, b.recv_from(vec![0u8; 64])).await;
        }
        assert!(settle(Duration::from_secs(5), || in_flight() == 0).await);
        a.send_to(b"last".to_vec(), to).await.0.unwrap();
        loop {
            let (res, buf) = b.recv_from(vec![0u8; 64]).await;
            if &buf[..res.unwrap().0] == b"last" {
                break;
            }
        }
        drop((a, b));
        assert_eq!(fd_count(), baseline - 2, "descriptors leaked");
    });
}
