//! File ops dropped mid-flight: no descriptor leaks, nothing left in flight; `close().await`
//! releases the descriptor. Own binary: descriptor counts are per process.

mod support;

use ringio::fs::{self, File};
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::Duration;
use support::{fd_count, in_flight, poll_and_drop, serial, settle};

fn temp_file(name: &str, len: usize) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("ringio-fsleak-{name}-{}", std::process::id()));
    std::fs::write(&path, vec![5u8; len]).unwrap();
    path
}

#[test]
fn fs_dropped_opens_leak_no_fd() {
    let _serial = serial();
    support::watchdog("dropped_opens", Duration::from_secs(60));
    let path = temp_file("open", 16);
    ringio::run(async {
        let baseline = fd_count();
        let mut pending = 0;
        for i in 0..1_000 {
            if poll_and_drop(File::open(&path)) {
                pending += 1;
            }
            // Every other one reaches the kernel before it is dropped.
            if i % 2 == 0 {
                ringio::yield_now().await;
            }
        }
        assert_eq!(pending, 1_000, "an open finished on its first poll");
        assert!(
            settle(Duration::from_secs(10), || in_flight() == 0).await,
            "ops left in flight: {}",
            in_flight()
        );
        assert_eq!(fd_count(), baseline, "descriptors leaked");
        // Opened files still work afterwards.
        let f = File::open(&path).await.unwrap();
        assert_eq!(f.metadata().await.unwrap().len(), 16);
    });
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn fs_dropped_file_ops_leak_nothing() {
    let _serial = serial();
    support::watchdog("dropped_file_ops", Duration::from_secs(60));
    let path = temp_file("ops", 1 << 20);
    ringio::run(async {
        let baseline = fd_count();
        for _ in 0..200 {
            let file = File::open(&path).await.unwrap();
            poll_and_drop(file.read_at(vec![0u8; 1 << 16], 0));
            poll_and_drop(file.metadata());
            poll_and_drop(file.sync_data());
            poll_and_drop(fs::metadata(&path));
            // The File goes first: the descriptor must stay open until the ops finish.
            drop(file);
            ringio::yield_now().await;
        }
        assert!(
            settle(Duration::from_secs(10), || in_flight() == 0).await,
            "ops left in flight: {}",
            in_flight()
        );
        assert_eq!(fd_count(), baseline, "descriptors leaked");
    });
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn fs_close_releases_the_fd() {
    let _serial = serial();
    support::watchdog("close_releases", Duration::from_secs(60));
    let path = temp_file("close", 8);
    ringio::run(async {
        let baseline = fd_count();
        let files: Vec<File> = ringio::task::gather((0..100).map(|_| File::open(&path)))
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(fd_count(), baseline + 100);
        let raw = files[0].as_raw_fd();
        for f in files {
            f.close().await.unwrap();
        }
        assert_eq!(fd_count(), baseline, "close().await left descriptors open");
        assert!(
            !std::path::Path::new(&format!("/proc/self/fd/{raw}")).exists(),
            "fd {raw} still open"
        );

        // A close while a dropped read is still in flight: the descriptor goes when that
        // read completes, not before, and not never.
        let file = Rc::new(File::open(&path).await.unwrap());
        poll_and_drop(file.read_at(vec![0u8; 8], 0));
        Rc::try_unwrap(file).unwrap().close().await.unwrap();
        assert!(settle(Duration::from_secs(10), || fd_count() == baseline).await);
    });
    std::fs::remove_file(&path).unwrap();
}
