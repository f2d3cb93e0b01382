//! Adapters between ringio's streams and the ecosystem's poll-based I/O traits.
