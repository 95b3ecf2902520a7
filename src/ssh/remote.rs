//! Running POSIX `sh` scripts on the remote, whatever the user's login shell is.
//!
//! sshd joins the remote command's words and hands them to the user's *login shell* with `-c`,
//! so bash, dash, zsh, ksh, tcsh, csh and fish all parse what ssso sends. tcsh and csh expand
//! `!` even inside single quotes, fish treats `\\` and `\'` as escapes there, csh refuses
//! words longer than a few kilobytes, and bytes outside printable ASCII (control characters,
//! invalid UTF-8) are at the mercy of each shell's reader. So ssso sends one fixed line that
//! every one of those shells reads the same way:
//!
//! ```text
//! exec sh -c 'c=$(printf %b "$@"); [ -n "$c" ] || { echo ...; exit 127; }; eval "$c"' sh 'CHUNK' 'CHUNK'...
//! ```
//!
//! The script travels in the single-quoted CHUNKs (at most [`CHUNK`] bytes each) as printable
//! ASCII: every byte that some shell would read differently (`'`, `\`, `!`, and everything
//! outside 0x20-0x7e) is written as `printf %b`'s octal escape `\0ooo`, which `sh`'s own
//! `printf` decodes back to the byte. Everything else, `$` and `"` included, is literal inside
//! single quotes in all seven shells. No external program is needed: where `printf %b` cannot
//! decode the script, the line says so on stderr and exits 127 instead of running nothing.
//!
//! This module also builds the scripts that run that way: the session wrapper that exports
//! `AWS_PROFILE`, waits for the sync and then `exec`s the user's own login shell or command.

use std::fmt::Write as _;

/// The largest single word sent to the login shell; bsd-csh rejects words of about 10 kB.
pub const CHUNK: usize = 1000;

const BOOTSTRAP: &str = r#"exec sh -c 'c=$(printf %b "$@"); [ -n "$c" ] || { echo "ssso: sh on this host could not decode the command (printf %b)" >&2; exit 127; }; eval "$c"' sh"#;

/// Whether `b` travels as itself inside single quotes in every login shell.
fn literal(b: u8) -> bool {
    (0x20..=0x7e).contains(&b) && !matches!(b, b'\'' | b'\\' | b'!')
}

/// Wraps a POSIX sh script into a command line that any login shell runs as that script.
/// Every byte but NUL (which no command line can hold) arrives as it was.
pub fn wrap(script: &[u8]) -> String {
    let mut out = String::from(BOOTSTRAP);
    let mut chunk = String::new();
    for &b in script {
        let piece_len = if literal(b) { 1 } else { 5 };
        if chunk.len() + piece_len > CHUNK {
            push_chunk(&mut out, &chunk);
            chunk.clear();
        }
        if literal(b) {
            chunk.push(b as char);
        } else {
            let _ = write!(chunk, "\\0{b:03o}");
        }
    }
    if !chunk.is_empty() {
        push_chunk(&mut out, &chunk);
    }
    out
}

fn push_chunk(out: &mut String, chunk: &str) {
    out.push_str(" '");
    out.push_str(chunk);
    out.push('\'');
}

/// Quotes bytes for POSIX sh (always single quotes, `'` as `'\''`).
pub fn sh_quote_bytes(word: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(word.len() + 2);
    out.push(b'\'');
    for &b in word {
        if b == b'\'' {
            out.extend_from_slice(br"'\''");
        } else {
            out.push(b);
        }
    }
    out.push(b'\'');
    out
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
    /// A command line (any bytes), run as sshd runs it: `$SHELL -c LINE`.
    Command(Vec<u8>),
}

/// The file whose appearance tells the waiting session that the sync is over (its program
/// creates it when it ends, however it ends short of SIGKILL).
pub fn done_marker(nonce: &str) -> String {
    format!("$HOME/.aws/sso/cache/.ssso-done-{nonce}")
}

/// The file in which the sync's program announces itself when it starts: its pid (the session
/// waits while that process lives), or `-` (a program of several steps, such as the forward's
/// setup: the session waits for the done marker, bounded).
pub fn run_marker(nonce: &str) -> String {
    format!("$HOME/.aws/sso/cache/.ssso-run-{nonce}")
}

/// How long (in 10 ms steps, roughly) the session waits for the sync's program to announce
/// itself: a sync channel that the server refused, or a sync that failed before it reached
/// the host, costs the session no more than this.
pub const START_STEPS: u32 = 300;

/// The bound on the whole wait (10 ms steps), beyond the sync's own time limit.
pub const WAIT_STEPS: u32 = 3500;

/// The session wrapper: exports `AWS_PROFILE`, waits (bounded) until the sync running in
/// parallel has put the token in place, then becomes the user's login shell or command.
pub fn session_script(profile: &str, wait_nonce: Option<&str>, run: &Run) -> Vec<u8> {
    let mut s = String::new();
    let _ = writeln!(s, "AWS_PROFILE={}; export AWS_PROFILE", sh_quote(profile));
    if let Some(nonce) = wait_nonce {
        // The sync, running in parallel on another channel, writes its pid to the run marker
        // when it starts and creates the done marker when it ends. Poll with shell built-ins
        // and a short sleep (2 ms at first, then 10 ms). Wait for the start only briefly (a
        // refused channel never starts one); then while the done marker is missing and the
        // sync's process lives; never beyond the bound. No FIFO, no background process:
        // nothing can be left behind. The session creates no directory (the sync makes the
        // cache once the directories above it pass its checks); a cache, or the nearest of
        // its parents that exists, that this user cannot write (a read-only home) means the
        // sync cannot write the markers either: no waiting.
        let _ = write!(
            s,
            r#"m="{marker}" r="{run}"
e=${{m%/*}}
while [ ! -d "$e" ] && [ "$e" != "$HOME" ] && [ -n "$e" ]; do e=${{e%/*}}; done
if [ -w "$e" ]; then
  i=0 p=''
  while [ ! -e "$m" ] && [ "$i" -lt {wait} ]; do
    if [ -z "$p" ]; then
      [ -s "$r" ] && {{ IFS= read -r p <"$r"; }} 2>/dev/null
      [ -z "$p" ] && [ "$i" -ge {start} ] && break
    elif [ "$p" != - ] && ! kill -0 "$p" 2>/dev/null; then
      break
    fi
    if [ "$i" -lt 100 ]; then t=0.002; else t=0.01; fi
    sleep "$t" 2>/dev/null || {{ sleep 1; i=$((i + 99)); }}
    i=$((i + 1))
  done
  rm -f "$m" "$r"
fi
unset m r e i p t
"#,
            marker = done_marker(nonce),
            run = run_marker(nonce),
            start = START_STEPS,
            wait = WAIT_STEPS,
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
            // As sshd runs it: argv[0] is the shell's basename (shells name themselves with it
            // in their messages). `exec NAME` gives exactly that where the first NAME on the
            // PATH is the shell itself (`-ef`: the same file, however reached; a sh without
            // `-ef` just says no): one process, no other start. Else via bash's `exec -a`
            // where the host has bash.
            let mut s = s.into_bytes();
            s.extend_from_slice(b"l=");
            s.extend_from_slice(&sh_quote_bytes(line));
            s.extend_from_slice(
                br#"
n=${s##*/} p=$PATH:
while [ -n "$n" ] && [ -n "$p" ]; do
  d=${p%%:*} p=${p#*:}
  [ -f "${d:-.}/$n" ] && [ -x "${d:-.}/$n" ] || continue
  if [ "${d:-.}/$n" -ef "$s" ] 2>/dev/null; then unset d p; exec "$n" -c "$l"; fi
  break
done
unset n d p
if command -v bash >/dev/null 2>&1; then exec bash -c 'exec -a "$0" "$1" -c "$2"' "${s##*/}" "$s" "$l"; fi
exec "$s" -c "$l"
"#,
            );
            return s;
        }
    }
    s.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// Runs `wrap(script)` the way sshd would: `SHELL -c LINE`, for each shell on this machine.
    fn run_in(shell: &str, script: &str) -> Option<String> {
        run_bytes_in(shell, script.as_bytes()).map(|b| String::from_utf8(b).unwrap())
    }

    fn run_bytes_in(shell: &str, script: &[u8]) -> Option<Vec<u8>> {
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
        Some(out.stdout)
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
            wrap(script.as_bytes())
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
            let run = Run::Command(b"printf '%s' \"$AWS_PROFILE\"".to_vec());
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

    /// `$0` of the command is the login shell's basename, as sshd gives it (`argv[0]`).
    #[test]
    fn the_command_s_zero_is_the_shell_s_basename() {
        let run = Run::Command(b"echo \"$0\"; nosuchcommand-ssso".to_vec());
        let script = session_script("p", None, &run);
        for sh in ["/bin/bash", "/bin/dash", "/usr/bin/zsh", "/usr/bin/ksh"] {
            if !std::path::Path::new(sh).exists() {
                continue;
            }
            let out = Command::new("/bin/sh")
                .arg("-c")
                .arg(wrap(&script))
                .env("SHELL", sh)
                .output()
                .unwrap();
            let base = sh.rsplit('/').next().unwrap();
            assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{base}\n"));
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(!err.contains(&format!("/{base}")), "{sh}: {err}");
        }
    }

    /// The shell is started by name (`$0` its basename, in one step) only when that name on
    /// the PATH is the shell itself: another program of the same name earlier on the PATH
    /// is never run instead.
    #[test]
    fn only_the_shell_itself_is_started_by_name() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("dash");
        std::fs::write(&fake, "#!/bin/sh\necho not-the-shell\n").unwrap();
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        let run = Run::Command(b"echo \"$0\" ran".to_vec());
        let script = session_script("p", None, &run);
        for path in [
            format!("{}:/usr/bin:/bin", dir.path().display()),
            "/usr/bin:/bin".to_owned(),
            "::/usr/bin".to_owned(),
        ] {
            let out = Command::new("/bin/sh")
                .arg("-c")
                .arg(wrap(&script))
                .env("SHELL", "/bin/dash")
                .env("PATH", &path)
                .current_dir(dir.path())
                .output()
                .unwrap();
            assert_eq!(String::from_utf8_lossy(&out.stdout), "dash ran\n", "{path}");
            assert!(
                out.stderr.is_empty(),
                "{path}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    /// Control characters, bytes 0x80-0xff (invalid UTF-8 alone) and every ASCII character:
    /// all arrive, in every shell, and the line itself is printable ASCII.
    #[test]
    fn every_byte_but_nul_arrives_intact_in_every_shell() {
        let all: Vec<u8> = (1..=255u8).collect();
        let mut script = b"printf '%s' ".to_vec();
        script.extend_from_slice(&sh_quote_bytes(&all));
        let line = wrap(&script);
        assert!(line.bytes().all(|b| (0x20..=0x7e).contains(&b)), "{line}");
        let mut ran = 0;
        for sh in SHELLS {
            if let Some(out) = run_bytes_in(sh, &script) {
                assert_eq!(out, all, "through {sh}");
                ran += 1;
            }
        }
        assert!(ran >= 2, "no shells to test with");
    }

    /// A script that cannot be decoded is never "run" as nothing with status 0.
    #[test]
    fn an_undecodable_script_fails_loudly() {
        let out = Command::new("/bin/sh")
            .arg("-c")
            .arg(wrap(b""))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(127));
        assert!(String::from_utf8_lossy(&out.stderr).contains("could not decode"));
    }

    #[test]
    fn quoting() {
        assert_eq!(sh_quote("a'b"), r"'a'\''b'");
        assert_eq!(sh_quote_bytes(b"a'\xff"), b"'a'\\''\xff'");
        // An escape is never cut between two chunks.
        let line = wrap(&[0xff; 1000]);
        for w in line.strip_prefix(BOOTSTRAP).unwrap().split(' ').skip(1) {
            assert!(w.len() <= CHUNK + 2 && (w.len() - 2) % 5 == 0, "{w}");
        }
    }
}
