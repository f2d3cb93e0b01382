//! One listener per core on one port, for the servers among the examples: core 0 binds
//! first, so that port 0 picks one port, and the other cores then bind the same one
//! (`TcpListener::bind_reuse_port` sets SO_REUSEPORT, so the kernel spreads connections
//! over them; a plain `bind` would refuse the second listener with `AddrInUse`).
//!
//! SO_REUSEPORT lets any socket of the same user join the port, a second copy of the
//! server too. So core 0 first binds the port plainly, for a moment: if anything listens
//! there, that fails with `AddrInUse` and the server stops instead of sharing the port.

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
        if addr.port() != 0
            && let Err(e) = port_is_free(addr)
        {
            eprintln!("core 0: {e}");
            let _ = bound.set(Err(()));
            return None;
        }
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
    match TcpListener::bind_reuse_port(addr) {
        Ok(l) => Some(l),
        Err(e) => {
            eprintln!("core {core}: {e}");
            let _ = bound.set(Err(()));
            None
        }
    }
}

/// Whether nothing listens on `addr`: a plain bind (SO_REUSEADDR only, as std's) of it,
/// closed at once. std's listener closes synchronously on drop, so the port is free again
/// for the SO_REUSEPORT listeners right after.
fn port_is_free(addr: SocketAddr) -> std::io::Result<()> {
    match std::net::TcpListener::bind(addr) {
        Ok(probe) => {
            drop(probe);
            Ok(())
        }
        Err(e) => Err(std::io::Error::new(
            e.kind(),
            format!("cannot listen on {addr}: {e}; is another server running there?"),
        )),
    }
}

/// Core 0's bound address, for the other cores to bind.
pub fn announce(bound: &Bound, local: SocketAddr) {
    let _ = bound.set(Ok(local));
}
