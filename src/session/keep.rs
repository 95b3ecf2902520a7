//! Keeping a held session's host fresh: while `ssso HOST` holds the session's master, every
//! [`POLL`] the local token file is looked at and a changed token pushed over the master
//! ([`sync::run`], one short remote `sh` that exits); when the token comes within `--min-valid`
//! of expiry it is refreshed ([`crate::aws::oidc`]; at most one attempt per
//! [`ATTEMPT_INTERVAL`], or per `--min-valid` when that is shorter), and when it cannot be, one
//! warning line goes to the terminal before the token expires. ssso is then the one refresher
//! for every machine the token was synced to.

use std::path::Path;
use std::time::Duration;

use crate::aws::config::SsoProfile;
use crate::aws::oidc::{can_refresh, refresh_file};
use crate::aws::token::{self, Token};
use crate::session::{SYNC_TIMEOUT, adopt_remote_token};
use crate::sync;
use crate::ui;

/// How often [`keep_fresh`] looks at the local token file.
pub const POLL: Duration = Duration::from_secs(2);
/// At most one refresh attempt per this many seconds (botocore's `_attempt_timeout`).
pub const ATTEMPT_INTERVAL: i64 = 60;
/// The warning about an expiring token that cannot be refreshed comes this long before
/// expiry (or `--min-valid` before, when that is shorter).
pub const WARN_BEFORE: i64 = 5 * 60;

/// What [`keep_fresh`] works on: the session's master and what to push over it.
pub struct Session<'a> {
    pub ctl: &'a Path,
    pub sso: &'a SsoProfile,
    pub sync: &'a sync::Options,
    pub min_valid: Duration,
    /// The host, for messages.
    pub dest: &'a str,
}

/// The identity of the file's current version: changes on every write or rename.
fn stamp(path: &Path) -> Option<(u64, u64, i64, i64)> {
    use std::os::unix::fs::MetadataExt as _;
    let m = std::fs::metadata(path).ok()?;
    Some((m.ino(), m.len(), m.mtime(), m.mtime_nsec()))
}

/// Keeps the remote token of a running session fresh until dropped (it never returns): pushes
/// every new local token, refreshes it when it is due, warns once per token when it cannot.
/// `pushed` is the token the session's own sync sent.
pub async fn keep_fresh(s: Session<'_>, pushed: Token) {
    let Ok(path) = s.sso.cache_path() else {
        return std::future::pending().await;
    };
    let min_valid = i64::try_from(s.min_valid.as_secs()).unwrap_or(i64::MAX);
    let retry = ATTEMPT_INTERVAL.min(min_valid.max(1));
    let warn_at = WARN_BEFORE.min(min_valid);
    let mut seen = None;
    let mut current = pushed.clone();
    let mut pushed = pushed.bytes;
    let mut next_attempt = 0;
    let mut refresh_error: Option<String> = None;
    let mut warned_for = None;
    loop {
        tokio::time::sleep(POLL).await;
        let now_stamp = stamp(&path);
        if now_stamp != seen {
            seen = now_stamp;
            if let Ok(Some(t)) = token::read(&path) {
                current = t;
            }
        }
        if current.bytes != pushed && current.expires_at > crate::time::now() {
            pushed = current.bytes.clone();
            push(&s, &current).await;
        }
        let now = crate::time::now();
        if current.expires_at - now <= min_valid && now >= next_attempt {
            if can_refresh(s.sso, &current) {
                next_attempt = now + retry;
                let (p, sso, tok) = (path.clone(), s.sso.clone(), current.clone());
                match tokio::task::spawn_blocking(move || refresh_file(&p, &sso, &tok)).await {
                    Ok(Ok(t)) => {
                        ui::debug(format_args!(
                            "refreshed the SSO token; it now {}",
                            crate::time::relative_expiry(t.expires_at, crate::time::now())
                        ));
                        refresh_error = None;
                        current = t;
                        seen = stamp(&path);
                        if current.bytes != pushed {
                            pushed = current.bytes.clone();
                            push(&s, &current).await;
                        }
                        continue;
                    }
                    Ok(Err(e)) => refresh_error = Some(format!("{e:#}")),
                    Err(e) => refresh_error = Some(e.to_string()),
                }
            } else {
                refresh_error = Some("it has no refresh token".into());
            }
        }
        let left = current.expires_at - crate::time::now();
        if left <= warn_at
            && left > 0
            && warned_for != Some(current.expires_at)
            && let Some(why) = &refresh_error
        {
            warned_for = Some(current.expires_at);
            ui::warn_in_session(format_args!(
                "the AWS SSO token for profile `{}` expires in {} and could not be refreshed ({why}); run `aws sso login --profile {}` here: ssso pushes the new token to {}",
                s.sso.profile,
                crate::time::human_duration(left),
                s.sso.profile,
                s.dest
            ));
        }
    }
}

/// Pushes `tok` over the session's master, with no session waiting for it.
async fn push(s: &Session<'_>, tok: &Token) {
    let plan = match sync::Plan::new(s.sso, tok, s.sync, None) {
        Ok(p) => p.for_host(s.dest),
        Err(e) => {
            return ui::warn_in_session(format_args!(
                "could not push the new token to {}: {e:#}",
                s.dest
            ));
        }
    };
    match sync::run(s.ctl, &plan, SYNC_TIMEOUT).await {
        Ok(r) => {
            ui::debug(format_args!(
                "pushed the new token to {}: {:?}",
                s.dest, r.token
            ));
            if let sync::TokenOutcome::RemoteNewer(bytes) = &r.token {
                adopt_remote_token(bytes, s.sso, tok);
            }
        }
        Err(e) => ui::warn_in_session(format_args!(
            "could not push the new AWS token to {}: {e:#}",
            s.dest
        )),
    }
}
