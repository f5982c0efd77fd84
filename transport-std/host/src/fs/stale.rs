//! ESTALE from a shared file system (NFS, GlusterFS's FUSE client): a
//! handle the server no longer knows, because another host replaced or
//! removed the file between this host's lookup and its use. The cure is
//! to look the path up again: an operation that failed so is run again,
//! from the path, a bounded number of times; then it is answered 503 with
//! Retry-After (never 500), and a line goes to stderr whatever `--quiet`
//! says (an operator must see that the shared file system is unsettled).

use pared_core::service::FsFailure;

/// Runs after the first that fail with ESTALE before giving up.
pub const STALE_RETRIES: usize = 3;

/// Runs `op` again while it fails with [`FsFailure::Unavailable`] (which
/// is what ESTALE maps to), at most [`STALE_RETRIES`] more times; `what`
/// names the operation for the log line of a final failure.
pub fn retry_stale<T>(
    what: &dyn std::fmt::Display,
    mut op: impl FnMut() -> Result<T, FsFailure>,
) -> Result<T, FsFailure> {
    for _ in 0..STALE_RETRIES {
        match op() {
            Err(FsFailure::Unavailable) => continue,
            done => return done,
        }
    }
    let last = op();
    if matches!(last, Err(FsFailure::Unavailable)) {
        eprintln!(
            "pared: {what}: the shared file system kept answering \"stale file handle\" \
             ({} tries); answered 503",
            STALE_RETRIES + 1
        );
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_a_bounded_number_of_times() {
        let mut runs = 0;
        let r: Result<(), _> = retry_stale(&"test", || {
            runs += 1;
            Err(FsFailure::Unavailable)
        });
        assert_eq!((r, runs), (Err(FsFailure::Unavailable), STALE_RETRIES + 1));
        let mut runs = 0;
        let r = retry_stale(&"test", || {
            runs += 1;
            if runs < 3 {
                Err(FsFailure::Unavailable)
            } else {
                Ok(7)
            }
        });
        assert_eq!((r, runs), (Ok(7), 3));
        let mut runs = 0;
        let r: Result<(), _> = retry_stale(&"test", || {
            runs += 1;
            Err(FsFailure::NotFound)
        });
        assert_eq!(
            (r, runs),
            (Err(FsFailure::NotFound), 1),
            "only ESTALE is retried"
        );
    }
}
