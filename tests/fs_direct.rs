//! Direct I/O (O_DIRECT): a round trip through `AlignedBuf`, reads and writes whose
//! buffer, length or offset misses the file's alignment refused before the kernel sees
//! them, with a message naming the alignment and what missed it, and direct reads and
//! writes handed to the kernel one by one, not in the loop turn's batch (`fs` rule 7).
//!
//! The files live under the target directory: tmpfs (a common /tmp) has no direct I/O.
//! Where the filesystem refuses O_DIRECT anyway (EINVAL at open), each test says so and
//! returns.

mod support;

use ringio::buf::{AlignedBuf, IoBuf};
use ringio::fs::{File, OpenOptions};
use std::io::ErrorKind;
use std::path::Path;
use std::rc::Rc;
use std::time::Duration;
use support::Rng;
use support::temp_dir::TempDir;

/// Opens `path` read-write with O_DIRECT, or `None` with a printed reason if this
/// filesystem refuses direct I/O.
async fn open_direct(path: &Path) -> Option<File> {
    let mut opts = OpenOptions::new();
    opts.read(true).write(true).create(true).direct(true);
    match opts.open(path).await {
        Ok(f) => Some(f),
        Err(e) if e.kind() == ErrorKind::InvalidInput => {
            eprintln!(
                "SKIPPED: the filesystem of {} refuses O_DIRECT: {e}",
                path.display()
            );
            None
        }
        Err(e) => panic!("open with O_DIRECT: {e}"),
    }
}

#[test]
fn direct_round_trip_with_aligned_buffers() {
    let _serial = support::serial();
    support::watchdog("direct_round_trip", Duration::from_secs(60));
    let dir = TempDir::on_disk("round-trip");
    let path = dir.0.join("direct.bin");
    let before = support::fd_names();
    const BLOCKS: usize = 256;
    const BLOCK: usize = 16 << 10;
    let mut data = vec![0u8; BLOCKS * BLOCK];
    Rng::new(0xd1_5ec7).fill(&mut data);
    let data = Rc::new(data);
    ringio::run(async {
        let Some(file) = open_direct(&path).await else {
            return;
        };
        let align = file.direct_io_alignment().expect("opened with O_DIRECT");
        eprintln!("direct I/O alignment: {align:?}");
        assert!(align.memory().is_power_of_two() && align.offset().is_power_of_two());
        assert!(
            (BLOCK as u32).is_multiple_of(align.offset()) && align.memory() <= 4096,
            "{align:?}"
        );
        let file = Rc::new(file);
        // Every block written by its own task, all in flight at once.
        let writes: Vec<_> = (0..BLOCKS)
            .map(|i| {
                let (file, data) = (file.clone(), data.clone());
                ringio::spawn(async move {
                    let mut buf = AlignedBuf::new(BLOCK, 4096);
                    buf.copy_from_slice(&data[i * BLOCK..(i + 1) * BLOCK]);
                    file.write_all_at(buf, (i * BLOCK) as u64).await.0.unwrap();
                })
            })
            .collect();
        for w in writes {
            w.await.unwrap();
        }
        file.sync_data().await.unwrap();
        // Read back in 64 KiB pieces, all in flight, checked byte for byte.
        let piece = 4 * BLOCK;
        let reads: Vec<_> = (0..BLOCKS / 4)
            .map(|i| {
                let (file, data) = (file.clone(), data.clone());
                ringio::spawn(async move {
                    let at = i * piece;
                    let buf = AlignedBuf::with_capacity(piece, 4096);
                    let (res, buf) = file.read_exact_at(buf, at as u64).await;
                    res.unwrap();
                    assert!(
                        buf[..] == data[at..at + piece],
                        "bytes differ in {at}..+{piece}"
                    );
                })
            })
            .collect();
        for r in reads {
            r.await.unwrap();
        }
        // Past the end: an aligned read reads nothing.
        let (res, buf) = file
            .read_at(
                AlignedBuf::with_capacity(BLOCK, 4096),
                (BLOCKS * BLOCK) as u64,
            )
            .await;
        assert_eq!((res.unwrap(), buf.len()), (0, 0));
        drop(file);
        support::assert_settled("direct round trip").await;
    });
    assert_eq!(
        std::fs::read(&path).unwrap(),
        *data,
        "the file holds what was written"
    );
    support::check_fds(&before, "direct round trip");
}

#[test]
fn misaligned_direct_io_is_refused_before_the_kernel_sees_it() {
    let _serial = support::serial();
    support::watchdog("misaligned_direct_io", Duration::from_secs(60));
    let dir = TempDir::on_disk("misaligned");
    let path = dir.0.join("direct.bin");
    std::fs::write(&path, vec![7u8; 64 << 10]).unwrap();
    let before = support::fd_names();
    ringio::run(async {
        let Some(file) = open_direct(&path).await else {
            return;
        };
        let align = file.direct_io_alignment().unwrap();
        let (mem, off) = (align.memory() as usize, align.offset() as usize);
        let submitted = ringio::metrics().ops_submitted;
        let expect_refused = |res: std::io::Result<usize>, what: &str, part: &str| {
            let e = res.expect_err(what);
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{what}: {e}");
            let msg = e.to_string();
            assert!(msg.contains(part), "{what}: {msg:?} does not say {part:?}");
            assert!(
                msg.contains(&format!("aligned to {mem} bytes"))
                    && msg.contains(&format!("lengths to {off} bytes")),
                "{what}: {msg:?} does not name the alignment"
            );
        };

        // A buffer whose address misses the memory alignment (one byte into an aligned
        // one), length and offset aligned. (mem may be as small as 4 on NVMe: an offset of
        // 1 byte misses it anyway.)
        let shifted = AlignedBuf::with_capacity(off + 1, 4096).slice(1..);
        let addr = shifted.stable_ptr() as usize;
        let (res, _) = file.read_at(shifted, 0).await;
        expect_refused(
            res,
            "misaligned buffer",
            &format!("buffer address {addr:#x} is not a multiple of {mem}"),
        );
        // A length that is not a multiple of the offset alignment.
        let (res, _) = file
            .read_at(AlignedBuf::with_capacity(off + 100, 4096), 0)
            .await;
        expect_refused(
            res,
            "misaligned length",
            &format!("length {} is not a multiple of {off}", off + 100),
        );
        // An offset that is not.
        let (res, _) = file.read_at(AlignedBuf::with_capacity(off, 4096), 3).await;
        expect_refused(
            res,
            "misaligned offset",
            &format!("file offset 3 is not a multiple of {off}"),
        );
        // Writes too: a Vec's address is rarely 4096-aligned and 100 bytes never a
        // multiple of the offset alignment.
        let (res, _) = file.write_at(vec![1u8; 100], 0).await;
        expect_refused(res, "misaligned write", "length 100 is not a multiple");
        let (res, _) = file.write_all_at(AlignedBuf::new(off, 4096), 1).await;
        expect_refused(
            res.map(|()| 0),
            "misaligned write_all",
            "file offset 1 is not a multiple",
        );
        assert_eq!(
            ringio::metrics().ops_submitted,
            submitted,
            "a misaligned read or write reached the kernel"
        );
        // An aligned read still works, and the file is unchanged.
        let (res, buf) = file.read_at(AlignedBuf::with_capacity(off, 4096), 0).await;
        assert_eq!(res.unwrap(), off);
        assert!(buf.iter().all(|&b| b == 7));

        // O_DIRECT through custom_flags is checked the same way.
        let mut opts = OpenOptions::new();
        opts.read(true).custom_flags(libc::O_DIRECT);
        let same = opts.open(&path).await.unwrap();
        assert_eq!(same.direct_io_alignment(), Some(align));
        let (res, _) = same.read_at(vec![0u8; 100], 0).await;
        assert_eq!(res.unwrap_err().kind(), ErrorKind::InvalidInput);
        // A file opened without it is not checked.
        let plain = File::open(&path).await.unwrap();
        assert!(plain.direct_io_alignment().is_none());
        let (res, _) = plain.read_at(vec![0u8; 100], 3).await;
        assert_eq!(res.unwrap(), 100);
    });
    support::check_fds(&before, "misaligned direct I/O");
}

/// Reads `pieces` blocks of 4 KiB of `file` at once (one gather: every read is queued
/// in the same poll) and returns the `io_uring_enter` calls the core made meanwhile.
async fn enters_for_reads(file: &File, pieces: usize, aligned: bool) -> u64 {
    let before = ringio::metrics().enters;
    let reads = (0..pieces).map(|i| async move {
        let at = (i * 4096) as u64;
        let res = if aligned {
            file.read_at(AlignedBuf::with_capacity(4096, 4096), at)
                .await
                .0
        } else {
            file.read_at(vec![0u8; 4096], at).await.0
        };
        assert_eq!(res.unwrap(), 4096, "read {i}");
    });
    ringio::task::gather(reads.collect::<Vec<_>>()).await;
    ringio::metrics().enters - before
}

#[test]
fn direct_reads_and_writes_are_submitted_one_by_one() {
    let _serial = support::serial();
    if support::skip_on_epoll("regular files go through the blocking pool, not an SQ") {
        return;
    }
    support::watchdog("direct_one_by_one", Duration::from_secs(60));
    let dir = TempDir::on_disk("one-by-one");
    let path = dir.0.join("direct.bin");
    const PIECES: usize = 32;
    std::fs::write(&path, vec![3u8; PIECES * 4096]).unwrap();
    ringio::run(async {
        let Some(file) = open_direct(&path).await else {
            return;
        };
        // Each direct read enters on its own: at least one enter per read.
        let direct = enters_for_reads(&file, PIECES, true).await;
        assert!(
            direct >= PIECES as u64,
            "{PIECES} direct reads queued in one poll took only {direct} enters"
        );
        // Direct writes too.
        let before = ringio::metrics().enters;
        let writes = (0..PIECES).map(|i| {
            let file = &file;
            async move {
                let mut buf = AlignedBuf::new(4096, 4096);
                buf.fill(9);
                let (res, _) = file.write_at(buf, (i * 4096) as u64).await;
                assert_eq!(res.unwrap(), 4096, "write {i}");
            }
        });
        ringio::task::gather(writes.collect::<Vec<_>>()).await;
        let writes = ringio::metrics().enters - before;
        assert!(
            writes >= PIECES as u64,
            "{PIECES} direct writes queued in one poll took only {writes} enters"
        );
        // The same reads on the file opened without O_DIRECT keep the turn's batch. The
        // direct writes dropped the file's cached pages: read it into the cache first,
        // so these reads complete inline and their count does not hang on the disk.
        std::fs::read(&path).unwrap();
        let plain = File::open(&path).await.unwrap();
        let buffered = enters_for_reads(&plain, PIECES, false).await;
        assert!(
            buffered < PIECES as u64 / 2,
            "{PIECES} buffered reads queued in one poll took {buffered} enters"
        );
    });
}
