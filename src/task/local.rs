//! `task_local!` and [`LocalKey`]: values scoped to a task and copied into the tasks it
//! spawns, as asyncio's `contextvars` are copied into each `create_task`.
//!
//! Rules (the values live in the runtime's `locals` module, under its rules):
//! 1. A value is set for the length of a future ([`LocalKey::scope`]) or a call
//!    ([`LocalKey::sync_scope`]), and visible only inside it: the scope puts it in
//!    around each poll and takes it out after, by unwinding too. Nested scopes of one key
//!    shadow the outer value until they end; a scope dropped mid-way or after a panic
//!    leaves the outer value in place.
//! 2. [`spawn`](crate::spawn) (and what spawns through it: `task::Builder::spawn`,
//!    `TaskGroup::spawn`, `shield`) gives the new task a copy (`Clone`) of every
//!    task-local visible to the spawner: [`set`](LocalKey::set) in one task is seen by
//!    neither its parent nor its siblings. Wrap a value in `Rc` to share it instead.
//! 3. [`spawn_on`](crate::spawn_on) and [`spawn_blocking`](crate::spawn_blocking) copy
//!    nothing: their work runs on another thread and a value need not be `Send`. Read
//!    the value first and move it into the closure (and into a new scope there).
//! 4. `Runtime::block_on` (and `run`) gives its main future a copy of the values set
//!    around the call; the runtime's other tasks start with none.
//! 5. A task without task-locals pays one thread-local read at spawn and nothing per poll.
#![forbid(unsafe_code)]

use crate::runtime::locals::{self, Busy, KeyId, Value};
use pin_project_lite::pin_project;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Declares task-local keys: `static NAME: Type;`, each a [`LocalKey`].
///
/// The type must be `Clone + 'static`: a spawned task starts with a copy (module rule 2).
///
/// # Examples
///
/// ```
/// ringio::task_local! {
///     static REQUEST_ID: u64;
///     pub static USER: String;
/// }
///
/// ringio::run(async {
///     REQUEST_ID
///         .scope(7, async {
///             assert_eq!(REQUEST_ID.get(), 7);
///             let child = ringio::spawn(async { REQUEST_ID.get() });
///             assert_eq!(child.await.unwrap(), 7);
///         })
///         .await;
///     assert!(USER.try_with(|u| u.len()).is_err());
/// });
/// ```
#[doc(alias = "ContextVar")]
#[doc(alias = "contextvars")]
#[macro_export]
macro_rules! task_local {
    () => {};
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty; $($rest:tt)*) => {
        $(#[$attr])*
        $vis static $name: $crate::task::LocalKey<$t> = $crate::task::LocalKey::__new(
            ::core::concat!(::core::module_path!(), "::", ::core::stringify!($name)),
        );
        $crate::task_local!($($rest)*);
    };
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty) => {
        $crate::task_local!($(#[$attr])* $vis static $name: $t;);
    };
}

/// A task-local key, declared with [`task_local!`](crate::task_local!): a value per
/// task, set by a scope and copied into the tasks spawned inside it.
///
/// # Examples
///
/// ```
/// ringio::task_local! { static DEPTH: u32; }
///
/// ringio::run(async {
///     DEPTH
///         .scope(1, async {
///             DEPTH.set(2);
///             assert_eq!(DEPTH.get(), 2);
///         })
///         .await;
/// });
/// ```
#[doc(alias = "ContextVar")]
pub struct LocalKey<T: 'static> {
    /// The key's path, for errors and `Debug`.
    name: &'static str,
    _value: PhantomData<fn() -> T>,
}

impl<T: 'static> LocalKey<T> {
    /// What [`task_local!`](crate::task_local!) expands to; not part of the public API.
    #[doc(hidden)]
    pub const fn __new(name: &'static str) -> LocalKey<T> {
        LocalKey {
            name,
            _value: PhantomData,
        }
    }

    /// Bindings know a key by the address of its `static` (unique, and the key is not
    /// zero-sized).
    fn id(&'static self) -> KeyId {
        std::ptr::from_ref(self).addr()
    }

    fn not_set(&'static self) -> AccessError {
        AccessError { key: self.name }
    }
}

impl<T: Clone + 'static> LocalKey<T> {
    /// Runs `fut` with this key set to `value`; a task spawned inside starts with a copy.
    ///
    /// The value is visible only while `fut` is being polled (module rule 1); when the
    /// scope ends, is dropped mid-way or its future panics, an outer value of the key is
    /// visible again. `fut`'s destructor sees the value too.
    ///
    /// # Panics
    ///
    /// When polled inside [`with`](Self::with) or [`try_with`](Self::try_with) of a
    /// task-local on this thread (a future polled by hand there).
    ///
    /// # Cancel safety
    ///
    /// As cancel-safe as `fut`: dropping the scope drops `fut` and its value.
    ///
    /// # Examples
    ///
    /// ```
    /// ringio::task_local! { static LEVEL: &'static str; }
    ///
    /// ringio::run(async {
    ///     LEVEL
    ///         .scope("outer", async {
    ///             LEVEL.scope("inner", async { assert_eq!(LEVEL.get(), "inner") }).await;
    ///             assert_eq!(LEVEL.get(), "outer");
    ///         })
    ///         .await;
    /// });
    /// ```
    #[doc(alias = "ContextVar.set")]
    #[doc(alias = "copy_context")]
    pub fn scope<F: Future>(&'static self, value: T, fut: F) -> Scope<T, F> {
        Scope {
            key: self,
            value: Some(Box::new(value)),
            fut: Some(fut),
        }
    }

    /// Calls `f` with this key set to `value`, as [`scope`](Self::scope) does for a
    /// future.
    ///
    /// # Panics
    ///
    /// Inside [`with`](Self::with) or [`try_with`](Self::try_with) of a task-local on
    /// this thread; and if `f` panics (the outer value is back by then).
    ///
    /// # Examples
    ///
    /// ```
    /// ringio::task_local! { static ATTEMPT: u32; }
    ///
    /// let n = ATTEMPT.sync_scope(3, || ATTEMPT.get() + 1);
    /// assert_eq!(n, 4);
    /// assert!(ATTEMPT.try_with(|_| ()).is_err());
    /// ```
    pub fn sync_scope<R>(&'static self, value: T, f: impl FnOnce() -> R) -> R {
        let mut slot = Some(Box::new(value));
        match self.enter(&mut slot, f) {
            Ok(r) => r,
            Err(busy) => self.busy(busy),
        }
    }

    /// Calls `f` with this key's value.
    ///
    /// # Panics
    ///
    /// If the key is not set here (outside its scopes, or in a task spawned with
    /// `spawn_on` or `spawn_blocking`: module rule 3), with a message naming the key.
    /// [`try_with`](Self::try_with) gives an error instead.
    ///
    /// # Examples
    ///
    /// ```
    /// ringio::task_local! { static PATH: String; }
    ///
    /// ringio::run(PATH.scope("/index.html".to_string(), async {
    ///     assert_eq!(PATH.with(|p| p.len()), 11);
    /// }));
    /// ```
    #[doc(alias = "ContextVar.get")]
    #[track_caller]
    pub fn with<R>(&'static self, f: impl FnOnce(&T) -> R) -> R {
        match self.try_with(f) {
            Ok(r) => r,
            Err(e) => panic!("{e}"),
        }
    }

    /// Calls `f` with this key's value, or fails if the key is not set here.
    ///
    /// `f` runs while the task-locals of this thread are borrowed: a
    /// [`set`](Self::set), a scope entered or a runtime started inside it panics.
    ///
    /// # Errors
    ///
    /// [`AccessError`] if the key is not set here (module rules 1 and 3).
    ///
    /// # Examples
    ///
    /// ```
    /// ringio::task_local! { static TRACE: u64; }
    ///
    /// ringio::run(async {
    ///     let err = TRACE.try_with(|t| *t).unwrap_err();
    ///     assert!(err.to_string().contains("TRACE"));
    ///     TRACE.scope(9, async { assert_eq!(TRACE.try_with(|t| *t), Ok(9)) }).await;
    /// });
    /// ```
    pub fn try_with<R>(&'static self, f: impl FnOnce(&T) -> R) -> Result<R, AccessError> {
        locals::with(self.id(), |value| match value {
            Some(v) => Ok(f(v
                .downcast_ref::<T>()
                .expect("a key's binding holds the key's type"))),
            None => Err(self.not_set()),
        })
    }

    /// A copy of this key's value.
    ///
    /// # Panics
    ///
    /// If the key is not set here, as [`with`](Self::with).
    ///
    /// # Examples
    ///
    /// ```
    /// ringio::task_local! { static REQUEST_ID: u64; }
    ///
    /// ringio::run(REQUEST_ID.scope(7, async { assert_eq!(REQUEST_ID.get(), 7) }));
    /// ```
    #[doc(alias = "ContextVar.get")]
    #[track_caller]
    pub fn get(&'static self) -> T {
        self.with(T::clone)
    }

    /// Replaces this key's value for the rest of the innermost scope (or, for a value
    /// the task inherited, for the rest of the task); the spawner, siblings and tasks
    /// already spawned keep theirs (module rule 2).
    ///
    /// # Panics
    ///
    /// If the key is not set here (as [`with`](Self::with)), or inside
    /// [`with`](Self::with) or [`try_with`](Self::try_with) of a task-local on this thread.
    ///
    /// # Examples
    ///
    /// ```
    /// ringio::task_local! { static STEP: u32; }
    ///
    /// ringio::run(STEP.scope(1, async {
    ///     let child = ringio::spawn(async {
    ///         STEP.set(2); // the child's own copy
    ///         STEP.get()
    ///     });
    ///     assert_eq!(child.await.unwrap(), 2);
    ///     assert_eq!(STEP.get(), 1);
    /// }));
    /// ```
    #[doc(alias = "ContextVar.set")]
    #[track_caller]
    pub fn set(&'static self, value: T) {
        match locals::set(self.id(), Box::new(value)) {
            Ok(old) => drop(old),
            Err((None, _)) => panic!("{}", self.not_set()),
            Err((Some(busy), _)) => self.busy(busy),
        }
    }

    /// Makes `slot`'s value this key's binding while `f` runs, then puts it (as `f` may
    /// have changed it) back into `slot`, by unwinding too; `Err` if the bindings cannot
    /// change now, without calling `f`.
    fn enter<R>(
        &'static self,
        slot: &mut Option<Box<T>>,
        f: impl FnOnce() -> R,
    ) -> Result<R, Busy> {
        let value: Box<dyn Value> = slot.take().expect("a scope's value is in it between polls");
        let prev = match locals::replace(self.id(), Some(value)) {
            Ok(prev) => prev,
            Err((busy, value)) => {
                *slot = value.map(downcast);
                return Err(busy);
            }
        };
        let _restore = Restore {
            key: self,
            slot,
            prev: Some(prev),
        };
        Ok(f())
    }

    #[track_caller]
    fn busy(&'static self, busy: Busy) -> ! {
        match busy {
            Busy::Borrowed => panic!(
                "task-local `{}`: cannot set a value or enter a scope inside `with` or \
                 `try_with` of a task-local on this thread",
                self.name
            ),
            Busy::Gone => panic!(
                "task-local `{}`: this thread's locals are being torn down",
                self.name
            ),
        }
    }
}

/// Puts a scope's value back in its slot and the outer binding back in place
/// (`LocalKey::enter`).
struct Restore<'a, T: Clone + 'static> {
    key: &'static LocalKey<T>,
    slot: &'a mut Option<Box<T>>,
    prev: Option<Option<Box<dyn Value>>>,
}

impl<T: Clone + 'static> Drop for Restore<'_, T> {
    fn drop(&mut self) {
        let prev = self.prev.take().flatten();
        // Fails only while the thread's locals are torn down: the value is lost with them.
        if let Ok(mine) = locals::replace(self.key.id(), prev) {
            *self.slot = mine.map(downcast);
        }
    }
}

fn downcast<T: 'static>(value: Box<dyn Value>) -> Box<T> {
    value
        .into_any()
        .downcast::<T>()
        .unwrap_or_else(|_| panic!("a key's binding holds the key's type"))
}

impl<T: 'static> fmt::Debug for LocalKey<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalKey")
            .field("name", &self.name)
            .finish()
    }
}

pin_project! {
    /// The future of [`LocalKey::scope`]: `fut` run with the key set.
    ///
    /// # Examples
    ///
    /// ```
    /// ringio::task_local! { static ID: u8; }
    ///
    /// ringio::run(async {
    ///     let scoped: ringio::task::Scope<u8, _> = ID.scope(1, async { ID.get() });
    ///     assert_eq!(scoped.await, 1);
    /// });
    /// ```
    #[must_use = "futures do nothing unless awaited"]
    pub struct Scope<T, F>
    where
        T: Clone,
        T: 'static,
    {
        key: &'static LocalKey<T>,
        // The value between polls; `None` while a poll has it in the bindings.
        value: Option<Box<T>>,
        #[pin]
        fut: Option<F>,
    }

    impl<T, F> PinnedDrop for Scope<T, F>
    where
        T: Clone,
        T: 'static,
    {
        fn drop(this: Pin<&mut Self>) {
            let mut this = this.project();
            if this.fut.is_none() || this.value.is_none() {
                return;
            }
            // `fut`'s destructor sees the value; if the bindings cannot change now, it
            // is dropped without it.
            if this.key.enter(this.value, || this.fut.set(None)).is_err() {
                this.fut.set(None);
            }
        }
    }
}

impl<T: Clone + 'static, F: Future> Future for Scope<T, F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let mut this = self.project();
        let key = *this.key;
        let res = key.enter(this.value, || {
            let fut = this
                .fut
                .as_mut()
                .as_pin_mut()
                .expect("Scope polled after it completed");
            let out = fut.poll(cx);
            if out.is_ready() {
                this.fut.set(None);
            }
            out
        });
        match res {
            Ok(out) => out,
            Err(busy) => key.busy(busy),
        }
    }
}

impl<T: Clone + fmt::Debug + 'static, F> fmt::Debug for Scope<T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope")
            .field("key", &self.key.name)
            .field("value", &self.value)
            .finish_non_exhaustive()
    }
}

/// A task-local was read where it is not set: outside its scopes, or in a task started
/// with `spawn_on` or `spawn_blocking` (which copy no task-locals).
///
/// # Examples
///
/// ```
/// ringio::task_local! { static USER: String; }
///
/// let err = USER.try_with(|u| u.clone()).unwrap_err();
/// assert!(err.to_string().starts_with("task-local `"));
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct AccessError {
    key: &'static str,
}

impl fmt::Display for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "task-local `{}` is not set here: set it with `scope` or `sync_scope` (a task \
             started with `spawn` copies its spawner's values, one started with `spawn_on` \
             or `spawn_blocking` has none)",
            self.key
        )
    }
}

impl fmt::Debug for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccessError({:?})", self.key)
    }
}

impl std::error::Error for AccessError {}
