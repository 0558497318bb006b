//! File descriptors for HTTP connections: the soft `RLIMIT_NOFILE` is
//! raised to the hard limit at start, and the connection cap is kept below
//! what the limit allows, so the saver, statsd and the event log always
//! find a descriptor (one per HTTP connection, see vendor/tiny_http). Also
//! the listener's `TCP_DEFER_ACCEPT`.

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

/// `TCP_DEFER_ACCEPT`: the kernel completes `accept` only once the
/// client's first bytes are there (or `secs` have passed), so a connection
/// thread is woken with its request ready to read instead of blocking in a
/// second wait, and a client that connects and sends nothing holds no
/// thread meanwhile. Failing to set it only costs that.
pub fn defer_accept(listener: &std::net::TcpListener, secs: u32) {
    use std::os::fd::AsRawFd;
    let value = libc::c_int::try_from(secs).unwrap_or(libc::c_int::MAX);
    // SAFETY: setsockopt reads `value` (a c_int, its size given) only.
    let r = unsafe {
        libc::setsockopt(
            listener.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_DEFER_ACCEPT,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r != 0 {
        log::debug!(
            "HTTP: TCP_DEFER_ACCEPT not set: {}",
            std::io::Error::last_os_error()
        );
    }
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
