//! `Instant`: the runtime's monotonic clock.

use std::fmt;
use std::ops::{Add, AddAssign, Sub, SubAssign};
use std::time::Duration;

/// A point on the runtime's monotonic clock, the clock every timer in `ringio::time` uses.
///
/// A thin wrapper over [`std::time::Instant`], kept separate so the clock can be paused
/// and advanced in tests without changing user code (feature `test-util`:
/// `ringio::time::pause` makes `now` read the current core's paused clock).
///
/// # Examples
///
/// ```
/// use ringio::time::Instant;
/// use std::time::Duration;
///
/// let start = Instant::now();
/// let later = start + Duration::from_millis(5);
/// assert_eq!(later - start, Duration::from_millis(5));
/// assert!(later > start);
/// ```
#[doc(alias = "loop.time")]
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(std::time::Instant);

impl Instant {
    /// The current time on the runtime's clock.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::time::Instant;
    ///
    /// let a = Instant::now();
    /// let b = Instant::now();
    /// assert!(b >= a);
    /// ```
    #[doc(alias = "loop.time")]
    #[doc(alias = "time")]
    #[must_use]
    pub fn now() -> Instant {
        #[cfg(feature = "test-util")]
        return Instant(crate::runtime::handle::clock_now());
        #[cfg(not(feature = "test-util"))]
        Instant(std::time::Instant::now())
    }

    /// The same point in time as a [`std::time::Instant`].
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::time::Instant;
    ///
    /// let now = Instant::now();
    /// assert_eq!(Instant::from(now.into_std()), now);
    /// ```
    #[must_use]
    pub fn into_std(self) -> std::time::Instant {
        self.0
    }

    /// Time from `earlier` to `self`, zero if `earlier` is later.
    ///
    /// Saturates like [`std::time::Instant::duration_since`] does since Rust 1.60.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::time::Instant;
    /// use std::time::Duration;
    ///
    /// let a = Instant::now();
    /// let b = a + Duration::from_secs(1);
    /// assert_eq!(b.duration_since(a), Duration::from_secs(1));
    /// assert_eq!(a.duration_since(b), Duration::ZERO);
    /// ```
    #[must_use]
    pub fn duration_since(&self, earlier: Instant) -> Duration {
        self.0.saturating_duration_since(earlier.0)
    }

    /// Time from `earlier` to `self`, or `None` if `earlier` is later.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::time::Instant;
    /// use std::time::Duration;
    ///
    /// let a = Instant::now();
    /// let b = a + Duration::from_secs(1);
    /// assert_eq!(b.checked_duration_since(a), Some(Duration::from_secs(1)));
    /// assert_eq!(a.checked_duration_since(b), None);
    /// ```
    #[must_use]
    pub fn checked_duration_since(&self, earlier: Instant) -> Option<Duration> {
        self.0.checked_duration_since(earlier.0)
    }

    /// Time passed since `self`, zero if `self` is in the future.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::time::Instant;
    /// use std::time::Duration;
    ///
    /// let start = Instant::now();
    /// assert!(start.elapsed() < Duration::from_secs(60));
    /// ```
    #[must_use]
    pub fn elapsed(&self) -> Duration {
        Instant::now().duration_since(*self)
    }

    /// `self + duration`, or `None` if the result cannot be represented.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::time::Instant;
    /// use std::time::Duration;
    ///
    /// let now = Instant::now();
    /// assert!(now.checked_add(Duration::from_secs(1)).is_some());
    /// assert!(now.checked_add(Duration::MAX).is_none());
    /// ```
    #[must_use]
    pub fn checked_add(&self, duration: Duration) -> Option<Instant> {
        self.0.checked_add(duration).map(Instant)
    }

    /// `self - duration`, or `None` if the result cannot be represented.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::time::Instant;
    /// use std::time::Duration;
    ///
    /// let now = Instant::now();
    /// assert!(now.checked_sub(Duration::MAX).is_none());
    /// ```
    #[must_use]
    pub fn checked_sub(&self, duration: Duration) -> Option<Instant> {
        self.0.checked_sub(duration).map(Instant)
    }
}

impl From<std::time::Instant> for Instant {
    fn from(instant: std::time::Instant) -> Instant {
        Instant(instant)
    }
}

impl From<Instant> for std::time::Instant {
    fn from(instant: Instant) -> std::time::Instant {
        instant.0
    }
}

/// # Panics
///
/// Panics if the result cannot be represented; use [`Instant::checked_add`] to avoid it.
impl Add<Duration> for Instant {
    type Output = Instant;

    fn add(self, duration: Duration) -> Instant {
        Instant(self.0 + duration)
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, duration: Duration) {
        self.0 += duration;
    }
}

/// # Panics
///
/// Panics if the result cannot be represented; use [`Instant::checked_sub`] to avoid it.
impl Sub<Duration> for Instant {
    type Output = Instant;

    fn sub(self, duration: Duration) -> Instant {
        Instant(self.0 - duration)
    }
}

impl SubAssign<Duration> for Instant {
    fn sub_assign(&mut self, duration: Duration) {
        self.0 -= duration;
    }
}

/// Saturates at zero, like [`Instant::duration_since`].
impl Sub<Instant> for Instant {
    type Output = Duration;

    fn sub(self, earlier: Instant) -> Duration {
        self.duration_since(earlier)
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
