//! The echo server: one accept loop, one task per connection.

use ringio::buf::IoBuf;
use ringio::net::{TcpListener, TcpStream, is_fd_exhaustion};
use std::time::Duration;

/// Pause after an accept error other than fd exhaustion (which the listener paces by
/// itself). Such errors are rare and usually transient (ECONNABORTED); 1 ms keeps a
/// persistent one from spinning a core while adding no visible delay to a transient one.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(1);

/// Accepts connections forever and echoes each on its own task, reading up to
/// `buf_size` bytes at a time.
///
/// Accept errors never end the loop: running out of descriptors is reported once (the
/// listener then backs off by itself and existing connections go on being served);
/// any other error is printed and the loop goes on.
pub async fn serve(listener: TcpListener, buf_size: usize) {
    let mut warned_fds = false;
    loop {
        match listener.accept().await {
            Ok((stream, _peer)) => {
                drop(ringio::spawn(echo_conn(stream, buf_size)));
            }
            Err(e) if is_fd_exhaustion(&e) => {
                if !warned_fds {
                    warned_fds = true;
                    eprintln!("out of file descriptors; backing off");
                }
            }
            Err(e) => {
                eprintln!("accept failed: {e}");
                ringio::time::sleep(ACCEPT_ERROR_PAUSE).await;
            }
        }
    }
}

/// Echoes every byte until the peer closes or the connection fails. One buffer per
/// connection, reused for every read.
async fn echo_conn(stream: TcpStream, buf_size: usize) {
    // A failure here means the connection is already gone: the first read will say so.
    let _ = stream.set_nodelay(true);
    let mut buf = vec![0u8; buf_size];
    loop {
        let (res, b) = stream.read(buf).await;
        let n = match res {
            Ok(0) | Err(_) => return, // closed or reset: the client counts its own errors
            Ok(n) => n,
        };
        let (res, b) = stream.write_all(b.slice(..n)).await;
        if res.is_err() {
            return;
        }
        buf = b.into_inner();
    }
}
