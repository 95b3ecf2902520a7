//! The keeper's decisions, as a pure state machine on given time: what a held session (or
//! `ssso sync --keep`, one [`Host`] per connection) does next with the local token file and
//! what each host said. [`Keeper::step`] returns one [`Action`]; the caller does it and reports
//! back ([`Keeper::refreshed`], [`Host::pushed`]). No clock, file or connection here.
//!
//! Order of a step: a host's newer token (its botocore refreshed: the chain moved there) is
//! adopted at once; a local token the host has not had is pushed (every push also reads the
//! host's token back); a refreshable token that is due ([`Schedule::due`]) is refreshed, one
//! attempt per `attempt_interval`, after the host was read once more (a host that refreshed
//! by itself has spent the refresh token: its newer token is adopted instead, and nothing is
//! reused); after a failed refresh every host is read again; a token that cannot be refreshed
//! gets one warning per token, `warn_before` its expiry.

use crate::aws::schedule::Schedule;

/// The local token file as the caller read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Local {
    pub bytes: Vec<u8>,
    pub expires_at: i64,
    /// ssso can refresh it (an sso-session profile, a refresh token, a live registration).
    pub refreshable: bool,
    /// The file's mtime.
    pub written_at: i64,
}

/// What is known of one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// The bytes the host last confirmed it holds (pushed, or found current).
    pub has: Option<Vec<u8>>,
    /// A newer token the host sent back, not yet adopted.
    pub newer: Option<Vec<u8>>,
    /// The [`Keeper`]'s read epoch this host was last read in.
    read_after: u64,
    /// Failed pushes in a row, and no push before this time (see
    /// [`crate::aws::schedule::PUSH_RETRY_MIN`]).
    failures: u32,
    retry_at: i64,
}

/// How a push (a sync of the local token, which also reads the host's) ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pushed {
    /// The host holds these bytes now (written, or already current).
    Holds(Vec<u8>),
    /// The host kept its own newer token: these bytes.
    Newer(Vec<u8>),
    /// The push failed (the host is gone, or the sync failed).
    Failed,
}

/// What to do now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Nothing until the next poll.
    Wait,
    /// Store the host's newer token locally (under the lock, if still newest and valid).
    Adopt(Vec<u8>),
    /// Push the local token to the host (and read the host's back).
    Push,
    /// Refresh the local token.
    Refresh,
    /// Tell the user the token expires in `left` seconds and could not be refreshed (`why`).
    Warn { left: i64, why: String },
}

/// The refresher's state (one per chain: one for a session, one for a whole fleet).
#[derive(Debug, Clone)]
pub struct Keeper {
    schedule: Schedule,
    next_attempt: i64,
    error: Option<String>,
    /// Incremented when every host must be read again: before a refresh, after a failed one.
    epoch: u64,
    /// The current epoch is the read before a refresh.
    reading_before_refresh: bool,
    warned_for: Option<i64>,
}

impl Default for Host {
    fn default() -> Host {
        Host {
            has: None,
            newer: None,
            read_after: 0,
            failures: 0,
            retry_at: i64::MIN,
        }
    }
}

impl Host {
    /// A host whose copy is `has` (what the session's own sync sent).
    pub fn holding(has: Option<Vec<u8>>) -> Host {
        Host {
            has,
            ..Host::default()
        }
    }

    /// Records how a push or read that ended at `now` went.
    pub fn pushed(&mut self, keeper: &Keeper, now: i64, result: Pushed) {
        self.read_after = keeper.epoch;
        if result == Pushed::Failed {
            // Pushed again once the wait is over, if still different.
            self.has = None;
            self.failures = self.failures.saturating_add(1);
            let min = secs(crate::aws::schedule::PUSH_RETRY_MIN);
            let max = secs(crate::aws::schedule::PUSH_RETRY_MAX);
            let wait = min
                .saturating_mul(1i64 << (self.failures - 1).min(20))
                .min(max);
            self.retry_at = now.saturating_add(wait);
            return;
        }
        self.failures = 0;
        self.retry_at = i64::MIN;
        match result {
            Pushed::Holds(b) => self.has = Some(b),
            Pushed::Newer(b) => self.newer = Some(b),
            Pushed::Failed => unreachable!(),
        }
    }

    /// Failed pushes in a row (0: the last one worked).
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

fn secs(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

impl Keeper {
    pub fn new(schedule: Schedule) -> Keeper {
        Keeper {
            schedule,
            next_attempt: i64::MIN,
            error: None,
            epoch: 0,
            reading_before_refresh: false,
            warned_for: None,
        }
    }

    /// The next action for `host`, given the local file (`None`: missing or unusable).
    pub fn step(&mut self, now: i64, local: Option<&Local>, host: &mut Host) -> Action {
        if let Some(bytes) = host.newer.take() {
            host.has = Some(bytes.clone());
            return Action::Adopt(bytes);
        }
        let Some(local) = local else {
            return Action::Wait;
        };
        let live = local.expires_at > now;
        // A host whose pushes keep failing waits its turn; the refresh does not wait for it.
        let may_push = now >= host.retry_at;
        if live && may_push && host.has.as_deref() != Some(local.bytes.as_slice()) {
            return Action::Push;
        }
        if local.refreshable
            && self.schedule.due(local.expires_at, local.written_at, now)
            && now >= self.next_attempt
        {
            if !self.reading_before_refresh {
                self.reading_before_refresh = true;
                self.epoch += 1;
            }
            if host.read_after < self.epoch && may_push {
                return Action::Push;
            }
            self.reading_before_refresh = false;
            self.next_attempt = now.saturating_add(self.schedule.attempt_interval);
            return Action::Refresh;
        }
        self.reading_before_refresh = false;
        if live && may_push && host.read_after < self.epoch {
            return Action::Push;
        }
        let left = local.expires_at - now;
        if left > 0
            && left <= self.schedule.warn_before
            && self.warned_for != Some(local.expires_at)
        {
            let why = match (&self.error, local.refreshable) {
                (Some(e), _) => Some(e.clone()),
                (None, false) => Some("it has no refresh token".to_owned()),
                (None, true) => None,
            };
            if let Some(why) = why {
                self.warned_for = Some(local.expires_at);
                return Action::Warn { left, why };
            }
        }
        Action::Wait
    }

    /// Records how a refresh ended: a failure makes every host be read again.
    pub fn refreshed(&mut self, result: Result<(), String>) {
        match result {
            Ok(()) => self.error = None,
            Err(e) => {
                self.error = Some(e);
                self.epoch += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_000_000;

    fn schedule() -> Schedule {
        Schedule {
            refresh_before: 1200,
            min_age: 60,
            attempt_interval: 60,
            warn_before: 300,
        }
    }

    fn tok(name: &str, expires_at: i64, written_at: i64) -> Local {
        Local {
            bytes: name.as_bytes().to_vec(),
            expires_at,
            refreshable: true,
            written_at,
        }
    }

    #[test]
    fn a_fresh_token_is_pushed_once_then_nothing() {
        let mut k = Keeper::new(schedule());
        let a = tok("a", T0 + 3600, T0);
        let mut h = Host::holding(Some(b"a".to_vec()));
        assert_eq!(k.step(T0, Some(&a), &mut h), Action::Wait);
        let b = tok("b", T0 + 3600, T0 + 10);
        assert_eq!(k.step(T0 + 10, Some(&b), &mut h), Action::Push);
        h.pushed(&k, T0, Pushed::Holds(b"b".to_vec()));
        assert_eq!(k.step(T0 + 12, Some(&b), &mut h), Action::Wait);
        // A failed push is tried again after PUSH_RETRY_MIN.
        let c = tok("c", T0 + 3600, T0 + 20);
        assert_eq!(k.step(T0 + 20, Some(&c), &mut h), Action::Push);
        h.pushed(&k, T0 + 20, Pushed::Failed);
        assert_eq!(k.step(T0 + 21, Some(&c), &mut h), Action::Wait);
        assert_eq!(k.step(T0 + 22, Some(&c), &mut h), Action::Push);
    }

    #[test]
    fn a_host_that_keeps_failing_is_tried_less_and_less_often() {
        let mut k = Keeper::new(schedule());
        let a = tok("a", T0 + 7200, T0);
        let mut h = Host::default();
        let mut now = T0;
        let mut waits = Vec::new();
        for _ in 0..8 {
            assert_eq!(k.step(now, Some(&a), &mut h), Action::Push);
            h.pushed(&k, now, Pushed::Failed);
            let start = now;
            while k.step(now, Some(&a), &mut h) == Action::Wait {
                now += 1;
            }
            waits.push(now - start);
        }
        assert_eq!(waits, [2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(h.failures(), 8);
        // A push that works ends the backoff.
        h.pushed(&k, now, Pushed::Holds(b"a".to_vec()));
        assert_eq!(h.failures(), 0);
        let b = tok("b", T0 + 7200, now);
        assert_eq!(k.step(now, Some(&b), &mut h), Action::Push);
    }

    #[test]
    fn a_failing_host_does_not_hold_up_the_refresh() {
        let mut k = Keeper::new(schedule());
        let a = tok("a", T0 + 900, T0 - 3000);
        let mut h = Host::holding(Some(b"a".to_vec()));
        // The read before the refresh fails: the refresh goes ahead, the host waits its turn.
        assert_eq!(k.step(T0, Some(&a), &mut h), Action::Push);
        h.pushed(&k, T0, Pushed::Failed);
        assert_eq!(k.step(T0, Some(&a), &mut h), Action::Refresh);
    }

    #[test]
    fn an_expired_or_missing_token_is_not_pushed() {
        let mut k = Keeper::new(schedule());
        let mut h = Host::default();
        let mut dead = tok("a", T0 - 1, T0 - 4000);
        dead.refreshable = false;
        assert_eq!(k.step(T0, Some(&dead), &mut h), Action::Wait);
        assert_eq!(k.step(T0, None, &mut h), Action::Wait);
    }

    #[test]
    fn refreshed_ahead_of_botocore_and_at_most_once_a_minute() {
        let mut k = Keeper::new(schedule());
        // A 17-minute token, written a minute ago: due at once.
        let a = tok("a", T0 + 17 * 60, T0 - 60);
        let mut h = Host::holding(Some(b"a".to_vec()));
        // The host is read first (it may have refreshed by itself), then ssso refreshes.
        assert_eq!(k.step(T0, Some(&a), &mut h), Action::Push);
        h.pushed(&k, T0, Pushed::Holds(b"a".to_vec()));
        assert_eq!(k.step(T0, Some(&a), &mut h), Action::Refresh);
        k.refreshed(Ok(()));
        // The new one (written now) is pushed at the next poll, and not refreshed within 60 s.
        let b = tok("b", T0 + 2 + 17 * 60, T0 + 1);
        assert_eq!(k.step(T0 + 2, Some(&b), &mut h), Action::Push);
        h.pushed(&k, T0, Pushed::Holds(b"b".to_vec()));
        assert_eq!(k.step(T0 + 4, Some(&b), &mut h), Action::Wait);
        assert_eq!(k.step(T0 + 60, Some(&b), &mut h), Action::Wait);
        assert_eq!(k.step(T0 + 61, Some(&b), &mut h), Action::Push);
        h.pushed(&k, T0, Pushed::Holds(b"b".to_vec()));
        assert_eq!(k.step(T0 + 61, Some(&b), &mut h), Action::Refresh);
        // A token with 20m01s left is not due.
        let mut k = Keeper::new(schedule());
        let c = tok("c", T0 + 1201, T0 - 600);
        let mut h = Host::holding(Some(b"c".to_vec()));
        assert_eq!(k.step(T0, Some(&c), &mut h), Action::Wait);
        assert_eq!(k.step(T0 + 1, Some(&c), &mut h), Action::Push);
    }

    #[test]
    fn a_failed_refresh_reads_the_host_and_adopts_its_newer_token() {
        let mut k = Keeper::new(schedule());
        let a = tok("a", T0 + 600, T0 - 3000);
        let mut h = Host::holding(Some(b"a".to_vec()));
        assert_eq!(k.step(T0, Some(&a), &mut h), Action::Push);
        h.pushed(&k, T0, Pushed::Holds(b"a".to_vec()));
        assert_eq!(k.step(T0, Some(&a), &mut h), Action::Refresh);
        k.refreshed(Err("invalid_grant".into()));
        // Not refreshed again within the attempt interval; the host is read again instead.
        assert_eq!(k.step(T0 + 2, Some(&a), &mut h), Action::Push);
        h.pushed(&k, T0, Pushed::Newer(b"host".to_vec()));
        assert_eq!(
            k.step(T0 + 2, Some(&a), &mut h),
            Action::Adopt(b"host".to_vec())
        );
        // Adopted: the host already has it, nothing to push.
        let host = tok("host", T0 + 3600, T0 + 3);
        assert_eq!(k.step(T0 + 4, Some(&host), &mut h), Action::Wait);
        k.refreshed(Ok(()));
        assert_eq!(k.step(T0 + 100, Some(&host), &mut h), Action::Wait);
    }

    #[test]
    fn a_failed_refresh_is_retried_and_warned_about_once_before_expiry() {
        let mut k = Keeper::new(schedule());
        let a = tok("a", T0 + 400, T0 - 3000);
        let mut h = Host::holding(Some(b"a".to_vec()));
        assert_eq!(k.step(T0, Some(&a), &mut h), Action::Push);
        h.pushed(&k, T0, Pushed::Holds(b"a".to_vec()));
        assert_eq!(k.step(T0, Some(&a), &mut h), Action::Refresh);
        k.refreshed(Err("CreateToken refused".into()));
        assert_eq!(k.step(T0 + 2, Some(&a), &mut h), Action::Push);
        h.pushed(&k, T0, Pushed::Holds(b"a".to_vec()));
        assert_eq!(k.step(T0 + 4, Some(&a), &mut h), Action::Wait);
        assert_eq!(k.step(T0 + 60, Some(&a), &mut h), Action::Push);
        h.pushed(&k, T0, Pushed::Holds(b"a".to_vec()));
        assert_eq!(k.step(T0 + 60, Some(&a), &mut h), Action::Refresh);
        k.refreshed(Err("CreateToken refused".into()));
        h.pushed(&k, T0, Pushed::Holds(b"a".to_vec()));
        // 300 s before expiry: one warning, with the reason.
        assert_eq!(
            k.step(T0 + 100, Some(&a), &mut h),
            Action::Warn {
                left: 300,
                why: "CreateToken refused".into()
            }
        );
        assert_eq!(k.step(T0 + 102, Some(&a), &mut h), Action::Wait);
        // A new token (a login here) is pushed, and could be warned about again.
        let b = tok("b", T0 + 250, T0 + 104);
        assert_eq!(k.step(T0 + 104, Some(&b), &mut h), Action::Push);
    }

    #[test]
    fn a_host_that_refreshed_by_itself_is_adopted_before_any_refresh() {
        let mut k = Keeper::new(schedule());
        let a = tok("a", T0 + 1000, T0 - 3000);
        let mut h = Host::holding(Some(b"a".to_vec()));
        assert_eq!(k.step(T0, Some(&a), &mut h), Action::Push);
        h.pushed(&k, T0, Pushed::Newer(b"host".to_vec()));
        assert_eq!(
            k.step(T0, Some(&a), &mut h),
            Action::Adopt(b"host".to_vec())
        );
        let host = tok("host", T0 + 3600, T0);
        assert_eq!(k.step(T0 + 2, Some(&host), &mut h), Action::Wait);
        // Later, when that one is due, the host is read again first.
        let due = T0 + 3600 - 1200;
        assert_eq!(k.step(due, Some(&host), &mut h), Action::Push);
    }

    #[test]
    fn a_token_without_refresh_is_warned_about_once() {
        let mut k = Keeper::new(schedule());
        let mut a = tok("a", T0 + 299, T0 - 3000);
        a.refreshable = false;
        let mut h = Host::holding(Some(b"a".to_vec()));
        assert_eq!(
            k.step(T0, Some(&a), &mut h),
            Action::Warn {
                left: 299,
                why: "it has no refresh token".into()
            }
        );
        assert_eq!(k.step(T0 + 2, Some(&a), &mut h), Action::Wait);
        assert_eq!(k.step(T0 + 400, Some(&a), &mut h), Action::Wait);
    }

    #[test]
    fn one_refresher_for_many_hosts() {
        let mut k = Keeper::new(schedule());
        let a = tok("a", T0 + 900, T0 - 3000);
        let mut h1 = Host::holding(Some(b"a".to_vec()));
        let mut h2 = Host::holding(Some(b"a".to_vec()));
        assert_eq!(k.step(T0, Some(&a), &mut h1), Action::Push);
        assert_eq!(k.step(T0, Some(&a), &mut h2), Action::Push);
        h1.pushed(&k, T0, Pushed::Holds(b"a".to_vec()));
        h2.pushed(&k, T0, Pushed::Holds(b"a".to_vec()));
        assert_eq!(k.step(T0, Some(&a), &mut h1), Action::Refresh);
        k.refreshed(Ok(()));
        let b = tok("b", T0 + 3600, T0);
        // Every host gets the new token; nobody refreshes twice.
        assert_eq!(k.step(T0, Some(&b), &mut h1), Action::Push);
        assert_eq!(k.step(T0, Some(&b), &mut h2), Action::Push);
        h1.pushed(&k, T0, Pushed::Holds(b"b".to_vec()));
        h2.pushed(&k, T0, Pushed::Failed);
        assert_eq!(k.step(T0 + 2, Some(&b), &mut h1), Action::Wait);
        assert_eq!(k.step(T0 + 2, Some(&b), &mut h2), Action::Push);
    }
}
