//! Splitting an `ssh`-style command line.
//!
//! `ssso` takes every option `ssh` takes, so this module knows ssh's option table (the getopt
//! string of OpenSSH's `ssh.c`) well enough to find where the options end, which word is the
//! DESTINATION and where the remote COMMAND begins, exactly as ssh does: options, then the
//! destination, then more options, then the command; `--` ends the options. ssso's own options
//! are long options (`--profile`), which ssh never has, so they can sit anywhere among ssh's.
//! Nothing here rewrites an ssh option: what ssh was given, ssh gets.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

use anyhow::{Result, bail};

/// ssh's one-letter options that take a value (OpenSSH 9.x getopt string, `-P tag` included).
const WITH_VALUE: &[u8] = b"BbcDEeFIiJLlmOoPpQRSWw";
/// ssh's one-letter options that are plain flags.
const FLAGS: &[u8] = b"1246AaCfGgKkMNnqsTtVvXxYy";

/// An ssh command line, split.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SshArgs {
    /// ssh's options, word for word as given (`-p2222` stays one word, `-p 2222` two);
    /// a `--` is not kept.
    pub options: Vec<OsString>,
    pub destination: Option<OsString>,
    /// The remote command's words; ssh joins them with single spaces.
    pub command: Vec<OsString>,
    pub flags: Flags,
}

/// What the options ask of ssh, as far as ssso needs to know.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Flags {
    /// How many `-t` (two or more force a tty).
    pub tty: u8,
    /// `-T`
    pub no_tty: bool,
    /// `-N`: no remote command at all.
    pub no_shell: bool,
    /// `-f`: background after authentication.
    pub fork: bool,
    /// `-n`
    pub stdin_null: bool,
    /// `-s`: the command is a subsystem.
    pub subsystem: bool,
    /// `-W`: stdio forwarding.
    pub stdio_forward: bool,
    /// `-q`
    pub quiet: bool,
    /// How many `-v`.
    pub verbose: u8,
    /// `-G`, `-V`, `-Q` or `-O`: ssh answers a question or talks to a master; no session.
    pub query: bool,
}

/// A command line split: the caller's long options (with their values) and ssh's line.
#[derive(Debug, PartialEq, Eq)]
pub struct Split {
    pub ssso: Vec<OsString>,
    pub ssh: SshArgs,
}

/// Splits `args` (argv without `argv[0]`). `long_options` names the caller's long options and
/// whether each takes a value (`--name VALUE` or `--name=VALUE`); a long option not in the
/// table is set aside too, for the caller to report. `-h` is set aside as `--help`.
pub fn split(args: &[OsString], long_options: &[(&str, bool)]) -> Result<Split> {
    let mut ssso = Vec::new();
    let mut ssh = SshArgs::default();
    let mut i = 0;
    let mut terminated = false;
    while i < args.len() {
        let word = &args[i];
        let bytes = word.as_bytes();
        if !terminated && bytes == b"--" {
            // ssso adds its own `--` before the destination when it runs ssh.
            terminated = true;
            i += 1;
            continue;
        }
        if !terminated && bytes.starts_with(b"--") {
            // One of ssso's long options (or an unknown one, which clap will report).
            let name = &bytes[2..];
            let (name, inline) = match name.iter().position(|&b| b == b'=') {
                Some(eq) => (&name[..eq], true),
                None => (name, false),
            };
            let takes_value = long_options.iter().any(|(n, v)| *v && n.as_bytes() == name);
            ssso.push(word.clone());
            if takes_value
                && !inline
                && let Some(value) = args.get(i + 1)
            {
                ssso.push(value.clone());
                i += 1;
            }
            i += 1;
            continue;
        }
        if !terminated && bytes == b"-h" {
            ssso.push(OsString::from("--help"));
            i += 1;
            continue;
        }
        if !terminated && bytes.len() > 1 && bytes[0] == b'-' {
            i += take_short_cluster(args, i, &mut ssh)?;
            continue;
        }
        // A positional word: the destination, or the start of the command.
        if ssh.destination.is_none() {
            ssh.destination = Some(word.clone());
            i += 1;
            continue;
        }
        ssh.command = args[i..].to_vec();
        break;
    }
    Ok(Split { ssso, ssh })
}

/// Reads one word of clustered short options (`-4At`, `-p2222`, `-p 2222`) starting at
/// `args[i]`; returns how many words it used.
fn take_short_cluster(args: &[OsString], i: usize, ssh: &mut SshArgs) -> Result<usize> {
    let bytes = args[i].as_bytes();
    ssh.options.push(args[i].clone());
    for (pos, &c) in bytes.iter().enumerate().skip(1) {
        if WITH_VALUE.contains(&c) {
            match c {
                b'W' => ssh.flags.stdio_forward = true,
                b'Q' | b'O' => ssh.flags.query = true,
                _ => {}
            }
            if pos + 1 < bytes.len() {
                return Ok(1);
            }
            let Some(value) = args.get(i + 1) else {
                bail!("ssh option -{} needs a value", c as char);
            };
            ssh.options.push(value.clone());
            return Ok(2);
        }
        if !FLAGS.contains(&c) {
            bail!(
                "unknown ssh option -{} (ssso's own options are long options, see ssso --help)",
                c as char
            );
        }
        let f = &mut ssh.flags;
        match c {
            b't' => f.tty = f.tty.saturating_add(1),
            b'T' => f.no_tty = true,
            b'N' => f.no_shell = true,
            b'f' => {
                f.fork = true;
                f.stdin_null = true;
            }
            b'n' => f.stdin_null = true,
            b's' => f.subsystem = true,
            b'q' => f.quiet = true,
            b'v' => f.verbose = f.verbose.saturating_add(1),
            b'G' | b'V' => f.query = true,
            _ => {}
        }
    }
    Ok(1)
}

impl SshArgs {
    /// The remote command as ssh sends it: the words joined by single spaces.
    pub fn command_line(&self) -> Option<OsString> {
        if self.command.is_empty() {
            return None;
        }
        let mut out = OsString::new();
        for (n, w) in self.command.iter().enumerate() {
            if n > 0 {
                out.push(" ");
            }
            out.push(w);
        }
        Some(out)
    }

    /// The whole command line again, as plain ssh should get it.
    pub fn to_args(&self) -> Vec<OsString> {
        let mut v = self.options.clone();
        if let Some(d) = &self.destination {
            v.push("--".into());
            v.push(d.clone());
            v.extend(self.command.iter().cloned());
        }
        v
    }

    /// The options that shape which host and config ssh uses (`-F`, `-o`, `-l`, `-p`, `-J`,
    /// `-4`, `-6`, `-i`), for `ssh -G` and for extra channels over a master. Forwardings,
    /// tty and session options are left out.
    pub fn config_options(&self) -> Vec<OsString> {
        self.picked(b"FolpJi", b"46")
    }

    /// The options that shape connection sharing (`-S PATH`, `-M`): with
    /// [`SshArgs::config_options`], what `ssh -G` needs to resolve the `controlpath` and
    /// `controlmaster` that this command line would use.
    pub fn sharing_options(&self) -> Vec<OsString> {
        self.picked(b"S", b"M")
    }

    /// The options among `with_value` and `flags`, each as its own word (`-p 22`, `-4`), in
    /// the order given.
    fn picked(&self, with_value: &[u8], flags: &[u8]) -> Vec<OsString> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < self.options.len() {
            let w = self.options[i].as_bytes();
            i += 1;
            if w.len() < 2 || w[0] != b'-' {
                continue;
            }
            // Walk the cluster to find an option with a value.
            for (pos, &c) in w.iter().enumerate().skip(1) {
                if WITH_VALUE.contains(&c) {
                    let keep = with_value.contains(&c);
                    let mut value = None;
                    if pos + 1 == w.len() {
                        value = self.options.get(i).cloned();
                        i += 1;
                    }
                    if keep {
                        out.push(OsString::from(format!("-{}", c as char)));
                        match value {
                            Some(v) => out.push(v),
                            None => out.push(OsStr::from_bytes(&w[pos + 1..]).to_owned()),
                        }
                    }
                    break;
                }
                if flags.contains(&c) {
                    out.push(OsString::from(format!("-{}", c as char)));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    const LONG: &[(&str, bool)] = &[("profile", true), ("no-login", false), ("login-arg", true)];

    fn connect(v: &[&str]) -> (Vec<OsString>, SshArgs) {
        let Split { ssso, ssh } = split(&os(v), LONG).unwrap();
        (ssso, ssh)
    }

    #[test]
    fn destination_and_command() {
        let (ssso, ssh) = connect(&["alice@host", "aws", "s3", "ls"]);
        assert!(ssso.is_empty());
        assert_eq!(ssh.destination, Some("alice@host".into()));
        assert_eq!(ssh.command, os(&["aws", "s3", "ls"]));
        assert_eq!(ssh.command_line(), Some("aws s3 ls".into()));
    }

    #[test]
    fn options_with_attached_and_separate_values() {
        let (_, ssh) = connect(&["-p", "2222", "-i/k", "-oUser=x", "-4Ap", "22", "h", "cmd"]);
        assert_eq!(
            ssh.options,
            os(&["-p", "2222", "-i/k", "-oUser=x", "-4Ap", "22"])
        );
        assert_eq!(ssh.destination, Some("h".into()));
        assert_eq!(ssh.command, os(&["cmd"]));
        assert_eq!(
            ssh.config_options(),
            os(&["-p", "2222", "-i", "/k", "-o", "User=x", "-4", "-p", "22"])
        );
    }

    #[test]
    fn sharing_options_for_ssh_g() {
        let (_, ssh) = connect(&["-S/c/x", "-CM", "-p", "2", "-S", "/c/y", "-Mt", "h"]);
        assert_eq!(
            ssh.sharing_options(),
            os(&["-S", "/c/x", "-M", "-S", "/c/y", "-M"])
        );
        assert_eq!(ssh.config_options(), os(&["-p", "2"]));
    }

    #[test]
    fn options_after_destination_like_ssh() {
        let (_, ssh) = connect(&["host", "-p", "22", "-t", "ls", "-l"]);
        assert_eq!(ssh.destination, Some("host".into()));
        assert_eq!(ssh.options, os(&["-p", "22", "-t"]));
        assert_eq!(ssh.command, os(&["ls", "-l"]));
        assert_eq!(ssh.flags.tty, 1);
    }

    #[test]
    fn double_dash_ends_options() {
        let (_, ssh) = connect(&["-v", "--", "status", "-x"]);
        assert_eq!(ssh.options, os(&["-v"]));
        assert_eq!(ssh.destination, Some("status".into()));
        assert_eq!(ssh.command, os(&["-x"]));
        let (_, ssh) = connect(&["host", "--", "-p", "1"]);
        assert_eq!(ssh.command, os(&["-p", "1"]));
    }

    #[test]
    fn ssso_long_options_anywhere_before_the_command() {
        let (ssso, ssh) = connect(&[
            "--profile",
            "dev",
            "-p",
            "2",
            "--no-login",
            "h",
            "--login-arg=--use-device-code",
            "cmd",
            "--profile",
        ]);
        assert_eq!(
            ssso,
            os(&[
                "--profile",
                "dev",
                "--no-login",
                "--login-arg=--use-device-code"
            ])
        );
        assert_eq!(ssh.command, os(&["cmd", "--profile"]));
    }

    #[test]
    fn flags_are_recorded() {
        let (_, ssh) = connect(&["-ttvvq", "-TNfns", "-W", "h:1", "-G", "host"]);
        let f = &ssh.flags;
        assert_eq!((f.tty, f.verbose), (2, 2));
        assert!(f.quiet && f.no_tty && f.no_shell && f.fork && f.stdin_null && f.subsystem);
        assert!(f.stdio_forward && f.query);
    }

    #[test]
    fn subcommand_names_are_hosts_here() {
        let (_, ssh) = connect(&["user@status"]);
        assert_eq!(ssh.destination, Some("user@status".into()));
        let (_, ssh) = connect(&["-p", "22", "status"]);
        assert_eq!(ssh.destination, Some("status".into()));
    }

    #[test]
    fn bad_options_are_errors() {
        assert!(split(&os(&["-p"]), LONG).is_err());
        assert!(split(&os(&["-Z", "h"]), LONG).is_err());
    }
}
