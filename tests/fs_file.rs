//! Files through the ring: a 64 MiB random-offset round trip with many ops in flight,
//! fsync, metadata, set_len, the whole-file helpers, and the errors of bad paths.

mod support;

use ringio::fs::{self, File, OpenOptions};
use std::io::ErrorKind;
use std::rc::Rc;
use std::time::Duration;
use support::Rng;
use support::temp_dir::TempDir;

const ROUND_TRIP_LEN: usize = 64 << 20;

/// Splits `0..len` into chunks of random sizes (1 B to 1 MiB), in random order.
fn shuffled_chunks(rng: &mut Rng, len: usize) -> Vec<(usize, usize)> {
    let mut chunks = Vec::new();
    let mut at = 0;
    while at < len {
        let n = (1 + rng.below(1 << 20) as usize).min(len - at);
        chunks.push((at, n));
        at += n;
    }
    for i in (1..chunks.len()).rev() {
        chunks.swap(i, rng.below(i as u64 + 1) as usize);
    }
    chunks
}

#[test]
fn fs_round_trip_64_mib_at_random_offsets() {
    support::watchdog("fs_round_trip", Duration::from_secs(120));
    let dir = TempDir::new("round-trip");
    let path = dir.path("big.bin");
    let mut rng = Rng::new(0x5eed_f11e);
    let mut data = vec![0u8; ROUND_TRIP_LEN];
    rng.fill(&mut data);
    let data = Rc::new(data);
    ringio::run(async {
        let file = Rc::new(File::create(&path).await.unwrap());
        // Every write in flight at once, each its own task, in shuffled order.
        let writes: Vec<_> = shuffled_chunks(&mut rng, ROUND_TRIP_LEN)
            .into_iter()
            .map(|(at, n)| {
                let (file, data) = (file.clone(), data.clone());
                ringio::spawn(async move {
                    let chunk = data[at..at + n].to_vec();
                    file.write_all_at(chunk, at as u64).await.0.unwrap();
                })
            })
            .collect();
        assert!(writes.len() > 64, "only {} writes", writes.len());
        for w in writes {
            w.await.unwrap();
        }
        file.sync_all().await.unwrap();
        file.sync_data().await.unwrap();
        assert_eq!(file.metadata().await.unwrap().len(), ROUND_TRIP_LEN as u64);

        // Read it back through a fresh descriptor, all reads in flight via gather.
        let reader = File::open(&path).await.unwrap();
        let chunks = shuffled_chunks(&mut rng, ROUND_TRIP_LEN);
        let reads = chunks.iter().map(|&(at, n)| {
            let reader = &reader;
            async move {
                let (res, buf) = reader.read_exact_at(vec![0u8; n], at as u64).await;
                res.unwrap();
                (at, buf)
            }
        });
        for (at, buf) in ringio::task::gather(reads).await {
            assert!(buf == data[at..at + buf.len()], "mismatch at offset {at}");
        }
        reader.close().await.unwrap();
        Rc::try_unwrap(file).unwrap().close().await.unwrap();
    });
    assert!(
        std::fs::read(&path).unwrap() == *data,
        "std sees other bytes"
    );
}

#[test]
fn fs_set_len_and_metadata() {
    let dir = TempDir::new("set-len");
    let path = dir.path("f.bin");
    ringio::run(async {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .open(&path)
            .await
            .unwrap();
        file.write_all_at(vec![9u8; 1000], 0).await.0.unwrap();
        let meta = file.metadata().await.unwrap();
        assert!(meta.is_file() && !meta.is_dir());
        assert_eq!(meta.len(), 1000);
        let age = std::time::SystemTime::now()
            .duration_since(meta.modified().unwrap())
            .unwrap_or_default();
        assert!(age < Duration::from_secs(60), "mtime {age:?} old");

        file.set_len(10).await.unwrap();
        assert_eq!(fs::metadata(&path).await.unwrap().len(), 10);
        file.set_len(1 << 20).await.unwrap();
        assert_eq!(file.metadata().await.unwrap().len(), 1 << 20);
        let (res, buf) = file.read_exact_at(vec![1u8; 20], 0).await;
        res.unwrap();
        assert_eq!(&buf[..10], &[9u8; 10]);
        assert_eq!(&buf[10..], &[0u8; 10], "the extension reads as zeros");

        let ro = File::open(&path).await.unwrap();
        let err = ro.set_len(0).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
        let (res, _) = file.read_at(vec![0u8; 1], u64::MAX).await;
        assert_eq!(res.unwrap_err().kind(), ErrorKind::InvalidInput);
    });
}

#[test]
fn fs_whole_file_helpers() {
    let dir = TempDir::new("helpers");
    ringio::run(async {
        let a = dir.path("a.txt");
        fs::write(&a, b"first").await.unwrap();
        fs::write(&a, "second, longer".to_string()).await.unwrap();
        assert_eq!(fs::read(&a).await.unwrap(), b"second, longer");
        // A file larger than read's growth step and not a multiple of it.
        let big: Vec<u8> = (0..300_001u32).map(|i| (i % 253) as u8).collect();
        fs::write(&a, big.clone()).await.unwrap();
        assert!(fs::read(&a).await.unwrap() == big);
        // /proc files report length 0: read must not trust the size.
        assert!(
            fs::read("/proc/self/status")
                .await
                .unwrap()
                .starts_with(b"Name:")
        );

        let b = dir.path("b.txt");
        fs::rename(&a, &b).await.unwrap();
        assert_eq!(
            fs::metadata(&a).await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
        assert_eq!(fs::metadata(&b).await.unwrap().len(), big.len() as u64);
        fs::remove_file(&b).await.unwrap();
        assert_eq!(
            fs::remove_file(&b).await.unwrap_err().kind(),
            ErrorKind::NotFound
        );

        let sub = dir.path("sub");
        fs::create_dir(&sub).await.unwrap();
        assert!(fs::metadata(&sub).await.unwrap().is_dir());
        let again = fs::create_dir(&sub).await.unwrap_err();
        assert_eq!(again.kind(), ErrorKind::AlreadyExists);
        let deep = fs::create_dir(dir.path("no/such/parent"))
            .await
            .unwrap_err();
        assert_eq!(deep.kind(), ErrorKind::NotFound);
        let on_dir = fs::remove_file(&sub).await.unwrap_err();
        assert_eq!(on_dir.kind(), ErrorKind::IsADirectory, "{on_dir}");
    });
}

#[test]
fn fs_open_options_append_and_create_new() {
    let dir = TempDir::new("options");
    let path = dir.path("log.txt");
    ringio::run(async {
        let log = OpenOptions::new()
            .append(true)
            .create_new(true)
            .open(&path)
            .await
            .unwrap();
        log.write_all_at(b"a", 0).await.0.unwrap();
        log.write_all_at(b"b", 0).await.0.unwrap();
        assert_eq!(fs::read(&path).await.unwrap(), b"ab");
        let dup = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .await;
        assert_eq!(dup.unwrap_err().kind(), ErrorKind::AlreadyExists);
        let none = OpenOptions::new().open(&path).await.unwrap_err();
        assert_eq!(none.kind(), ErrorKind::InvalidInput);
        // Writing to a file opened read-only is the kernel's EBADF, in the error's source
        // (tests/fs_write_read_only.rs checks the message).
        let ro = File::open(&path).await.unwrap();
        let (res, _) = ro.write_at(b"x", 0).await;
        let err = res.unwrap_err();
        let source = std::error::Error::source(err.get_ref().unwrap()).unwrap();
        let os = source.downcast_ref::<std::io::Error>().unwrap();
        assert_eq!(os.raw_os_error(), Some(libc::EBADF));
    });
}

#[test]
fn fs_missing_file_directory_and_nul_errors() {
    let dir = TempDir::new("errors");
    ringio::run(async {
        let missing = dir.path("missing.txt");
        let err = File::open(&missing).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
        assert_eq!(
            fs::read(&missing).await.unwrap_err().kind(),
            ErrorKind::NotFound
        );

        // A directory opened for writing: the kernel's EISDIR.
        let err = File::create(&dir.0).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::IsADirectory, "{err}");
        let err = fs::write(&dir.0, b"x").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::IsADirectory);
        // Opened read-only it opens, and reading it is EISDIR.
        let d = File::open(&dir.0).await.unwrap();
        let (res, _) = d.read_at(vec![0u8; 8], 0).await;
        assert_eq!(res.unwrap_err().kind(), ErrorKind::IsADirectory);
        assert_eq!(
            fs::read(&dir.0).await.unwrap_err().kind(),
            ErrorKind::IsADirectory
        );

        // Interior NUL: InvalidInput from every path-taking call, no panic.
        let nul = dir.path("bad\0name");
        assert_eq!(
            File::open(&nul).await.unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
        assert_eq!(
            File::create(&nul).await.unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
        assert_eq!(
            fs::read(&nul).await.unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
        assert_eq!(
            fs::write(&nul, b"x").await.unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
        assert_eq!(
            fs::metadata(&nul).await.unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
        assert_eq!(
            fs::remove_file(&nul).await.unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
        assert_eq!(
            fs::create_dir(&nul).await.unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
        let ok = dir.path("ok");
        assert_eq!(
            fs::rename(&ok, &nul).await.unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
        assert_eq!(
            fs::rename(&nul, &ok).await.unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
    });
}

#[test]
fn fs_permission_denied() {
    let dir = TempDir::new("perm");
    let path = dir.path("secret.txt");
    std::fs::write(&path, b"secret").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).unwrap();
    std::thread::spawn(move || {
        // CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH: without them root sees permission
        // bits too.
        support::drop_capabilities(&[1, 2], false).expect("capset failed");
        assert!(std::fs::File::open(&path).is_err(), "std still opens it");
        ringio::run(async {
            let err = File::open(&path).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
            let err = fs::read(&path).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::PermissionDenied);
            let err = fs::write(&path, b"x").await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::PermissionDenied);
            // stat needs no permission on the file itself.
            let meta = fs::metadata(&path).await.unwrap();
            assert_eq!(meta.permissions().mode() & 0o777, 0);
        });
    })
    .join()
    .unwrap();
}
