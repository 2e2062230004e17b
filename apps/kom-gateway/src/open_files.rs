//! Fitting the connection caps under the process's open-file limit (`RLIMIT_NOFILE`): each
//! LysKOM connection and each HTTP connection is a file descriptor, and running out of them
//! makes every accept and every connect fail.

/// Descriptors kept for everything else: the listener, standard streams, logs, name lookups.
pub(crate) const RESERVED: u64 = 64;

/// The soft open-file limit from the text of `/proc/self/limits`, `None` when absent or
/// unlimited.
pub(crate) fn parse_soft_limit(proc_limits: &str) -> Option<u64> {
    let line = proc_limits
        .lines()
        .find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The process's soft open-file limit, when the platform tells it.
pub(crate) fn soft_limit() -> Option<u64> {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .as_deref()
        .and_then(parse_soft_limit)
}

/// A connection cap and whether the configuration set it (else it is a default, which may
/// be lowered to fit).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cap {
    /// The number of connections.
    pub(crate) value: usize,
    /// Whether the configuration file set it.
    pub(crate) explicit: bool,
}

/// The LysKOM and HTTP connection caps to run with, so that together they fit under the
/// open-file `limit`: as asked when they fit; else the defaults among them lowered (two
/// defaults share what is left half and half); an error naming the numbers when explicit
/// settings do not fit or nothing would be left.
pub(crate) fn fit_caps(
    limit: Option<u64>,
    lyskom: Cap,
    http: Cap,
) -> Result<(usize, usize), String> {
    let Some(limit) = limit else {
        return Ok((lyskom.value, http.value));
    };
    let budget = usize::try_from(limit.saturating_sub(RESERVED)).unwrap_or(usize::MAX);
    if lyskom.value.saturating_add(http.value) <= budget {
        return Ok((lyskom.value, http.value));
    }
    let fitted = match (lyskom.explicit, http.explicit) {
        (true, true) => None,
        (true, false) => Some((lyskom.value, budget.saturating_sub(lyskom.value))),
        (false, true) => Some((budget.saturating_sub(http.value), http.value)),
        (false, false) => {
            let http = http.value.min(budget / 2);
            Some((lyskom.value.min(budget - http), http))
        }
    };
    match fitted {
        Some((l, h)) if l > 0 && h > 0 => Ok((l, h)),
        _ => Err(format!(
            "max_connections ({}) + http.max_connections ({}) + {RESERVED} kept for other \
             files need {} open files, but the limit is {limit} (ulimit -n); lower the caps \
             or raise the limit",
            lyskom.value,
            http.value,
            lyskom.value as u64 + http.value as u64 + RESERVED
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: &str = "Limit                     Soft Limit           Hard Limit           Units     \n\
Max processes             63704                63704                processes \n\
Max open files            1024                 524288               files     \n";

    #[test]
    fn the_soft_limit_is_read_from_proc() {
        assert_eq!(parse_soft_limit(LIMITS), Some(1024));
        assert_eq!(
            parse_soft_limit(
                "Max open files            unlimited            unlimited            files"
            ),
            None
        );
        assert_eq!(parse_soft_limit(""), None);
    }

    fn default(value: usize) -> Cap {
        Cap {
            value,
            explicit: false,
        }
    }

    fn explicit(value: usize) -> Cap {
        Cap {
            value,
            explicit: true,
        }
    }

    #[test]
    fn caps_that_fit_are_kept() {
        let fits = fit_caps(Some(100_000), explicit(10_000), default(1024));
        assert_eq!(fits, Ok((10_000, 1024)));
        assert_eq!(
            fit_caps(None, explicit(10_000), explicit(1024)),
            Ok((10_000, 1024))
        );
    }

    #[test]
    fn defaults_are_lowered_to_fit_and_explicit_settings_refused() {
        // 1024 files, 64 kept: two defaults share 960.
        assert_eq!(
            fit_caps(Some(1024), default(10_000), default(1024)),
            Ok((480, 480))
        );
        assert_eq!(
            fit_caps(Some(1024), explicit(100), default(1024)),
            Ok((100, 860))
        );
        assert_eq!(
            fit_caps(Some(1024), default(10_000), explicit(200)),
            Ok((760, 200))
        );
        let refused = fit_caps(Some(1024), explicit(10_000), explicit(200)).unwrap_err();
        assert!(refused.contains("the limit is 1024"), "{refused}");
        assert!(fit_caps(Some(1024), explicit(960), default(1024)).is_err());
        assert!(fit_caps(Some(64), default(10), default(10)).is_err());
    }
}
