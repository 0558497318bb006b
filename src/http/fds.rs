//! File descriptors for HTTP connections: the soft `RLIMIT_NOFILE` is
//! raised to the hard limit at start, and the connection cap is kept below
//! what the limit allows, so the saver, statsd and the event log always
//! find a descriptor (one per HTTP connection, see vendor/tiny_http).

/// Descriptors kept for everything but HTTP connections.
const RESERVED: u64 = 128;

/// Raises the soft limit on open files to the hard limit. Returns the
/// (soft, hard) limits now in force.
pub fn raise_nofile_limit() -> std::io::Result<(u64, u64)> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    if lim.rlim_cur < lim.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: as above.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        lim = raised;
    }
    Ok((lim.rlim_cur, lim.rlim_max))
}

/// The soft limit on open files (None: unknown or unlimited).
fn nofile_soft_limit() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct we pass.
    let ok = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0;
    (ok && lim.rlim_cur != libc::RLIM_INFINITY).then_some(lim.rlim_cur)
}

/// The connection cap: `configured`, or less when the open-file limit
/// would run out first (then `RESERVED` descriptors, or half the limit,
/// whichever is more, stay for the rest of the server).
pub fn connection_cap(configured: usize) -> usize {
    cap_for_limit(configured, nofile_soft_limit())
}

fn cap_for_limit(configured: usize, soft: Option<u64>) -> usize {
    let Some(soft) = soft else {
        return configured;
    };
    let room = soft.saturating_sub(RESERVED).max(soft / 2).max(1);
    configured.min(usize::try_from(room).unwrap_or(usize::MAX))
}

#[cfg(test)]
mod tests {
    use super::cap_for_limit;

    #[test]
    fn the_cap_leaves_descriptors_for_the_rest() {
        assert_eq!(cap_for_limit(1024, None), 1024);
        assert_eq!(cap_for_limit(1024, Some(1_048_576)), 1024);
        assert_eq!(cap_for_limit(1024, Some(1024)), 896);
        assert_eq!(cap_for_limit(1024, Some(512)), 384);
        assert_eq!(cap_for_limit(1024, Some(100)), 50);
        assert_eq!(cap_for_limit(1024, Some(1)), 1);
    }
}
