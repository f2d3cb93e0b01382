//! `#[ringio::main]` and `#[ringio::test]`: an `async fn` run on a ringio runtime.
//!
//! Use them through `ringio` (feature `macros`, on by default), which re-exports them and
//! whose docs carry the runnable examples; this crate only expands them.
//!
//! Rules:
//! 1. **Paths from the root.** The expansion names everything as `::ringio::...` and
//!    `::core::...`, so it works in any crate that depends on `ringio`, whatever it
//!    imports or renames locally.
//! 2. **The body stays a function.** The `async fn` becomes a nested `async fn` with the
//!    same return type, so `?`, `return` and `-> Result<..>` mean what they mean there.
//! 3. **Errors point at the input.** Every refused input (not `async`, arguments, generic
//!    parameters, an unknown or repeated option, `workers = 0`, `start_paused` without
//!    ringio's `test-util` feature) is a compile error spanning the offending tokens.
#![forbid(unsafe_code)]

mod expand;

use proc_macro::TokenStream;

/// Runs an `async fn main` on a ringio runtime.
///
/// `#[ringio::main] async fn main() { .. }` (or `-> Result<..>`) builds a runtime with
/// `ringio::Runtime::builder().workers(1).build()`, runs the body with `block_on`, and
/// drops the runtime before returning the body's output.
///
/// Options, comma-separated: `workers = N` (N ≥ 1; default 1) and
/// `start_paused = true` (pauses the clock of the core running the body before it
/// starts, `ringio::time::pause`; needs ringio's feature `test-util`).
///
/// # Panics
///
/// The generated function panics if the runtime cannot start, with the cause.
///
/// # Examples
///
/// The examples are on `ringio::main` (the re-export), where `ringio` is in scope.
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::expand(expand::Kind::Main, args.into(), item.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Runs an `async fn` test on its own ringio runtime.
///
/// As [`macro@main`], and adds `#[test]`; other attributes (`#[should_panic]`,
/// `#[ignore]`) stay on the test. Options: `workers = N`, `start_paused = true`.
///
/// # Panics
///
/// The generated test panics if the runtime cannot start, with the cause.
///
/// # Examples
///
/// The examples are on `ringio::test` (the re-export), where `ringio` is in scope.
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::expand(expand::Kind::Test, args.into(), item.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
