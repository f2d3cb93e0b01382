//! `gather!` and `try_gather!`: a fixed set of futures of different types, awaited at once.
//!
//! The macros pin each future on the caller's stack (inside the caller's own future),
//! so they allocate nothing per future; a [`ReadySet`](super::ready::ReadySet) tells
//! them which futures were woken (module rule 2).

use pin_project_lite::pin_project;
use std::future::Future;
use std::ops::ControlFlow;
use std::pin::Pin;
use std::task::{Context, Poll};

pin_project! {
    /// A future and then its output. Public only for the macros.
    #[doc(hidden)]
    pub struct MaybeDone<F: Future> {
        #[pin]
        fut: Option<F>,
        output: Option<F::Output>,
    }
}

impl<F: Future> MaybeDone<F> {
    /// Wraps a future not yet polled.
    pub fn new(fut: F) -> Self {
        MaybeDone {
            fut: Some(fut),
            output: None,
        }
    }

    /// Polls the future if it is still running; drops it as soon as it finishes.
    pub fn poll_done(self: Pin<&mut Self>, cx: &mut Context<'_>) {
        let mut this = self.project();
        if let Some(fut) = this.fut.as_mut().as_pin_mut()
            && let Poll::Ready(out) = fut.poll(cx)
        {
            this.fut.set(None);
            *this.output = Some(out);
        }
    }

    /// Whether the future has finished.
    pub fn is_done(&self) -> bool {
        self.fut.is_none()
    }

    /// Takes the output of a finished future.
    ///
    /// # Panics
    ///
    /// If the future has not finished or its output was already taken.
    pub fn take_output(self: Pin<&mut Self>) -> F::Output {
        self.project()
            .output
            .take()
            .expect("the macro takes an output once, after every future finished")
    }
}

impl<F, T, E> MaybeDone<F>
where
    F: Future<Output = Result<T, E>>,
{
    /// Like [`poll_done`](Self::poll_done), but hands out an `Err` at once instead of
    /// keeping it.
    pub fn poll_try(self: Pin<&mut Self>, cx: &mut Context<'_>) -> ControlFlow<E> {
        let mut this = self.project();
        if let Some(fut) = this.fut.as_mut().as_pin_mut()
            && let Poll::Ready(out) = fut.poll(cx)
        {
            this.fut.set(None);
            match out {
                Ok(v) => *this.output = Some(Ok(v)),
                Err(e) => return ControlFlow::Break(e),
            }
        }
        ControlFlow::Continue(())
    }

    /// Takes the `Ok` output of a future that finished with `Ok`.
    ///
    /// # Panics
    ///
    /// If the future has not finished or its output was already taken.
    pub fn take_ok(self: Pin<&mut Self>) -> T {
        match self.take_output() {
            Ok(v) => v,
            Err(_) => unreachable!("poll_try never keeps an Err"),
        }
    }
}

/// Awaits every future at once and evaluates to the tuple of their outputs, in
/// argument order.
///
/// Use it inside an `async` block or function: it awaits by itself, like asyncio's
/// `await gather(a, b)`. The futures may have different types; they run concurrently on
/// the current task (nothing is spawned), each polled only when woken (`task` module
/// rule 2). For a list of futures of one type, see [`task::gather`](crate::task::gather()).
///
/// # Cancel safety
///
/// Not cancel-safe: dropping the enclosing future drops every future still running,
/// and the outputs of those that already finished are lost.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// ringio::run(async {
///     let slow = async {
///         ringio::time::sleep(Duration::from_millis(10)).await;
///         "slow"
///     };
///     let fast = async { 42 };
///     let (a, b) = ringio::gather!(slow, fast);
///     assert_eq!((a, b), ("slow", 42));
/// });
/// ```
#[doc(alias = "asyncio.gather")]
#[doc(alias = "join")]
#[macro_export]
macro_rules! gather {
    (@ { ( $($all:tt)* ) $( ( $($skip:tt)* ) $e:expr, )* }) => {{
        let __ready = $crate::task::__private::ReadySet::new(
            <[&str]>::len(&[$( ::core::stringify!($all) ),*]),
        );
        let mut __futs = ( $( ::core::pin::pin!($crate::task::__private::MaybeDone::new($e)), )* );
        ::core::future::poll_fn(|__cx| {
            let _ = __ready.poll_woken::<()>(__cx, |__i, __cx| {
                $(
                    if __i == <[&str]>::len(&[$( ::core::stringify!($skip) ),*]) {
                        let ( $($skip,)* __fut, .. ) = &mut __futs;
                        __fut.as_mut().poll_done(__cx);
                    }
                )*
                ::core::ops::ControlFlow::Continue(())
            });
            if true $( && { let ( $($skip,)* __fut, .. ) = &mut __futs; __fut.is_done() } )* {
                ::core::task::Poll::Ready(( $( {
                    let ( $($skip,)* __fut, .. ) = &mut __futs;
                    __fut.as_mut().take_output()
                }, )* ))
            } else {
                ::core::task::Poll::Pending
            }
        }).await
    }};
    // Gives each future the list of `_` that skips the futures before it in the tuple.
    (@ { ( $($s:tt)* ) $($done:tt)* } $e:expr, $($rest:tt)*) => {
        $crate::gather!(@ { ( $($s)* _ ) $($done)* ( $($s)* ) $e, } $($rest)*)
    };
    ( $($e:expr),+ $(,)? ) => {
        $crate::gather!(@ { () } $($e,)+)
    };
}

/// Awaits every future at once and evaluates to `Ok` of the tuple of their outputs, or
/// to the first `Err`, after dropping (cancelling) every future still running.
///
/// Every future must give a `Result` with the same error type. Like
/// [`gather!`](crate::gather!) it awaits by itself, spawns nothing and polls each
/// future only when woken. For a list of futures of one type, see
/// [`task::try_gather`](crate::task::try_gather).
///
/// # Errors
///
/// The first `Err` a future returns, in completion order.
///
/// # Cancel safety
///
/// Not cancel-safe: dropping the enclosing future drops every future still running,
/// and the outputs of those that already finished are lost.
///
/// # Examples
///
/// ```
/// ringio::run(async {
///     let ok = ringio::try_gather!(async { Ok::<_, String>(1) }, async { Ok("two") });
///     assert_eq!(ok, Ok((1, "two")));
///
///     let err = ringio::try_gather!(async { Ok(1) }, async { Err::<(), _>("bad") });
///     assert_eq!(err, Err("bad"));
/// });
/// ```
#[doc(alias = "asyncio.gather")]
#[doc(alias = "try_join")]
#[macro_export]
macro_rules! try_gather {
    (@ { ( $($all:tt)* ) $( ( $($skip:tt)* ) $e:expr, )* }) => {{
        let __ready = $crate::task::__private::ReadySet::new(
            <[&str]>::len(&[$( ::core::stringify!($all) ),*]),
        );
        let mut __futs = ( $( ::core::pin::pin!($crate::task::__private::MaybeDone::new($e)), )* );
        ::core::future::poll_fn(|__cx| {
            let __flow = __ready.poll_woken(__cx, |__i, __cx| {
                $(
                    if __i == <[&str]>::len(&[$( ::core::stringify!($skip) ),*]) {
                        let ( $($skip,)* __fut, .. ) = &mut __futs;
                        return __fut.as_mut().poll_try(__cx);
                    }
                )*
                ::core::ops::ControlFlow::Continue(())
            });
            if let ::core::ops::ControlFlow::Break(__e) = __flow {
                // The other futures are dropped with `__futs` when this block ends,
                // before the caller sees the error.
                return ::core::task::Poll::Ready(::core::result::Result::Err(__e));
            }
            if true $( && { let ( $($skip,)* __fut, .. ) = &mut __futs; __fut.is_done() } )* {
                ::core::task::Poll::Ready(::core::result::Result::Ok(( $( {
                    let ( $($skip,)* __fut, .. ) = &mut __futs;
                    __fut.as_mut().take_ok()
                }, )* )))
            } else {
                ::core::task::Poll::Pending
            }
        }).await
    }};
    (@ { ( $($s:tt)* ) $($done:tt)* } $e:expr, $($rest:tt)*) => {
        $crate::try_gather!(@ { ( $($s)* _ ) $($done)* ( $($s)* ) $e, } $($rest)*)
    };
    ( $($e:expr),+ $(,)? ) => {
        $crate::try_gather!(@ { () } $($e,)+)
    };
}
