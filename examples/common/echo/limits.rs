//! Checks on the load generator's arguments, made before anything is opened: sizes,
//! client cores, and whether the connections fit the file-descriptor limit.

/// Largest message the client sends: 1 MiB is far past any echo benchmark worth running
/// and keeps a typo (`--size 100000000`) from allocating gigabytes per connection.
pub const MAX_SIZE: usize = 1 << 20;
/// Cap on the client's buffer memory (two buffers of `size` per connection): 1 GiB fits
/// any developer machine and allows 10k connections of 32 KiB messages.
pub const MAX_BUFFER_BYTES: u64 = 1 << 30;

/// Checks the load generator's numbers before anything is opened.
///
/// # Errors
///
/// A message naming the flag and what it must be.
pub fn check_load_args(
    conns: usize,
    size: usize,
    duration_s: u64,
    connect_concurrency: usize,
) -> Result<(), String> {
    if conns == 0 {
        return Err("--conns must be at least 1".into());
    }
    if size == 0 || size > MAX_SIZE {
        return Err(format!("--size must be 1..={MAX_SIZE} bytes, not {size}"));
    }
    if duration_s == 0 {
        return Err("--duration must be at least 1 second".into());
    }
    if connect_concurrency == 0 {
        return Err("--connect-concurrency must be at least 1".into());
    }
    let buffers = 2 * conns as u64 * size as u64;
    if buffers > MAX_BUFFER_BYTES {
        return Err(format!(
            "--conns {conns} × --size {size} needs {buffers} bytes of buffers, over the \
             {MAX_BUFFER_BYTES}-byte cap; use fewer connections or smaller messages"
        ));
    }
    Ok(())
}

/// Checks the client-core flags: `workers` cores, each with at least one of the `conns`
/// connections, and `cpus` (if given) naming one CPU per core.
///
/// # Errors
///
/// A message naming the flag and what it must be.
pub fn check_workers(conns: usize, workers: usize, cpus: &[usize]) -> Result<(), String> {
    if workers == 0 {
        return Err("--workers must be at least 1".into());
    }
    if workers > conns {
        return Err(format!(
            "--workers {workers} is more than --conns {conns}: each client core needs a connection"
        ));
    }
    if !cpus.is_empty() && cpus.len() != workers {
        return Err(format!(
            "--cpus names {} CPUs for --workers {workers}: give one CPU per client core",
            cpus.len()
        ));
    }
    Ok(())
}

/// Checks that `conns` connections, each costing `fds_per_conn` descriptors in this
/// process, fit under `limit` with `reserve` to spare.
///
/// # Errors
///
/// The number of connections that would fit.
pub fn check_fd_budget(
    conns: usize,
    fds_per_conn: u64,
    limit: u64,
    reserve: u64,
) -> Result<(), u64> {
    let needed = (conns as u64).saturating_mul(fds_per_conn) + reserve;
    if needed <= limit {
        Ok(())
    } else {
        Err(limit.saturating_sub(reserve) / fds_per_conn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_arguments_are_named() {
        assert!(check_load_args(1000, 64, 10, 256).is_ok());
        assert!(
            check_load_args(0, 64, 10, 256)
                .unwrap_err()
                .contains("--conns")
        );
        assert!(
            check_load_args(1, 0, 10, 256)
                .unwrap_err()
                .contains("--size")
        );
        assert!(
            check_load_args(1, MAX_SIZE + 1, 10, 256)
                .unwrap_err()
                .contains("--size")
        );
        assert!(
            check_load_args(1, 64, 0, 256)
                .unwrap_err()
                .contains("--duration")
        );
        assert!(
            check_load_args(1, 64, 1, 0)
                .unwrap_err()
                .contains("--connect-concurrency")
        );
        assert!(
            check_load_args(100_000, MAX_SIZE, 1, 1)
                .unwrap_err()
                .contains("cap")
        );
    }

    #[test]
    fn worker_flags_are_checked() {
        assert!(check_workers(10, 2, &[]).is_ok());
        assert!(check_workers(10, 2, &[0, 1]).is_ok());
        assert!(check_workers(10, 0, &[]).unwrap_err().contains("--workers"));
        assert!(check_workers(1, 2, &[]).unwrap_err().contains("--conns"));
        assert!(check_workers(10, 2, &[1]).unwrap_err().contains("--cpus"));
    }

    #[test]
    fn fd_budget_says_how_many_fit() {
        assert_eq!(check_fd_budget(1000, 1, 1064, 64), Ok(()));
        assert_eq!(check_fd_budget(1001, 1, 1064, 64), Err(1000));
        assert_eq!(check_fd_budget(1000, 2, 1064, 64), Err(500));
        assert_eq!(check_fd_budget(1, 1, 10, 64), Err(0));
    }
}
