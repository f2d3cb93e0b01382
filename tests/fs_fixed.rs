//! Registered buffers (`FixedBufPool`) with `read_fixed_at`/`write_fixed_at`: a 64 MiB
//! round trip checked byte for byte, a fixed read dropped in flight that keeps its buffer
//! out of the pool until its completion, pool exhaustion and waiting, one table per ring,
//! and no descriptor left behind.

mod support;

use ringio::buf::FixedBufPool;
use ringio::fs::{File, OpenOptions};
use std::io::ErrorKind;
use std::rc::Rc;
use std::time::Duration;
use support::Rng;
use support::temp_dir::TempDir;

const ROUND_TRIP_LEN: usize = 64 << 20;
/// 16 × 128 KiB: 2 MiB pinned, within the smallest common RLIMIT_MEMLOCK (8 MiB).
const BUFFERS: usize = 16;
const BUFFER_SIZE: usize = 128 << 10;

#[test]
fn fixed_round_trip_64_mib_every_byte_checked() {
    let _serial = support::serial();
    support::watchdog("fixed_round_trip", Duration::from_secs(120));
    let dir = TempDir::on_disk("round-trip");
    let path = dir.0.join("fixed.bin");
    let mut data = vec![0u8; ROUND_TRIP_LEN];
    Rng::new(0xf1_8ed).fill(&mut data);
    let data = Rc::new(data);
    let before = support::fd_names();
    ringio::run(async {
        let pool = Rc::new(FixedBufPool::new(BUFFERS, BUFFER_SIZE).unwrap());
        assert_eq!(pool.is_registered(), !support::on_epoll());
        let mut opts = OpenOptions::new();
        opts.read(true).write(true).create(true).truncate(true);
        let file = Rc::new(opts.open(&path).await.unwrap());
        // One task per chunk, each waiting for a buffer: at most BUFFERS in flight.
        let chunks = ROUND_TRIP_LEN / BUFFER_SIZE;
        let writes: Vec<_> = (0..chunks)
            .map(|i| {
                let (pool, file, data) = (pool.clone(), file.clone(), data.clone());
                ringio::spawn(async move {
                    let at = i * BUFFER_SIZE;
                    let mut buf = pool.next().await;
                    buf.set_len(BUFFER_SIZE);
                    buf.copy_from_slice(&data[at..at + BUFFER_SIZE]);
                    let (res, _buf) = file.write_fixed_at(buf, at as u64).await;
                    assert_eq!(res.unwrap(), BUFFER_SIZE, "a short write at {at}");
                })
            })
            .collect();
        for w in writes {
            w.await.unwrap();
        }
        assert_eq!(pool.available(), BUFFERS, "every buffer came back");
        file.sync_data().await.unwrap();
        let reads: Vec<_> = (0..chunks)
            .rev()
            .map(|i| {
                let (pool, file, data) = (pool.clone(), file.clone(), data.clone());
                ringio::spawn(async move {
                    let at = i * BUFFER_SIZE;
                    let (res, buf) = file.read_fixed_at(pool.next().await, at as u64).await;
                    assert_eq!(res.unwrap(), BUFFER_SIZE, "a short read at {at}");
                    assert_eq!(buf.len(), BUFFER_SIZE);
                    assert!(
                        buf[..] == data[at..at + BUFFER_SIZE],
                        "bytes differ at {at}"
                    );
                })
            })
            .collect();
        for r in reads {
            r.await.unwrap();
        }
        // The end of the file: a read of 0 bytes, and the buffer's length says so.
        let (res, buf) = file
            .read_fixed_at(pool.get().unwrap(), ROUND_TRIP_LEN as u64)
            .await;
        assert_eq!((res.unwrap(), buf.len()), (0, 0));
        drop(buf);
        assert_eq!(pool.available(), BUFFERS);
        drop(file);
        support::assert_settled("fixed round trip").await;
    });
    assert!(std::fs::read(&path).unwrap() == *data, "the file differs");
    support::check_fds(&before, "fixed round trip");
}

#[test]
fn dropped_fixed_read_keeps_its_buffer_until_the_completion() {
    let _serial = support::serial();
    support::watchdog("dropped_fixed_read", Duration::from_secs(60));
    let dir = TempDir::on_disk("dropped");
    // A FIFO opened read-write: a read on it waits forever (its own write end is open),
    // so the read is surely in flight when dropped, and only the cancel ends it.
    let fifo = dir.0.join("fifo");
    let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: mkfifo reads the NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let before = support::fd_names();
    ringio::run(async {
        let pool = FixedBufPool::new(4, 4096).unwrap();
        let fifo = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&fifo)
            .await
            .unwrap();
        for round in 0..20 {
            {
                let mut read = std::pin::pin!(fifo.read_fixed_at(pool.get().unwrap(), 0));
                assert!(support::poll_noop(read.as_mut()).is_pending());
                ringio::yield_now().await; // the read reaches the kernel, then is dropped
            }
            // Dropped, but the kernel (or the epoll backend) still holds the read until
            // its cancel's completion: the buffer must not be back in the pool yet.
            assert_eq!(
                pool.available(),
                3,
                "round {round}: a dropped fixed read gave its buffer back before its completion"
            );
            assert!(support::in_flight() > 0, "round {round}: nothing in flight");
            let back = support::settle(Duration::from_secs(10), || pool.available() == 4).await;
            assert!(back, "round {round}: the buffer never came back");
        }
        // The pipe still works, and a read that completes fills the buffer.
        let (res, _) = fifo.write_at(b"late".to_vec(), 0).await;
        assert_eq!(res.unwrap(), 4);
        let (res, buf) = fifo.read_fixed_at(pool.next().await, 0).await;
        assert_eq!((res.unwrap(), &buf[..]), (4, &b"late"[..]));
        drop((buf, fifo));
        support::assert_settled("dropped fixed reads").await;
    });
    support::check_fds(&before, "dropped fixed reads");
}

#[test]
fn exhausted_pool_waits_and_wakes_in_order() {
    let _serial = support::serial();
    support::watchdog("exhausted_pool", Duration::from_secs(60));
    ringio::run(async {
        let pool = Rc::new(FixedBufPool::new(2, 512).unwrap());
        let (a, b) = (pool.get().unwrap(), pool.get().unwrap());
        assert_ne!(a.as_ptr(), b.as_ptr());
        assert!(pool.get().is_none(), "a third buffer from a pool of two");
        assert_eq!(pool.available(), 0);
        let order = Rc::new(std::cell::RefCell::new(Vec::new()));
        let waiters: Vec<_> = (0..2)
            .map(|i| {
                let (pool, order) = (pool.clone(), order.clone());
                ringio::spawn(async move {
                    let buf = pool.next().await;
                    order.borrow_mut().push(i);
                    buf
                })
            })
            .collect();
        for _ in 0..5 {
            ringio::yield_now().await;
        }
        assert!(
            order.borrow().is_empty(),
            "a waiter got a buffer from an empty pool"
        );
        // A waiter dropped while waiting takes nothing and blocks no one.
        let dropped = ringio::spawn({
            let pool = pool.clone();
            async move { pool.next().await }
        });
        ringio::yield_now().await;
        dropped.cancel();
        drop(a);
        let first = waiters.into_iter().next().unwrap();
        let got = first.await.unwrap();
        assert_eq!(*order.borrow(), [0], "the first waiter is served first");
        drop((b, got));
        assert!(support::settle(Duration::from_secs(5), || order.borrow().len() == 2).await);
        assert!(support::settle(Duration::from_secs(5), || pool.available() == 2).await);
    });
}

#[test]
fn one_table_per_ring_and_it_lives_until_the_last_buffer() {
    let _serial = support::serial();
    support::watchdog("one_table_per_ring", Duration::from_secs(60));
    let dir = TempDir::on_disk("table");
    let path = dir.0.join("small.bin");
    std::fs::write(&path, b"table").unwrap();
    let before = support::fd_names();
    ringio::run(async {
        let pool = FixedBufPool::new(2, 4096).unwrap();
        let second = FixedBufPool::new(2, 4096);
        if support::on_epoll() {
            assert!(!pool.is_registered(), "epoll has no table to register");
            assert!(second.is_ok(), "epoll has no table: any number of pools");
        } else {
            let e = second.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::ResourceBusy, "{e}");
            assert!(e.to_string().contains("one FixedBufPool per core"), "{e}");
        }
        // The pool goes, one buffer stays out: its table must stay registered for it.
        let kept = pool.get().unwrap();
        drop(pool);
        let file = File::open(&path).await.unwrap();
        let (res, kept) = file.read_fixed_at(kept, 0).await;
        assert_eq!(res.unwrap(), 5, "a buffer outliving its pool still reads");
        assert_eq!(&kept[..], b"table");
        drop(kept);
        // The last buffer gone, the table is unregistered: a new pool may register.
        let again = FixedBufPool::new(1, 4096).unwrap();
        let (res, buf) = file.read_fixed_at(again.get().unwrap(), 0).await;
        assert_eq!((res.unwrap(), &buf[..]), (5, &b"table"[..]));
        let err = FixedBufPool::new(0, 4096).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(err.to_string().contains("0 buffers"), "{err}");
    });
    support::check_fds(&before, "fixed buffer tables");
}

#[test]
fn fixed_buffers_serve_direct_io() {
    let _serial = support::serial();
    let dir = TempDir::on_disk("direct");
    let path = dir.0.join("direct.bin");
    std::fs::write(&path, vec![9u8; 64 << 10]).unwrap();
    ringio::run(async {
        let mut opts = OpenOptions::new();
        opts.read(true).write(true).direct(true);
        let file = match opts.open(&path).await {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::InvalidInput => {
                eprintln!("SKIPPED: no O_DIRECT on {}: {e}", path.display());
                return;
            }
            Err(e) => panic!("{e}"),
        };
        let pool = FixedBufPool::new(2, 16 << 10).unwrap();
        let (res, buf) = file.read_fixed_at(pool.get().unwrap(), 16 << 10).await;
        assert_eq!(res.unwrap(), 16 << 10);
        assert!(buf.iter().all(|&b| b == 9));
        let (res, buf) = file.read_fixed_at(buf, 100).await;
        assert_eq!(res.unwrap_err().kind(), ErrorKind::InvalidInput);
        let mut buf = buf;
        buf.set_len(4096);
        buf.fill(3);
        let (res, _) = file.write_fixed_at(buf, 0).await;
        assert_eq!(res.unwrap(), 4096);
    });
    let back = std::fs::read(&path).unwrap();
    assert!(back[..4096].iter().all(|&b| b == 3) && back[4096..].iter().all(|&b| b == 9));
}
