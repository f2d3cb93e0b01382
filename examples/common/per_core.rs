//! One listener per core on one port, for the servers among the examples: core 0 binds
//! first, so that port 0 picks one port, and the other cores then bind the same one
//! (`TcpListener::bind` sets SO_REUSEPORT, so the kernel spreads connections over them).

use ringio::net::TcpListener;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

/// What core 0 bound, shared with the other cores: its address, or `Err` if it failed.
pub type Bound = OnceLock<Result<SocketAddr, ()>>;

/// Binds this core's listener on `addr` (core 0) or on what core 0 bound (the others,
/// who wait for it). `None` after an error, printed here; core 0's error stops the others.
/// Core 0 must publish its address with [`announce`] once it has said where it listens.
pub async fn bind(core: usize, addr: SocketAddr, bound: &Bound) -> Option<TcpListener> {
    let addr = if core == 0 {
        addr
    } else {
        loop {
            match bound.get() {
                Some(Ok(a)) => break *a,
                Some(Err(())) => return None,
                None => ringio::time::sleep(Duration::from_millis(1)).await,
            }
        }
    };
    match TcpListener::bind(addr) {
        Ok(l) => Some(l),
        Err(e) => {
            eprintln!("core {core}: cannot listen on {addr}: {e}");
            let _ = bound.set(Err(()));
            None
        }
    }
}

/// Core 0's bound address, for the other cores to bind.
pub fn announce(bound: &Bound, local: SocketAddr) {
    let _ = bound.set(Ok(local));
}
