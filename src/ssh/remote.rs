//! Running POSIX `sh` scripts on the remote, whatever the user's login shell is.
//!
//! sshd joins the remote command's words and hands them to the user's *login shell* with `-c`,
//! so bash, dash, zsh, ksh, tcsh, csh and fish all parse what ssso sends. tcsh and csh expand
//! `!` even inside single quotes, fish treats `\\` and `\'` as escapes there, and csh refuses
//! words longer than a few kilobytes. So ssso sends one fixed line that every one of those
//! shells reads the same way:
//!
//! ```text
//! exec sh -c 'eval "$(printf %s "$@" | tr "\001\002\003\004" "\047\134\012\041")"' sh 'CHUNK' 'CHUNK'...
//! ```
//!
//! The script travels in the single-quoted CHUNKs (at most [`CHUNK`] bytes each), with the
//! four characters some shell would mangle (`'`, `\`, newline, `!`) replaced by the control
//! characters 1 to 4, which `tr` maps back inside `sh`. Everything else, `$` and `"` included,
//! is literal inside single quotes in all seven shells. This module also builds the scripts
//! that run that way: the session wrapper that exports `AWS_PROFILE`, waits for the sync and
//! then `exec`s the user's own login shell or command.

use std::fmt::Write as _;

/// The largest single word sent to the login shell; bsd-csh rejects words of about 10 kB.
pub const CHUNK: usize = 1000;

const BOOTSTRAP: &str =
    r#"exec sh -c 'eval "$(printf %s "$@" | tr "\001\002\003\004" "\047\134\012\041")"' sh"#;

/// Wraps a POSIX sh script into a command line that any login shell runs as that script.
pub fn wrap(script: &str) -> String {
    let mut encoded = Vec::with_capacity(script.len());
    for &b in script.as_bytes() {
        encoded.push(match b {
            b'\'' => 1,
            b'\\' => 2,
            b'\n' => 3,
            b'!' => 4,
            other => other,
        });
    }
    // Only ASCII bytes were swapped for ASCII bytes, so this is still valid UTF-8.
    let encoded = String::from_utf8(encoded).expect("ASCII-for-ASCII substitution");
    let mut out = String::from(BOOTSTRAP);
    let mut rest = encoded.as_str();
    while !rest.is_empty() {
        let mut end = rest.len().min(CHUNK);
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        out.push_str(" '");
        out.push_str(&rest[..end]);
        out.push('\'');
        rest = &rest[end..];
    }
    out
}

/// Whether `wrap` can carry this script byte for byte (a NUL byte or bytes 1 to 4 cannot).
pub fn can_wrap(script: &str) -> bool {
    !script.bytes().any(|b| b <= 4)
}

/// Quotes a word for POSIX sh (always single quotes, `'` as `'\''`).
pub fn sh_quote(word: &str) -> String {
    let mut out = String::with_capacity(word.len() + 2);
    out.push('\'');
    for c in word.chars() {
        if c == '\'' {
            out.push_str(r"'\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

/// What the remote session should run after the environment is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Run {
    /// The user's login shell as a login shell, as sshd starts it for `ssh host`.
    LoginShell,
    /// A command line, run as sshd runs it: `$SHELL -c LINE`.
    Command(String),
}

/// The file whose appearance tells the waiting session that the sync is over (see `sync`).
pub fn done_marker(nonce: &str) -> String {
    format!("$HOME/.aws/sso/cache/.ssso-done-{nonce}")
}

/// The session wrapper: exports `AWS_PROFILE`, waits (bounded) until the sync running in
/// parallel has put the token in place, then becomes the user's login shell or command.
pub fn session_script(profile: &str, wait_nonce: Option<&str>, run: &Run) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "AWS_PROFILE={}; export AWS_PROFILE", sh_quote(profile));
    if let Some(nonce) = wait_nonce {
        // The sync, running in parallel, creates the marker once the token is in place (or
        // once it has given up). Poll for it with shell built-ins and a short sleep (2 ms at
        // first, when the sync is about to finish, then 10 ms); give up after about 20 s. No FIFO, no background process: nothing can be left behind. A
        // home where the cache directory cannot be made or written (read-only) means the sync
        // cannot write either, nor create the marker: no waiting then.
        let _ = write!(
            s,
            r#"m="{marker}"
[ -d "${{m%/*}}" ] || (umask 077 && mkdir -p "${{m%/*}}") 2>/dev/null
if [ -d "${{m%/*}}" ] && [ -w "${{m%/*}}" ]; then
  i=0
  while [ ! -e "$m" ] && [ "$i" -lt 2100 ]; do
    if [ "$i" -lt 100 ]; then t=0.002; else t=0.01; fi
    sleep "$t" 2>/dev/null || sleep 1
    i=$((i + 1))
  done
  rm -f "$m"
fi
unset m i t
"#,
            marker = done_marker(nonce)
        );
    }
    s.push_str(
        r#"s=${SHELL:-/bin/sh}
[ -x "$s" ] || s=/bin/sh
"#,
    );
    match run {
        Run::LoginShell => s.push_str(
            r#"n=${s##*/}
if command -v bash >/dev/null 2>&1; then exec bash -c 'exec -a "$0" "$1"' "-$n" "$s"; fi
case $n in csh|bsd-csh) exec "$s" ;; *) exec "$s" -l ;; esac
"#,
        ),
        Run::Command(line) => {
            let _ = writeln!(s, "exec \"$s\" -c {}", sh_quote(line));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// Runs `wrap(script)` the way sshd would: `SHELL -c LINE`, for each shell on this machine.
    fn run_in(shell: &str, script: &str) -> Option<String> {
        if !std::path::Path::new(shell).exists() {
            return None;
        }
        let out = Command::new(shell)
            .arg("-c")
            .arg(wrap(script))
            .env("HOME", "/nonexistent-ssso-test")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{shell}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some(String::from_utf8(out.stdout).unwrap())
    }

    const SHELLS: &[&str] = &[
        "/bin/sh",
        "/bin/dash",
        "/bin/bash",
        "/usr/bin/zsh",
        "/usr/bin/ksh",
        "/usr/bin/tcsh",
        "/bin/tcsh",
        "/bin/bsd-csh",
        "/usr/bin/fish",
    ];

    #[test]
    fn hostile_characters_arrive_intact_in_every_shell() {
        let nasty = "a'b\\c\n!x !! !$ \\' \\\\ $HOME `id` \"q\" ; & | < > * ? ~ # % ^ é\t{}()[] -";
        let script = format!("printf '%s' {}", sh_quote(nasty));
        let mut ran = 0;
        for sh in SHELLS {
            if let Some(out) = run_in(sh, &script) {
                assert_eq!(out, nasty, "through {sh}");
                ran += 1;
            }
        }
        assert!(ran >= 2, "no shells to test with");
    }

    #[test]
    fn long_scripts_are_chunked_for_csh() {
        let long = "x".repeat(30_000);
        let script = format!("printf %s {} | wc -c", sh_quote(&long));
        assert!(
            wrap(&script)
                .split(' ')
                .all(|w| w.len() <= CHUNK + 2 || w.contains("exec"))
        );
        for sh in SHELLS {
            if let Some(out) = run_in(sh, &script) {
                assert_eq!(out.trim(), "30000", "through {sh}");
            }
        }
    }

    #[test]
    fn session_script_exports_profile_and_runs_the_command() {
        for name in ["dev", "a.b-c_d@e+f", "it's !x", "with space"] {
            let run = Run::Command("printf '%s' \"$AWS_PROFILE\"".into());
            let script = session_script(name, None, &run);
            for sh in SHELLS {
                let Some(shell_path) = std::path::Path::new(sh).exists().then_some(sh) else {
                    continue;
                };
                // The command runs through $SHELL, as sshd would run it.
                if sh.contains("csh") || sh.contains("fish") {
                    // The user's command line is in their own shell's syntax; this one is sh's.
                    continue;
                }
                let out = Command::new(shell_path)
                    .arg("-c")
                    .arg(wrap(&script))
                    .env("SHELL", shell_path)
                    .output()
                    .unwrap();
                assert_eq!(String::from_utf8_lossy(&out.stdout), name, "{sh}");
            }
        }
    }

    #[test]
    fn quoting() {
        assert_eq!(sh_quote("a'b"), r"'a'\''b'");
        assert!(can_wrap("ok\n"));
        assert!(!can_wrap("bad\u{1}"));
    }
}
