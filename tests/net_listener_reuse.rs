//! Port sharing is asked for, never given by default: a plain `TcpListener::bind` of a port
//! another listener holds is `AddrInUse` (naming the address), `bind_reuse_port`
//! listeners share a port and both get connections, and SO_REUSEADDR still lets a
//! restarted server bind a port its old connections hold in TIME_WAIT, right after the
//! old listener was dropped.

mod support;

use ringio::net::{TcpListener, TcpStream};
use std::cell::Cell;
use std::io::ErrorKind;
use std::rc::Rc;
use std::time::Duration;

#[test]
fn second_plain_bind_is_addr_in_use() {
    ringio::run(async {
        let first = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = first.local_addr().unwrap();
        let err = TcpListener::bind(addr).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AddrInUse, "{err}");
        let msg = err.to_string();
        assert!(msg.contains(&addr.to_string()), "names the address: {msg}");
        assert!(msg.contains("bind_reuse_port"), "says the way out: {msg}");
        // The errno is one `source` away.
        let source = std::error::Error::source(err.get_ref().unwrap()).unwrap();
        let os = source.downcast_ref::<std::io::Error>().unwrap();
        assert_eq!(os.raw_os_error(), Some(libc::EADDRINUSE));

        // Asking to share does not take a port a plain listener holds, nor the reverse.
        let err = TcpListener::bind_reuse_port(addr).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AddrInUse, "{err}");
        let shared = TcpListener::bind_reuse_port("127.0.0.1:0").unwrap();
        let err = TcpListener::bind(shared.local_addr().unwrap()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AddrInUse, "{err}");

        // The first listener still works.
        let client = TcpStream::connect(addr).await.unwrap();
        let (_s, peer) = first.accept().await.unwrap();
        assert_eq!(peer, client.local_addr().unwrap());
    });
}

#[test]
fn bind_reuse_port_listeners_share_the_port() {
    support::watchdog("share_the_port", Duration::from_secs(60));
    // 64 connections: the kernel hashes each to one listener, so the chance that one of
    // two gets none is 2^-63.
    const CONNS: usize = 64;
    ringio::run(async {
        let a = Rc::new(TcpListener::bind_reuse_port("127.0.0.1:0").unwrap());
        let addr = a.local_addr().unwrap();
        let b = Rc::new(TcpListener::bind_reuse_port(addr).unwrap());
        assert_eq!(b.local_addr().unwrap(), addr);
        let counts = Rc::new([Cell::new(0usize), Cell::new(0usize)]);
        let loops: Vec<_> = [a, b]
            .into_iter()
            .enumerate()
            .map(|(i, l)| {
                let counts = counts.clone();
                ringio::spawn(async move {
                    let mut held = Vec::new();
                    loop {
                        let (s, _) = l.accept().await.unwrap();
                        held.push(s);
                        counts[i].set(counts[i].get() + 1);
                    }
                })
            })
            .collect();
        let mut clients = Vec::new();
        for _ in 0..CONNS {
            clients.push(TcpStream::connect(addr).await.unwrap());
        }
        let all = || counts[0].get() + counts[1].get() == CONNS;
        assert!(
            support::settle(Duration::from_secs(30), all).await,
            "accepted {} + {} of {CONNS}",
            counts[0].get(),
            counts[1].get()
        );
        assert!(
            counts[0].get() > 0 && counts[1].get() > 0,
            "one listener got every connection: {} + {}",
            counts[0].get(),
            counts[1].get()
        );
        for l in loops {
            l.cancel();
        }
    });
}

#[test]
fn plain_bind_takes_back_a_dropped_listeners_port() {
    ringio::run(async {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let client = TcpStream::connect(addr).await.unwrap();
        let (s, _) = l.accept().await.unwrap();
        // The server closes first: its end of the connection waits in TIME_WAIT.
        drop(s);
        let (n, _) = client.read(vec![0u8; 8]).await;
        assert_eq!(n.unwrap(), 0);
        drop(client);
        // At once: a dropped listener stops listening before its accept's CQE is in.
        drop(l);
        let again = TcpListener::bind(addr).unwrap();
        assert_eq!(again.local_addr().unwrap(), addr);
    });
}
