//! The examples as child processes. Examples have no `CARGO_BIN_EXE_*`, so they run
//! through `cargo run`, in the test's profile and with the test's features: the build it
//! makes is the one `cargo test` already made, not a second one.

use std::process::Command;

/// The library features this test binary was built with.
fn features() -> Vec<&'static str> {
    [
        ("fault-injection", cfg!(feature = "fault-injection")),
        ("futures-core", cfg!(feature = "futures-core")),
        ("futures-io", cfg!(feature = "futures-io")),
        ("hyper", cfg!(feature = "hyper")),
        ("rustls", cfg!(feature = "rustls")),
        ("tokio-io", cfg!(feature = "tokio-io")),
        ("tracing", cfg!(feature = "tracing")),
    ]
    .into_iter()
    .filter_map(|(f, on)| on.then_some(f))
    .collect()
}

/// `cargo run --quiet --example <example>` in this test's profile and features; the
/// caller adds `--` and the example's arguments.
pub fn cargo_example(example: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["run", "--quiet", "--example", example]);
    if !cfg!(debug_assertions) {
        cmd.arg("--release");
    }
    let features = features();
    if !features.is_empty() {
        cmd.args(["--features", &features.join(",")]);
    }
    cmd
}
