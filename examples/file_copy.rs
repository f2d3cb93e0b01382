//! Copies a file through io_uring with several chunks in flight, prints MB/s, and
//! compares with `std::fs::copy` on the same file.
//!
//! Each of `--in-flight` workers takes the next `--chunk`-sized piece of the source,
//! reads it with `File::read_exact_at` and writes it at the same offset of the
//! destination with `File::write_all_at`, so up to N reads or writes are queued in the
//! ring at once, all on one thread. `std::fs::copy` then copies the same source to
//! `<dst>.std` (on Linux it uses copy_file_range(2): the kernel copies without the
//! data ever reaching user space, and some filesystems share the blocks instead).
//! Both copies are checked byte for byte against the source, outside the timings.
//!
//! ```text
//! cargo run --release --example file_copy                       # 256 MiB temp file
//! cargo run --release --example file_copy -- --src big.iso --dst copy.iso \
//!     --chunk 1048576 --in-flight 16 --fsync
//! ```
//!
//! Without `--src`, a `--size-mib` file of pseudo-random bytes is made in the temp
//! directory (and synced) and removed afterwards, with the copies. `--rounds` alternates
//! the two methods and compares their best times, since page-cache write-back makes
//! single runs noisy. MB/s counts 10^6 bytes. The source
//! is usually in the page cache (it was just written), and without `--fsync` the
//! destinations are too: the figures then measure copying through memory, not the disk.
//!
//! Exit code: 0 on success, 1 if a copy fails or differs from the source.

#[path = "common/rng.rs"]
mod rng;

use clap::Parser;
use ringio::buf::IoBuf;
use ringio::fs::File;
use std::cell::Cell;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Copy a file through ringio::fs and compare with std::fs::copy.
#[derive(Parser, Debug)]
#[command(
    about = "Copy a file with N reads in flight through io_uring; compare with std::fs::copy"
)]
struct Args {
    /// File to copy; default: a new temp file of `--size-mib` MiB.
    #[arg(long)]
    src: Option<PathBuf>,
    /// Where to copy it (replaced if it exists); default: a temp file, removed afterwards.
    #[arg(long)]
    dst: Option<PathBuf>,
    /// Bytes per read and write.
    #[arg(long, default_value_t = 256 * 1024)]
    chunk: usize,
    /// Chunks in flight at once.
    #[arg(long, default_value_t = 8)]
    in_flight: usize,
    /// Size of the temp source made when `--src` is not given.
    #[arg(long, default_value_t = 256)]
    size_mib: u64,
    /// Copies by each method, alternating; the best time of each is compared.
    #[arg(long, default_value_t = 3)]
    rounds: u32,
    /// Flush each destination to the device (fsync) before stopping its clock.
    #[arg(long)]
    fsync: bool,
}

/// Bytes per write when making the temp source and per read when comparing.
const IO_STEP: usize = 1 << 20;

fn main() -> ExitCode {
    let args = Args::parse();
    if args.chunk == 0 || args.in_flight == 0 || args.rounds == 0 {
        eprintln!("file_copy: --chunk, --in-flight and --rounds must be at least 1");
        return ExitCode::FAILURE;
    }
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("file_copy: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Files this run created, removed on every exit path.
struct Cleanup(Vec<PathBuf>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for path in &self.0 {
            let _ = std::fs::remove_file(path);
        }
    }
}

fn run(args: &Args) -> io::Result<()> {
    let mut cleanup = Cleanup(Vec::new());
    let tmp = std::env::temp_dir();
    let pid = std::process::id();
    let src = match &args.src {
        Some(src) => src.clone(),
        None => {
            let src = tmp.join(format!("ringio-file-copy-{pid}.src"));
            cleanup.0.push(src.clone());
            make_source(&src, args.size_mib << 20)?;
            src
        }
    };
    let dst = match &args.dst {
        Some(dst) => dst.clone(),
        None => {
            let dst = tmp.join(format!("ringio-file-copy-{pid}.dst"));
            cleanup.0.push(dst.clone());
            dst
        }
    };
    let mut std_dst = dst.clone().into_os_string();
    std_dst.push(".std");
    let std_dst = PathBuf::from(std_dst);
    cleanup.0.push(std_dst.clone());

    println!(
        "copying {} ({:.1} MiB), chunk {} KiB, {} in flight{}",
        src.display(),
        std::fs::metadata(&src)?.len() as f64 / (1u64 << 20) as f64,
        args.chunk / 1024,
        args.in_flight,
        if args.fsync { ", fsync" } else { "" }
    );

    let (mut ring_times, mut std_times) = (Vec::new(), Vec::new());
    let mut len = 0;
    for round in 1..=args.rounds {
        // Both start from no file: on ext4, rewriting a truncated file forces write-back
        // at close (auto_da_alloc), which would time the disk for one side only.
        let _ = std::fs::remove_file(&dst);
        // Taken inside the runtime, so ring setup is not counted.
        let (copied, took) = ringio::run(async {
            let start = Instant::now();
            let copied = copy(&src, &dst, args.chunk, args.in_flight, args.fsync).await?;
            Ok::<_, io::Error>((copied, start.elapsed()))
        })?;
        report(round, "ringio::fs", copied, took);
        ring_times.push(took);
        len = copied;

        let _ = std::fs::remove_file(&std_dst);
        let start = Instant::now();
        let copied = std::fs::copy(&src, &std_dst)?;
        if args.fsync {
            std::fs::File::open(&std_dst)?.sync_all()?;
        }
        let took = start.elapsed();
        report(round, "std::fs::copy", copied, took);
        std_times.push(took);
    }
    let best = |times: &[Duration]| times.iter().min().copied().unwrap_or_default();
    let (ring_best, std_best) = (best(&ring_times), best(&std_times));
    println!(
        "best of {}: ringio::fs {:.1} MB/s, std::fs::copy {:.1} MB/s, ratio ringio/std {:.2}",
        args.rounds,
        mb_per_s(len, ring_best),
        mb_per_s(len, std_best),
        std_best.as_secs_f64() / ring_best.as_secs_f64()
    );

    for copy in [&dst, &std_dst] {
        if !same_content(&src, copy)? {
            return Err(io::Error::other(format!(
                "{} differs from the source",
                copy.display()
            )));
        }
    }
    println!("both copies match the source");
    Ok(())
}

/// Copies `src` to `dst` through the ring with `in_flight` chunks under way.
async fn copy(
    src: &Path,
    dst: &Path,
    chunk: usize,
    in_flight: usize,
    fsync: bool,
) -> io::Result<u64> {
    let from = File::open(src).await?;
    let len = from.metadata().await?.len();
    let to = File::create(dst).await?;
    let next = Cell::new(0u64);
    let workers = (0..in_flight).map(|_| {
        let (from, to, next) = (&from, &to, &next);
        async move {
            let mut buf = Vec::with_capacity(chunk);
            loop {
                // Single thread: taking the next offset needs no lock.
                let at = next.get();
                if at >= len {
                    return Ok::<_, io::Error>(());
                }
                let want = chunk.min((len - at) as usize);
                next.set(at + want as u64);
                buf.clear();
                let (res, slice) = from.read_exact_at(buf.slice(..want), at).await;
                buf = slice.into_inner();
                res?;
                let (res, b) = to.write_all_at(buf, at).await;
                buf = b;
                res?;
            }
        }
    });
    ringio::task::try_gather(workers).await?;
    if fsync {
        to.sync_all().await?;
    }
    from.close().await?;
    to.close().await?;
    Ok(len)
}

fn mb_per_s(bytes: u64, took: Duration) -> f64 {
    bytes as f64 / 1e6 / took.as_secs_f64()
}

fn report(round: u32, name: &str, bytes: u64, took: Duration) {
    println!(
        "round {round} {name:>14}: {:>8.1} MB/s  ({bytes} bytes in {:.3} s)",
        mb_per_s(bytes, took),
        took.as_secs_f64()
    );
}

/// Writes `len` pseudo-random bytes (SplitMix64) to `path`.
fn make_source(path: &Path, len: u64) -> io::Result<()> {
    let mut out = io::BufWriter::with_capacity(IO_STEP, std::fs::File::create(path)?);
    let mut rng = rng::SplitMix64::new(0x9e37_79b9_7f4a_7c15);
    let mut left = len;
    let mut block = vec![0u8; IO_STEP];
    while left > 0 {
        rng.fill(&mut block);
        let n = left.min(IO_STEP as u64) as usize;
        out.write_all(&block[..n])?;
        left -= n as u64;
    }
    out.flush()?;
    // Written back now, so its write-back does not run during the timed copies.
    out.get_ref().sync_all()
}

/// Whether the two files hold the same bytes.
fn same_content(a: &Path, b: &Path) -> io::Result<bool> {
    let (mut fa, mut fb) = (std::fs::File::open(a)?, std::fs::File::open(b)?);
    if fa.metadata()?.len() != fb.metadata()?.len() {
        return Ok(false);
    }
    let (mut ba, mut bb) = (vec![0u8; IO_STEP], vec![0u8; IO_STEP]);
    loop {
        let n = fa.read(&mut ba)?;
        if n == 0 {
            return Ok(true);
        }
        fb.read_exact(&mut bb[..n])?;
        if ba[..n] != bb[..n] {
            return Ok(false);
        }
    }
}
