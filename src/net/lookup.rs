//! Name resolution that never blocks a core: [`lookup_host`] and the [`ToSocketAddrs`]
//! trait that [`TcpStream::connect`](super::TcpStream::connect) and
//! [`UdpSocket::send_to`](super::UdpSocket::send_to) take.
//!
//! Rules:
//! 1. An address that is already numeric (a `SocketAddr`, an `(IpAddr, u16)`, a string
//!    such as `"127.0.0.1:80"` or `"[::1]:80"`, a host string that parses as an IP
//!    address) is parsed on the core: no thread, no syscall, ready at the first poll. A
//!    malformed string (no port, a port that is not a number) fails there too.
//! 2. A host name goes to the runtime's blocking pool (`spawn_blocking`), where
//!    getaddrinfo(3) may block as long as the resolver takes: resolv.conf(5) allows
//!    `timeout:n` seconds per query and `attempts:m` rounds through the name servers, so
//!    one lookup of a name nobody answers blocks for n·m seconds or more. The core runs
//!    its other tasks meanwhile.
//! 3. getaddrinfo cannot be interrupted. Dropping a lookup's future leaves its pool job
//!    to run to its end; the job's result is then dropped, and the pool thread is busy
//!    until the resolver gives up.
#![forbid(unsafe_code)]

use crate::io::context::with_context;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::vec;

/// Resolves `host_and_port` to socket addresses without blocking the core: a host name is
/// looked up by getaddrinfo(3) on the runtime's blocking pool, so other tasks on this core
/// (timers, connections) go on while the resolver waits for an answer.
///
/// A numeric address (`"127.0.0.1:80"`, `"[::1]:443"`, a [`SocketAddr`], an
/// `(IpAddr, u16)`, a `("10.0.0.1", 53)`) is parsed on the core and comes back at once,
/// without using the pool. See [`ToSocketAddrs`] for what can be passed.
///
/// The addresses come in the resolver's order (the order [`TcpStream::connect`]
/// tries them in); a name may resolve to none. The lookup runs on the pool of the runtime
/// this runs on (outside any runtime, on the process-wide pool of
/// [`spawn_blocking`](crate::spawn_blocking)): each pending lookup holds a pool thread,
/// up to [`Builder::max_blocking_threads`](crate::Builder::max_blocking_threads); more
/// wait their turn.
///
/// The iterator holds nothing of the argument, but its type names the argument's type:
/// for a borrowed argument (`&str`), collect the addresses if they must outlive it.
///
/// [`TcpStream::connect`]: super::TcpStream::connect
///
/// # Examples
///
/// ```
/// ringio::run(async {
///     let addrs: Vec<_> = ringio::net::lookup_host("localhost:8080").await.unwrap().collect();
///     assert!(addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 8080));
///
///     // A numeric address is parsed at once, no lookup.
///     let mut one = ringio::net::lookup_host("127.0.0.1:53").await.unwrap();
///     assert_eq!(one.next(), Some("127.0.0.1:53".parse().unwrap()));
/// });
/// ```
///
/// # Errors
///
/// `InvalidInput` for a string with no port or a port that is not a number (the
/// `"host:port"` form needs both). If the resolver fails, its error, with the host named
/// in the message (`failed to look up "nosuch.invalid": ...`) and the same
/// [`ErrorKind`](io::ErrorKind) as the error of [`std::net::ToSocketAddrs`]; the
/// resolver's own error is its [`source`](std::error::Error::source). An error if the
/// pool thread running the lookup panicked.
///
/// # Cancel safety
///
/// Cancel-safe: nothing is lost by dropping the future. A lookup already handed to the
/// pool cannot be stopped: it runs to its end on its pool thread and its result is
/// dropped.
#[doc(alias = "getaddrinfo")]
#[doc(alias = "loop.getaddrinfo")]
pub async fn lookup_host<T: ToSocketAddrs>(
    host_and_port: T,
) -> io::Result<impl Iterator<Item = SocketAddr>> {
    resolve(&host_and_port).await
}

/// The addresses of `addr`: parsed here if numeric (rule 1), else looked up on the
/// blocking pool (rule 2).
pub(crate) async fn resolve<A: ToSocketAddrs + ?Sized>(addr: &A) -> io::Result<Addrs> {
    match addr.target()? {
        Target::Addrs(addrs) => Ok(addrs),
        Target::Name { host, port } => resolve_name(host, port).await,
    }
}

/// Runs getaddrinfo for `host` on the blocking pool (rules 2 and 3).
async fn resolve_name(host: String, port: u16) -> io::Result<Addrs> {
    let named = host.clone();
    let job = crate::spawn_blocking(move || {
        std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port))
            .map_err(|e| lookup_error(host, e))
    });
    match job.await {
        Ok(res) => res.map(Addrs::many),
        Err(e) => Err(io::Error::other(format!(
            "failed to look up {named:?}: {e}"
        ))),
    }
}

/// A resolver failure as an error of the same kind that names the host it was asked
/// about (the resolver's error is its `source`).
fn lookup_error(host: String, source: io::Error) -> io::Error {
    with_context(source, format_args!("failed to look up {host:?}"))
}

/// The addresses an address argument stands for (`pub` only so that the sealed trait
/// may name it; the module is private).
#[derive(Debug, Clone)]
pub struct Addrs(AddrsRepr);

#[derive(Debug, Clone)]
enum AddrsRepr {
    /// One numeric address: the common case (a `SocketAddr`), with no allocation.
    One(Option<SocketAddr>),
    Many(vec::IntoIter<SocketAddr>),
}

impl Addrs {
    fn one(addr: SocketAddr) -> Addrs {
        Addrs(AddrsRepr::One(Some(addr)))
    }

    fn many(addrs: vec::IntoIter<SocketAddr>) -> Addrs {
        Addrs(AddrsRepr::Many(addrs))
    }

    fn from_vec(addrs: Vec<SocketAddr>) -> Addrs {
        Addrs::many(addrs.into_iter())
    }
}

impl Iterator for Addrs {
    type Item = SocketAddr;

    fn next(&mut self) -> Option<SocketAddr> {
        match &mut self.0 {
            AddrsRepr::One(a) => a.take(),
            AddrsRepr::Many(it) => it.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.0 {
            AddrsRepr::One(a) => (usize::from(a.is_some()), Some(usize::from(a.is_some()))),
            AddrsRepr::Many(it) => it.size_hint(),
        }
    }
}

/// What an address argument needs: nothing more (rule 1) or a lookup (rule 2).
pub enum Target {
    Addrs(Addrs),
    Name { host: String, port: u16 },
}

mod sealed {
    /// The crate's side of [`ToSocketAddrs`](super::ToSocketAddrs): users can name the
    /// trait but not implement it, so how an address is resolved can change freely.
    pub trait Resolve {
        /// Parses a numeric address, or says which name to look up.
        fn target(&self) -> std::io::Result<super::Target>;
    }
}

use sealed::Resolve;

/// An address that [`lookup_host`], [`TcpStream::connect`](super::TcpStream::connect),
/// [`UdpSocket::send_to`](super::UdpSocket::send_to) and
/// [`UdpSocket::connect`](super::UdpSocket::connect) accept: the types that
/// [`std::net::ToSocketAddrs`] is implemented for.
///
/// - [`SocketAddr`], [`SocketAddrV4`], [`SocketAddrV6`], `(IpAddr, u16)`,
///   `(Ipv4Addr, u16)`, `(Ipv6Addr, u16)` and `&[SocketAddr]`: numeric, nothing to look up.
/// - `&str` and `String` in the form `"host:port"` (`"[::1]:80"` for an IPv6 literal),
///   `(&str, u16)` and `(String, u16)`: numeric if the host is an IP address, else a
///   name that the connecting calls look up off the core (see [`lookup_host`]).
/// - A reference to any of these.
///
/// Unlike `std`'s trait this one is sealed (it cannot be implemented outside ringio): a
/// value of another type that implements [`std::net::ToSocketAddrs`] must be turned
/// into one of these first, e.g. collected into a `Vec<SocketAddr>` and passed as a slice.
///
/// # Examples
///
/// ```
/// use ringio::net::{TcpListener, TcpStream};
///
/// ringio::run(async {
///     let listener = TcpListener::bind("127.0.0.1:0").unwrap();
///     let port = listener.local_addr().unwrap().port();
///     // A (host, port) pair with a numeric host: parsed on the core.
///     let _a = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
///     // A name: resolved on the blocking pool, then connected.
///     let _b = TcpStream::connect(format!("localhost:{port}")).await.unwrap();
/// });
/// ```
pub trait ToSocketAddrs: Resolve {}

impl<T: Resolve + ?Sized> ToSocketAddrs for T {}

/// The `"host:port"` form, as [`std::net::ToSocketAddrs`] for `str` reads it: the port
/// follows the last colon.
fn split_host_port(s: &str) -> io::Result<(&str, u16)> {
    let (host, port) = s.rsplit_once(':').ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("invalid socket address {s:?}: expected \"host:port\""),
        )
    })?;
    let port = port.parse().map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("invalid port value in {s:?}"),
        )
    })?;
    Ok((host, port))
}

/// `host` and `port`, parsed at once if `host` is an IP address (rule 1).
fn host_port(host: &str, port: u16) -> Target {
    match host.parse::<IpAddr>() {
        Ok(ip) => Target::Addrs(Addrs::one(SocketAddr::new(ip, port))),
        Err(_) => Target::Name {
            host: host.to_owned(),
            port,
        },
    }
}

impl Resolve for SocketAddr {
    fn target(&self) -> io::Result<Target> {
        Ok(Target::Addrs(Addrs::one(*self)))
    }
}

impl Resolve for SocketAddrV4 {
    fn target(&self) -> io::Result<Target> {
        Ok(Target::Addrs(Addrs::one((*self).into())))
    }
}

impl Resolve for SocketAddrV6 {
    fn target(&self) -> io::Result<Target> {
        Ok(Target::Addrs(Addrs::one((*self).into())))
    }
}

impl Resolve for (IpAddr, u16) {
    fn target(&self) -> io::Result<Target> {
        Ok(Target::Addrs(Addrs::one((*self).into())))
    }
}

impl Resolve for (Ipv4Addr, u16) {
    fn target(&self) -> io::Result<Target> {
        Ok(Target::Addrs(Addrs::one((*self).into())))
    }
}

impl Resolve for (Ipv6Addr, u16) {
    fn target(&self) -> io::Result<Target> {
        Ok(Target::Addrs(Addrs::one((*self).into())))
    }
}

impl Resolve for [SocketAddr] {
    fn target(&self) -> io::Result<Target> {
        // The addresses outlive the borrow: a lookup's result is owned too.
        Ok(Target::Addrs(Addrs::from_vec(self.to_vec())))
    }
}

impl Resolve for str {
    fn target(&self) -> io::Result<Target> {
        if let Ok(addr) = self.parse::<SocketAddr>() {
            return Ok(Target::Addrs(Addrs::one(addr)));
        }
        let (host, port) = split_host_port(self)?;
        Ok(host_port(host, port))
    }
}

impl Resolve for String {
    fn target(&self) -> io::Result<Target> {
        self.as_str().target()
    }
}

impl Resolve for (&str, u16) {
    fn target(&self) -> io::Result<Target> {
        Ok(host_port(self.0, self.1))
    }
}

impl Resolve for (String, u16) {
    fn target(&self) -> io::Result<Target> {
        Ok(host_port(&self.0, self.1))
    }
}

impl<T: Resolve + ?Sized> Resolve for &T {
    fn target(&self) -> io::Result<Target> {
        (**self).target()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric_addrs<A: ToSocketAddrs + ?Sized>(a: &A) -> Vec<SocketAddr> {
        match a.target().unwrap() {
            Target::Addrs(addrs) => addrs.collect(),
            Target::Name { host, port } => panic!("{host}:{port} was not parsed as numeric"),
        }
    }

    fn name<A: ToSocketAddrs + ?Sized>(a: &A) -> (String, u16) {
        match a.target().unwrap() {
            Target::Addrs(addrs) => panic!("a name parsed as {:?}", addrs.collect::<Vec<_>>()),
            Target::Name { host, port } => (host, port),
        }
    }

    #[test]
    fn numeric_forms_are_parsed_without_a_lookup() {
        let v4: SocketAddr = "127.0.0.1:80".parse().unwrap();
        let v6: SocketAddr = "[::1]:443".parse().unwrap();
        assert_eq!(numeric_addrs(&v4), [v4]);
        assert_eq!(numeric_addrs("127.0.0.1:80"), [v4]);
        assert_eq!(numeric_addrs(&"[::1]:443".to_string()), [v6]);
        assert_eq!(numeric_addrs(&("127.0.0.1", 80)), [v4]);
        assert_eq!(numeric_addrs(&("::1".to_string(), 443)), [v6]);
        assert_eq!(numeric_addrs(&(v4.ip(), 80)), [v4]);
        assert_eq!(numeric_addrs(&(Ipv6Addr::LOCALHOST, 443)), [v6]);
        assert_eq!(numeric_addrs(&[v4, v6][..]), [v4, v6]);
        // What std accepts because getaddrinfo reads it as a number: an IPv6 host
        // without brackets before the last colon.
        assert_eq!(numeric_addrs("::1:443"), [v6]);
    }

    #[test]
    fn names_are_left_for_the_pool() {
        assert_eq!(name("localhost:80"), ("localhost".to_string(), 80));
        assert_eq!(name(&("example.com", 53)), ("example.com".to_string(), 53));
        assert_eq!(name(&&"a.b:0".to_string()), ("a.b".to_string(), 0));
    }

    #[test]
    fn malformed_strings_fail_on_the_spot_naming_the_input() {
        for bad in [
            "localhost",
            "localhost:http",
            "localhost:65536",
            "127.0.0.1",
        ] {
            let e = bad.target().err().expect("malformed");
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{bad}");
            assert!(e.to_string().contains(bad), "{bad}: {e}");
        }
    }

    #[test]
    fn lookup_errors_name_the_host_and_keep_kind_and_source() {
        let inner = io::Error::new(io::ErrorKind::TimedOut, "resolver silent");
        let e = lookup_error("nosuch.invalid".into(), inner);
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert_eq!(
            e.to_string(),
            "failed to look up \"nosuch.invalid\": resolver silent"
        );
        let source = std::error::Error::source(e.get_ref().expect("custom error"));
        assert_eq!(source.expect("source").to_string(), "resolver silent");
    }
}
