//! `ssso setup --persist-profile`'s decisions, as pure functions: which startup file of the
//! host's login shell gets `AWS_PROFILE` ([`startup`], from the facts the host reports: its
//! `$SHELL`, else its passwd entry, and whether `~/.tcshrc` exists), the line in that shell's
//! syntax ([`Startup::line`]), and the file's new bytes with ssso's marked block added,
//! replaced or removed, with the message for the user ([`decide`]). Every byte outside the
//! block is kept as it was (CRLF lines, a missing final newline). The host only reports those
//! facts and moves the bytes (`src/sync/host.sh`, its target `s`, driven by
//! [`crate::sync::home`]).

use anyhow::{Result, bail};

/// The first line of ssso's block.
pub const BEGIN: &str =
    "# >>> ssso: AWS_PROFILE (added by ssso setup --persist-profile; remove with --undo) >>>";
/// The last line of ssso's block.
pub const END: &str = "# <<< ssso <<<";

/// A profile name that setup writes into a ssh config and a startup file: letters, digits and
/// `. _ @ + -` only. Inside single quotes these bytes mean themselves in every syntax setup
/// writes (POSIX sh, csh/tcsh, fish): no quote, backslash, `!`, `$` or newline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile(String);

impl Profile {
    pub fn new(name: &str) -> Result<Profile> {
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._@+-".contains(&b))
        {
            bail!(
                "ssso setup writes only profile names of letters, digits and . _ @ + -, not {name:?}"
            );
        }
        Ok(Profile(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How a startup file sets an environment variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    /// `export NAME='VALUE'` (sh, dash, bash, zsh, ksh).
    Posix,
    /// `setenv NAME 'VALUE'` (csh, tcsh).
    Csh,
    /// `set -gx NAME 'VALUE'` (fish).
    Fish,
}

/// The startup files setup may write, relative to the home directory (the host program accepts
/// only these).
pub const FILES: &[&str] = &[
    ".profile",
    ".bashrc",
    ".zshenv",
    ".cshrc",
    ".tcshrc",
    ".config/fish/config.fish",
];

/// The login shell's startup file that gets the block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Startup {
    /// Relative to the home directory; one of [`FILES`].
    pub file: &'static str,
    /// The login shell's name, for messages.
    pub shell: String,
    pub syntax: Syntax,
}

/// The login shell's name: the last part of `$SHELL`, else of the passwd entry's shell field
/// (`getent passwd USER`), else `sh`.
pub fn login_shell(shell_env: &str, passwd: &str) -> String {
    let from_passwd = passwd.trim_end().split(':').nth(6).unwrap_or("");
    let path = [shell_env.trim(), from_passwd.trim()]
        .into_iter()
        .find(|s| !s.is_empty())
        .unwrap_or("sh");
    let name = path.rsplit('/').next().unwrap_or(path);
    if name.is_empty() { "sh" } else { name }.to_owned()
}

/// The file for login shell `shell` (a name from [`login_shell`]); `tcshrc`: `~/.tcshrc`
/// exists (tcsh reads it instead of `~/.cshrc` then). bash: `~/.bashrc` (read by sshd's
/// commands and, through Debian's `~/.profile`, by logins); zsh: `~/.zshenv` (read by every
/// zsh); csh and tcsh: `~/.cshrc`/`~/.tcshrc`; fish: `config.fish`; any other shell (sh,
/// dash, ksh...): `~/.profile`, which only login shells read.
pub fn startup(shell: &str, tcshrc: bool) -> Startup {
    let (file, syntax) = match shell {
        "bash" => (".bashrc", Syntax::Posix),
        "zsh" => (".zshenv", Syntax::Posix),
        "tcsh" if tcshrc => (".tcshrc", Syntax::Csh),
        "tcsh" | "csh" | "bsd-csh" => (".cshrc", Syntax::Csh),
        "fish" => (".config/fish/config.fish", Syntax::Fish),
        _ => (".profile", Syntax::Posix),
    };
    Startup {
        file,
        shell: shell.to_owned(),
        syntax,
    }
}

impl Startup {
    /// `~/FILE (SHELL)`, for messages.
    pub fn shown(&self) -> String {
        format!("~/{} ({})", self.file, self.shell)
    }

    /// The line that sets `AWS_PROFILE` in this shell.
    pub fn line(&self, profile: &Profile) -> String {
        // Single quotes are enough: see [`Profile`].
        let v = profile.as_str();
        match self.syntax {
            Syntax::Posix => format!("export AWS_PROFILE='{v}'"),
            Syntax::Csh => format!("setenv AWS_PROFILE '{v}'"),
            Syntax::Fish => format!("set -gx AWS_PROFILE '{v}'"),
        }
    }

    /// ssso's block: the markers around [`Startup::line`].
    pub fn block(&self, profile: &Profile) -> String {
        format!("{BEGIN}\n{}\n{END}\n", self.line(profile))
    }
}

/// `text` without ssso's blocks (every one of them), and with `block` first when given. Every
/// other byte is kept. A begin marker without an end marker after it is an error (the line
/// number, counted from 1): where the block ends is then unknown.
pub fn edit(text: &[u8], block: Option<&str>) -> Result<Vec<u8>, usize> {
    let mut kept = Vec::with_capacity(text.len() + block.map_or(0, str::len));
    if let Some(b) = block {
        kept.extend_from_slice(b.as_bytes());
    }
    let mut open = None;
    for (n, line) in text.split_inclusive(|&b| b == b'\n').enumerate() {
        let bare = line.strip_suffix(b"\n").unwrap_or(line);
        let bare = bare.strip_suffix(b"\r").unwrap_or(bare);
        match open {
            None if bare == BEGIN.as_bytes() => open = Some(n + 1),
            None => kept.extend_from_slice(line),
            Some(_) if bare == END.as_bytes() => open = None,
            Some(_) => {}
        }
    }
    match open {
        Some(n) => Err(n),
        None => Ok(kept),
    }
}

/// What setup does with the startup file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing to write; the message says why.
    Unchanged(String),
    /// The file's new bytes.
    Change {
        bytes: Vec<u8>,
        /// What would change (without `--write`).
        would: String,
        /// The block to print (without `--write`, when adding).
        show: Option<String>,
        /// What was done (after the write).
        done: String,
        /// A warning: the file sets AWS_PROFILE itself too, after ssso's block.
        note: Option<String>,
    },
}

/// The decision for the startup file `st` whose bytes are `current` (`None`: no such file):
/// the block for `profile`, or (`None`, `--undo`) none.
pub fn decide(current: Option<&[u8]>, st: &Startup, profile: Option<&Profile>) -> Result<Outcome> {
    let shown = st.shown();
    let block = profile.map(|p| st.block(p));
    let old = current.unwrap_or_default();
    let new = match edit(old, block.as_deref()) {
        Ok(b) => b,
        Err(line) => bail!(
            "~/{} has ssso's first marker on line {line} but not its last one ({END:?}) after it; remove the block by hand, then run setup again",
            st.file
        ),
    };
    let Some(p) = profile else {
        if current.is_none() || new == old {
            return Ok(Outcome::Unchanged(format!("{shown} has no ssso block")));
        }
        return Ok(Outcome::Change {
            bytes: new,
            would: format!("would remove ssso's block from {shown}; run again with --write"),
            show: None,
            done: format!("removed ssso's block from {shown}"),
            note: None,
        });
    };
    if current.is_some() && new == old {
        return Ok(Outcome::Unchanged(format!("{shown} already up to date")));
    }
    let others: Vec<String> = edit(old, None)
        .unwrap_or_default()
        .split(|&b| b == b'\n')
        .enumerate()
        .filter(|(_, l)| {
            let l = String::from_utf8_lossy(l);
            !l.trim_start().starts_with('#') && l.contains("AWS_PROFILE")
        })
        .map(|(n, _)| (n + 1 + 3).to_string())
        .collect();
    let note = (!others.is_empty()).then(|| {
        format!(
            "~/{} also sets AWS_PROFILE itself (line {}, after ssso's block at the top): that setting wins",
            st.file,
            others.join(", ")
        )
    });
    Ok(Outcome::Change {
        bytes: new,
        would: format!("would add to {shown}, run again with --write:"),
        show: block,
        done: format!("AWS_PROFILE={} in {shown}", p.as_str()),
        note,
    })
}

/// The mode (octal, for `chmod`) of the new file: the old file's permission bits, from its
/// `ls -l` mode string (`-rw-r-----`: `640`; set-id and sticky bits are not kept), else 644.
pub fn mode(ls: Option<&str>) -> String {
    let Some(s) = ls.filter(|s| s.len() >= 10 && s.is_ascii()) else {
        return "644".to_owned();
    };
    let bits = s.as_bytes()[1..10].iter().fold(0u32, |m, &c| {
        (m << 1) | u32::from(!matches!(c, b'-' | b'S' | b'T'))
    });
    format!("{bits:03o}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev() -> Profile {
        Profile::new("dev").unwrap()
    }

    #[test]
    fn the_login_shell_picks_the_file_and_the_line() {
        let cases = [
            ("bash", false, ".bashrc", "export AWS_PROFILE='dev'"),
            ("sh", false, ".profile", "export AWS_PROFILE='dev'"),
            ("dash", false, ".profile", "export AWS_PROFILE='dev'"),
            ("ksh", false, ".profile", "export AWS_PROFILE='dev'"),
            ("zsh", false, ".zshenv", "export AWS_PROFILE='dev'"),
            ("tcsh", false, ".cshrc", "setenv AWS_PROFILE 'dev'"),
            ("tcsh", true, ".tcshrc", "setenv AWS_PROFILE 'dev'"),
            ("csh", true, ".cshrc", "setenv AWS_PROFILE 'dev'"),
            ("bsd-csh", false, ".cshrc", "setenv AWS_PROFILE 'dev'"),
            (
                "fish",
                false,
                ".config/fish/config.fish",
                "set -gx AWS_PROFILE 'dev'",
            ),
            ("nologin", false, ".profile", "export AWS_PROFILE='dev'"),
        ];
        for (shell, tcshrc, file, line) in cases {
            let st = startup(shell, tcshrc);
            assert_eq!((st.file, st.line(&dev()).as_str()), (file, line), "{shell}");
            assert!(FILES.contains(&st.file));
        }
        assert_eq!(login_shell("/usr/bin/fish", ""), "fish");
        assert_eq!(login_shell("", "u:x:1:1::/home/u:/bin/tcsh\n"), "tcsh");
        assert_eq!(login_shell(" ", "u:x:1:1::/home/u:"), "sh");
        assert_eq!(login_shell("", ""), "sh");
        assert_eq!(login_shell("zsh", "u:x:1:1::/home/u:/bin/bash"), "zsh");
    }

    /// The quoted value means itself in each shell: checked with sh here; the other shells
    /// in tests/setup.rs through real logins.
    #[test]
    fn profile_names_are_checked_and_read_back_by_sh() {
        for bad in [
            "", "a'b", "a b", "a$b", "a!b", "a\\b", "a\nb", "a\"b", "a`b",
        ] {
            assert!(Profile::new(bad).is_err(), "{bad:?}");
        }
        let p = Profile::new("-dev@corp+x_1.2").unwrap();
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "{}; printf %s \"$AWS_PROFILE\"",
                startup("sh", false).line(&p)
            ))
            .output()
            .unwrap();
        assert_eq!(out.stdout, p.as_str().as_bytes());
    }

    #[test]
    fn the_block_goes_first_and_undo_gives_back_every_byte() {
        let st = startup("bash", false);
        let block = st.block(&dev());
        for original in [
            &b"# mine\nalias ll='ls -l'\n"[..],
            b"no final newline",
            b"crlf\r\nlines\r\n",
            b"",
            b"\n\n",
        ] {
            let Outcome::Change { bytes, .. } = decide(Some(original), &st, Some(&dev())).unwrap()
            else {
                panic!("{original:?}")
            };
            assert_eq!(bytes, [block.as_bytes(), original].concat());
            let Outcome::Change { bytes: back, .. } = decide(Some(&bytes), &st, None).unwrap()
            else {
                panic!()
            };
            assert_eq!(back, original);
        }
    }

    #[test]
    fn no_file_gets_the_block_alone() {
        let st = startup("fish", false);
        let Outcome::Change {
            bytes, show, note, ..
        } = decide(None, &st, Some(&dev())).unwrap()
        else {
            panic!()
        };
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            format!("{BEGIN}\nset -gx AWS_PROFILE 'dev'\n{END}\n")
        );
        assert_eq!(show.unwrap(), st.block(&dev()));
        assert_eq!(note, None);
    }

    #[test]
    fn already_up_to_date_and_undo_without_a_block() {
        let st = startup("zsh", false);
        let with = format!("{}rest\n", st.block(&dev()));
        assert_eq!(
            decide(Some(with.as_bytes()), &st, Some(&dev())).unwrap(),
            Outcome::Unchanged("~/.zshenv (zsh) already up to date".into())
        );
        for current in [None, Some(&b"rest\n"[..])] {
            assert_eq!(
                decide(current, &st, None).unwrap(),
                Outcome::Unchanged("~/.zshenv (zsh) has no ssso block".into())
            );
        }
    }

    #[test]
    fn blocks_anywhere_become_one_at_the_top() {
        let st = startup("tcsh", true);
        // A block with CRLF lines in the middle, an older one at the end (ssso used to append
        // it) without a final newline.
        let old = st.block(&Profile::new("old").unwrap());
        let text = format!(
            "a\n{}b\r\nc\n{}",
            old.replace('\n', "\r\n"),
            old.trim_end_matches('\n')
        );
        let Outcome::Change { bytes, done, .. } =
            decide(Some(text.as_bytes()), &st, Some(&dev())).unwrap()
        else {
            panic!()
        };
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            format!("{}a\nb\r\nc\n", st.block(&dev()))
        );
        assert_eq!(done, "AWS_PROFILE=dev in ~/.tcshrc (tcsh)");
        // Undo removes both copies.
        let Outcome::Change { bytes, .. } = decide(Some(text.as_bytes()), &st, None).unwrap()
        else {
            panic!()
        };
        assert_eq!(bytes, b"a\nb\r\nc\n");
    }

    #[test]
    fn a_block_without_its_end_is_refused() {
        let st = startup("bash", false);
        let text = format!("x\n{BEGIN}\nexport AWS_PROFILE='dev'\nrest\n");
        let e = decide(Some(text.as_bytes()), &st, Some(&dev())).unwrap_err();
        assert!(
            e.to_string()
                .contains("~/.bashrc has ssso's first marker on line 2"),
            "{e}"
        );
        assert!(decide(Some(text.as_bytes()), &st, None).is_err());
    }

    #[test]
    fn a_setting_of_its_own_after_the_block_is_reported() {
        let st = startup("bash", false);
        let Outcome::Change { note, .. } = decide(
            Some(b"# AWS_PROFILE comment\nexport AWS_PROFILE=prod\n"),
            &st,
            Some(&dev()),
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(
            note.unwrap(),
            "~/.bashrc also sets AWS_PROFILE itself (line 5, after ssso's block at the top): that setting wins"
        );
    }

    #[test]
    fn the_mode_is_kept() {
        assert_eq!(mode(Some("-rw-r-----")), "640");
        assert_eq!(mode(Some("-rwsr-xr-T")), "754");
        assert_eq!(mode(Some("-rw-------")), "600");
        assert_eq!(mode(None), "644");
        assert_eq!(mode(Some("?")), "644");
    }
}
