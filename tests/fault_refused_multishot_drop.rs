//! A kernel without multishot receive (Linux before 6.0, forced through `ringio::fault`)
//! answers a stream's first receive with EINVAL, and the stream goes on one receive at a
//! time. A stream dropped before that answer came leaves nobody to retry: the refusal
//! must not be kept as the connection's error, so the next read receives as usual.

#![cfg(feature = "fault-injection")]

mod support;

use ringio::fault::{self, Missing};
use std::time::Duration;

#[test]
fn a_stream_dropped_before_its_multishot_refusal_leaves_the_next_read_working() {
    let _serial = support::serial();
    support::watchdog("refused_multishot_drop", Duration::from_secs(30));
    fault::reset();
    fault::pretend_missing(Missing::MultishotRecv);
    let rt = ringio::Runtime::builder().workers(1).build().unwrap();
    rt.block_on(async {
        let (client, server) = support::tcp_pair().await;
        for round in 0..3u8 {
            // One poll queues the multishot receive; the stream goes before its answer.
            let dropped = support::poll::poll_and_drop(async { server.recv_stream().next().await });
            assert!(
                dropped,
                "round {round}: nothing was sent, the receive must wait"
            );
            // The refusal (or the cancel) comes back and is put away for the next read.
            let settled = support::settle(Duration::from_secs(5), || {
                ringio::metrics().ops_in_flight == 0
            })
            .await;
            assert!(settled, "round {round}: {:?}", ringio::metrics());
            client.write_all(vec![round; 5]).await.0.unwrap();
            let (res, buf) = server.read(vec![0u8; 16]).await;
            let n = res.unwrap_or_else(|e| panic!("round {round}: the next read failed: {e}"));
            assert_eq!(&buf[..n], &[round; 5]);
        }
    });
    fault::reset();
}
