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
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
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

/// The stamp of the user's master at `ctl` (see [`crate::ssh::control`]): `u<KEY>.s` in
/// ssso's private directory, KEY naming the control path and the socket's device and inode.
/// `None` when there is no socket there (or no private directory).
pub fn for_users_master(ctl: &Path) -> Option<PathBuf> {
    let meta = std::fs::symlink_metadata(ctl).ok()?;
    let base = crate::ssh::master::private_base().ok()?;
    let mut h = Sha1::new();
    h.update(ctl.as_os_str().as_bytes());
    h.update([0]);
    h.update(meta.dev().to_le_bytes());
    h.update(meta.ino().to_le_bytes());
    Some(base.join(format!("u{}.s", hex(&h.finalize()[..8]))))
}

/// Whether the stamp file at `path` holds `digest` and is current.
pub fn current_at(path: &Path, digest: &str) -> bool {
    File::open(path).is_ok_and(|mut f| is_current(&mut f, digest))
}

/// Writes `digest` to the stamp file at `path` (atomically, 0600); a failure only means the
/// next sync is not skipped.
pub fn record_at(path: &Path, digest: &str) {
    if let Err(e) =
        crate::files::write_atomic(path, digest.as_bytes(), &crate::files::Options::PRIVATE)
    {
        crate::ui::debug(format_args!("could not write the sync stamp: {e:#}"));
    }
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
    fn a_users_master_stamp_names_the_socket_file() {
        let d = tempfile::tempdir().unwrap();
        let ctl = d.path().join("cm");
        assert_eq!(for_users_master(&ctl), None);
        std::fs::write(&ctl, b"").unwrap();
        let first = for_users_master(&ctl).unwrap();
        assert_eq!(for_users_master(&ctl), Some(first.clone()));
        // A new master makes a new socket file: a new stamp.
        let other = d.path().join("other");
        std::fs::write(&other, b"").unwrap();
        std::fs::rename(&other, &ctl).unwrap();
        assert_ne!(for_users_master(&ctl), Some(first.clone()));
        assert!(!current_at(&first, "d"));
        record_at(&first, "d");
        assert!(current_at(&first, "d") && !current_at(&first, "e"));
        let _ = std::fs::remove_file(&first);
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
