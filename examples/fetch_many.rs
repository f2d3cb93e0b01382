//! asyncio's "fetch many URLs with gather" pattern on ringio, aiohttp-style: the
//! `hyper_server` example's service on loopback (in process), then `--count` GETs through
//! one pooled `http::Client`, gathered with `task::gather`, at most `--limit` in flight
//! at once thanks to a `sync::Semaphore`.
//!
//! Shows keep-alive reuse (the pool opens about `--limit` connections for thousands of
//! requests), `task::gather` keeping every result (asyncio's `return_exceptions=True`),
//! and HTTPS with `--https` (rustls, trusting the server's self-signed certificate made
//! at start). Prints the status counts, bytes received, the time taken and how many
//! connections the pool opened.
//!
//! ```text
//! cargo run --release --features rustls --example fetch_many -- --count 1000 --limit 100
//! cargo run --release --features rustls --example fetch_many -- --https --missing-every 10
//! ```
//!
//! Flags: `--count` (requests, default 1000), `--limit` (in flight, default 100),
//! `--missing-every` (every Nth request asks for a path that does not exist and gets a
//! 404; 0 = none, default 0), `--https` (TLS through rustls).

#[path = "common/http.rs"]
mod http;
#[path = "common/rlimit.rs"]
mod rlimit;

use clap::Parser;
use http_body_util::BodyExt;
use ringio::http::Client;
use ringio::net::TcpListener;
use ringio::sync::Semaphore;
use std::cell::Cell;
use std::collections::BTreeMap;
use std::error::Error;
use std::process::ExitCode;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_rustls::rustls;

/// How long one fetch may take before it counts as a timeout.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// Fetch many URLs from a local HTTP server through a pooled client, concurrently but
/// bounded.
#[derive(Parser, Debug)]
#[command(about = "asyncio-style fetch-many: gather + Semaphore + a pooled HTTP client")]
struct Args {
    /// How many URLs to fetch.
    #[arg(long, default_value_t = 1000)]
    count: usize,
    /// How many fetches may be in flight at once (the semaphore's permits).
    #[arg(long, default_value_t = 100)]
    limit: usize,
    /// Every Nth URL is missing and answered with 404 (0: none).
    #[arg(long, default_value_t = 0)]
    missing_every: usize,
    /// Fetch over HTTPS (rustls), trusting the server's self-signed certificate.
    #[arg(long)]
    https: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.limit == 0 {
        eprintln!("--limit must be at least 1");
        return ExitCode::FAILURE;
    }
    // Each connection holds a socket at both ends; make sure `--limit` of them fit.
    let _ = rlimit::raise_nofile_limit();
    ringio::run(async move {
        match fetch_all(&args).await {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::FAILURE,
            Err(e) => {
                eprintln!("fetch_many: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

/// Starts the server, fetches every URL, prints the summary; `Ok(false)` if some fetch
/// failed.
async fn fetch_all(args: &Args) -> Result<bool, Box<dyn Error>> {
    let (acceptor, client) = if args.https {
        let (cert, key) = http::self_signed()?;
        let acceptor = http::tls_acceptor(vec![cert.clone()], key)?;
        let client = Client::builder().tls_config(trusting(cert)?).build();
        (Some(acceptor), client)
    } else {
        (None, Client::new())
    };
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let accepted = Rc::new(Cell::new(0usize));
    ringio::spawn(serve(listener, acceptor, accepted.clone()));
    // The self-signed certificate names `localhost`, which TLS checks.
    let base = if args.https {
        format!("https://localhost:{}", addr.port())
    } else {
        format!("http://{addr}")
    };
    println!(
        "server on {base}; fetching {} URLs, at most {} at once",
        args.count, args.limit
    );

    let sem = Semaphore::new(args.limit);
    let in_flight = Cell::new(0usize);
    let peak = Cell::new(0usize);
    let start = Instant::now();
    let results = ringio::task::gather((0..args.count).map(|n| {
        let (sem, in_flight, peak, client) = (&sem, &in_flight, &peak, &client);
        let missing = args.missing_every != 0 && (n + 1) % args.missing_every == 0;
        let url = if missing {
            format!("{base}/missing/{n}")
        } else {
            format!("{base}/")
        };
        async move {
            let _permit = sem.acquire().await;
            in_flight.set(in_flight.get() + 1);
            peak.set(peak.get().max(in_flight.get()));
            let res = ringio::time::timeout(FETCH_TIMEOUT, fetch(client, &url)).await;
            in_flight.set(in_flight.get() - 1);
            res.unwrap_or_else(|_| Err(format!("GET {url}: timed out after {FETCH_TIMEOUT:?}")))
        }
    }))
    .await;
    let elapsed = start.elapsed();

    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let (mut failures, mut bytes) = (0, 0);
    for res in &results {
        let key = match res {
            Ok((status, len)) => {
                bytes += len;
                status.to_string()
            }
            Err(e) => {
                if failures < 3 {
                    eprintln!("{e}");
                }
                failures += 1;
                "error".to_string()
            }
        };
        *counts.entry(key).or_default() += 1;
    }
    for (status, count) in &counts {
        println!("  {status}: {count}");
    }
    println!(
        "{} fetches, {bytes} body bytes in {:.1} ms ({:.0} per second), peak {} in flight \
         (limit {})",
        results.len(),
        elapsed.as_secs_f64() * 1e3,
        results.len() as f64 / elapsed.as_secs_f64(),
        peak.get(),
        args.limit
    );
    println!(
        "the pool opened {} connections (the server accepted {})",
        client.connections_opened(),
        accepted.get()
    );
    Ok(failures == 0)
}

/// GET `url` and read its body; returns the status and the body's length.
async fn fetch(client: &Client, url: &str) -> Result<(u16, usize), String> {
    let resp = client.get(url).await.map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("GET {url}: reading the body: {e}"))?;
    Ok((status, body.to_bytes().len()))
}

/// Serves until the runtime stops: one task per connection, counting them.
async fn serve(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    accepted: Rc<Cell<usize>>,
) {
    let mut incoming = listener.incoming();
    while let Some(conn) = incoming.next().await {
        match conn {
            Ok((stream, _)) => {
                accepted.set(accepted.get() + 1);
                let tls = tls.clone();
                ringio::spawn(async move {
                    if let Err(e) = http::serve_connection(stream, tls, http::HEADER_TIMEOUT).await
                    {
                        eprintln!("server: {e}");
                    }
                });
            }
            Err(e) => eprintln!("server: accept: {e}"),
        }
    }
}

/// A rustls client configuration that trusts exactly `cert`.
fn trusting(
    cert: rustls::pki_types::CertificateDer<'static>,
) -> Result<Arc<rustls::ClientConfig>, Box<dyn Error>> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert)?;
    // ring, not rustls' default aws-lc-rs: no C toolchain beyond cc to build it. Its
    // provider lacks post-quantum key exchange, hence the deprecation, which does not
    // matter on loopback.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
