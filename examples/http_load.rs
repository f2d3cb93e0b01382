//! An HTTP/1.1 load generator, itself built on ringio: keep-alive connections on one or
//! more cores, responses parsed with `httparse` (status line, headers, chunk sizes,
//! trailers; the body framed by Content-Length or chunked), latency in an HDR histogram.
//!
//! Each connection sends its request (serialized once: method, path, Host, `--header`s,
//! Content-Length and the body), reads one whole response, and goes again: at once
//! (closed loop, the default) or on a fixed schedule (`--rate R`: R requests a second in
//! total; latency counts from each request's scheduled send time, so a stalled server
//! cannot hide behind a client that waits for it). A request without a whole response
//! after `--timeout-ms` is a `timeout` error; a failed or closed connection is reopened.
//! After `--warmup` it counts for `--duration`, then prints a summary (`--json`: one
//! JSON object on stdout, histogram included). `--merge a.json b.json` merges the JSON of
//! several client machines instead of running a load. A progress line goes to stderr
//! each second.
//!
//! ```text
//! cargo run --release --features hyper,tokio-io --example hyper_server -- --workers 1
//! cargo run --release --example http_load -- --conns 100 --duration 10
//! cargo run --release --example http_load -- --method POST --path /echo --body-size 1024 --verify
//! cargo run --release --example http_load -- --rate 20000 --json > one.json
//! cargo run --release --example http_load -- --merge one.json two.json
//! ```
//!
//! Exit code: 0 if no error, 1 if any request failed, 2 if the arguments cannot work
//! (e.g. more connections than file descriptors).

#[path = "common/http_load.rs"]
mod http_load;

use clap::Parser;
use http_load::args::check_fd_limit;
use http_load::{Args, Summary};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = Args::parse();
    let summary = if args.merge.is_empty() {
        let cfg = match args.config() {
            Ok(c) => c,
            Err(msg) => {
                eprintln!("{msg}");
                return ExitCode::from(2);
            }
        };
        if let Err(msg) = check_fd_limit(cfg.conns, cfg.workers) {
            eprintln!("{msg}");
            return ExitCode::from(2);
        }
        if cfg.cpus.is_empty() && cfg.workers > 1 {
            eprintln!("client cores not pinned (give --cpus to pin them)");
        }
        match http_load::run_load(&cfg) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        match http_load::report::merge_files(&args.merge) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(2);
            }
        }
    };
    print(&summary, args.json);
    if summary.errors.total() > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn print(summary: &Summary, json: bool) {
    if json {
        println!("{}", summary.to_json());
    } else {
        print!("{}", summary.to_text());
    }
}
