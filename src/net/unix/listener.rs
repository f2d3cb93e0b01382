//! `UnixListener`: bind a path or an abstract name, accept through the ring.

use super::super::accept::Acceptor;
use super::{UnixStream, abstract_addr, path_addr, std_addr, with_addr};
use crate::sys::fd::SharedFd;
use socket2::{Domain, SockAddr, SockRef, Socket, Type};
use std::io;
use std::os::unix::net::SocketAddr;
use std::path::Path;

/// Listen backlog, as for TCP: the kernel caps it at `net.core.somaxconn` (4096 by
/// default), so bursts of connects wait in the kernel instead of failing with EAGAIN.
const BACKLOG: i32 = 4096;

/// A Unix domain socket listening for stream connections.
///
/// # Examples
///
/// ```
/// use ringio::net::{UnixListener, UnixStream};
///
/// ringio::run(async {
///     let dir = std::env::temp_dir().join(format!("ringio-doc-l-{}", std::process::id()));
///     std::fs::create_dir_all(&dir).unwrap();
///     let path = dir.join("sock");
///     let _ = std::fs::remove_file(&path);
///     let listener = UnixListener::bind(&path).unwrap();
///     let client = ringio::spawn(async move { UnixStream::connect(&path).await.unwrap() });
///     let (server, _peer) = listener.accept().await.unwrap();
///     server.write_all(b"hi").await.0.unwrap();
///     let (res, buf) = client.await.unwrap().read_exact(vec![0u8; 2]).await;
///     res.unwrap();
///     assert_eq!(buf, b"hi");
///     std::fs::remove_dir_all(&dir).unwrap();
/// });
/// ```
#[doc(alias = "start_unix_server")]
#[derive(Debug)]
pub struct UnixListener {
    fd: SharedFd,
    acceptor: Acceptor,
}

impl UnixListener {
    /// Binds to the socket file `path` and listens. A path whose first byte is NUL names
    /// an abstract socket instead (see [`bind_abstract`](Self::bind_abstract)).
    ///
    /// The file is left behind when the listener is dropped (as with std); remove it when
    /// done.
    ///
    /// # Examples
    ///
    /// See [`UnixListener`].
    ///
    /// # Errors
    ///
    /// `AddrInUse` if the file exists, including a stale socket file left by a server that
    /// exited: it is not removed for you (the message says so); `NotFound` or
    /// `PermissionDenied` for the directory; `InvalidInput` for a path longer than
    /// `sun_path` (107 bytes).
    #[doc(alias = "start_unix_server")]
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixListener> {
        Self::bind_addr(path_addr(path.as_ref())?)
    }

    /// Binds to the abstract name `name` (Linux): no file is created and the name goes
    /// away with the socket, so nothing is ever stale.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::net::{UnixListener, UnixStream};
    /// use std::os::linux::net::SocketAddrExt;
    ///
    /// ringio::run(async {
    ///     let name = format!("ringio-doc-{}", std::process::id());
    ///     let listener = UnixListener::bind_abstract(&name).unwrap();
    ///     let client = UnixStream::connect_abstract(&name).await.unwrap();
    ///     let (_server, _) = listener.accept().await.unwrap();
    ///     assert_eq!(client.peer_addr().unwrap().as_abstract_name(), Some(name.as_bytes()));
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// `AddrInUse` if another socket holds the name; `InvalidInput` if it is longer than
    /// 107 bytes.
    pub fn bind_abstract<N: AsRef<[u8]>>(name: N) -> io::Result<UnixListener> {
        Self::bind_addr(abstract_addr(name.as_ref())?)
    }

    fn bind_addr(addr: SockAddr) -> io::Result<UnixListener> {
        let socket = Socket::new(Domain::UNIX, Type::STREAM.cloexec(), None)?;
        socket
            .bind(&addr)
            .map_err(|e| with_addr(e, "bind", &addr))?;
        socket.listen(BACKLOG)?;
        Ok(UnixListener {
            fd: SharedFd::new(socket.into()),
            acceptor: Acceptor::default(),
        })
    }

    /// Waits for a connection and returns it with the peer's address (usually unnamed:
    /// clients rarely bind).
    ///
    /// # Examples
    ///
    /// See [`UnixListener`].
    ///
    /// # Errors
    ///
    /// What accept(2) reports. On EMFILE/ENFILE (no descriptor left) the error is
    /// returned and the *next* `accept` first pauses (10 ms, doubling to 100 ms while the
    /// shortage lasts), so a loop that retries at once does not spin.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: the accept belongs to the listener, not to the future, and stays armed
    /// across calls (one multishot accept; on kernels without it, one single-shot accept).
    /// A connection the kernel accepted as the future was dropped waits in the listener for
    /// the next `accept`; later ones wait in the kernel's backlog. Dropping the listener
    /// closes connections nobody claimed (their clients read EOF); none is leaked.
    pub async fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let fd = self.acceptor.accept(&self.fd).await?;
        let stream = UnixStream::from_fd(fd);
        // The accept passes no address buffer; the peer costs a getpeername.
        let peer = stream.peer_addr()?;
        Ok((stream, peer))
    }

    /// The address this listener is bound to.
    ///
    /// # Examples
    ///
    /// ```
    /// let name = format!("ringio-doc-local-{}", std::process::id());
    /// let listener = ringio::net::UnixListener::bind_abstract(&name).unwrap();
    /// let addr = listener.local_addr().unwrap();
    /// assert_eq!(std::os::linux::net::SocketAddrExt::as_abstract_name(&addr), Some(name.as_bytes()));
    /// ```
    ///
    /// # Errors
    ///
    /// What getsockname(2) reports.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        std_addr(&SockRef::from(self.fd.as_fd()).local_addr()?)
    }
}
