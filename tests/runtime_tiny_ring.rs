//! A ring of 2 entries still runs 1,000 concurrent operations: a full submission queue
//! is flushed and retried, never a panic.

mod support;

use ringio::net::{TcpListener, TcpStream};
use std::rc::Rc;
use std::time::Duration;

#[test]
fn ring_of_two_entries_completes_a_thousand_concurrent_ops() {
    support::watchdog("tiny_ring", Duration::from_secs(60));
    let rt = ringio::Runtime::builder().ring_entries(2).build().unwrap();
    let done = rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = ringio::spawn(async move {
            let mut conns = Vec::new();
            for _ in 0..100 {
                conns.push(listener.accept().await.unwrap().0);
            }
            // 100 reads in flight at once, then 100 echoes.
            let echoes: Vec<_> = conns
                .into_iter()
                .map(|s| {
                    ringio::spawn(async move {
                        let (res, buf) = s.read_exact(vec![0u8; 16]).await;
                        res.unwrap();
                        s.write_all(buf).await.0.unwrap();
                    })
                })
                .collect();
            for e in echoes {
                e.await.unwrap();
            }
        });
        // 800 one-byte reads that the kernel completes at once.
        let zero = Rc::new(ringio::fs::File::open("/dev/zero").await.unwrap());
        let nops: Vec<_> = (0..800)
            .map(|_| {
                let zero = zero.clone();
                ringio::spawn(async move { zero.read_at(vec![0u8; 1], 0).await.0.map(drop) })
            })
            .collect();
        let clients: Vec<_> = (0..100u8)
            .map(|i| {
                ringio::spawn(async move {
                    let s = TcpStream::connect(addr).await.unwrap();
                    s.write_all(vec![i; 16]).await.0.unwrap();
                    let (res, buf) = s.read_exact(vec![0u8; 16]).await;
                    res.unwrap();
                    assert_eq!(buf, vec![i; 16]);
                })
            })
            .collect();
        let mut done = 0;
        for n in nops {
            n.await.unwrap().unwrap();
            done += 1;
        }
        for c in clients {
            c.await.unwrap();
            done += 1;
        }
        server.await.unwrap();
        done
    });
    assert_eq!(done, 900);
    let m = rt.metrics();
    assert_eq!(m.ops_in_flight, 0);
    assert!(m.ops_completed >= 1_000, "completed {}", m.ops_completed);
}
