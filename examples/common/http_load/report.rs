//! What a run found: the [`Summary`], its text and JSON forms, and the merge of the JSON
//! files of several client machines (`--merge`).
//!
//! The JSON carries the latency histogram itself (recorded values and their counts), so a
//! merge computes percentiles of all the requests together, never averages of percentiles.

use super::echo::report::Latency;
use super::echo::tally::new_histogram;
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io;

/// How a request failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The connection could not be opened (or not within the request timeout).
    Connect,
    /// The server reset the connection (ECONNRESET, EPIPE, ECONNABORTED).
    Reset,
    /// The server closed the connection before the whole response came.
    Eof,
    /// No whole response within `--timeout-ms`.
    Timeout,
    /// The response broke HTTP/1.1's syntax.
    Parse,
    /// The status was not 2xx.
    Status,
    /// The response body differed from the request body (`--verify`).
    Verify,
    /// Any other I/O error.
    Other,
}

impl ErrorKind {
    /// Every kind, in the order the summary lists them.
    pub const ALL: [ErrorKind; 8] = [
        ErrorKind::Connect,
        ErrorKind::Reset,
        ErrorKind::Eof,
        ErrorKind::Timeout,
        ErrorKind::Parse,
        ErrorKind::Status,
        ErrorKind::Verify,
        ErrorKind::Other,
    ];

    /// The kind of a failed read or write on an open connection.
    pub fn of_io(e: &io::Error) -> ErrorKind {
        match e.kind() {
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe => ErrorKind::Reset,
            io::ErrorKind::UnexpectedEof | io::ErrorKind::WriteZero => ErrorKind::Eof,
            _ => ErrorKind::Other,
        }
    }

    /// The name in the summary and the JSON.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Connect => "connect",
            ErrorKind::Reset => "reset",
            ErrorKind::Eof => "eof",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Parse => "parse",
            ErrorKind::Status => "status",
            ErrorKind::Verify => "verify",
            ErrorKind::Other => "other",
        }
    }
}

/// Errors counted by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ErrorCounts([u64; 8]);

impl ErrorCounts {
    /// Counts one more error of `kind`.
    pub fn add(&mut self, kind: ErrorKind) {
        self.0[kind as usize] += 1;
    }

    /// Errors of `kind`.
    pub fn get(&self, kind: ErrorKind) -> u64 {
        self.0[kind as usize]
    }

    /// Errors of every kind.
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// Adds `other`'s counts to these.
    pub fn merge(&mut self, other: &ErrorCounts) {
        for (a, b) in self.0.iter_mut().zip(other.0) {
            *a += b;
        }
    }
}

/// What a run (or several merged runs) measured.
#[derive(Clone, Debug)]
pub struct Summary {
    /// Connections asked for.
    pub conns: usize,
    /// Most connections up at once (a connection is up once its first response came).
    pub conns_up: usize,
    /// Offered rate, req/s; 0 for closed loop.
    pub rate: u64,
    /// Length of the measured window, seconds (the longest, when merged).
    pub duration_s: f64,
    /// Responses received inside the window.
    pub requests: u64,
    /// Requests a second in the window (summed, when merged: the machines ran together).
    pub rps: f64,
    /// Responses by status code, inside the window.
    pub status: BTreeMap<u16, u64>,
    /// Errors over the whole run, warm-up included.
    pub errors: ErrorCounts,
    /// Requests of the window sent after their scheduled time (open loop).
    pub behind: u64,
    /// Connections reopened after a close, an error or a timeout.
    pub reconnects: u64,
    /// Latency of the window's requests, µs (from the scheduled send time in open loop).
    pub latency_us: Histogram<u64>,
    /// How long after its scheduled time each request went out, µs (open loop).
    pub send_lag_us: Histogram<u64>,
    /// The client's I/O backend, or `merged from N files`.
    pub backend: String,
}

impl Default for Summary {
    fn default() -> Self {
        Summary {
            conns: 0,
            conns_up: 0,
            rate: 0,
            duration_s: 0.0,
            requests: 0,
            rps: 0.0,
            status: BTreeMap::new(),
            errors: ErrorCounts::default(),
            behind: 0,
            reconnects: 0,
            latency_us: new_histogram(),
            send_lag_us: new_histogram(),
            backend: String::new(),
        }
    }
}

/// A histogram as JSON: `{"unit":"us","sigfigs":3,"counts":[[value,count],...]}`, one
/// pair per recorded value (the highest equivalent value of its bucket).
pub fn histogram_json(h: &Histogram<u64>) -> Value {
    let counts: Vec<Value> = h
        .iter_recorded()
        .map(|v| json!([v.value_iterated_to(), v.count_at_value()]))
        .collect();
    json!({"unit": "us", "sigfigs": h.sigfig(), "counts": counts})
}

/// A histogram read back from [`histogram_json`]'s form.
///
/// # Errors
///
/// If the value is not that form (the message names what is wrong).
pub fn histogram_from_json(v: &Value) -> Result<Histogram<u64>, String> {
    if v.get("unit").and_then(Value::as_str) != Some("us") {
        return Err("histogram unit is not \"us\"".into());
    }
    let counts = v
        .get("counts")
        .and_then(Value::as_array)
        .ok_or("histogram without a \"counts\" array")?;
    let mut h = new_histogram();
    for pair in counts {
        let (value, count) = match pair.as_array().map(Vec::as_slice) {
            Some([a, b]) => (a.as_u64(), b.as_u64()),
            _ => (None, None),
        };
        let (Some(value), Some(count)) = (value, count) else {
            return Err(format!("histogram entry {pair} is not [value, count]"));
        };
        h.saturating_record_n(value, count)
    }
    Ok(h)
}

impl Summary {
    /// Latency percentiles, µs.
    pub fn latency(&self) -> Latency {
        Latency::of(&self.latency_us)
    }

    /// The one-object JSON form.
    pub fn to_json(&self) -> Value {
        let l = self.latency();
        let lag = Latency::of(&self.send_lag_us);
        let by_kind: serde_json::Map<String, Value> = ErrorKind::ALL
            .iter()
            .map(|&k| (k.name().to_string(), json!(self.errors.get(k))))
            .collect();
        let status: serde_json::Map<String, Value> = self
            .status
            .iter()
            .map(|(code, n)| (code.to_string(), json!(n)))
            .collect();
        json!({
            "requests": self.requests,
            "rps": self.rps,
            "errors": self.errors.total(),
            "errors_by_kind": by_kind,
            "status": status,
            "p50_us": l.p50,
            "p90_us": l.p90,
            "p99_us": l.p99,
            "p999_us": l.p999,
            "max_us": l.max,
            "behind": self.behind,
            "reconnects": self.reconnects,
            "conns": self.conns,
            "conns_up": self.conns_up,
            "rate": self.rate,
            "duration_s": self.duration_s,
            "send_lag_p50_us": lag.p50,
            "send_lag_p99_us": lag.p99,
            "send_lag_max_us": lag.max,
            "backend": self.backend,
            "histogram": histogram_json(&self.latency_us),
            "send_lag_histogram": histogram_json(&self.send_lag_us),
        })
    }

    /// A summary read back from [`Summary::to_json`]'s form (the percentiles are
    /// recomputed from the histogram; `send_lag_histogram` may be missing).
    ///
    /// # Errors
    ///
    /// If a required field is missing or has the wrong type.
    pub fn from_json(v: &Value) -> Result<Summary, String> {
        let u = |k: &str| {
            v.get(k)
                .and_then(Value::as_u64)
                .ok_or(format!("field {k:?} missing or not a whole number"))
        };
        let f = |k: &str| {
            v.get(k)
                .and_then(Value::as_f64)
                .ok_or(format!("field {k:?} missing or not a number"))
        };
        let mut errors = ErrorCounts::default();
        if let Some(by_kind) = v.get("errors_by_kind").and_then(Value::as_object) {
            for (name, n) in by_kind {
                let kind = ErrorKind::ALL.iter().find(|k| k.name() == name);
                let (Some(&kind), Some(n)) = (kind, n.as_u64()) else {
                    return Err(format!("errors_by_kind: bad entry {name:?}: {n}"));
                };
                errors.0[kind as usize] += n;
            }
        }
        let mut status = BTreeMap::new();
        let codes = v
            .get("status")
            .and_then(Value::as_object)
            .ok_or("field \"status\" missing or not an object")?;
        for (code, n) in codes {
            let (Ok(code), Some(n)) = (code.parse::<u16>(), n.as_u64()) else {
                return Err(format!("status: bad entry {code:?}: {n}"));
            };
            status.insert(code, n);
        }
        let send_lag_us = match v.get("send_lag_histogram") {
            Some(h) => histogram_from_json(h)?,
            None => new_histogram(),
        };
        Ok(Summary {
            conns: u("conns")? as usize,
            conns_up: v.get("conns_up").and_then(Value::as_u64).unwrap_or(0) as usize,
            rate: v.get("rate").and_then(Value::as_u64).unwrap_or(0),
            duration_s: f("duration_s")?,
            requests: u("requests")?,
            rps: f("rps")?,
            status,
            errors,
            behind: u("behind")?,
            reconnects: v.get("reconnects").and_then(Value::as_u64).unwrap_or(0),
            latency_us: histogram_from_json(v.get("histogram").ok_or("no \"histogram\"")?)?,
            send_lag_us,
            backend: v
                .get("backend")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
        })
    }

    /// Adds the figures of a run made at the same time from another machine: counts and
    /// histograms add up, req/s too, the window is the longest of the two.
    pub fn merge(&mut self, other: &Summary) {
        self.conns += other.conns;
        self.conns_up += other.conns_up;
        self.rate += other.rate;
        self.duration_s = self.duration_s.max(other.duration_s);
        self.requests += other.requests;
        self.rps += other.rps;
        for (code, n) in &other.status {
            *self.status.entry(*code).or_default() += n;
        }
        self.errors.merge(&other.errors);
        self.behind += other.behind;
        self.reconnects += other.reconnects;
        self.latency_us
            .add(&other.latency_us)
            .expect("histograms from new_histogram have the same bounds");
        self.send_lag_us
            .add(&other.send_lag_us)
            .expect("histograms from new_histogram have the same bounds");
    }

    /// The human-readable summary.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let l = self.latency();
        let mode = match self.rate {
            0 => "closed loop".to_string(),
            r => format!("open loop at {r} req/s"),
        };
        let _ = writeln!(
            s,
            "{} connections ({} up), {mode}, {:.2} s measured, backend {}",
            self.conns, self.conns_up, self.duration_s, self.backend
        );
        let _ = writeln!(s, "requests     {} ({:.0} req/s)", self.requests, self.rps);
        let _ = writeln!(
            s,
            "latency µs   p50 {}  p90 {}  p99 {}  p99.9 {}  max {}",
            l.p50, l.p90, l.p99, l.p999, l.max
        );
        let codes: Vec<String> = self
            .status
            .iter()
            .map(|(c, n)| format!("{c}: {n}"))
            .collect();
        let codes = if codes.is_empty() {
            "no responses".to_string()
        } else {
            codes.join(", ")
        };
        let _ = writeln!(s, "status       {codes}");
        let kinds: Vec<String> = ErrorKind::ALL
            .iter()
            .filter(|&&k| self.errors.get(k) > 0)
            .map(|&k| format!("{} {}", k.name(), self.errors.get(k)))
            .collect();
        let _ = writeln!(
            s,
            "errors       {}{}",
            self.errors.total(),
            if kinds.is_empty() {
                String::new()
            } else {
                format!(" ({})", kinds.join(", "))
            }
        );
        let _ = writeln!(s, "reconnects   {}", self.reconnects);
        if self.rate > 0 {
            let lag = Latency::of(&self.send_lag_us);
            let _ = writeln!(s, "behind       {} requests sent late", self.behind);
            let _ = writeln!(
                s,
                "send lag µs  p50 {}  p99 {}  max {}",
                lag.p50, lag.p99, lag.max
            );
        }
        s
    }
}

/// Reads the JSON summaries in `paths` and merges them into one.
///
/// # Errors
///
/// If a file cannot be read or is not a summary (the message names the file).
pub fn merge_files(paths: &[std::path::PathBuf]) -> Result<Summary, String> {
    let mut total: Option<Summary> = None;
    for path in paths {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        let v: Value = serde_json::from_str(&text)
            .map_err(|e| format!("{}: not JSON: {e}", path.display()))?;
        let one = Summary::from_json(&v).map_err(|e| format!("{}: {e}", path.display()))?;
        match total.as_mut() {
            None => total = Some(one),
            Some(t) => t.merge(&one),
        }
    }
    let mut total = total.ok_or("--merge needs at least one file")?;
    total.backend = format!("merged from {} files", paths.len());
    Ok(total)
}
