//! Links: `hard_link`, `symlink`, `read_link`, `canonicalize` through a symlink, a
//! symlink loop (ELOOP, not a hang), `symlink_metadata` against `metadata`, `try_exists`
//! of a dangling link; errors name the paths; dropped link ops leak nothing. Own binary:
//! descriptor counts are per process.

mod support;

use ringio::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;
use support::temp_dir::TempDir;
use support::{fd_count, serial, settle};

/// The errno under a path-naming error (its source).
fn errno(e: &io::Error) -> Option<i32> {
    std::error::Error::source(e)
        .and_then(|s| s.downcast_ref::<io::Error>())
        .and_then(io::Error::raw_os_error)
}

fn names(e: &io::Error, path: &Path) -> bool {
    e.to_string().contains(&*path.to_string_lossy())
}

#[test]
fn fs_hard_link_shares_the_inode() {
    let _serial = serial();
    let dir = TempDir::new("hard");
    ringio::run(async {
        let baseline = fd_count();
        let (a, b) = (dir.0.join("a"), dir.0.join("b"));
        fs::write(&a, b"one file").await.unwrap();
        fs::hard_link(&a, &b).await.unwrap();
        let (ma, mb) = (
            std::fs::metadata(&a).unwrap(),
            std::fs::metadata(&b).unwrap(),
        );
        assert_eq!(ma.ino(), mb.ino());
        assert_eq!(ma.nlink(), 2);
        fs::remove_file(&a).await.unwrap();
        assert_eq!(fs::read(&b).await.unwrap(), b"one file");

        // `b` exists: AlreadyExists, naming both paths.
        fs::write(&a, b"again").await.unwrap();
        let err = fs::hard_link(&a, &b).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert!(names(&err, &a) && names(&err, &b), "{err}");
        assert_eq!(errno(&err), Some(libc::EEXIST));

        // A missing original.
        let missing = dir.0.join("missing");
        let err = fs::hard_link(&missing, dir.0.join("c")).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(names(&err, &missing), "{err}");
        assert_eq!(fd_count(), baseline);
    });
}

#[test]
fn fs_symlink_read_link_and_canonicalize() {
    let _serial = serial();
    let dir = TempDir::new("sym");
    ringio::run(async {
        let baseline = fd_count();
        let real = dir.0.join("real");
        fs::create_dir(&real).await.unwrap();
        fs::write(real.join("f.txt"), b"through the link")
            .await
            .unwrap();

        // A relative target, resolved from the link's directory.
        let link = dir.0.join("link");
        fs::symlink("real", &link).await.unwrap();
        assert_eq!(fs::read_link(&link).await.unwrap(), Path::new("real"));
        assert_eq!(
            fs::read(link.join("f.txt")).await.unwrap(),
            b"through the link"
        );
        let canon = fs::canonicalize(link.join("./f.txt")).await.unwrap();
        assert_eq!(canon, real.join("f.txt"));

        // symlink_metadata sees the link, metadata its target.
        let lmeta = fs::symlink_metadata(&link).await.unwrap();
        assert!(lmeta.is_symlink() && !lmeta.is_dir());
        assert_eq!(
            lmeta.len(),
            "real".len() as u64,
            "a symlink's size is its target's length"
        );
        let meta = fs::metadata(&link).await.unwrap();
        assert!(meta.is_dir() && !meta.is_symlink());
        assert!(!fs::symlink_metadata(&real).await.unwrap().is_symlink());

        // A dangling link: it exists itself, its target does not.
        let dangling = dir.0.join("dangling");
        fs::symlink(dir.0.join("nowhere"), &dangling).await.unwrap();
        assert!(!fs::try_exists(&dangling).await.unwrap());
        assert!(fs::symlink_metadata(&dangling).await.unwrap().is_symlink());

        // read_link of a non-link, symlink over an existing name: errors naming paths.
        let err = fs::read_link(&real).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(names(&err, &real), "{err}");
        let err = fs::symlink("real", &link).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert!(names(&err, &link), "{err}");
        let err = fs::symlink_metadata(dir.0.join("nope")).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(names(&err, &dir.0.join("nope")), "{err}");
        assert_eq!(fd_count(), baseline);
    });
}

#[test]
fn fs_symlink_loop_is_eloop_not_a_hang() {
    let _serial = serial();
    support::watchdog("symlink_loop", Duration::from_secs(60));
    let dir = TempDir::new("loop");
    ringio::run(async {
        let baseline = fd_count();
        let (a, b) = (dir.0.join("a"), dir.0.join("b"));
        fs::symlink(&b, &a).await.unwrap();
        fs::symlink(&a, &b).await.unwrap();

        let err = fs::canonicalize(&a).await.unwrap_err();
        assert_eq!(errno(&err), Some(libc::ELOOP), "{err}");
        assert!(names(&err, &a), "{err}");
        let err = fs::metadata(&a).await.unwrap_err();
        assert_eq!(errno(&err), Some(libc::ELOOP), "{err}");
        let err = fs::File::open(&a).await.unwrap_err();
        assert_eq!(errno(&err), Some(libc::ELOOP), "{err}");
        assert!(names(&err, &a), "{err}");
        // try_exists cannot tell: an error, not `false`.
        assert_eq!(
            errno(&fs::try_exists(&a).await.unwrap_err()),
            Some(libc::ELOOP)
        );
        // The links themselves are fine.
        assert!(fs::symlink_metadata(&a).await.unwrap().is_symlink());
        assert_eq!(fs::read_link(&a).await.unwrap(), b);
        assert_eq!(fd_count(), baseline);
    });
}

#[test]
fn fs_dropped_link_ops_leak_nothing() {
    let _serial = serial();
    support::watchdog("dropped_links", Duration::from_secs(60));
    let dir = TempDir::new("drop");
    ringio::run(async {
        let baseline = fd_count();
        let target = dir.0.join("target");
        fs::write(&target, b"t").await.unwrap();
        for i in 0..200 {
            support::poll_and_drop(fs::hard_link(&target, dir.0.join(format!("h{i}"))));
            support::poll_and_drop(fs::symlink(&target, dir.0.join(format!("s{i}"))));
            support::poll_and_drop(fs::read_link(dir.0.join(format!("s{i}"))));
            support::poll_and_drop(fs::symlink_metadata(&target));
            if i % 2 == 0 {
                ringio::yield_now().await;
            }
        }
        support::assert_settled("dropped link ops").await;
        assert!(
            settle(Duration::from_secs(5), || fd_count() == baseline).await,
            "descriptors leaked: {} > {baseline}",
            fd_count()
        );
        // Dropped ops still happened (not cancelled): every link was made.
        for i in 0..200 {
            assert!(fs::try_exists(dir.0.join(format!("h{i}"))).await.unwrap());
            assert_eq!(
                fs::read_link(dir.0.join(format!("s{i}"))).await.unwrap(),
                target
            );
        }
    });
}
