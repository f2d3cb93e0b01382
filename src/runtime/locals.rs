//! Where task-local values live while code runs: the bindings of this thread
//! ([`task::LocalKey`](crate::task::LocalKey) reads and writes them), swapped in and out
//! around each poll.
//!
//! Rules:
//! 1. `CURRENT` holds the bindings visible to the code running on this thread now. At the
//!    loop level (between two task polls) it is empty: whatever puts bindings in around a
//!    poll (a task's [`WithLocals`], a `Scope`) takes them out again when the poll ends,
//!    by unwinding too, so a task without task-locals sees none and pays nothing.
//! 2. A task spawned on its core while bindings are visible ([`inherit`]) gets a copy
//!    (`Clone`) of each: its own [`Locals`], swapped into `CURRENT` around each of its
//!    polls. A change in the copy is not seen by the spawner and the reverse.
//! 3. `spawn_on` and `spawn_blocking` copy nothing: their work runs on another thread,
//!    where a value that is not `Send` could not go.
//! 4. No user code (a value's `clone` aside, under a shared borrow) runs while `CURRENT`
//!    is borrowed: values replaced or taken out are dropped after the borrow ends.
#![forbid(unsafe_code)]

use pin_project_lite::pin_project;
use std::any::Any;
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// One task-local's value, its type erased.
pub(crate) trait Value: Any {
    /// A copy for a spawned task (rule 2).
    fn clone_value(&self) -> Box<dyn Value>;
    fn as_any(&self) -> &dyn Any;
    fn into_any(self: Box<Self>) -> Box<dyn Any>;
}

impl<T: Any + Clone> Value for T {
    fn clone_value(&self) -> Box<dyn Value> {
        Box::new(self.clone())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

/// Which task-local a binding is for: the address of its `static` (each `static` has
/// its own address, and a `LocalKey` is not zero-sized).
pub(crate) type KeyId = usize;

struct Binding {
    key: KeyId,
    value: Box<dyn Value>,
}

/// A set of bindings, one per key: a task's own (rule 2), or this thread's.
#[derive(Default)]
pub(crate) struct Locals(Vec<Binding>);

impl Locals {
    fn position(&self, key: KeyId) -> Option<usize> {
        self.0.iter().position(|b| b.key == key)
    }

    /// Copies every value (rule 2).
    fn copy(&self) -> Locals {
        Locals(
            self.0
                .iter()
                .map(|b| Binding {
                    key: b.key,
                    value: b.value.clone_value(),
                })
                .collect(),
        )
    }
}

thread_local! {
    static CURRENT: RefCell<Locals> = const { RefCell::new(Locals(Vec::new())) };
}

/// Why a binding could not be changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Busy {
    /// `with` (or `try_with`) holds a reference into the bindings on this thread.
    Borrowed,
    /// This thread's locals are being torn down.
    Gone,
}

/// Runs `f` with key's value on this thread (`None` if it has none). `f` runs under a
/// shared borrow: changing a binding inside it fails with [`Busy::Borrowed`].
pub(crate) fn with<R>(key: KeyId, f: impl FnOnce(Option<&dyn Any>) -> R) -> R {
    let mut f = Some(f);
    let res = CURRENT.try_with(|cur| {
        let cur = cur.borrow();
        let value = cur.position(key).map(|i| cur.0[i].value.as_any());
        (f.take().expect("called once"))(value)
    });
    match res {
        Ok(r) => r,
        Err(_) => (f.take().expect("not called when the locals are gone"))(None),
    }
}

/// Makes `value` key's binding on this thread (`None` removes it) and gives back the one
/// it replaced, to be dropped by the caller (rule 4).
#[allow(clippy::type_complexity)]
pub(crate) fn replace(
    key: KeyId,
    value: Option<Box<dyn Value>>,
) -> Result<Option<Box<dyn Value>>, (Busy, Option<Box<dyn Value>>)> {
    let mut value = Some(value);
    let res = CURRENT.try_with(|cur| {
        let Ok(mut cur) = cur.try_borrow_mut() else {
            return Err(Busy::Borrowed);
        };
        let value = value.take().expect("taken once");
        Ok(match (cur.position(key), value) {
            (Some(i), Some(v)) => Some(std::mem::replace(&mut cur.0[i].value, v)),
            (Some(i), None) => Some(cur.0.swap_remove(i).value),
            (None, Some(v)) => {
                cur.0.push(Binding { key, value: v });
                None
            }
            (None, None) => None,
        })
    });
    match res {
        Ok(Ok(old)) => Ok(old),
        Ok(Err(busy)) => Err((busy, value.flatten())),
        Err(_) => Err((Busy::Gone, value.flatten())),
    }
}

/// Replaces key's existing binding by `value` and gives back the old value; `Err` gives
/// `value` back, with why: key has no binding here (`None`), or [`Busy`].
#[allow(clippy::type_complexity)]
pub(crate) fn set(
    key: KeyId,
    value: Box<dyn Value>,
) -> Result<Box<dyn Value>, (Option<Busy>, Box<dyn Value>)> {
    let mut value = Some(value);
    let res = CURRENT.try_with(|cur| {
        let Ok(mut cur) = cur.try_borrow_mut() else {
            return Err(Some(Busy::Borrowed));
        };
        let i = cur.position(key).ok_or(None)?;
        let value = value.take().expect("taken once");
        Ok(std::mem::replace(&mut cur.0[i].value, value))
    });
    let why = match res {
        Ok(Ok(old)) => return Ok(old),
        Ok(Err(why)) => why,
        Err(_) => Some(Busy::Gone),
    };
    Err((why, value.expect("not taken on failure")))
}

/// A copy of the bindings visible here for a task spawned now, or `None` (the common
/// case, costing one thread-local read) if there are none (rule 2).
pub(crate) fn inherit() -> Option<Locals> {
    CURRENT
        .try_with(|cur| {
            let cur = cur.borrow();
            (!cur.0.is_empty()).then(|| cur.copy())
        })
        .ok()
        .flatten()
}

/// Sets this thread's bindings aside while a runtime runs on it, so rule 1 holds in its
/// loop, and gives a copy of them for its main future (asyncio's `run` copies the
/// context too); they are back when the guard drops.
///
/// # Panics
///
/// Inside `LocalKey::with` or `try_with`, which borrow the bindings for their closure.
pub(crate) fn set_aside() -> (Locals, SetAside) {
    let outer = CURRENT
        .try_with(|cur| {
            let mut cur = cur.try_borrow_mut().unwrap_or_else(|_| {
                panic!(
                    "cannot start a ringio runtime inside a task-local's `with` or \
                     `try_with`: read the value first (`get`), then start the runtime"
                )
            });
            std::mem::take(&mut *cur)
        })
        .unwrap_or_default();
    (outer.copy(), SetAside(outer))
}

/// Puts back the bindings [`set_aside`] took.
pub(crate) struct SetAside(Locals);

impl Drop for SetAside {
    fn drop(&mut self) {
        // What is left in their place (nothing, by rule 1) is dropped after the borrow.
        let _ = CURRENT.try_with(|cur| std::mem::swap(&mut *cur.borrow_mut(), &mut self.0));
    }
}

/// Swaps `locals` with this thread's bindings until dropped, by unwinding too (rule 1).
struct Swapped<'a>(&'a mut Locals);

impl<'a> Swapped<'a> {
    fn new(locals: &'a mut Locals) -> Swapped<'a> {
        swap(locals);
        Swapped(locals)
    }
}

impl Drop for Swapped<'_> {
    fn drop(&mut self) {
        swap(self.0);
    }
}

fn swap(locals: &mut Locals) {
    let _ = CURRENT.try_with(|cur| {
        std::mem::swap(
            &mut *cur
                .try_borrow_mut()
                .expect("task-locals are not borrowed between polls (locals rule 4)"),
            locals,
        );
    });
}

pin_project! {
    /// A task's future with the task-locals it inherited (rule 2), visible while it is
    /// polled and while it is dropped.
    pub(crate) struct WithLocals<F> {
        locals: Locals,
        #[pin]
        fut: Option<F>,
    }

    impl<F> PinnedDrop for WithLocals<F> {
        fn drop(this: Pin<&mut Self>) {
            let mut this = this.project();
            let _in = Swapped::new(this.locals);
            this.fut.set(None);
        }
    }
}

impl<F> WithLocals<F> {
    pub(crate) fn new(locals: Locals, fut: F) -> WithLocals<F> {
        WithLocals {
            locals,
            fut: Some(fut),
        }
    }
}

impl<F: Future> Future for WithLocals<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let mut this = self.project();
        // Empty (a main future that inherited nothing): `CURRENT` is empty too (rule 1),
        // so a swap would change nothing.
        let _in = (!this.locals.0.is_empty()).then(|| Swapped::new(this.locals));
        let fut = this
            .fut
            .as_mut()
            .as_pin_mut()
            .expect("WithLocals polled after it completed");
        let out = fut.poll(cx);
        if out.is_ready() {
            // Its destructor sees its task-locals too.
            this.fut.set(None);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: KeyId = 1;
    const B: KeyId = 2;

    fn value_of(key: KeyId) -> Option<u32> {
        with(key, |v| v.map(|v| *v.downcast_ref::<u32>().expect("a u32")))
    }

    #[test]
    fn replace_shadows_and_gives_back_the_outer_binding() {
        assert!(replace(A, Some(Box::new(1u32))).ok().unwrap().is_none());
        let outer = replace(A, Some(Box::new(2u32))).ok().unwrap();
        assert_eq!(value_of(A), Some(2));
        let inner = replace(A, outer).ok().unwrap();
        assert_eq!(value_of(A), Some(1));
        assert!(inner.is_some());
        assert!(replace(A, None).ok().unwrap().is_some());
        assert_eq!(value_of(A), None);
    }

    #[test]
    fn set_needs_a_binding_and_a_free_borrow() {
        let (why, _) = set(B, Box::new(1u32)).err().unwrap();
        assert_eq!(why, None);
        let _ = replace(B, Some(Box::new(1u32)));
        assert!(set(B, Box::new(5u32)).is_ok());
        assert_eq!(value_of(B), Some(5));
        let busy = with(B, |_| set(B, Box::new(6u32)).err().map(|(why, _)| why));
        assert_eq!(busy, Some(Some(Busy::Borrowed)));
        assert_eq!(value_of(B), Some(5));
        let _ = replace(B, None);
    }

    #[test]
    fn inherit_copies_and_costs_nothing_when_empty() {
        assert!(inherit().is_none());
        let _ = replace(A, Some(Box::new(7u32)));
        let mut copy = inherit().expect("one binding");
        let _ = replace(A, None);
        assert_eq!(value_of(A), None);
        {
            let _in = Swapped::new(&mut copy);
            assert_eq!(value_of(A), Some(7));
        }
        assert_eq!(value_of(A), None, "swapped out again");
    }

    #[test]
    fn set_aside_empties_the_thread_until_the_guard_drops() {
        let _ = replace(A, Some(Box::new(3u32)));
        let (main, guard) = set_aside();
        assert_eq!(value_of(A), None);
        assert_eq!(main.0.len(), 1);
        drop(guard);
        assert_eq!(value_of(A), Some(3));
        let _ = replace(A, None);
    }
}
