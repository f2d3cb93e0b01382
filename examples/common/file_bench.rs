//! What the file benchmarks share (`examples/file_bench.rs` on ringio, and
//! `bench/peers/src/bin/file.rs` on tokio::fs and std threads): the flags, the test file
//! and its known content, CPU time, latency histograms and the report.
//!
//! The file's content is a function of the offset, so any read can be checked
//! (`--verify`) and any write keeps it: each 8-byte word holds a value of its place in
//! its 4 KiB page, except the page's first word, which holds the page's index. A write of
//! whole pages then only stamps one word a page into a buffer filled once.

// Each binary uses a part of this.
#![allow(dead_code)]

use hdrhistogram::Histogram;
use std::alloc::{Layout, alloc_zeroed, dealloc};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const USAGE: &str = "--rw read|write|randread|randwrite --bs 4k --iodepth 32 --size 1g \
     [--file PATH] [--direct] [--fixed] [--duration 5] [--workers 1] [--verify] [--json] \
     [--engine NAME]";

/// A page of the pattern; the first word of each holds its index.
const PAGE: usize = 4096;
/// Mixed into page indices so a page of zeros never passes for page 0.
const PAGE_MAGIC: u64 = 0xF11E_BE7C_0000_0000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rw {
    Read,
    Write,
    RandRead,
    RandWrite,
}

impl Rw {
    pub fn writes(self) -> bool {
        matches!(self, Rw::Write | Rw::RandWrite)
    }
    pub fn random(self) -> bool {
        matches!(self, Rw::RandRead | Rw::RandWrite)
    }
    pub fn name(self) -> &'static str {
        match self {
            Rw::Read => "read",
            Rw::Write => "write",
            Rw::RandRead => "randread",
            Rw::RandWrite => "randwrite",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Args {
    pub rw: Rw,
    pub bs: usize,
    pub iodepth: usize,
    pub size: u64,
    pub file: Option<PathBuf>,
    pub direct: bool,
    pub fixed: bool,
    pub duration: Duration,
    pub workers: usize,
    pub verify: bool,
    pub json: bool,
    pub engine: String,
}

/// `4096`, `4k`, `1m`, `1g` (powers of 1024).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let lower = s.to_ascii_lowercase();
    let (digits, unit) = match lower.trim_end_matches(['b', 'i']).char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&lower[..i], c),
        _ => (lower.trim_end_matches(['b', 'i']), ' '),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a size (4096, 4k, 1m, 1g)"))?;
    let shift = match unit {
        ' ' => 0,
        'k' => 10,
        'm' => 20,
        'g' => 30,
        _ => return Err(format!("{s:?}: unknown unit (k, m, g)")),
    };
    Ok(n << shift)
}

/// Parses the command line; exits with the usage on a bad flag.
pub fn parse_args(engine: &str) -> Args {
    let mut a = Args {
        rw: Rw::RandRead,
        bs: 4096,
        iodepth: 32,
        size: 1 << 30,
        file: None,
        direct: false,
        fixed: false,
        duration: Duration::from_secs(5),
        workers: 1,
        verify: false,
        json: false,
        engine: engine.to_string(),
    };
    let fail = |msg: String| -> ! {
        eprintln!("{msg}\nusage: {USAGE}");
        std::process::exit(2)
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .unwrap_or_else(|| fail(format!("{flag} needs a value")))
        };
        match flag.as_str() {
            "--rw" => {
                a.rw = match value().as_str() {
                    "read" => Rw::Read,
                    "write" => Rw::Write,
                    "randread" => Rw::RandRead,
                    "randwrite" => Rw::RandWrite,
                    other => fail(format!("--rw {other}: read, write, randread or randwrite")),
                }
            }
            "--bs" => a.bs = parse_size(&value()).unwrap_or_else(|e| fail(e)) as usize,
            "--size" => a.size = parse_size(&value()).unwrap_or_else(|e| fail(e)),
            "--iodepth" => a.iodepth = value().parse().unwrap_or_else(|e| fail(format!("{e}"))),
            "--workers" => a.workers = value().parse().unwrap_or_else(|e| fail(format!("{e}"))),
            "--duration" => {
                let secs: f64 = value().parse().unwrap_or_else(|e| fail(format!("{e}")));
                a.duration = Duration::from_secs_f64(secs);
            }
            "--file" => a.file = Some(PathBuf::from(value())),
            "--engine" => a.engine = value(),
            "--direct" => a.direct = true,
            "--fixed" => a.fixed = true,
            "--verify" => a.verify = true,
            "--json" => a.json = true,
            "-h" | "--help" => fail(String::new()),
            other => fail(format!("unknown flag {other}")),
        }
    }
    if a.bs == 0 || !a.bs.is_multiple_of(512) {
        fail(format!("--bs {}: a multiple of 512", a.bs));
    }
    if a.iodepth == 0 || a.workers == 0 {
        fail("--iodepth and --workers must be at least 1".to_string());
    }
    if a.size / (a.workers as u64) < a.bs as u64 {
        fail(format!(
            "--size {} gives each of {} workers less than one block of {}",
            a.size, a.workers, a.bs
        ));
    }
    a
}

/// The range of the file worker `core` of `workers` uses: `(start, blocks)`.
pub fn worker_range(args: &Args, core: usize) -> (u64, u64) {
    let per = args.size / args.workers as u64;
    let blocks = per / args.bs as u64;
    (core as u64 * per / args.bs as u64 * args.bs as u64, blocks)
}

/// The pattern's word at byte offset `at` (a multiple of 8).
fn word(at: u64) -> u64 {
    let in_page = at % PAGE as u64;
    if in_page == 0 {
        (at / PAGE as u64) ^ PAGE_MAGIC
    } else {
        in_page.wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }
}

/// Fills `buf` with the pattern of the file bytes from `at` (a multiple of 8).
pub fn fill(buf: &mut [u8], at: u64) {
    for (i, chunk) in buf.chunks_mut(8).enumerate() {
        let w = word(at + 8 * i as u64).to_le_bytes();
        chunk.copy_from_slice(&w[..chunk.len()]);
    }
}

/// Makes `buf` hold the pattern of the bytes from `at`, given that it held the pattern of
/// some other offset of the same place in a page (true when `buf.len()` and both offsets
/// are multiples of 4 KiB): only the pages' first words change. Otherwise fills it whole.
pub fn prepare_write(buf: &mut [u8], at: u64) {
    if !buf.len().is_multiple_of(PAGE) || !at.is_multiple_of(PAGE as u64) {
        return fill(buf, at);
    }
    for (i, page) in buf.chunks_mut(PAGE).enumerate() {
        let w = word(at + (i * PAGE) as u64).to_le_bytes();
        page[..8].copy_from_slice(&w);
    }
}

/// Checks that `buf` holds the pattern of the file bytes from `at`; the first wrong offset.
pub fn check(buf: &[u8], at: u64) -> Result<(), u64> {
    for (i, chunk) in buf.chunks(8).enumerate() {
        let o = at + 8 * i as u64;
        if chunk != &word(o).to_le_bytes()[..chunk.len()] {
            return Err(o);
        }
    }
    Ok(())
}

/// The test file: `--file`, or one under the target directory; created and filled with
/// the pattern if missing or smaller than `--size`.
pub fn prepare_file(args: &Args) -> std::io::Result<PathBuf> {
    let path = match &args.file {
        Some(p) => p.clone(),
        None => {
            let target = std::env::var_os("CARGO_TARGET_DIR").unwrap_or_else(|| "target".into());
            let dir = Path::new(&target).join("file_bench");
            std::fs::create_dir_all(&dir)?;
            dir.join("data.bin")
        }
    };
    let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    if len < args.size {
        eprintln!(
            "filling {} with {} bytes of pattern",
            path.display(),
            args.size
        );
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?;
        let mut chunk = vec![0u8; 1 << 20];
        let mut at = 0u64;
        while at < args.size {
            let n = (args.size - at).min(chunk.len() as u64) as usize;
            fill(&mut chunk[..n], at);
            f.write_all(&chunk[..n])?;
            at += n as u64;
        }
        f.sync_all()?;
    }
    Ok(path)
}

/// User + system CPU time of the whole process, every thread counted (/proc/self/stat
/// fields 14 and 15, in clock ticks).
pub fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // Fields 14 and 15 of the line are 12 and 13 after the name (state is field 3).
    let total = ticks(11) + ticks(12);
    // SAFETY: sysconf only reads a configuration value.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Duration::from_nanos(total * 1_000_000_000 / hz)
}

/// A latency histogram in nanoseconds, 1 ns to 100 s, 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 100_000_000_000, 3).expect("valid bounds")
}

/// What one worker did.
pub struct WorkerResult {
    pub ios: u64,
    pub bytes: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub latency: Histogram<u64>,
    pub elapsed: Duration,
}

impl WorkerResult {
    pub fn new() -> WorkerResult {
        WorkerResult {
            ios: 0,
            bytes: 0,
            errors: 0,
            first_error: None,
            latency: histogram(),
            elapsed: Duration::ZERO,
        }
    }

    pub fn error(&mut self, e: String) {
        self.errors += 1;
        self.first_error.get_or_insert(e);
    }
}

/// Prints the summary of `results` (a line, or one JSON object with `--json`); returns
/// whether the run had no error.
pub fn report(args: &Args, backend: &str, results: &[WorkerResult], cpu: Duration) -> bool {
    let mut latency = histogram();
    let (mut ios, mut bytes, mut errors) = (0u64, 0u64, 0u64);
    let mut elapsed = Duration::ZERO;
    for r in results {
        latency.add(&r.latency).expect("same bounds");
        ios += r.ios;
        bytes += r.bytes;
        errors += r.errors;
        elapsed = elapsed.max(r.elapsed);
        if let Some(e) = &r.first_error {
            eprintln!("error: {e}");
        }
    }
    let secs = elapsed.as_secs_f64().max(1e-9);
    let iops = ios as f64 / secs;
    let mib_s = bytes as f64 / secs / (1 << 20) as f64;
    let us = |q: f64| latency.value_at_quantile(q) as f64 / 1000.0;
    let cpu_per_io = cpu.as_secs_f64() * 1e6 / ios.max(1) as f64;
    if args.json {
        println!(
            "{{\"engine\":\"{}\",\"backend\":\"{backend}\",\"rw\":\"{}\",\"bs\":{},\"iodepth\":{},\
             \"workers\":{},\"direct\":{},\"fixed\":{},\"verify\":{},\"seconds\":{secs:.3},\
             \"ios\":{ios},\"errors\":{errors},\"iops\":{iops:.0},\"mib_s\":{mib_s:.1},\
             \"p50_us\":{:.1},\"p99_us\":{:.1},\"p999_us\":{:.1},\"max_us\":{:.1},\
             \"cpu_us_per_io\":{cpu_per_io:.2}}}",
            args.engine,
            args.rw.name(),
            args.bs,
            args.iodepth,
            args.workers,
            args.direct,
            args.fixed,
            args.verify,
            us(0.5),
            us(0.99),
            us(0.999),
            latency.max() as f64 / 1000.0,
        );
    } else {
        println!(
            "{} {backend} {} bs={} iodepth={} workers={}{}{}{}: {iops:.0} IOPS, {mib_s:.1} MiB/s, \
             latency p50 {:.1} µs p99 {:.1} µs p99.9 {:.1} µs, CPU {cpu_per_io:.2} µs/IO \
             ({ios} IOs in {secs:.2} s, {errors} errors)",
            args.engine,
            args.rw.name(),
            args.bs,
            args.iodepth,
            args.workers,
            if args.direct { " direct" } else { "" },
            if args.fixed { " fixed" } else { "" },
            if args.verify { " verified" } else { "" },
            us(0.5),
            us(0.99),
            us(0.999),
        );
    }
    errors == 0
}

/// Zeroed memory at a 4 KiB boundary, for the engines without ringio's `AlignedBuf`.
pub struct PageBuf {
    ptr: *mut u8,
    layout: Layout,
}

impl PageBuf {
    pub fn new(len: usize) -> PageBuf {
        let layout = Layout::from_size_align(len.max(1), PAGE).expect("a valid layout");
        // SAFETY: the size is not zero.
        let ptr = unsafe { alloc_zeroed(layout) };
        assert!(!ptr.is_null(), "out of memory for a {len}-byte buffer");
        PageBuf { ptr, layout }
    }
}

impl std::ops::Deref for PageBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: `layout.size()` zeroed bytes owned by this value.
        unsafe { std::slice::from_raw_parts(self.ptr, self.layout.size()) }
    }
}

impl std::ops::DerefMut for PageBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as above, and `&mut self` makes the access unique.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.layout.size()) }
    }
}

impl Drop for PageBuf {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe { dealloc(self.ptr, self.layout) };
    }
}

// SAFETY: the value owns its allocation, like a Box<[u8]>.
unsafe impl Send for PageBuf {}

/// xorshift64*: each task's offsets, the same on every run.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1)
    }
}

/// The next block's offset for one task: random in the worker's range, or the worker's
/// shared sequential cursor (`seq`, counted in blocks) wrapping at the range's end.
pub fn next_offset(args: &Args, range: (u64, u64), rng: &mut Rng, seq: &mut u64) -> u64 {
    let (start, blocks) = range;
    let block = if args.rw.random() {
        rng.below(blocks)
    } else {
        let b = *seq % blocks;
        *seq += 1;
        b
    };
    start + block * args.bs as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_round_trip() {
        let mut a = vec![0u8; 8192];
        fill(&mut a, 4096);
        assert!(check(&a, 4096).is_ok());
        assert_eq!(check(&a, 0), Err(0));
        prepare_write(&mut a, 1 << 20);
        assert!(check(&a, 1 << 20).is_ok());
        assert_eq!(parse_size("4k"), Ok(4096));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("512"), Ok(512));
    }
}
