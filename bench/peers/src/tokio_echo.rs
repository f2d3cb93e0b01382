//! The tokio echo loop shared by the current-thread and multi-thread servers.

use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Accepts forever, one spawned task per connection.
pub async fn serve(addr: SocketAddr, note: &str) -> std::io::Result<()> {
    let std_listener = ringio_peers::listener(addr, false)?;
    std_listener.set_nonblocking(true)?;
    let listener = TcpListener::from_std(std_listener)?;
    ringio_peers::announce(listener.local_addr()?, note);
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(echo(stream));
            }
            // EMFILE/ENFILE and friends: keep serving what is open, try again shortly.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(ringio_peers::ACCEPT_BACKOFF_MS)).await
            }
        }
    }
}

/// Reads up to 4 KiB, writes it all back, until EOF or an error.
async fn echo(mut stream: TcpStream) {
    if stream.set_nodelay(true).is_err() {
        return;
    }
    let mut buf = vec![0u8; ringio_peers::BUF_SIZE];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if stream.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
}
