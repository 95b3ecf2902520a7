//! Sync stamps: a small file that records that exactly this sync (the token file, the config
//! sections, the cache file name) reached a host over one connection moments ago, so that the
//! next command over the same connection can skip it. ProxyCommand mode keeps one per host
//! next to its sync master (`p<KEY>.s`); the connect path keeps one per master of the user's
//! that it joined (`u<KEY>.s`, the key naming the control path and that socket's inode, so a
//! new master never inherits an old master's stamp). Both live in ssso's private directory.
//!
//! A stamp counts for [`FRESH`] after it was written: a newer token that the host's botocore
//! wrote in that time is adopted by the next sync after it, as within a held session.

use std::fs::File;
use std::io::Read as _;
use std::time::{Duration, SystemTime};

use sha1::{Digest as _, Sha1};

use crate::sync;

/// How long a stamp counts as current.
pub const FRESH: Duration = Duration::from_secs(60);

/// What a sync sends, hashed: the token file, the sections, the file name.
pub fn digest(plan: &sync::Plan) -> String {
    let mut h = Sha1::new();
    h.update(plan.cache_file_name.as_bytes());
    h.update([0]);
    h.update(sync::input(plan));
    h.update([u8::from(!plan.sections.is_empty())]);
    hex(&h.finalize())
}

/// The stamp holds `digest` and was written less than [`FRESH`] ago.
pub fn is_current(stamp: &mut File, digest: &str) -> bool {
    let age = stamp
        .metadata()
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok());
    let mut text = String::new();
    fresh(age) && stamp.read_to_string(&mut text).is_ok() && text == digest
}

/// A stamp of this age counts (an mtime in the future does not).
fn fresh(age: Option<Duration>) -> bool {
    age.is_some_and(|age| age < FRESH)
}

/// Whether a sync's report means the host now holds exactly what was sent: the token written
/// or already there, and the config sections written, already there, or not asked for.
pub fn complete(report: &sync::Report) -> bool {
    matches!(
        report.token,
        sync::TokenOutcome::Written | sync::TokenOutcome::Unchanged
    ) && !matches!(report.config, sync::ConfigOutcome::Skipped(_))
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamp_matches_only_the_same_plan_recently() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .unwrap();
        assert!(!is_current(&mut f, "abc"));
        std::fs::write(&path, "abc").unwrap();
        let mut f = File::open(&path).unwrap();
        assert!(is_current(&mut f, "abc"));
        let mut f = File::open(&path).unwrap();
        assert!(!is_current(&mut f, "abd"));
        let old = SystemTime::now() - FRESH - Duration::from_secs(1);
        File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(old)
            .unwrap();
        let mut f = File::open(&path).unwrap();
        assert!(!is_current(&mut f, "abc"));
        assert!(!fresh(None));
        assert!(fresh(Some(Duration::from_secs(59))));
    }

    #[test]
    fn complete_means_the_host_holds_what_was_sent() {
        let r = |token, config| sync::Report {
            token,
            config,
            aws_missing: false,
        };
        use sync::{ConfigOutcome as C, TokenOutcome as T};
        assert!(complete(&r(T::Written, C::Written)));
        assert!(complete(&r(T::Unchanged, C::NotRequested)));
        assert!(!complete(&r(T::RemoteNewer(b"x".to_vec()), C::Unchanged)));
        assert!(!complete(&r(T::Unchanged, C::Skipped("bad".into()))));
    }
}
