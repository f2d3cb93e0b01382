//! Reads the CSV that `bench/echo.sh` writes, prints markdown tables of medians (with
//! ratios to ringio and the min–max spread of each cell), one set per client, and draws
//! the chart of one client's runs: closed-loop throughput against connections for each
//! server, and server CPU µs per request.
//!
//! `echo-plot --csv bench/results/echo-XXXX.csv --svg docs/echo-bench.svg [--client uring]`
//!
//! CSV columns (header required, in any order): server, config, conns, size, round,
//! req_s, p50_us, p99_us, p999_us, cpu_us_per_req, rss_base_kib, rss_kib, errors, and
//! optionally client (without it every row is ringio's `echo_client`'s).
//! `config` is `closed`, `rate` or `idle`; empty cells are missing values. Ratios compare
//! servers under the same client only.

use plotters::prelude::*;
use std::collections::BTreeMap;
use std::fmt::Write as _;

const USAGE: &str =
    "echo-plot --csv FILE [--svg docs/echo-bench.svg] [--title TEXT] [--client NAME]";
/// Order of the clients' tables, with what each one is; the chart is drawn from the first
/// one present unless `--client` names another. Rows of other clients follow, by name.
const CLIENTS: [(&str, &str); 4] = [
    ("ringio", "ringio's examples/echo_client"),
    ("uring", "peer-uring-client, raw io_uring"),
    ("tokio", "peer-client, tokio current-thread"),
    ("peer-idle", "peer-idle, connections held idle"),
];
/// Column order of the servers in tables and charts; ringio first, ratios are to it.
/// `ringio-pooled` and `ringio-owned` are ringio's server on its other receive paths,
/// `ringio-epoll` its server on the epoll backend.
const SERVERS: [&str; 8] = [
    "ringio",
    "ringio-epoll",
    "ringio-pooled",
    "ringio-owned",
    "raw",
    "monoio",
    "tokio-ct",
    "tokio-mt",
];
const COLORS: [RGBColor; 8] = [
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(227, 119, 194),
    RGBColor(140, 86, 75),
    RGBColor(80, 80, 80),
    RGBColor(31, 119, 180),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
];

/// One CSV row.
#[derive(Clone, Debug)]
struct Run {
    server: String,
    client: String,
    config: String,
    conns: u64,
    size: u64,
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

fn main() {
    let mut csv = None;
    let mut svg = String::from("docs/echo-bench.svg");
    let mut title = String::from("echo: server on CPU 0, client on CPU 1, loopback");
    let mut client = None;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--csv" => csv = Some(ringio_peers::parse_value::<String>(&flag, it.next(), USAGE)),
            "--svg" => svg = ringio_peers::parse_value(&flag, it.next(), USAGE),
            "--title" => title = ringio_peers::parse_value(&flag, it.next(), USAGE),
            "--client" => {
                client = Some(ringio_peers::parse_value::<String>(&flag, it.next(), USAGE))
            }
            _ => ringio_peers::bad_usage(&format!("unknown flag {flag}"), USAGE),
        }
    }
    let Some(csv) = csv else {
        ringio_peers::bad_usage("--csv is required", USAGE)
    };
    let text = match std::fs::read_to_string(&csv) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("reading {csv}: {e}");
            std::process::exit(1);
        }
    };
    let runs = match parse(&text) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{csv}: {e}");
            std::process::exit(1);
        }
    };
    print!("{}", tables(&runs));
    let clients = clients(&runs);
    let client = client.unwrap_or_else(|| {
        let closed = |c: &&String| runs.iter().any(|r| &r.client == *c && r.config == "closed");
        clients
            .iter()
            .find(closed)
            .or(clients.first())
            .cloned()
            .unwrap_or_default()
    });
    let chosen: Vec<Run> = runs
        .iter()
        .filter(|r| r.client == client)
        .cloned()
        .collect();
    if chosen.is_empty() {
        eprintln!("{csv}: no runs of client {client} to draw (clients: {clients:?})");
        std::process::exit(1);
    }
    if clients.len() > 1 {
        title = format!("{title}; client: {client}");
    }
    if let Err(e) = draw(&chosen, &svg, &title) {
        eprintln!("drawing {svg}: {e}");
        std::process::exit(1);
    }
    eprintln!("chart written to {svg}");
}

fn parse(text: &str) -> Result<Vec<Run>, String> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = lines.next().ok_or("empty CSV")?.split(',').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h.trim() == name)
            .ok_or(format!("no column {name}"))
    };
    let client_col = header.iter().position(|h| h.trim() == "client");
    let idx: Vec<usize> = [
        "server",
        "config",
        "conns",
        "size",
        "req_s",
        "p50_us",
        "p99_us",
        "p999_us",
        "cpu_us_per_req",
        "rss_base_kib",
        "rss_kib",
        "errors",
    ]
    .iter()
    .map(|n| col(n))
    .collect::<Result<_, _>>()?;
    let mut runs = Vec::new();
    for (n, line) in lines.enumerate() {
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        let get = |i: usize| f.get(idx[i]).copied().unwrap_or("");
        let num = |i: usize| get(i).parse::<f64>().ok().filter(|v| v.is_finite());
        runs.push(Run {
            server: get(0).to_string(),
            client: match client_col.and_then(|i| f.get(i)) {
                Some(c) => c.to_string(),
                None => "ringio".to_string(),
            },
            config: get(1).to_string(),
            conns: get(2)
                .parse()
                .map_err(|_| format!("row {}: bad conns", n + 2))?,
            size: get(3).parse().unwrap_or(0),
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

/// The cells of one configuration: (config, conns, size) in a stable order.
fn cells(runs: &[Run]) -> Vec<(String, u64, u64)> {
    let order = |c: &str| match c {
        "closed" => 0,
        "rate" => 1,
        _ => 2,
    };
    let mut keys: Vec<(String, u64, u64)> = runs
        .iter()
        .map(|r| (r.config.clone(), r.conns, r.size))
        .collect();
    keys.sort_by_key(|(c, n, s)| (order(c), *s, *n));
    keys.dedup();
    keys
}

fn servers(runs: &[Run]) -> Vec<&'static str> {
    SERVERS
        .iter()
        .copied()
        .filter(|s| runs.iter().any(|r| r.server == *s))
        .collect()
}

fn pick(
    runs: &[Run],
    server: &str,
    key: &(String, u64, u64),
    f: fn(&Run) -> Option<f64>,
) -> Option<Stat> {
    stat(
        runs.iter()
            .filter(|r| {
                r.server == server && r.config == key.0 && r.conns == key.1 && r.size == key.2
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

/// The clients in the runs: those of `CLIENTS` in its order, then others by name.
fn clients(runs: &[Run]) -> Vec<String> {
    let mut out: Vec<String> = CLIENTS
        .iter()
        .map(|(c, _)| c.to_string())
        .filter(|c| runs.iter().any(|r| &r.client == c))
        .collect();
    let mut rest: Vec<String> = runs
        .iter()
        .map(|r| r.client.clone())
        .filter(|c| !out.contains(c))
        .collect();
    rest.sort();
    rest.dedup();
    out.extend(rest);
    out
}

/// One set of tables per client, then the errors over all runs.
fn tables(runs: &[Run]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Medians over rounds; (×) = ratio to ringio's median under the same client; [min–max] over rounds. {} runs.",
        runs.len()
    );
    for client in clients(runs) {
        let mine: Vec<Run> = runs
            .iter()
            .filter(|r| r.client == client)
            .cloned()
            .collect();
        let what = CLIENTS
            .iter()
            .find(|(c, _)| *c == client)
            .map_or(client.as_str(), |(_, w)| w);
        let _ = writeln!(
            out,
            "\n#### client: {client} ({what}), {} runs\n",
            mine.len()
        );
        out.push_str(&table(&mine));
    }
    let errors: f64 = runs.iter().filter_map(|r| r.errors).sum();
    let _ = writeln!(out, "\nErrors over all runs: {errors:.0}.");
    out
}

/// The tables of one client's runs; a kind of run that is absent has no table.
fn table(runs: &[Run]) -> String {
    let srv = servers(runs);
    let mut out = String::new();
    let head = |out: &mut String, what: &str| {
        let _ = writeln!(out, "| {what} | {} |", srv.join(" | "));
        let _ = writeln!(out, "|---|{}", "---|".repeat(srv.len()));
    };
    let row = |out: &mut String,
               label: String,
               key: &(String, u64, u64),
               f: fn(&Run) -> Option<f64>,
               spread: bool| {
        let base = pick(runs, "ringio", key, f);
        let cells: Vec<String> = srv
            .iter()
            .map(|s| {
                fmt_cell(
                    pick(runs, s, key, f),
                    if *s == "ringio" { None } else { base },
                    spread,
                )
            })
            .collect();
        let _ = writeln!(out, "| {label} | {} |", cells.join(" | "));
    };
    let keys = cells(runs);
    let has = |kind: &str| keys.iter().any(|k| k.0 == kind);
    if has("closed") {
        head(&mut out, "closed loop: req/s");
    }
    for k in keys.iter().filter(|k| k.0 == "closed") {
        row(
            &mut out,
            format!("{} conns × {} B", k.1, k.2),
            k,
            |r| r.req_s,
            true,
        );
    }
    if has("closed") {
        out.push('\n');
        head(&mut out, "closed loop: p50 / p99 / p99.9 µs");
    }
    for k in keys.iter().filter(|k| k.0 == "closed") {
        let base99 = pick(runs, "ringio", k, |r| r.p99);
        let cells: Vec<String> = srv
            .iter()
            .map(|s| {
                let p50 = pick(runs, s, k, |r| r.p50);
                let p99 = pick(runs, s, k, |r| r.p99);
                let p999 = pick(runs, s, k, |r| r.p999);
                let b = if *s == "ringio" { None } else { base99 };
                format!(
                    "{} / {} / {}",
                    fmt_cell(p50, None, false),
                    fmt_cell(p99, b, false),
                    fmt_cell(p999, None, false)
                )
            })
            .collect();
        let _ = writeln!(out, "| {} conns × {} B | {} |", k.1, k.2, cells.join(" | "));
    }
    if has("rate") || has("idle") {
        if has("closed") {
            out.push('\n');
        }
        head(&mut out, "fixed rate / idle");
    }
    for k in keys.iter().filter(|k| k.0 == "rate") {
        row(
            &mut out,
            format!("server CPU µs/req, {} conns × {} B", k.1, k.2),
            k,
            |r| r.cpu,
            true,
        );
        row(
            &mut out,
            format!("req/s achieved, {} conns", k.1),
            k,
            |r| r.req_s,
            false,
        );
        row(
            &mut out,
            format!("p99 µs at fixed rate, {} conns", k.1),
            k,
            |r| r.p99,
            true,
        );
    }
    for k in keys.iter().filter(|k| k.0 == "idle") {
        row(
            &mut out,
            format!("server RSS bytes/conn, {} idle conns", k.1),
            k,
            rss_per_conn,
            true,
        );
    }
    out
}

fn draw(runs: &[Run], path: &str, title: &str) -> Result<(), Box<dyn std::error::Error>> {
    let srv = servers(runs);
    let root = SVGBackend::new(path, (1000, 420)).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(title, ("sans-serif", 18))?;
    let (left, right) = root.split_horizontally(620);

    // Left: closed-loop req/s against connections, one line per server and size.
    let keys: Vec<_> = cells(runs)
        .into_iter()
        .filter(|k| k.0 == "closed")
        .collect();
    let mut conns: Vec<u64> = keys.iter().map(|k| k.1).collect();
    conns.sort_unstable();
    conns.dedup();
    let mut sizes: Vec<u64> = keys.iter().map(|k| k.2).collect();
    sizes.sort_unstable();
    sizes.dedup();
    let mut series: BTreeMap<(usize, u64), Vec<(f64, f64)>> = BTreeMap::new();
    let mut ymax: f64 = 1.0;
    for (si, s) in srv.iter().enumerate() {
        for k in &keys {
            if let Some(st) = pick(runs, s, k, |r| r.req_s) {
                ymax = ymax.max(st.max);
                series
                    .entry((si, k.2))
                    .or_default()
                    .push(((k.1 as f64).log10(), st.median / 1000.0));
            }
        }
    }
    let (xlo, xhi) = match (conns.first(), conns.last()) {
        (Some(&a), Some(&b)) => ((a as f64).log10() - 0.2, (b as f64).log10() + 0.2),
        _ => (0.0, 1.0),
    };
    let mut chart = ChartBuilder::on(&left)
        .caption("closed loop: throughput (k req/s)", ("sans-serif", 15))
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(50)
        .build_cartesian_2d(xlo..xhi, 0.0..ymax / 1000.0 * 1.1)?;
    chart
        .configure_mesh()
        .x_desc("connections (log scale); solid = smallest size, dashed = larger")
        .x_labels(8)
        // Ticks fall at half decades; only whole powers of ten get a label.
        .x_label_formatter(&|x| {
            if (x - x.round()).abs() < 0.01 {
                format!("{:.0}", 10f64.powf(x.round()))
            } else {
                String::new()
            }
        })
        .y_desc("k req/s (median)")
        .draw()?;
    for ((si, size), mut pts) in series {
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        let color = COLORS[SERVERS.iter().position(|s| *s == srv[si]).unwrap_or(0)];
        let first_size = sizes.first() == Some(&size);
        let style = color.stroke_width(2);
        let label = format!("{} {} B", srv[si], size);
        if first_size {
            chart
                .draw_series(LineSeries::new(pts.clone(), style))?
                .label(label)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                });
        } else {
            chart.draw_series(DashedLineSeries::new(pts.clone(), 6, 4, style))?;
        }
        chart.draw_series(
            pts.iter()
                .map(|&(x, y)| Circle::new((x, y), 3, color.filled())),
        )?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()?;

    // Right: server CPU µs per request at the fixed rate, one bar per server.
    let rate_key = cells(runs).into_iter().find(|k| k.0 == "rate");
    let cpu: Vec<(usize, Stat)> = match &rate_key {
        Some(k) => srv
            .iter()
            .enumerate()
            .filter_map(|(i, s)| pick(runs, s, k, |r| r.cpu).map(|st| (i, st)))
            .collect(),
        None => Vec::new(),
    };
    let cmax = cpu.iter().map(|(_, s)| s.max).fold(1.0, f64::max);
    let caption = match &rate_key {
        Some(k) => format!("server CPU µs/req at fixed rate, {} conns", k.1),
        None => "server CPU µs/req (no fixed-rate run)".into(),
    };
    let mut chart = ChartBuilder::on(&right)
        .caption(caption, ("sans-serif", 15))
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(45)
        .build_cartesian_2d((0..srv.len()).into_segmented(), 0.0..cmax * 1.15)?;
    let names = srv.clone();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(srv.len())
        .x_label_formatter(&|x| match x {
            SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => {
                names.get(*i).map(|s| s.to_string()).unwrap_or_default()
            }
            SegmentValue::Last => String::new(),
        })
        .y_desc("µs per request (median; bar = min–max)")
        .draw()?;
    for (i, st) in &cpu {
        let color = COLORS[SERVERS.iter().position(|s| *s == srv[*i]).unwrap_or(0)];
        chart.draw_series(std::iter::once(Rectangle::new(
            [
                (SegmentValue::Exact(*i), 0.0),
                (SegmentValue::Exact(*i + 1), st.median),
            ],
            color.mix(0.7).filled(),
        )))?;
        chart.draw_series(std::iter::once(PathElement::new(
            vec![
                (SegmentValue::CenterOf(*i), st.min),
                (SegmentValue::CenterOf(*i), st.max),
            ],
            BLACK.stroke_width(2),
        )))?;
    }
    root.present()?;
    Ok(())
}

// A bin's root file looks for modules beside it, in src/bin/, where cargo would take a
// file for another binary.
#[cfg(test)]
#[path = "plot/tests.rs"]
mod tests;
