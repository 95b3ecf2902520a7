//! Which `ssh` will run, and the grammar of its command line.
//!
//! ssh's one-letter options are not the same in every OpenSSH: `-P` is a flag that does
//! nothing in 9.3 and before and takes a value (`-P tag`) from 9.4 on, and 10.5 has a `-Z`
//! flag that older ones refuse. ssso parses a command line exactly as the ssh that will run it
//! does, so the grammars here are the getopt strings of OpenSSH's own `ssh.c`, one per known
//! change, and the installed ssh is asked its version (`ssh -V`) once. The answer is cached in
//! ssso's private runtime directory ([`crate::files::private_base`], which the system
//! empties at logout or reboot), keyed by the ssh binary's path, inode, size, mtime and ctime:
//! an upgraded or replaced ssh is a new file and is asked again, and nothing else expires it.
//!
//! Most letters read the same in every known grammar ([`settled`]); only a line that uses one
//! of the others makes ssso look at the installed ssh at all.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use anyhow::{Context, Result, bail};

use crate::files;
use crate::ui;

/// `ssh.c`'s getopt string in OpenSSH 8.x to 9.3 (9.2 is Debian 12's: the same string is in
/// its binary): `-P` is a flag, kept for compatibility and ignored.
pub const GETOPT_9_2: &str = "1246ab:c:e:fgi:kl:m:no:p:qstvxAB:CD:E:F:GI:J:KL:MNO:PQ:R:S:TVw:W:XYy";
/// OpenSSH 9.4 to 10.3: `-P tag` (the `Tag` keyword of ssh_config and `Match tagged`).
pub const GETOPT_9_4: &str =
    "1246ab:c:e:fgi:kl:m:no:p:qstvxAB:CD:E:F:GI:J:KL:MNO:P:Q:R:S:TVw:W:XYy";
/// OpenSSH 10.5 (the newest seen): the string is sorted, and `-Z` (list the keys that would
/// be tried, then exit) is new; every other letter reads as in 9.4.
pub const GETOPT_10_5: &str =
    "1246ACGKMNTVXYZafgknqstvxyB:D:E:F:I:J:L:O:P:Q:R:S:W:b:c:e:i:l:m:o:p:w:";

/// An OpenSSH release, from the banner `ssh -V` prints (`OpenSSH_9.2p1 Debian-2+deb12u10,
/// OpenSSL 3.0.19 ...`, `OpenSSH_for_Windows_9.5p1, LibreSSL 3.8.2`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    pub major: u32,
    pub minor: u32,
}

impl Version {
    pub fn parse(banner: &str) -> Option<Version> {
        let rest = &banner[banner.find("OpenSSH_")? + "OpenSSH_".len()..];
        // Windows' build puts words before the number.
        let rest = rest.trim_start_matches(|c: char| !c.is_ascii_digit());
        let end = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        let mut parts = rest[..end].split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next().unwrap_or("0").parse().ok()?;
        Some(Version { major, minor })
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// What one option letter is to an ssh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Letter {
    /// A flag (`-v`), clustered freely (`-vvt`).
    Flag,
    /// An option with a value: the rest of the word (`-p22`) or the next word (`-p 22`).
    Value,
    /// Not an option of this ssh: ssh prints its usage and exits 255.
    Unknown,
}

/// The one-letter options of one ssh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grammar {
    label: String,
    letters: [Letter; 128],
}

impl Grammar {
    /// From a getopt option string: a letter followed by `:` takes a value.
    pub fn from_getopt(label: &str, optstring: &str) -> Grammar {
        let mut letters = [Letter::Unknown; 128];
        let b = optstring.as_bytes();
        for (i, &c) in b.iter().enumerate() {
            if c == b':' || !c.is_ascii() {
                continue;
            }
            letters[c as usize] = if b.get(i + 1) == Some(&b':') {
                Letter::Value
            } else {
                Letter::Flag
            };
        }
        Grammar {
            label: label.to_owned(),
            letters,
        }
    }

    /// The grammar of an OpenSSH release; an unknown one (not OpenSSH, or no banner) gets the
    /// newest.
    pub fn for_version(v: Option<Version>) -> Grammar {
        let at = |major, minor| v.is_some_and(|v| v >= Version { major, minor });
        let label = match v {
            Some(v) => format!("OpenSSH {v}"),
            None => "an ssh of unknown version (read as the newest OpenSSH)".to_owned(),
        };
        let getopt = if v.is_none() || at(10, 5) {
            GETOPT_10_5
        } else if at(9, 4) {
            GETOPT_9_4
        } else {
            GETOPT_9_2
        };
        Grammar::from_getopt(&label, getopt)
    }

    /// What `c` is to this ssh.
    pub fn letter(&self, c: u8) -> Letter {
        self.letters
            .get(c as usize)
            .copied()
            .unwrap_or(Letter::Unknown)
    }

    /// "OpenSSH 9.2", for messages.
    pub fn label(&self) -> &str {
        &self.label
    }
}

/// The grammars of every OpenSSH ssso knows, oldest first.
fn known() -> &'static [Grammar; 3] {
    static KNOWN: OnceLock<[Grammar; 3]> = OnceLock::new();
    KNOWN.get_or_init(|| {
        [
            Grammar::from_getopt("OpenSSH 9.2", GETOPT_9_2),
            Grammar::from_getopt("OpenSSH 9.4", GETOPT_9_4),
            Grammar::from_getopt("OpenSSH 10.5", GETOPT_10_5),
        ]
    })
}

/// What `c` is to every known ssh, when they all agree; `None` for a letter whose meaning
/// depends on the version (`P`, `Z`).
pub fn settled(c: u8) -> Option<Letter> {
    let [first, rest @ ..] = known();
    let l = first.letter(c);
    rest.iter().all(|g| g.letter(c) == l).then_some(l)
}

/// The grammar of the `ssh` on PATH (the one ssso runs), asked once per process and cached
/// across runs (see the module's documentation). When it cannot be asked, the newest grammar.
pub fn installed() -> &'static Grammar {
    static INSTALLED: OnceLock<Grammar> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let banner = which::which("ssh")
            .context("no ssh on PATH")
            .and_then(|ssh| match crate::files::private_base() {
                Ok(dir) => cached_banner(&ssh, &dir.join("ssh-version"), ask_version),
                // No private directory: ask every time rather than guess.
                Err(_) => ask_version(&ssh),
            });
        match banner {
            Ok(b) => {
                let g = Grammar::for_version(Version::parse(&b));
                ui::debug(format_args!("ssh is {} ({b})", g.label()));
                g
            }
            Err(e) => {
                ui::debug(format_args!(
                    "could not ask ssh its version ({e:#}); reading its options as the newest OpenSSH's"
                ));
                Grammar::for_version(None)
            }
        }
    })
}

/// `ssh -V`'s banner (it prints on stderr).
fn ask_version(ssh: &Path) -> Result<String> {
    let out = Command::new(ssh)
        .arg("-V")
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("could not run {} -V", ssh.display()))?;
    let text = String::from_utf8_lossy(&out.stderr);
    let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    if !out.status.success() || line.is_empty() {
        bail!("{} -V printed no version", ssh.display());
    }
    Ok(line.trim().to_owned())
}

/// What identifies one ssh binary: its real path and the file's identity. A package upgrade
/// writes a new file (new inode and ctime); an in-place rewrite changes mtime and ctime.
fn identity(ssh: &Path) -> Result<String> {
    let real =
        std::fs::canonicalize(ssh).with_context(|| format!("cannot resolve {}", ssh.display()))?;
    let m = std::fs::metadata(&real)?;
    Ok(format!(
        "{} dev={} ino={} size={} mtime={}.{} ctime={}.{}",
        real.display(),
        m.dev(),
        m.ino(),
        m.size(),
        m.mtime(),
        m.mtime_nsec(),
        m.ctime(),
        m.ctime_nsec()
    ))
}

/// The banner of `ssh`: from `cache` when it was written for this very binary, else from
/// `ask` (and then written to `cache`; a cache that cannot be written only costs the next run
/// one more `ssh -V`).
pub fn cached_banner(
    ssh: &Path,
    cache: &Path,
    ask: impl FnOnce(&Path) -> Result<String>,
) -> Result<String> {
    let id = identity(ssh)?;
    if let Ok(text) = std::fs::read_to_string(cache)
        && let Some((key, banner)) = text.split_once('\n')
        && key == id
        && !banner.trim().is_empty()
    {
        return Ok(banner.trim_end().to_owned());
    }
    let banner = ask(ssh)?;
    let _ = files::write_atomic(
        cache,
        format!("{id}\n{banner}\n").as_bytes(),
        &files::Options::PRIVATE,
    );
    Ok(banner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn versions_from_banners() {
        let v = |s| Version::parse(s);
        assert_eq!(
            v("OpenSSH_9.2p1 Debian-2+deb12u10, OpenSSL 3.0.19 27 Jan 2026"),
            Some(Version { major: 9, minor: 2 })
        );
        assert_eq!(
            v("OpenSSH_for_Windows_9.5p1, LibreSSL 3.8.2"),
            Some(Version { major: 9, minor: 5 })
        );
        assert_eq!(
            v("OpenSSH_10.0p2 Ubuntu-5, OpenSSL 3.4.1"),
            Some(Version {
                major: 10,
                minor: 0
            })
        );
        assert_eq!(
            v("OpenSSH_10.5"),
            Some(Version {
                major: 10,
                minor: 5
            })
        );
        assert_eq!(v("Sun_SSH_1.1.7, SSH protocols 1.5/2.0"), None);
        assert_eq!(v(""), None);
    }

    #[test]
    fn p_is_a_flag_before_9_4_and_takes_a_tag_after() {
        let at = |major, minor| Grammar::for_version(Some(Version { major, minor }));
        for g in [at(8, 9), at(9, 2), at(9, 3)] {
            assert_eq!(g.letter(b'P'), Letter::Flag, "{}", g.label());
            assert_eq!(g.letter(b'Z'), Letter::Unknown, "{}", g.label());
        }
        for g in [at(9, 4), at(9, 6), at(10, 0), at(10, 3)] {
            assert_eq!(g.letter(b'P'), Letter::Value, "{}", g.label());
            assert_eq!(g.letter(b'Z'), Letter::Unknown, "{}", g.label());
        }
        for g in [at(10, 5), at(11, 0), Grammar::for_version(None)] {
            assert_eq!(g.letter(b'P'), Letter::Value, "{}", g.label());
            assert_eq!(g.letter(b'Z'), Letter::Flag, "{}", g.label());
        }
    }

    /// The getopt strings differ in `P` and `Z` only: every other letter is settled, and those
    /// two are not.
    #[test]
    fn only_p_and_z_depend_on_the_version() {
        let unsettled: Vec<char> = (0u8..128)
            .filter(|&c| settled(c).is_none())
            .map(char::from)
            .collect();
        assert_eq!(unsettled, ['P', 'Z']);
        assert_eq!(settled(b'p'), Some(Letter::Value));
        assert_eq!(settled(b'v'), Some(Letter::Flag));
        assert_eq!(settled(b'1'), Some(Letter::Flag));
        assert_eq!(settled(b'H'), Some(Letter::Unknown));
        assert_eq!(settled(b'-'), Some(Letter::Unknown));
    }

    /// The installed ssh answers `ssh -V` with a banner ssso reads (Debian 12's OpenSSH 9.2 on
    /// this project's machines, where `-P` is a flag).
    #[test]
    fn the_installed_ssh_is_asked() {
        let banner = ask_version(&which::which("ssh").unwrap()).unwrap();
        let v = Version::parse(&banner).unwrap_or_else(|| panic!("unreadable: {banner}"));
        let g = Grammar::for_version(Some(v));
        assert_eq!(g.label(), format!("OpenSSH {v}"));
        if banner.starts_with("OpenSSH_9.2") {
            assert_eq!(g.letter(b'P'), Letter::Flag);
        }
    }

    /// The cache answers for the same binary, and asks again when the binary is replaced (an
    /// upgrade) or rewritten in place.
    #[test]
    fn the_cache_notices_an_upgrade() {
        let dir = tempfile::tempdir().unwrap();
        let ssh = dir.path().join("ssh");
        let cache = dir.path().join("cache").join("ssh-version");
        std::fs::write(&ssh, b"old binary").unwrap();
        let asked = Cell::new(0);
        let ask = |banner: &'static str| {
            let asked = &asked;
            move |_: &Path| {
                asked.set(asked.get() + 1);
                Ok(banner.to_owned())
            }
        };
        assert_eq!(
            cached_banner(&ssh, &cache, ask("OpenSSH_9.2p1")).unwrap(),
            "OpenSSH_9.2p1"
        );
        assert_eq!(
            cached_banner(&ssh, &cache, ask("never")).unwrap(),
            "OpenSSH_9.2p1"
        );
        assert_eq!(asked.get(), 1);

        // An upgrade: the package manager writes a new file and renames it over the old one.
        let new = dir.path().join("ssh.new");
        std::fs::write(&new, b"new binary, other size").unwrap();
        std::fs::rename(&new, &ssh).unwrap();
        assert_eq!(
            cached_banner(&ssh, &cache, ask("OpenSSH_10.5p1")).unwrap(),
            "OpenSSH_10.5p1"
        );
        assert_eq!(asked.get(), 2);

        // Rewritten in place, same size: mtime and ctime change.
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&ssh, b"new binary, SAME sizes").unwrap();
        assert_eq!(
            cached_banner(&ssh, &cache, ask("OpenSSH_10.6p1")).unwrap(),
            "OpenSSH_10.6p1"
        );
        assert_eq!(asked.get(), 3);

        // Through a symlink (alternatives): the file it points to is what counts.
        let link = dir.path().join("ssh-link");
        std::os::unix::fs::symlink(&ssh, &link).unwrap();
        assert_eq!(
            cached_banner(&link, &cache, ask("never")).unwrap(),
            "OpenSSH_10.6p1"
        );
        assert_eq!(asked.get(), 3);

        // A cache that cannot be read is asked around, never trusted.
        std::fs::write(&cache, b"garbage").unwrap();
        assert_eq!(
            cached_banner(&ssh, &cache, ask("OpenSSH_10.6p1")).unwrap(),
            "OpenSSH_10.6p1"
        );
        assert_eq!(asked.get(), 4);
    }
}
