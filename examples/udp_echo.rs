//! A UDP echo server and a client that counts lost datagrams, in one binary on loopback.
//!
//! Shows `UdpSocket::recv_from` / `send_to` with owned buffers (the echo task reuses one
//! buffer for ever), one socket shared by a sending and a receiving task through `Rc`,
//! and a bounded window of datagrams in flight (a `Semaphore`): the sender takes a
//! permit per datagram, the receiver gives it back when the echo arrives. An echo that
//! does not come within `--timeout-ms` is counted lost and its permit is returned so the
//! run goes on; if it turns up later it is counted late, not received. A window whose
//! datagrams overflow a socket's receive buffer (`net.core.rmem_default`, about 208 KiB
//! of kernel memory, roughly 2 KiB per small datagram) loses datagrams even on loopback:
//! that is UDP, and what the counters are for.
//!
//! ```text
//! cargo run --release --example udp_echo -- --count 100000 --size 64 --window 64
//! ```
//!
//! Flags: `--addr` (server address, default 127.0.0.1:0: the kernel picks a port),
//! `--count` (datagrams, default 100000), `--size` (bytes each, 8..=65507, default 64),
//! `--window` (datagrams in flight, default 64), `--timeout-ms` (wait for a missing
//! echo, default 1000). Prints sent, received, lost, late and datagrams per second; exits
//! with failure if any datagram was lost or corrupted.

use clap::Parser;
use ringio::net::UdpSocket;
use ringio::sync::Semaphore;
use ringio::time::timeout;
use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// The largest UDP payload over IPv4 (65535 - 8 byte UDP header - 20 byte IP header).
const MAX_SIZE: usize = 65_507;
/// Bytes of each datagram that carry its sequence number.
const SEQ_BYTES: usize = 8;

/// UDP echo over loopback with loss counting.
#[derive(Parser, Debug)]
#[command(about = "UDP echo server + client on ringio, counting lost datagrams")]
struct Args {
    /// Address the echo server binds (loopback; port 0 lets the kernel choose).
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: SocketAddr,
    /// Datagrams to send.
    #[arg(long, default_value_t = 100_000)]
    count: u64,
    /// Bytes per datagram (at least 8: the sequence number).
    #[arg(long, default_value_t = 64)]
    size: usize,
    /// Datagrams in flight at once.
    #[arg(long, default_value_t = 64)]
    window: usize,
    /// How long to wait for a missing echo before counting it lost, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    timeout_ms: u64,
}

/// Where each datagram stands.
#[derive(Clone, Copy, PartialEq)]
enum State {
    Unsent,
    InFlight,
    Received,
    Lost,
}

#[derive(Default)]
struct Counts {
    sent: Cell<u64>,
    received: Cell<u64>,
    lost: Cell<u64>,
    late: Cell<u64>,
    corrupt: Cell<u64>,
}

fn payload(seq: u64, size: usize) -> Vec<u8> {
    let mut msg = Vec::with_capacity(size);
    msg.extend_from_slice(&seq.to_be_bytes());
    msg.extend((SEQ_BYTES..size).map(|i| (seq as usize ^ i) as u8));
    msg
}

fn main() -> ExitCode {
    let args = Args::parse();
    if !(SEQ_BYTES..=MAX_SIZE).contains(&args.size) || args.window == 0 || args.count == 0 {
        eprintln!("need --size in {SEQ_BYTES}..={MAX_SIZE}, --window >= 1 and --count >= 1");
        return ExitCode::from(2);
    }
    ringio::run(async move {
        match run(args).await {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::FAILURE,
            Err(e) => {
                eprintln!("udp_echo: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

async fn run(args: Args) -> std::io::Result<bool> {
    let server = UdpSocket::bind(args.addr)?;
    let server_addr = server.local_addr()?;
    let echo = ringio::spawn(async move {
        let mut buf = Vec::with_capacity(MAX_SIZE);
        loop {
            buf.clear();
            let (res, b) = server.recv_from(buf).await;
            buf = b;
            let Ok((_, from)) = res else { continue };
            let (_, b) = server.send_to(buf, from).await;
            buf = b;
        }
    });

    let client = Rc::new(UdpSocket::bind((server_addr.ip(), 0))?);
    client.connect(server_addr).await?;
    let window = Rc::new(Semaphore::new(args.window));
    let states = Rc::new(RefCell::new(vec![State::Unsent; args.count as usize]));
    let counts = Rc::new(Counts::default());

    let start = Instant::now();
    let sender = {
        let (client, window, states, counts) = (
            client.clone(),
            window.clone(),
            states.clone(),
            counts.clone(),
        );
        let (count, size) = (args.count, args.size);
        ringio::spawn(async move {
            for seq in 0..count {
                window.acquire().await.forget();
                states.borrow_mut()[seq as usize] = State::InFlight;
                let (res, _) = client.send(payload(seq, size)).await;
                res.expect("send to the echo server");
                counts.sent.set(seq + 1);
            }
        })
    };

    let wait = Duration::from_millis(args.timeout_ms);
    let mut buf = Vec::with_capacity(MAX_SIZE);
    loop {
        let c = &counts;
        if c.received.get() + c.lost.get() == args.count {
            break;
        }
        buf.clear();
        let Ok((res, b)) = timeout(wait, client.recv(buf)).await else {
            // Everything still in flight is given up on; its permits come back.
            let mut states = states.borrow_mut();
            let mut given_up = 0;
            for s in states.iter_mut().filter(|s| **s == State::InFlight) {
                *s = State::Lost;
                given_up += 1;
            }
            c.lost.set(c.lost.get() + given_up);
            window.add_permits(given_up as usize);
            buf = Vec::with_capacity(MAX_SIZE);
            continue;
        };
        buf = b;
        let n = res?;
        let seq = match buf.get(..SEQ_BYTES) {
            Some(s) => u64::from_be_bytes(s.try_into().expect("8 bytes")),
            None => u64::MAX,
        };
        if n != args.size || seq >= args.count || buf != payload(seq, args.size) {
            c.corrupt.set(c.corrupt.get() + 1);
            continue;
        }
        let state = &mut states.borrow_mut()[seq as usize];
        match *state {
            State::InFlight => {
                *state = State::Received;
                c.received.set(c.received.get() + 1);
                window.add_permits(1);
            }
            State::Lost => c.late.set(c.late.get() + 1),
            State::Received | State::Unsent => c.corrupt.set(c.corrupt.get() + 1),
        }
    }
    let elapsed = start.elapsed();
    sender.await.expect("sender task");
    echo.cancel();

    let c = &counts;
    let secs = elapsed.as_secs_f64();
    println!(
        "udp_echo: server {server_addr}, {} datagrams of {} bytes, window {}",
        args.count, args.size, args.window
    );
    println!(
        "sent {}  received {}  lost {}  late {}  corrupt {}",
        c.sent.get(),
        c.received.get(),
        c.lost.get(),
        c.late.get(),
        c.corrupt.get()
    );
    println!(
        "{:.3} s, {:.0} datagrams/s round trip, {:.1} MB/s each way",
        secs,
        c.received.get() as f64 / secs,
        (c.received.get() as f64 * args.size as f64) / secs / 1e6
    );
    Ok(c.lost.get() == 0 && c.corrupt.get() == 0)
}
