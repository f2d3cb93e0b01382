//! The HTTP/1.1 load generator of the `http_load` example, shared with its tests.
//!
//! Pulled in with `#[path = "common/http_load.rs"] mod http_load;`. It speaks HTTP/1.1 by
//! hand over plain `ringio::net::TcpStream`s (no HTTP client library: the client must cost
//! far less than the server it measures) and reuses the echo load generator's pieces as
//! they are: the open-loop schedule (`echo/pacing.rs`), the histogram bounds
//! (`echo/tally.rs`), the fd-limit check (`echo/limits.rs`) and the CPU pinning
//! (`echo.rs`).
//!
//! - [`args`]: the command line, its checks, the serialized request.
//! - [`client`]: the connections, on one or more cores.
//! - [`parse`]: the response parser (status line, headers, length or chunked body).
//! - [`report`]: the summary, its text and JSON forms, and the merge of JSON files.

#[allow(dead_code)] // the echo examples' code; this generator uses part of it
#[path = "echo.rs"]
pub mod echo;

#[path = "http_load/args.rs"]
pub mod args;
#[path = "http_load/client.rs"]
pub mod client;
#[path = "http_load/parse.rs"]
pub mod parse;
#[path = "http_load/report.rs"]
pub mod report;

pub use args::{Args, Config};
pub use client::run_load;
pub use report::Summary;
