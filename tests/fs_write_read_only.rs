//! A write to a `File` opened read-only says that the file was not opened for writing and
//! names it, instead of a bare "Bad file descriptor"; the errno stays in the source.

mod support;

use ringio::fs::{File, OpenOptions};
use std::io::ErrorKind;
use support::temp_dir::TempDir;

/// The errno under a wrapped error.
fn errno(e: &std::io::Error) -> Option<i32> {
    let source = std::error::Error::source(e.get_ref()?)?;
    source.downcast_ref::<std::io::Error>()?.raw_os_error()
}

#[test]
fn write_to_a_read_only_file_names_it() {
    let dir = TempDir::new("write-read-only");
    let path = dir.path("data.txt");
    std::fs::write(&path, b"abc").unwrap();
    ringio::run(async {
        let ro = File::open(&path).await.unwrap();
        let (res, buf) = ro.write_at(b"x", 0).await;
        assert_eq!(buf, b"x", "the buffer comes back");
        let err = res.unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("not opened for writing"), "{msg}");
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        assert!(msg.contains("OpenOptions::write(true)"), "{msg}");
        assert_eq!(errno(&err), Some(libc::EBADF));

        let (res, _) = ro.write_all_at(vec![1u8; 10], 0).await;
        let err = res.unwrap_err();
        assert!(err.to_string().contains("not opened for writing"), "{err}");
        assert_eq!(errno(&err), Some(libc::EBADF));

        // Other write errors pass through as they were.
        let rw = OpenOptions::new().write(true).open(&path).await.unwrap();
        let (res, _) = rw.write_at(b"x", u64::MAX).await;
        assert_eq!(res.unwrap_err().kind(), ErrorKind::InvalidInput);
        rw.write_all_at(b"xyz", 0).await.0.unwrap();
    });
    assert_eq!(std::fs::read(&path).unwrap(), b"xyz");
}
