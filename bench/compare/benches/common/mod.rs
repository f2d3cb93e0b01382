//! Runtime set-up shared by the bench files. Each bench function builds ONE runtime and
//! runs its measured loop inside a single `block_on`, so only the operation is timed,
//! never runtime start-up or shutdown.

/// A one-core ringio runtime, unpinned like tokio's current-thread runtime.
pub fn ringio_rt() -> ringio::Runtime {
    ringio::Runtime::builder()
        .workers(1)
        .build()
        .expect("io_uring must work on the bench machine")
}

/// tokio's single-threaded runtime with its timer and I/O drivers on.
pub fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio current-thread runtime")
}
