//! The file benchmark of `examples/file_bench.rs` on two other engines, with the same
//! flags, file, pattern and report:
//!
//! - `--engine tokio`: tokio::fs on a multi-thread runtime of `--workers` threads;
//!   `--iodepth` tasks per worker, each with its own `tokio::fs::File`, seeking and then
//!   reading or writing (and flushing, so a write is done when it is counted). Each call
//!   goes to tokio's blocking pool, as tokio::fs does. tokio::fs copies through its own
//!   buffer, which is not aligned: `--direct` fails with EINVAL there, and says so.
//! - `--engine threads`: `--iodepth` std threads per worker, each with a 4 KiB-aligned
//!   buffer, calling pread/pwrite on one shared descriptor.
//!
//! ```sh
//! cargo run --release -p ringio-peers --bin peer-file -- --engine tokio --rw randread --bs 4k --iodepth 32
//! cargo run --release -p ringio-peers --bin peer-file -- --engine threads --rw write --bs 1m --direct --json
//! ```

#[path = "../../../../examples/common/file_bench.rs"]
mod bench;

use bench::{Args, WorkerResult};
use std::io::{self, SeekFrom};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

fn custom_flags(args: &Args) -> i32 {
    if args.direct { libc::O_DIRECT } else { 0 }
}

/// Records one I/O's outcome; false if the loop should stop.
fn record(
    args: &Args,
    r: &mut WorkerResult,
    res: io::Result<()>,
    buf: &[u8],
    at: u64,
    start: Instant,
) -> bool {
    let took = start.elapsed();
    match res {
        Ok(()) => {
            if args.verify
                && !args.rw.writes()
                && let Err(bad) = bench::check(buf, at)
            {
                r.error(format!("read at {at}: byte {bad} differs from the pattern"));
            }
            r.ios += 1;
            r.bytes += args.bs as u64;
            let _ = r.latency.record(took.as_nanos().max(1) as u64);
            true
        }
        Err(e) => {
            r.error(format!("I/O at {at}: {e}"));
            false
        }
    }
}

/// One tokio task: its own file, one I/O at a time until the deadline.
async fn tokio_task(
    args: Arc<Args>,
    path: Arc<Path>,
    core: usize,
    t: usize,
    seq: Arc<AtomicU64>,
    deadline: Instant,
) -> WorkerResult {
    let mut r = WorkerResult::new();
    let start = Instant::now();
    let opened = tokio::fs::OpenOptions::new()
        .read(true)
        .write(args.rw.writes())
        .custom_flags(custom_flags(&args))
        .open(&*path)
        .await;
    let mut file = match opened {
        Ok(f) => f,
        Err(e) => {
            r.error(format!("open {}: {e}", path.display()));
            return r;
        }
    };
    let range = bench::worker_range(&args, core);
    let mut rng = bench::Rng::new((core * args.iodepth + t) as u64 + 1);
    let mut buf = vec![0u8; args.bs];
    bench::fill(&mut buf, 0);
    while Instant::now() < deadline {
        let mut cursor = seq.fetch_add(1, Ordering::Relaxed);
        let at = bench::next_offset(&args, range, &mut rng, &mut cursor);
        if args.rw.writes() {
            bench::prepare_write(&mut buf, at);
        }
        let t0 = Instant::now();
        let res = async {
            file.seek(SeekFrom::Start(at)).await?;
            if args.rw.writes() {
                file.write_all(&buf).await?;
                file.flush().await
            } else {
                file.read_exact(&mut buf).await.map(drop)
            }
        }
        .await;
        if !record(&args, &mut r, res, &buf, at, t0) {
            break;
        }
    }
    r.elapsed = start.elapsed();
    r
}

fn on_tokio(args: &Args, path: &Path) -> io::Result<Vec<WorkerResult>> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.workers)
        .enable_all()
        .build()?;
    let (args, path): (Arc<Args>, Arc<Path>) = (Arc::new(args.clone()), Arc::from(path));
    let deadline = Instant::now() + args.duration;
    rt.block_on(async {
        let mut handles = Vec::new();
        for core in 0..args.workers {
            let seq = Arc::new(AtomicU64::new(0));
            for t in 0..args.iodepth {
                let task = tokio_task(args.clone(), path.clone(), core, t, seq.clone(), deadline);
                handles.push(tokio::spawn(task));
            }
        }
        let mut results = Vec::new();
        for h in handles {
            results.push(h.await.map_err(io::Error::other)?);
        }
        Ok(results)
    })
}

fn on_threads(args: &Args, path: &Path) -> io::Result<Vec<WorkerResult>> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(args.rw.writes())
        .custom_flags(custom_flags(args))
        .open(path)?;
    let deadline = Instant::now() + args.duration;
    let (file, args) = (&file, args);
    Ok(std::thread::scope(|s| {
        let mut handles = Vec::new();
        for core in 0..args.workers {
            let seq = Arc::new(AtomicU64::new(0));
            for t in 0..args.iodepth {
                let seq = seq.clone();
                handles.push(s.spawn(move || {
                    let mut r = WorkerResult::new();
                    let start = Instant::now();
                    let range = bench::worker_range(args, core);
                    let mut rng = bench::Rng::new((core * args.iodepth + t) as u64 + 1);
                    let mut buf = bench::PageBuf::new(args.bs);
                    bench::fill(&mut buf, 0);
                    while Instant::now() < deadline {
                        let mut cursor = seq.fetch_add(1, Ordering::Relaxed);
                        let at = bench::next_offset(args, range, &mut rng, &mut cursor);
                        if args.rw.writes() {
                            bench::prepare_write(&mut buf, at);
                        }
                        let t0 = Instant::now();
                        let res = if args.rw.writes() {
                            file.write_all_at(&buf, at)
                        } else {
                            file.read_exact_at(&mut buf, at)
                        };
                        if !record(args, &mut r, res, &buf, at, t0) {
                            break;
                        }
                    }
                    r.elapsed = start.elapsed();
                    r
                }));
            }
        }
        handles
            .into_iter()
            .map(|h| h.join().expect("a benchmark thread panicked"))
            .collect()
    }))
}

fn main() -> ExitCode {
    let args = bench::parse_args("tokio");
    let path = match bench::prepare_file(&args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("cannot prepare the test file: {e}");
            return ExitCode::FAILURE;
        }
    };
    if args.fixed {
        eprintln!(
            "--fixed: registered buffers are io_uring's; {} has none",
            args.engine
        );
        return ExitCode::FAILURE;
    }
    if args.engine == "tokio" && args.direct {
        eprintln!(
            "--engine tokio --direct: tokio::fs copies through its own buffer, which is not \
             aligned, so O_DIRECT reads and writes fail with EINVAL"
        );
        return ExitCode::FAILURE;
    }
    let cpu = bench::cpu_time();
    let results = match args.engine.as_str() {
        "tokio" => on_tokio(&args, &path),
        "threads" => on_threads(&args, &path),
        other => {
            eprintln!("--engine {other}: tokio or threads");
            return ExitCode::FAILURE;
        }
    };
    let cpu = bench::cpu_time() - cpu;
    match results {
        Ok(results) if bench::report(&args, "blocking-pool", &results, cpu) => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("{}: {e}", args.engine);
            ExitCode::FAILURE
        }
    }
}
