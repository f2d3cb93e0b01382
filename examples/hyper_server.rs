//! hyper on ringio: HTTP/1.1 and HTTP/2 (prior knowledge, or ALPN over TLS), one
//! listener per core, hyper's connections running unchanged on ringio's executor
//! (`compat::HyperExecutor`), timer (`compat::HyperTimer`) and streams (`compat::Compat`).
//!
//! `GET /` answers `Hello, world!`; `POST /echo` answers with the request body.
//!
//! ```text
//! cargo run --release --example hyper_server -- --addr 127.0.0.1:8080
//! curl http://127.0.0.1:8080/
//! curl --http2-prior-knowledge -d hello http://127.0.0.1:8080/echo
//! cargo run --release --example hyper_server -- --tls      # self-signed, made at start
//! curl -k --http2 https://127.0.0.1:8443/
//! ```
//!
//! Flags: `--addr` (default 127.0.0.1:8080, or 127.0.0.1:8443 with `--tls`), `--workers`
//! (cores, default every CPU), `--tls` (HTTPS through rustls), `--cert`/`--key` (PEM files
//! instead of the self-signed certificate), `--header-timeout-ms` (how long a client may
//! take to send its headers, default 10,000).

#[path = "common/http.rs"]
mod http;
#[path = "common/per_core.rs"]
mod per_core;
#[path = "common/rlimit.rs"]
mod rlimit;

use clap::Parser;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// An HTTP/1.1 and HTTP/2 server on hyper and ringio.
#[derive(Parser, Debug)]
#[command(about = "hyper's HTTP/1.1 and HTTP/2 server on ringio, one listener per core")]
struct Args {
    /// Address to listen on (default 127.0.0.1:8080, or :8443 with --tls).
    #[arg(long)]
    addr: Option<SocketAddr>,
    /// Cores to serve on (default: every CPU this process may use).
    #[arg(long)]
    workers: Option<usize>,
    /// Serve HTTPS (rustls), with a self-signed certificate unless --cert/--key are given.
    #[arg(long)]
    tls: bool,
    /// PEM certificate chain (with --tls).
    #[arg(long, requires = "key")]
    cert: Option<PathBuf>,
    /// PEM private key (with --tls).
    #[arg(long, requires = "cert")]
    key: Option<PathBuf>,
    /// How long a client may take to send a request's headers, in milliseconds.
    #[arg(long, default_value_t = 10_000)]
    header_timeout_ms: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.cert.is_some() && !args.tls {
        eprintln!("--cert and --key need --tls");
        return ExitCode::from(2);
    }
    let tls = if args.tls {
        let pair = match (&args.cert, &args.key) {
            (Some(c), Some(k)) => http::load_pem(c, k),
            _ => http::self_signed().map(|(c, k)| (vec![c], k)),
        };
        match pair.and_then(|(chain, key)| http::tls_acceptor(chain, key)) {
            Ok(a) => Some(a),
            Err(e) => {
                eprintln!("TLS set-up failed: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        None
    };
    let addr = args.addr.unwrap_or_else(|| {
        let port = if args.tls { 8443 } else { 8080 };
        SocketAddr::from(([127, 0, 0, 1], port))
    });
    let _ = rlimit::raise_nofile_limit();
    let workers = args
        .workers
        .unwrap_or_else(|| ringio::runtime::available_cpus().len().max(1));
    let rt = match ringio::Runtime::builder().workers(workers).build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let header_timeout = Duration::from_millis(args.header_timeout_ms);
    let bound = per_core::Bound::new();
    let codes = rt.run_per_core(|core| {
        let (bound, tls) = (&bound, tls.clone());
        async move {
            let Some(listener) = per_core::bind(core, addr, bound).await else {
                return ExitCode::FAILURE;
            };
            if core == 0 {
                let local = listener.local_addr().unwrap_or(addr);
                let scheme = if tls.is_some() { "https" } else { "http" };
                println!("listening on {scheme}://{local} ({workers} cores)");
                let _ = std::io::stdout().flush();
                per_core::announce(bound, local);
            }
            let mut incoming = listener.incoming();
            while let Some(conn) = incoming.next().await {
                match conn {
                    Ok((stream, _)) => {
                        let tls = tls.clone();
                        ringio::spawn(async move {
                            // A client's error ends its connection only.
                            let _ = http::serve_connection(stream, tls, header_timeout).await;
                        });
                    }
                    Err(e) => eprintln!("core {core}: accept failed: {e}"),
                }
            }
            ExitCode::SUCCESS
        }
    });
    codes
        .into_iter()
        .find(|c| *c != ExitCode::SUCCESS)
        .unwrap_or(ExitCode::SUCCESS)
}
