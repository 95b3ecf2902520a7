//! Local files written safely: a reader sees the old file or the new one, never a part, and a
//! failed write leaves the old one as it was (the AWS CLI's token cache, `~/.ssh/config`);
//! and ssso's private per-user directory for sockets, stamps and caches.

use std::io::Write as _;
use std::os::unix::fs::{
    DirBuilderExt as _, MetadataExt as _, OpenOptionsExt as _, PermissionsExt as _,
};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// How [`write_atomic`] treats the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// The mode of a new file (and of a replaced one, unless `keep_mode`).
    pub mode: u32,
    /// A replaced file keeps its mode.
    pub keep_mode: bool,
    /// A symlink at the path is refused instead of replaced (a dotfile the user links from
    /// elsewhere is not ssso's to turn into a copy).
    pub refuse_symlink: bool,
}

impl Options {
    /// A private file (0600), e.g. a token: replaced whatever was there.
    pub const PRIVATE: Options = Options {
        mode: 0o600,
        keep_mode: false,
        refuse_symlink: false,
    };

    /// A user's own file, e.g. `~/.ssh/config`: its mode kept, a symlink left alone.
    pub const USERS: Options = Options {
        mode: 0o600,
        keep_mode: true,
        refuse_symlink: true,
    };
}

/// Writes `bytes` to `path`: the directory is created (0700) when missing, the data goes to a
/// temporary file in the same directory, is fsynced and renamed over `path`, then the directory
/// is fsynced. On any error the temporary file is removed and `path` is untouched.
pub fn write_atomic(path: &Path, bytes: &[u8], opts: &Options) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .with_context(|| format!("cannot write {}: not a file path", path.display()))?;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create directory {}", dir.display()))?;
    let old = std::fs::symlink_metadata(path).ok();
    if opts.refuse_symlink && old.as_ref().is_some_and(|m| m.file_type().is_symlink()) {
        bail!(
            "{} is a symlink; ssso does not replace it (edit the file it points to by hand)",
            path.display()
        );
    }
    let mode = match &old {
        Some(m) if opts.keep_mode && m.is_file() => m.permissions().mode() & 0o7777,
        _ => opts.mode,
    };
    let tmp = dir.join(format!(
        ".{}.ssso-{}-{}.tmp",
        name.to_string_lossy(),
        std::process::id(),
        unique()
    ));
    let result = (|| -> anyhow::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .with_context(|| format!("cannot create temporary file {}", tmp.display()))?;
        f.write_all(bytes)
            .and_then(|()| f.set_permissions(std::fs::Permissions::from_mode(mode)))
            .and_then(|()| f.sync_all())
            .with_context(|| format!("cannot write temporary file {}", tmp.display()))?;
        drop(f);
        std::fs::rename(&tmp, path)
            .with_context(|| format!("cannot rename {} to {}", tmp.display(), path.display()))?;
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    } else if let Ok(d) = std::fs::File::open(dir) {
        // Make the rename itself durable; failure here loses nothing already visible.
        let _ = d.sync_all();
    }
    result
}

/// A number unique within this process, and unlikely to repeat across processes.
pub fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    (u64::from(nanos) << 20) ^ N.fetch_add(1, Ordering::Relaxed)
}

/// ssso's per-user directory, `$XDG_RUNTIME_DIR/ssso` or `/tmp/ssso-UID`, created 0700 if
/// missing; an existing one must be a directory owned by the user with no group or other
/// access, or it is refused.
pub fn private_base() -> anyhow::Result<PathBuf> {
    let uid = unsafe { libc::getuid() };
    let base = match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(d) if Path::new(&d).is_dir() && d.len() < 40 => PathBuf::from(d).join("ssso"),
        _ => PathBuf::from(format!("/tmp/ssso-{uid}")),
    };
    match std::fs::DirBuilder::new().mode(0o700).create(&base) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e).with_context(|| format!("cannot create {}", base.display())),
    }
    let meta = std::fs::symlink_metadata(&base)?;
    if !meta.is_dir() || meta.uid() != uid || meta.permissions().mode() & 0o077 != 0 {
        bail!(
            "{} is not a private directory of yours (it must be owned by you, mode 0700); remove it",
            base.display()
        );
    }
    Ok(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn users_files_keep_their_mode_and_symlinks_are_left_alone() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("sub/config");
        write_atomic(&p, b"one", &Options::USERS).unwrap();
        assert_eq!(mode(&p), 0o600);
        assert_eq!(mode(p.parent().unwrap()) & 0o777, 0o700);
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_atomic(&p, b"two", &Options::USERS).unwrap();
        assert_eq!(
            (std::fs::read(&p).unwrap(), mode(&p)),
            (b"two".to_vec(), 0o644)
        );
        write_atomic(&p, b"three", &Options::PRIVATE).unwrap();
        assert_eq!(mode(&p), 0o600);
        let link = d.path().join("link");
        std::os::unix::fs::symlink(&p, &link).unwrap();
        let e = write_atomic(&link, b"x", &Options::USERS).unwrap_err();
        assert!(e.to_string().contains("is a symlink"), "{e}");
        assert_eq!(std::fs::read(&p).unwrap(), b"three");
        let entries: Vec<_> = std::fs::read_dir(d.path().join("sub"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(entries, ["config"], "no temporary file left");
    }
}
