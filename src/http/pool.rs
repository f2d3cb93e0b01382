//! The per-core connection pool behind [`Client`](super::Client): idle HTTP/1.1
//! connections keyed by (scheme, host, port), a FIFO cap on connections per host, and
//! the task that closes connections left idle too long. Module rules 2-5 in
//! [`crate::http`] say what it promises.

use super::body::RequestBody;
use crate::sync::Semaphore;
use crate::time::Instant;
use hyper::client::conn::http1::SendRequest;
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::rc::{Rc, Weak};
use std::time::Duration;

/// `http` or `https`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Scheme {
    Http,
    Https,
}

/// What a pooled connection may be reused for: the same scheme, host and port.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    pub(crate) scheme: Scheme,
    /// The host as the URL names it, without an IPv6 literal's brackets.
    pub(crate) host: String,
    pub(crate) port: u16,
}

impl Key {
    /// `scheme://host:port/`, for errors about the whole origin.
    pub(crate) fn url(&self) -> String {
        let scheme = match self.scheme {
            Scheme::Http => "http",
            Scheme::Https => "https",
        };
        format!("{scheme}://{self}/")
    }
}

impl fmt::Display for Key {
    /// `host:port`, with brackets around an IPv6 literal.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// The pool's settings.
#[derive(Clone, Debug)]
pub(crate) struct PoolConfig {
    pub(crate) idle_timeout: Duration,
    pub(crate) max_idle_per_host: usize,
    pub(crate) max_connections_per_host: Option<usize>,
}

/// The connections of one core's client.
pub(crate) struct Pool {
    config: PoolConfig,
    hosts: RefCell<HashMap<Key, Host>>,
    opened: Cell<u64>,
    reaper_running: Cell<bool>,
}

/// One origin's idle connections and its connection cap.
struct Host {
    /// Oldest first: connections go back at the end and are taken from the end (the
    /// most recently used is the likeliest still open), and the reaper closes from the
    /// front.
    idle: VecDeque<Idle>,
    /// One permit per connection that is busy or being opened (rule 3).
    slots: Option<Rc<Semaphore>>,
    /// Checkouts under way and connections handed out: while any, the entry stays, so
    /// that waiters keep their place in `slots`' line.
    users: usize,
}

struct Idle {
    send: SendRequest<RequestBody>,
    since: Instant,
}

/// A connection handed out for one request: back to the pool with [`Pool::put_idle`],
/// closed if dropped.
pub(crate) struct Conn {
    pub(crate) send: SendRequest<RequestBody>,
    /// Whether it came from the idle list (and so may have been closed by the peer
    /// meanwhile) rather than just opened.
    pub(crate) reused: bool,
    checkout: Checkout,
}

/// A place in a host's books: a user count and, with a cap, one slot permit. Given back
/// on drop.
pub(crate) struct Checkout {
    pool: Weak<Pool>,
    key: Key,
    slot: Option<Rc<Semaphore>>,
}

impl Drop for Checkout {
    fn drop(&mut self) {
        // The permit first: a waiter woken by it finds the idle connection that
        // `put_idle` pushed before dropping this.
        if let Some(slot) = self.slot.take() {
            slot.add_permits(1);
        }
        if let Some(pool) = self.pool.upgrade() {
            let mut hosts = pool.hosts.borrow_mut();
            if let Some(host) = hosts.get_mut(&self.key) {
                host.users -= 1;
                if host.users == 0 && host.idle.is_empty() {
                    hosts.remove(&self.key);
                }
            }
        }
    }
}

impl Pool {
    pub(crate) fn new(config: PoolConfig) -> Pool {
        Pool {
            config,
            hosts: RefCell::new(HashMap::new()),
            opened: Cell::new(0),
            reaper_running: Cell::new(false),
        }
    }

    /// Connections opened so far.
    pub(crate) fn opened(&self) -> u64 {
        self.opened.get()
    }

    /// Idle connections held now, over every host.
    pub(crate) fn idle(&self) -> usize {
        self.hosts.borrow().values().map(|h| h.idle.len()).sum()
    }

    /// Waits for a slot for `key` (with a cap; FIFO), then returns an idle connection
    /// that is still open and ready, or `Err(checkout)` for the caller to open one in
    /// that slot.
    pub(crate) async fn checkout(self: &Rc<Pool>, key: &Key) -> Result<Conn, Checkout> {
        let slots = {
            let mut hosts = self.hosts.borrow_mut();
            let host = hosts.entry(key.clone()).or_insert_with(|| Host {
                idle: VecDeque::new(),
                slots: self
                    .config
                    .max_connections_per_host
                    .map(|n| Rc::new(Semaphore::new(n))),
                users: 0,
            });
            host.users += 1;
            host.slots.clone()
        };
        // Counted in `users` from here on: the guard gives it back on every path.
        let mut checkout = Checkout {
            pool: Rc::downgrade(self),
            key: key.clone(),
            slot: None,
        };
        if let Some(slots) = slots {
            // The permit is handed to `checkout` (given back with `add_permits` when
            // it is dropped): a `Permit` borrows its semaphore and cannot travel with
            // the connection. The semaphore is never closed, so `acquire` cannot fail.
            slots.acquire().await.forget();
            checkout.slot = Some(slots);
        }
        match self.take_idle(key) {
            Some(send) => Ok(Conn {
                send,
                reused: true,
                checkout,
            }),
            None => Err(checkout),
        }
    }

    /// A connection just opened in `checkout`'s slot.
    pub(crate) fn opened_conn(&self, send: SendRequest<RequestBody>, checkout: Checkout) -> Conn {
        self.opened.set(self.opened.get() + 1);
        Conn {
            send,
            reused: false,
            checkout,
        }
    }

    /// The newest idle connection of `key` that is open, ready and not expired.
    fn take_idle(&self, key: &Key) -> Option<SendRequest<RequestBody>> {
        let mut hosts = self.hosts.borrow_mut();
        let host = hosts.get_mut(key)?;
        let now = Instant::now();
        while let Some(idle) = host.idle.pop_back() {
            if self.expired(&idle, now) {
                // Every one before it is older still.
                host.idle.clear();
                return None;
            }
            if idle.send.is_ready() && !idle.send.is_closed() {
                return Some(idle.send);
            }
        }
        None
    }

    fn expired(&self, idle: &Idle, now: Instant) -> bool {
        now.checked_duration_since(idle.since)
            .is_some_and(|d| d >= self.config.idle_timeout)
    }

    /// Puts a connection whose last response is over (its sender is ready) back for the
    /// next request to its host, or closes it if the host keeps enough idle ones.
    pub(crate) fn put_idle(self: &Rc<Pool>, conn: Conn) {
        let Conn { send, checkout, .. } = conn;
        let keep = self.config.max_idle_per_host > 0
            && !self.config.idle_timeout.is_zero()
            && send.is_ready()
            && !send.is_closed();
        if keep {
            let mut hosts = self.hosts.borrow_mut();
            if let Some(host) = hosts.get_mut(&checkout.key) {
                while host.idle.len() >= self.config.max_idle_per_host {
                    host.idle.pop_front();
                }
                host.idle.push_back(Idle {
                    send,
                    since: Instant::now(),
                });
            }
            drop(hosts);
            self.start_reaper();
        }
        drop(checkout);
    }

    /// Starts the task that closes idle connections once they pass the idle timeout,
    /// unless it runs already.
    fn start_reaper(self: &Rc<Pool>) {
        if self.reaper_running.replace(true) {
            return;
        }
        let pool = Rc::downgrade(self);
        drop(crate::spawn(async move {
            loop {
                // Holds the pool only between sleeps: a dropped client ends this task.
                let Some(strong) = pool.upgrade() else { return };
                let Some(next) = strong.close_expired() else {
                    strong.reaper_running.set(false);
                    return;
                };
                drop(strong);
                crate::time::sleep_until(next).await;
            }
        }));
    }

    /// Closes every idle connection past the idle timeout or closed by its peer; returns
    /// when the next of the others expires.
    fn close_expired(&self) -> Option<Instant> {
        let now = Instant::now();
        let mut next: Option<Instant> = None;
        let mut hosts = self.hosts.borrow_mut();
        hosts.retain(|_, host| {
            host.idle.retain(|idle| {
                let keep = !self.expired(idle, now) && !idle.send.is_closed();
                if keep {
                    let at = idle.since + self.config.idle_timeout;
                    next = Some(next.map_or(at, |n| if at < n { at } else { n }));
                }
                keep
            });
            host.users > 0 || !host.idle.is_empty()
        });
        drop(hosts);
        next
    }
}
