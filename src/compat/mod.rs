//! Adapters between ringio's streams and the ecosystem's poll-based I/O traits.

#[cfg(feature = "hyper")]
mod hyper_rt;

#[cfg(feature = "hyper")]
pub use hyper_rt::{HyperExecutor, HyperTimer};
