//! A file I/O benchmark in the manner of fio: `--iodepth` reads or writes of `--bs` bytes
//! kept in flight on each of `--workers` cores, each core on its own range of one file,
//! for `--duration` seconds. Prints IOPS, MiB/s, latency percentiles and CPU time per
//! I/O (user + system of the whole process, from /proc/self/stat).
//!
//! ```sh
//! cargo run --release --example file_bench -- --rw randread --bs 4k --iodepth 32 --direct
//! cargo run --release --example file_bench -- --rw write --bs 1m --iodepth 8 --fixed --json
//! ```
//!
//! `--direct` opens the file with O_DIRECT (buffers are `AlignedBuf`s, 4 KiB-aligned);
//! `--fixed` uses a `FixedBufPool` per core and `read_fixed_at`/`write_fixed_at`.
//! Without `--file` the file is `$CARGO_TARGET_DIR/file_bench/data.bin` (or
//! `target/...`), created and filled with a known pattern if missing or smaller than
//! `--size` (default 1g). Writes keep that pattern, so `--verify` can check every byte of
//! every read against it. `--json` prints one JSON object (`iops`, `mib_s`, `p50_us`,
//! `p99_us`, `cpu_us_per_io`, ...). `RINGIO_BACKEND=epoll` runs the same on the epoll
//! backend, where file I/O goes to the blocking pool. `bench/files.sh` sets this beside
//! fio, tokio::fs and std threads.

#[path = "common/file_bench.rs"]
mod bench;

use bench::{Args, WorkerResult};
use ringio::buf::{AlignedBuf, FixedBuf, FixedBufPool};
use ringio::fs::{File, OpenOptions};
use std::cell::{Cell, RefCell};
use std::io;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

/// A buffer the benchmark moves through the file: plain (`AlignedBuf`) or registered.
trait BenchBuf: std::ops::DerefMut<Target = [u8]> + Sized {
    /// Sets the length a write sends (the whole buffer).
    fn fill_len(&mut self);
    async fn read(self, file: &File, at: u64) -> (io::Result<usize>, Self);
    async fn write(self, file: &File, at: u64) -> (io::Result<usize>, Self);
}

impl BenchBuf for AlignedBuf {
    fn fill_len(&mut self) {
        self.set_len(self.capacity());
    }
    async fn read(self, file: &File, at: u64) -> (io::Result<usize>, Self) {
        file.read_at(self, at).await
    }
    async fn write(self, file: &File, at: u64) -> (io::Result<usize>, Self) {
        file.write_at(self, at).await
    }
}

impl BenchBuf for FixedBuf {
    fn fill_len(&mut self) {
        self.set_len(self.capacity());
    }
    async fn read(self, file: &File, at: u64) -> (io::Result<usize>, Self) {
        file.read_fixed_at(self, at).await
    }
    async fn write(self, file: &File, at: u64) -> (io::Result<usize>, Self) {
        file.write_fixed_at(self, at).await
    }
}

/// What the tasks of one core share.
struct Core<'a> {
    args: &'a Args,
    file: File,
    /// This core's part of the file: (first byte, blocks).
    range: (u64, u64),
    /// The sequential cursor, in blocks.
    seq: Cell<u64>,
    result: RefCell<WorkerResult>,
    deadline: Instant,
}

/// One task's loop: an I/O at a time until the deadline, its latency and outcome recorded.
async fn io_loop<B: BenchBuf>(core: &Core<'_>, mut buf: B, seed: u64) {
    let Core {
        args,
        file,
        range,
        seq,
        result,
        deadline,
    } = core;
    let (range, deadline) = (*range, *deadline);
    let mut rng = bench::Rng::new(seed);
    if args.rw.writes() {
        buf.fill_len();
        bench::fill(&mut buf, 0);
    }
    while Instant::now() < deadline {
        let mut cursor = seq.get();
        let at = bench::next_offset(args, range, &mut rng, &mut cursor);
        seq.set(cursor);
        if args.rw.writes() {
            buf.fill_len();
            bench::prepare_write(&mut buf, at);
        }
        let start = Instant::now();
        let (res, back) = if args.rw.writes() {
            buf.write(file, at).await
        } else {
            buf.read(file, at).await
        };
        let took = start.elapsed();
        buf = back;
        let mut r = result.borrow_mut();
        match res {
            Ok(n) if n == args.bs => {
                if args.verify
                    && !args.rw.writes()
                    && let Err(bad) = bench::check(&buf[..n], at)
                {
                    r.error(format!("read at {at}: byte {bad} differs from the pattern"));
                }
                r.ios += 1;
                r.bytes += n as u64;
                let _ = r.latency.record(took.as_nanos().max(1) as u64);
            }
            Ok(n) => r.error(format!("short I/O at {at}: {n} of {} bytes", args.bs)),
            Err(e) => {
                r.error(format!("I/O at {at}: {e}"));
                return;
            }
        }
    }
}

/// One core's share: its own descriptor, range of the file and (with `--fixed`) pool.
async fn worker(args: &Args, path: &Path, core: usize) -> io::Result<WorkerResult> {
    let mut opts = OpenOptions::new();
    opts.read(true).write(args.rw.writes()).direct(args.direct);
    let file = opts.open(path).await?;
    let pool = if args.fixed {
        Some(FixedBufPool::new(args.iodepth, args.bs)?)
    } else {
        None
    };
    let start = Instant::now();
    let shared = Core {
        args,
        file,
        range: bench::worker_range(args, core),
        seq: Cell::new(0),
        result: RefCell::new(WorkerResult::new()),
        deadline: start + args.duration,
    };
    let loops: Vec<_> = (0..args.iodepth)
        .map(|t| {
            let seed = (core * args.iodepth + t) as u64 + 1;
            let (shared, pool) = (&shared, &pool);
            async move {
                match pool {
                    Some(pool) => {
                        let buf = pool.get().expect("one buffer per task");
                        io_loop(shared, buf, seed).await
                    }
                    None => {
                        let buf = AlignedBuf::with_capacity(args.bs, 4096);
                        io_loop(shared, buf, seed).await
                    }
                }
            }
        })
        .collect();
    ringio::task::gather(loops).await;
    let mut result = shared.result.into_inner();
    result.elapsed = start.elapsed();
    Ok(result)
}

fn main() -> ExitCode {
    let args = bench::parse_args("ringio");
    let path = match bench::prepare_file(&args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("cannot prepare the test file: {e}");
            return ExitCode::FAILURE;
        }
    };
    let rt = match ringio::Runtime::builder().workers(args.workers).build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let backend = format!("{:?}", rt.metrics().backend).to_lowercase();
    let cpu = bench::cpu_time();
    let results = rt.run_per_core(|core| {
        let (args, path) = (&args, &path);
        async move { worker(args, path, core).await.map_err(|e| e.to_string()) }
    });
    let cpu = bench::cpu_time() - cpu;
    let mut done = Vec::new();
    for r in results {
        match r {
            Ok(r) => done.push(r),
            Err(e) => {
                eprintln!("worker failed: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    if bench::report(&args, &backend, &done, cpu) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
