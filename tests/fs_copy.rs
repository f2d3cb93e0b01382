//! Copies and file space: `copy` of a 1 GiB sparse file (length and sampled regions
//! match), `copy` keeps permissions, `set_permissions`, `File::allocate` grows a file,
//! `File::fadvise` (also over 4 GiB), errors name the paths; dropped ops leak nothing.
//! Own binary: descriptor counts are per process.

mod support;

use ringio::fs::{self, Advice, File, OpenOptions};
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;
use support::temp_dir::TempDir;
use support::{fd_count, serial, settle};

fn names(e: &io::Error, path: &Path) -> bool {
    e.to_string().contains(&*path.to_string_lossy())
}

const GIB: u64 = 1 << 30;

#[test]
fn fs_copy_of_a_1gib_sparse_file() {
    let _serial = serial();
    support::watchdog("copy_1gib", Duration::from_secs(300));
    let dir = TempDir::new("sparse");
    ringio::run(async {
        let baseline = fd_count();
        let (src, dst) = (dir.0.join("sparse.bin"), dir.0.join("copy.bin"));
        let file = File::create(&src).await.unwrap();
        file.set_len(GIB).await.unwrap();
        // A few marked regions among the holes: the start, the middle, the last bytes.
        let marks = [(0, 0xA1u8), (GIB / 2 + 123, 0xB2), (GIB - 4096, 0xC3)];
        for (at, byte) in marks {
            file.write_all_at(vec![byte; 4096], at).await.0.unwrap();
        }
        file.close().await.unwrap();

        let copied = fs::copy(&src, &dst).await.unwrap();
        assert_eq!(copied, GIB);
        assert_eq!(fs::metadata(&dst).await.unwrap().len(), GIB);
        // The holes stay holes: a few marked pages stored, not a gigabyte of zeros.
        let stored =
            std::os::unix::fs::MetadataExt::blocks(&std::fs::metadata(&dst).unwrap()) * 512;
        assert!(
            stored < 64 << 20,
            "the copy stores {stored} bytes: its holes were written out"
        );
        let out = File::open(&dst).await.unwrap();
        for (at, byte) in marks {
            let (res, buf) = out.read_exact_at(vec![0u8; 4096], at).await;
            res.unwrap();
            assert!(buf.iter().all(|&b| b == byte), "region at {at} differs");
        }
        // Holes read back as zeros.
        for at in [8192, GIB / 4, GIB / 2 + 8192, GIB - 8192] {
            let (res, buf) = out.read_exact_at(vec![1u8; 4096], at).await;
            res.unwrap();
            assert!(buf.iter().all(|&b| b == 0), "hole at {at} is not zero");
        }
        out.close().await.unwrap();
        fs::remove_file(&dst).await.unwrap();
        fs::remove_file(&src).await.unwrap();
        assert_eq!(fd_count(), baseline, "descriptors leaked");
    });
}

#[test]
fn fs_copy_keeps_permissions_and_names_paths_in_errors() {
    let _serial = serial();
    let dir = TempDir::new("perms");
    ringio::run(async {
        let baseline = fd_count();
        let (src, dst) = (dir.0.join("tool.sh"), dir.0.join("tool-copy.sh"));
        fs::write(&src, b"#!/bin/sh\necho copied\n").await.unwrap();
        fs::set_permissions(&src, std::fs::Permissions::from_mode(0o751))
            .await
            .unwrap();
        assert_eq!(fs::copy(&src, &dst).await.unwrap(), 22);
        assert_eq!(fs::read(&dst).await.unwrap(), b"#!/bin/sh\necho copied\n");
        let mode = fs::metadata(&dst).await.unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o751, "copy keeps the permission bits");

        // Over an existing, longer file: truncated to the source.
        fs::write(&dst, vec![b'x'; 10_000]).await.unwrap();
        assert_eq!(fs::copy(&src, &dst).await.unwrap(), 22);
        assert_eq!(fs::metadata(&dst).await.unwrap().len(), 22);

        let missing = dir.0.join("missing");
        let err = fs::copy(&missing, &dst).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(names(&err, &missing) && names(&err, &dst), "{err}");
        let err = fs::copy(&src, dir.0.join("no/such/dir/x"))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(names(&err, &dir.0.join("no/such/dir/x")), "{err}");
        let err = fs::set_permissions(&missing, std::fs::Permissions::from_mode(0o600))
            .await
            .unwrap_err();
        assert!(names(&err, &missing), "{err}");
        assert_eq!(fd_count(), baseline, "descriptors leaked");
    });
}

#[test]
fn fs_allocate_grows_and_fadvise_succeeds() {
    let _serial = serial();
    let dir = TempDir::new("alloc");
    ringio::run(async {
        let baseline = fd_count();
        let path = dir.0.join("space.bin");
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .open(&path)
            .await
            .unwrap();
        file.write_all_at(b"head", 0).await.0.unwrap();
        file.allocate(0, 1 << 20).await.unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.len(), 1 << 20, "allocate grows the file");
        assert!(
            std::os::unix::fs::MetadataExt::blocks(&meta) * 512 >= 1 << 20,
            "the blocks are reserved"
        );
        // Inside the file: the length stays.
        file.allocate(4096, 4096).await.unwrap();
        assert_eq!(file.metadata().await.unwrap().len(), 1 << 20);
        let (res, buf) = file.read_exact_at(vec![0u8; 4], 0).await;
        res.unwrap();
        assert_eq!(buf, b"head", "allocate keeps the data");

        for advice in [
            Advice::Normal,
            Advice::Sequential,
            Advice::Random,
            Advice::NoReuse,
            Advice::WillNeed,
            Advice::DontNeed,
        ] {
            file.fadvise(0, 1 << 20, advice).await.unwrap();
        }
        file.fadvise(0, 0, Advice::Normal).await.unwrap(); // to the end
        file.fadvise(4096, 10 * GIB, Advice::DontNeed)
            .await
            .unwrap(); // several pieces

        // Unhappy paths: zero length, offsets past i64::MAX, a read-only file.
        assert_eq!(
            file.allocate(0, 0).await.unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
        assert_eq!(
            file.allocate(u64::MAX - 1, 2).await.unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
        assert_eq!(
            file.fadvise(i64::MAX as u64, 1, Advice::Normal)
                .await
                .unwrap_err()
                .kind(),
            io::ErrorKind::InvalidInput
        );
        let ro = File::open(&path).await.unwrap();
        assert_eq!(
            ro.allocate(0, 4096).await.unwrap_err().raw_os_error(),
            Some(libc::EBADF)
        );
        ro.set_permissions(std::fs::Permissions::from_mode(0o600))
            .await
            .unwrap();
        assert_eq!(
            fs::metadata(&path).await.unwrap().permissions().mode() & 0o777,
            0o600
        );
        ro.close().await.unwrap();
        file.close().await.unwrap();
        assert_eq!(fd_count(), baseline, "descriptors leaked");
    });
}

#[test]
fn fs_dropped_space_ops_leak_nothing() {
    let _serial = serial();
    support::watchdog("dropped_space_ops", Duration::from_secs(60));
    let dir = TempDir::new("drop");
    ringio::run(async {
        let baseline = fd_count();
        let path = dir.0.join("f.bin");
        let src = dir.0.join("src.bin");
        fs::write(&src, vec![3u8; 64 << 10]).await.unwrap();
        for i in 0..200u64 {
            let file = File::create(&path).await.unwrap();
            support::poll_and_drop(file.allocate(i * 4096, 4096));
            support::poll_and_drop(file.fadvise(0, 0, Advice::WillNeed));
            support::poll_and_drop(file.set_permissions(std::fs::Permissions::from_mode(0o644)));
            support::poll_and_drop(fs::copy(&src, dir.0.join(format!("c{}", i % 4))));
            // The File goes first: its descriptor must outlive the ops in flight.
            drop(file);
            if i % 2 == 0 {
                ringio::yield_now().await;
            }
        }
        support::assert_settled("dropped space ops").await;
        assert!(
            settle(Duration::from_secs(10), || fd_count() == baseline).await,
            "descriptors leaked: {} > {baseline}",
            fd_count()
        );
    });
}
