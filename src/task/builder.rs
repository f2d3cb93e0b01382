//! Spawning with options: a task's name, given as asyncio's `create_task(coro, name=..)`.

use crate::JoinHandle;
use std::future::Future;
use std::sync::Arc;

/// Spawns a task with options; today its name, which [`JoinHandle::name`] gives back
/// and whose `Debug` shows.
///
/// # Examples
///
/// ```
/// use ringio::task::Builder;
///
/// ringio::run(async {
///     let h = Builder::new().name("fetch").spawn(async { 7 });
///     assert_eq!(h.name(), Some("fetch"));
///     assert_eq!(h.await.unwrap(), 7);
/// });
/// ```
#[doc(alias = "create_task")]
#[doc(alias = "Task.set_name")]
#[derive(Debug, Default, Clone)]
#[must_use = "a Builder does nothing until `spawn` is called"]
pub struct Builder {
    name: Option<Arc<str>>,
}

impl Builder {
    /// A builder with no name set.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// The task's name.
    pub fn name(mut self, name: impl Into<String>) -> Builder {
        self.name = Some(name.into().into());
        self
    }

    /// Spawns `fut` on the current core, as [`spawn`](crate::spawn) does.
    ///
    /// # Panics
    ///
    /// Outside a runtime.
    #[track_caller]
    pub fn spawn<F>(self, fut: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        crate::runtime::spawn_named(fut, self.name)
    }

    /// Spawns the future `make` builds on core `core`, as [`spawn_on`](crate::spawn_on)
    /// does.
    ///
    /// # Panics
    ///
    /// Outside a runtime, or if the runtime has no core `core`.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = ringio::Runtime::builder().workers(2).build().unwrap();
    /// rt.block_on(async {
    ///     let h = ringio::task::Builder::new()
    ///         .name("on-core-1")
    ///         .spawn_on(1, || async { ringio::runtime::current_core() });
    ///     assert_eq!(h.name(), Some("on-core-1"));
    ///     assert_eq!(h.await.unwrap(), 1);
    /// });
    /// ```
    #[track_caller]
    pub fn spawn_on<M, F>(self, core: usize, make: M) -> JoinHandle<F::Output>
    where
        M: FnOnce() -> F + Send + 'static,
        F: Future + 'static,
        F::Output: Send + 'static,
    {
        crate::runtime::spawn_on_named(core, make, self.name)
    }
}
