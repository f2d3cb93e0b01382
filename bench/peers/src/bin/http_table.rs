//! Reads the CSV that `bench/http.sh` writes and prints a markdown table of medians, with
//! ratios to ringio and the min–max spread over rounds.
//!
//! `http-table --csv bench/results/http-XXXX.csv`
//!
//! CSV columns (header required, in any order): server, client, config, conns, round,
//! req_s, p50_us, p99_us, p999_us, cpu_us_per_req, rss_base_kib, rss_kib, errors.
//! `config` is `closed`, `rate` or `idle`; `client` is `wrk` or `http_load` (`peer-idle`
//! for idle rows); empty cells are missing values.

use std::collections::BTreeMap;
use std::fmt::Write as _;

const USAGE: &str = "http-table --csv FILE";
/// Column order of the servers; ringio first, ratios are to it.
const SERVERS: [&str; 5] = ["ringio", "ringio-epoll", "raw", "tokio-ct", "tokio-mt"];

/// One CSV row.
#[derive(Clone, Debug)]
struct Run {
    server: String,
    client: String,
    config: String,
    conns: u64,
    req_s: Option<f64>,
    p50: Option<f64>,
    p99: Option<f64>,
    p999: Option<f64>,
    cpu: Option<f64>,
    rss_base: Option<f64>,
    rss: Option<f64>,
    errors: Option<f64>,
}

/// Median, minimum and maximum of a cell's rounds.
#[derive(Clone, Copy, Debug)]
struct Stat {
    median: f64,
    min: f64,
    max: f64,
}

/// A table row: (config, client, conns).
type Key = (String, String, u64);

fn main() {
    let mut csv = None;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--csv" => csv = Some(ringio_peers::parse_value::<String>(&flag, it.next(), USAGE)),
            _ => ringio_peers::bad_usage(&format!("unknown flag {flag}"), USAGE),
        }
    }
    let Some(csv) = csv else {
        ringio_peers::bad_usage("--csv is required", USAGE)
    };
    let runs = std::fs::read_to_string(&csv)
        .map_err(|e| format!("reading {csv}: {e}"))
        .and_then(|t| parse(&t).map_err(|e| format!("{csv}: {e}")));
    match runs {
        Ok(runs) => print!("{}", table(&runs)),
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
}

fn parse(text: &str) -> Result<Vec<Run>, String> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = lines.next().ok_or("empty CSV")?.split(',').collect();
    let names = [
        "server",
        "client",
        "config",
        "conns",
        "req_s",
        "p50_us",
        "p99_us",
        "p999_us",
        "cpu_us_per_req",
        "rss_base_kib",
        "rss_kib",
        "errors",
    ];
    let idx: Vec<usize> = names
        .iter()
        .map(|n| {
            header
                .iter()
                .position(|h| h.trim() == *n)
                .ok_or(format!("no column {n}"))
        })
        .collect::<Result<_, _>>()?;
    let mut runs = Vec::new();
    for (n, line) in lines.enumerate() {
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        let get = |i: usize| f.get(idx[i]).copied().unwrap_or("");
        let num = |i: usize| get(i).parse::<f64>().ok().filter(|v| v.is_finite());
        runs.push(Run {
            server: get(0).to_string(),
            client: get(1).to_string(),
            config: get(2).to_string(),
            conns: get(3)
                .parse()
                .map_err(|_| format!("row {}: bad conns", n + 2))?,
            req_s: num(4),
            p50: num(5),
            p99: num(6),
            p999: num(7),
            cpu: num(8),
            rss_base: num(9),
            rss: num(10),
            errors: num(11),
        });
    }
    Ok(runs)
}

fn stat(mut v: Vec<f64>) -> Option<Stat> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    Some(Stat {
        median,
        min: v[0],
        max: v[n - 1],
    })
}

fn pick(runs: &[Run], server: &str, key: &Key, f: fn(&Run) -> Option<f64>) -> Option<Stat> {
    stat(
        runs.iter()
            .filter(|r| {
                r.server == server && r.config == key.0 && r.client == key.1 && r.conns == key.2
            })
            .filter_map(f)
            .collect(),
    )
}

/// Bytes of server RSS per idle connection.
fn rss_per_conn(r: &Run) -> Option<f64> {
    Some((r.rss? - r.rss_base?) * 1024.0 / r.conns as f64)
}

fn fmt_num(v: f64) -> String {
    if v >= 100_000.0 {
        format!("{:.0}k", v / 1000.0)
    } else if v >= 10_000.0 {
        format!("{:.1}k", v / 1000.0)
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// `median (×ratio) [min–max]`; the ratio is to ringio's median in the same cell.
fn fmt_cell(s: Option<Stat>, base: Option<Stat>, spread: bool) -> String {
    let Some(s) = s else {
        return "–".into();
    };
    let mut out = fmt_num(s.median);
    if let Some(b) = base.filter(|b| b.median != 0.0) {
        let _ = write!(out, " ({:.2}×)", s.median / b.median);
    }
    if spread && s.max > s.min {
        let _ = write!(out, " [{}–{}]", fmt_num(s.min), fmt_num(s.max));
    }
    out
}

fn table(runs: &[Run]) -> String {
    let srv: Vec<&str> = SERVERS
        .iter()
        .copied()
        .filter(|s| runs.iter().any(|r| r.server == *s))
        .collect();
    // Rows in a stable order: closed, rate, idle; then client, then connections.
    let mut keys: BTreeMap<(u8, String, u64), Key> = BTreeMap::new();
    for r in runs {
        let order = match r.config.as_str() {
            "closed" => 0,
            "rate" => 1,
            _ => 2,
        };
        keys.insert(
            (order, r.client.clone(), r.conns),
            (r.config.clone(), r.client.clone(), r.conns),
        );
    }
    let of =
        |config: &str| -> Vec<Key> { keys.values().filter(|k| k.0 == config).cloned().collect() };
    let mut out = String::new();
    let head = |out: &mut String, what: &str| {
        let _ = writeln!(out, "| {what} | {} |", srv.join(" | "));
        let _ = writeln!(out, "|---|{}", "---|".repeat(srv.len()));
    };
    let row = |out: &mut String, label: String, key: &Key, f: fn(&Run) -> Option<f64>| {
        let base = pick(runs, "ringio", key, f);
        let cells: Vec<String> = srv
            .iter()
            .map(|s| {
                let b = if *s == "ringio" { None } else { base };
                fmt_cell(pick(runs, s, key, f), b, true)
            })
            .collect();
        let _ = writeln!(out, "| {label} | {} |", cells.join(" | "));
    };
    let _ = writeln!(
        out,
        "Medians over rounds; (×) = ratio to ringio's median; [min–max] over rounds. {} runs.\n",
        runs.len()
    );
    head(&mut out, "closed loop `GET /`: req/s");
    for k in of("closed") {
        row(&mut out, format!("{}, {} conns", k.1, k.2), &k, |r| r.req_s);
    }
    out.push('\n');
    head(&mut out, "closed loop: p50 / p99 / p99.9 µs");
    for k in of("closed") {
        let base99 = pick(runs, "ringio", &k, |r| r.p99);
        let cells: Vec<String> = srv
            .iter()
            .map(|s| {
                let b = if *s == "ringio" { None } else { base99 };
                format!(
                    "{} / {} / {}",
                    fmt_cell(pick(runs, s, &k, |r| r.p50), None, false),
                    fmt_cell(pick(runs, s, &k, |r| r.p99), b, false),
                    fmt_cell(pick(runs, s, &k, |r| r.p999), None, false)
                )
            })
            .collect();
        let _ = writeln!(out, "| {}, {} conns | {} |", k.1, k.2, cells.join(" | "));
    }
    out.push('\n');
    head(&mut out, "fixed rate / idle");
    for k in of("rate") {
        let what = format!("{}, {} conns", k.1, k.2);
        row(&mut out, format!("server CPU µs/req ({what})"), &k, |r| {
            r.cpu
        });
        row(&mut out, format!("req/s achieved ({what})"), &k, |r| {
            r.req_s
        });
        row(&mut out, format!("p99 µs ({what})"), &k, |r| r.p99);
    }
    for k in of("idle") {
        row(
            &mut out,
            format!("RSS B per idle connection ({} conns)", k.2),
            &k,
            rss_per_conn,
        );
    }
    let failed: Vec<String> = runs
        .iter()
        .filter(|r| r.errors.is_some_and(|e| e > 0.0))
        .map(|r| format!("{} {} {} c={}", r.server, r.client, r.config, r.conns))
        .collect();
    if !failed.is_empty() {
        let _ = writeln!(out, "\nRuns with errors: {}", failed.join("; "));
    }
    out
}
