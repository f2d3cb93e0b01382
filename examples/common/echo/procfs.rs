//! The server's CPU time and memory, read from `/proc/PID/stat` and `/proc/PID/status`
//! (`--server-pid`).
//!
//! CPU time is `utime + stime` of the whole process (every thread), in clock ticks
//! (`sysconf(_SC_CLK_TCK)`, 100 a second on Linux: 10 ms resolution, so a 10 s window is
//! good to about 0.1%). Memory is `VmHWM` (peak resident set) and `VmRSS` (resident now).

use std::io;

/// CPU ticks a second when sysconf will not say: the value Linux has used on every
/// architecture since 2.6 (USER_HZ).
const FALLBACK_CLK_TCK: u64 = 100;

/// `utime + stime` in clock ticks from the text of `/proc/PID/stat`.
///
/// The command name (field 2) is in parentheses and may itself hold spaces and `)`, so
/// fields are counted from the last `)`: after it come field 3 (state) onwards; utime
/// and stime are fields 14 and 15.
pub fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(14 - 3);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// The value in KiB of a `Name:   1234 kB` line of `/proc/PID/status`.
pub fn parse_status_kib(status: &str, name: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let value = line.strip_prefix(name)?.strip_prefix(':')?;
        let mut words = value.split_whitespace();
        let n = words.next()?.parse().ok()?;
        (words.next() == Some("kB")).then_some(n)
    })
}

/// Clock ticks per second of `/proc/PID/stat`'s CPU times.
pub fn clock_ticks_per_s() -> u64 {
    // SAFETY: sysconf only reads a constant of the C library; any name is allowed.
    let n = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(n)
        .ok()
        .filter(|&n| n > 0)
        .unwrap_or(FALLBACK_CLK_TCK)
}

/// The CPU ticks the process `pid` has used so far.
///
/// # Errors
///
/// If the process is gone or its stat cannot be read or parsed.
pub fn read_cpu_ticks(pid: u32) -> io::Result<u64> {
    let path = format!("/proc/{pid}/stat");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot read {path}: {e}")))?;
    parse_cpu_ticks(&text).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{path} has no utime/stime fields"),
        )
    })
}

/// Peak and current resident set of the process `pid`, in KiB.
///
/// # Errors
///
/// If the process is gone or its status has no VmHWM/VmRSS (a kernel thread).
pub fn read_rss_kib(pid: u32) -> io::Result<(u64, u64)> {
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot read {path}: {e}")))?;
    match (
        parse_status_kib(&text, "VmHWM"),
        parse_status_kib(&text, "VmRSS"),
    ) {
        (Some(peak), Some(now)) => Ok((peak, now)),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{path} has no VmHWM/VmRSS lines"),
        )),
    }
}

/// What the server used over the measured window.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ServerUsage {
    /// CPU seconds (user + system) spent inside the window.
    pub cpu_s: f64,
    /// Peak resident set at the window's end, KiB.
    pub peak_rss_kib: u64,
    /// Resident set at the window's end, KiB.
    pub rss_kib: u64,
}

impl ServerUsage {
    /// From the CPU ticks at the window's edges and the memory at its end.
    pub fn new(ticks_start: u64, ticks_end: u64, ticks_per_s: u64, rss: (u64, u64)) -> Self {
        ServerUsage {
            cpu_s: ticks_end.saturating_sub(ticks_start) as f64 / ticks_per_s.max(1) as f64,
            peak_rss_kib: rss.0,
            rss_kib: rss.1,
        }
    }

    /// CPU microseconds per request (0 if there were none).
    pub fn cpu_us_per_req(&self, requests: u64) -> f64 {
        if requests == 0 {
            0.0
        } else {
            self.cpu_s * 1e6 / requests as f64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real `/proc/PID/stat` line, with a command name holding `) (` to trip a naive
    /// split; utime 1234 and stime 567.
    const STAT: &str = "4242 (echo ) (srv) S 1 4242 4242 0 -1 4194560 5000 0 0 0 1234 567 \
                        0 0 20 0 3 0 123456 10000000 2000 18446744073709551615 1 1 0 0 0 0 \
                        0 0 0 0 0 0 17 1 0 0 0 0 0\n";

    const STATUS: &str = "Name:\techo_server\nUmask:\t0022\nState:\tS (sleeping)\n\
                          VmPeak:\t  120000 kB\nVmHWM:\t   45678 kB\nVmRSS:\t   40000 kB\n\
                          Threads:\t3\n";

    #[test]
    fn stat_cpu_ticks_are_utime_plus_stime() {
        assert_eq!(parse_cpu_ticks(STAT), Some(1234 + 567));
        assert_eq!(parse_cpu_ticks("1 (x) S 1 2 3"), None);
        assert_eq!(parse_cpu_ticks("no parentheses"), None);
    }

    #[test]
    fn status_lines_are_found_by_exact_name() {
        assert_eq!(parse_status_kib(STATUS, "VmHWM"), Some(45_678));
        assert_eq!(parse_status_kib(STATUS, "VmRSS"), Some(40_000));
        // `VmRS` is not `VmRSS`, and a line without its unit is not trusted.
        assert_eq!(parse_status_kib(STATUS, "VmRS"), None);
        assert_eq!(parse_status_kib("VmHWM:\t12\n", "VmHWM"), None);
    }

    #[test]
    fn this_process_can_be_read() {
        let pid = std::process::id();
        let ticks = read_cpu_ticks(pid).unwrap();
        let (peak, now) = read_rss_kib(pid).unwrap();
        assert!(peak >= now && now > 0, "{peak} {now}");
        assert!(clock_ticks_per_s() > 0);
        let _ = ticks;
    }

    #[test]
    fn usage_per_request() {
        let u = ServerUsage::new(1000, 1250, 100, (2048, 1024));
        assert_eq!(u.cpu_s, 2.5);
        assert_eq!(u.cpu_us_per_req(1_000_000), 2.5);
        assert_eq!(u.cpu_us_per_req(0), 0.0);
        assert_eq!((u.peak_rss_kib, u.rss_kib), (2048, 1024));
    }
}
