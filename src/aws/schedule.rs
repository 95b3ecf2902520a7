//! When ssso refreshes a token, in one place: every timing constant of the one refresher
//! (connect, a held session's keeper, `ssso sync --keep`) and the [`Schedule`] they share.
//!
//! botocore refreshes an SSO token by itself once less than [`BOTOCORE_WINDOW`] (15 min) is
//! left, and with rotating refresh tokens two refreshers of one chain spend it for each other.
//! So ssso refreshes first: a refreshable token with less than `--refresh-before` left (default
//! [`REFRESH_BEFORE`], 20 min; never below [`REFRESH_BEFORE_MIN`], 16 min) is refreshed and
//! pushed, and the host's botocore never reaches its own window. A token written less than
//! [`MIN_AGE`] ago is not refreshed again (a 17-minute token is always "due": at most one
//! refresh a minute), failed attempts are [`ATTEMPT_INTERVAL`] apart, and a token that cannot
//! be refreshed is warned about [`WARN_BEFORE`] before it expires.

use std::time::Duration;

/// botocore's advisory refresh window (`_advisory_refresh_timeout`, `_REFRESH_WINDOW`).
pub const BOTOCORE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// `--refresh-before`'s default.
pub const REFRESH_BEFORE: Duration = Duration::from_secs(20 * 60);
/// The smallest `--refresh-before`: a minute ahead of botocore's window, so that a refresh and
/// its push (within [`POLL`]) reach a host before its botocore would refresh.
pub const REFRESH_BEFORE_MIN: Duration = Duration::from_secs(16 * 60);
/// A token written (refreshed, logged in, adopted) less than this long ago is not refreshed.
pub const MIN_AGE: Duration = Duration::from_secs(60);
/// At most one failed refresh attempt per this long (botocore's `_attempt_timeout`).
pub const ATTEMPT_INTERVAL: Duration = Duration::from_secs(60);
/// A token that cannot be refreshed is warned about this long before it expires.
pub const WARN_BEFORE: Duration = Duration::from_secs(5 * 60);
/// How often a keeper looks at the local token file (so a refresh is pushed within this).
pub const POLL: Duration = Duration::from_secs(2);
/// After a failed push to a host, the next one waits this long, doubling with each failure
/// in a row up to [`PUSH_RETRY_MAX`] (a host that refuses the write does not get a remote
/// program, and the user a warning, every poll).
pub const PUSH_RETRY_MIN: Duration = Duration::from_secs(2);
/// The longest wait between pushes to a host that keeps failing.
pub const PUSH_RETRY_MAX: Duration = Duration::from_secs(60);

/// Test-only: `SSSO_TEST_SCHEDULE="REFRESH_BEFORE MIN_AGE ATTEMPT_INTERVAL WARN_BEFORE"` (whole
/// seconds) replaces the schedule, so that tests can compress token lifetimes below botocore's
/// window. Unset or malformed (the only case in production): the schedule is the user's. Not
/// documented for users.
pub const TEST_ENV: &str = "SSSO_TEST_SCHEDULE";

/// The refresher's timing, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// A refreshable token with this much or less left is refreshed.
    pub refresh_before: i64,
    /// ... unless it was written less than this long ago.
    pub min_age: i64,
    /// Failed attempts at least this far apart.
    pub attempt_interval: i64,
    /// Warn this long before expiry when the token cannot be refreshed.
    pub warn_before: i64,
}

impl Default for Schedule {
    fn default() -> Schedule {
        Schedule::new(REFRESH_BEFORE)
    }
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

impl Schedule {
    /// The schedule for `--refresh-before` (checked by [`check_refresh_before`] at the
    /// command line), or the test override.
    pub fn new(refresh_before: Duration) -> Schedule {
        if let Some(s) = std::env::var(TEST_ENV).ok().and_then(|v| parse_test(&v)) {
            return s;
        }
        Schedule {
            refresh_before: secs(refresh_before),
            min_age: secs(MIN_AGE),
            attempt_interval: secs(ATTEMPT_INTERVAL),
            warn_before: secs(WARN_BEFORE),
        }
    }

    /// Whether a refreshable token expiring at `expires_at`, written at `written_at`, is due.
    pub fn due(&self, expires_at: i64, written_at: i64, now: i64) -> bool {
        expires_at - now <= self.refresh_before && now - written_at >= self.min_age
    }
}

fn parse_test(v: &str) -> Option<Schedule> {
    let n: Vec<i64> = v
        .split_whitespace()
        .map(|w| w.parse().ok())
        .collect::<Option<_>>()?;
    match n[..] {
        [refresh_before, min_age, attempt_interval, warn_before] => Some(Schedule {
            refresh_before,
            min_age,
            attempt_interval,
            warn_before,
        }),
        _ => None,
    }
}

/// `--refresh-before` below [`REFRESH_BEFORE_MIN`] is refused: botocore would refresh first.
pub fn check_refresh_before(d: Duration) -> Result<Duration, String> {
    if d < REFRESH_BEFORE_MIN {
        return Err(format!(
            "{} is too short: the AWS CLI on a host refreshes by itself with {} left, and ssso must refresh first; use at least {}",
            crate::time::human_duration(secs(d)),
            crate::time::human_duration(secs(BOTOCORE_WINDOW)),
            crate::time::human_duration(secs(REFRESH_BEFORE_MIN)),
        ));
    }
    Ok(d)
}

/// A time left for a warning, rounded up to the unit shown: 119 s reads "2m", not "1m".
pub fn left_for_warning(secs: i64) -> String {
    let s = secs.max(0);
    let rounded = if s < 60 { s } else { (s + 59) / 60 * 60 };
    crate::time::human_duration(rounded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_ahead_of_botocore() {
        let s = Schedule {
            refresh_before: secs(REFRESH_BEFORE),
            min_age: 60,
            attempt_interval: 60,
            warn_before: 300,
        };
        assert!(REFRESH_BEFORE_MIN > BOTOCORE_WINDOW + POLL);
        // A 17-minute token is due at once, but not again within a minute of its write.
        assert!(s.due(1000 + 17 * 60, 1000 - 60, 1000));
        assert!(!s.due(1000 + 17 * 60, 1000 - 59, 1000));
        assert!(!s.due(1000 + 20 * 60 + 1, 0, 1000));
        assert!(s.due(1000 + 20 * 60, 0, 1000));
    }

    #[test]
    fn refresh_before_floor() {
        assert!(check_refresh_before(Duration::from_secs(15 * 60)).is_err());
        let e = check_refresh_before(Duration::from_secs(60)).unwrap_err();
        assert!(e.contains("at least 16m"), "{e}");
        assert_eq!(
            check_refresh_before(REFRESH_BEFORE_MIN).unwrap(),
            REFRESH_BEFORE_MIN
        );
    }

    #[test]
    fn warnings_round_up() {
        assert_eq!(left_for_warning(119), "2m");
        assert_eq!(left_for_warning(120), "2m");
        assert_eq!(left_for_warning(121), "3m");
        assert_eq!(left_for_warning(59), "59s");
        assert_eq!(left_for_warning(60), "1m");
        assert_eq!(left_for_warning(3599), "1h");
        assert_eq!(left_for_warning(-5), "0s");
    }

    #[test]
    fn test_override() {
        assert_eq!(
            parse_test("10 5 3 8"),
            Some(Schedule {
                refresh_before: 10,
                min_age: 5,
                attempt_interval: 3,
                warn_before: 8
            })
        );
        assert_eq!(parse_test("10 5 3"), None);
        assert_eq!(parse_test("a b c d"), None);
    }
}
