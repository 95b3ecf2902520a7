//! Splitting an `ssh`-style command line.
//!
//! `ssso` takes every option `ssh` takes, so this module reads a command line with the grammar
//! of the ssh that will run it ([`crate::ssh::grammar`]: OpenSSH's own getopt strings, the
//! installed version asked only when a letter's meaning depends on it) to find where the
//! options end, which word is the DESTINATION and where the remote COMMAND begins, exactly as
//! ssh does: options, then the destination, then more options, then the command; `--` ends the
//! options. ssso's own options are long options (`--profile`), which ssh never has, so they can
//! sit anywhere among ssh's. Nothing here rewrites an ssh option: what ssh was given, ssh gets.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

use anyhow::{Result, bail};

use crate::ssh::grammar::{self, Grammar, Letter};

/// Which grammar reads the line.
#[derive(Debug, Clone, Copy)]
pub enum Grammars<'a> {
    /// The installed ssh's, asked lazily: only a letter whose meaning differs between OpenSSH
    /// versions (see [`grammar::settled`]) makes ssso ask.
    Installed,
    /// This one (tests, and callers that already know).
    Fixed(&'a Grammar),
}

impl Grammars<'_> {
    fn letter(self, c: u8) -> Letter {
        match self {
            Grammars::Fixed(g) => g.letter(c),
            Grammars::Installed => {
                grammar::settled(c).unwrap_or_else(|| grammar::installed().letter(c))
            }
        }
    }

    fn label(self) -> String {
        match self {
            Grammars::Fixed(g) => g.label().to_owned(),
            Grammars::Installed => grammar::installed().label().to_owned(),
        }
    }
}

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
    /// `-E` or `-y`: ssh's own log goes to a file or to syslog (and ssh refuses both).
    pub logging: bool,
    /// How many `-v`.
    pub verbose: u8,
    /// How many `-M` (two: ask before each new session on the master).
    pub master: u8,
    /// `-G`, `-V`, `-Q`, `-O` (or `-Z` where ssh has it): ssh answers a question or talks to
    /// a master; no session.
    pub query: bool,
    /// A `--` came before the destination: it is a host whatever its name.
    pub end_of_options: bool,
}

/// A command line split: the caller's long options (with their values) and ssh's line.
#[derive(Debug, PartialEq, Eq)]
pub struct Split {
    pub ssso: Vec<OsString>,
    pub ssh: SshArgs,
}

/// Splits `args` (argv without `argv[0]`) with the installed ssh's grammar. `long_options`
/// names the caller's long options and whether each takes a value (`--name VALUE` or
/// `--name=VALUE`); a long option not in the table is set aside too, for the caller to report.
/// `-h` is set aside as `--help`.
pub fn split(args: &[OsString], long_options: &[(&str, bool)]) -> Result<Split> {
    split_with(args, long_options, Grammars::Installed)
}

/// [`split`] with the given grammar.
pub fn split_with(
    args: &[OsString],
    long_options: &[(&str, bool)],
    grammar: Grammars<'_>,
) -> Result<Split> {
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
            if ssh.destination.is_none() {
                ssh.flags.end_of_options = true;
            }
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
            i += take_short_cluster(args, i, &mut ssh, grammar)?;
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
fn take_short_cluster(
    args: &[OsString],
    i: usize,
    ssh: &mut SshArgs,
    grammar: Grammars<'_>,
) -> Result<usize> {
    let bytes = args[i].as_bytes();
    ssh.options.push(args[i].clone());
    for (pos, &c) in bytes.iter().enumerate().skip(1) {
        match grammar.letter(c) {
            Letter::Value => {
                match c {
                    b'W' => ssh.flags.stdio_forward = true,
                    b'Q' | b'O' => ssh.flags.query = true,
                    b'E' => ssh.flags.logging = true,
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
            Letter::Unknown if grammar::settled(c).is_none() => bail!(
                "unknown ssh option -{} ({} has none; ssso's own options are long options, see ssso --help)",
                char::from(c),
                grammar.label()
            ),
            Letter::Unknown => bail!(
                "unknown ssh option -{} (ssso's own options are long options, see ssso --help)",
                String::from_utf8_lossy(&[c])
            ),
            Letter::Flag => {}
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
            b'y' => f.logging = true,
            b'v' => f.verbose = f.verbose.saturating_add(1),
            b'M' => f.master = f.master.saturating_add(1),
            b'G' | b'V' | b'Z' => f.query = true,
            _ => {}
        }
    }
    Ok(1)
}

/// One option as ssh reads it: its letter and, for an option with a value, the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opt {
    pub letter: u8,
    pub value: Option<OsString>,
}

impl SshArgs {
    /// The remote command as ssh sends it: the words joined by single spaces. `None` when
    /// that is empty (no words, or only one empty word: `ssso host ''`): ssh then sends no
    /// command at all, and the login shell starts and reads stdin (`ssh.c`: "sshbuf_len(command)
    /// == 0"). Two empty words are one space, a command.
    pub fn command_line(&self) -> Option<OsString> {
        if self.command.iter().all(|w| w.is_empty()) && self.command.len() <= 1 {
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

    /// The options one letter at a time, read with the installed ssh's grammar.
    pub fn opts(&self) -> Vec<Opt> {
        self.opts_with(Grammars::Installed)
    }

    /// [`SshArgs::opts`] with the given grammar.
    pub fn opts_with(&self, grammar: Grammars<'_>) -> Vec<Opt> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < self.options.len() {
            let w = self.options[i].as_bytes();
            i += 1;
            if w.len() < 2 || w[0] != b'-' {
                continue;
            }
            for (pos, &c) in w.iter().enumerate().skip(1) {
                if grammar.letter(c) == Letter::Value {
                    let value = if pos + 1 == w.len() {
                        i += 1;
                        self.options.get(i - 1).cloned().unwrap_or_default()
                    } else {
                        OsStr::from_bytes(&w[pos + 1..]).to_owned()
                    };
                    out.push(Opt {
                        letter: c,
                        value: Some(value),
                    });
                    break;
                }
                out.push(Opt {
                    letter: c,
                    value: None,
                });
            }
        }
        out
    }

    /// The options that shape which host and config ssh uses (`-F`, `-o`, `-l`, `-p`, `-J`,
    /// `-4`, `-6`, `-i`), for `ssh -G` and for extra channels over a master. Forwardings,
    /// tty and session options are left out.
    pub fn config_options(&self) -> Vec<OsString> {
        render(
            self.opts()
                .into_iter()
                .filter(|o| b"FolpJi46".contains(&o.letter)),
        )
    }

    /// The options that shape connection sharing (`-S PATH`, `-M`): with
    /// [`SshArgs::config_options`], what `ssh -G` needs to resolve the `controlpath` and
    /// `controlmaster` that this command line would use.
    pub fn sharing_options(&self) -> Vec<OsString> {
        render(
            self.opts()
                .into_iter()
                .filter(|o| b"SM".contains(&o.letter)),
        )
    }

    /// The same line without the option `letter` (a flag): `-tM` becomes `-t`.
    pub fn without(&self, letter: u8) -> SshArgs {
        let opts = self.opts();
        if opts.iter().all(|o| o.letter != letter) {
            return self.clone();
        }
        SshArgs {
            options: render(opts.into_iter().filter(|o| o.letter != letter)),
            ..self.clone()
        }
    }

    /// Every option but the ones that say where ssh logs (`-E`, `-y`): for an `ssh -G` of
    /// the user's own line, whose refusals and decisions are then exactly ssh's.
    pub fn session_options(&self) -> Vec<OsString> {
        self.session_options_with(Grammars::Installed)
    }

    /// [`SshArgs::session_options`] with the given grammar.
    pub fn session_options_with(&self, grammar: Grammars<'_>) -> Vec<OsString> {
        render(
            self.opts_with(grammar)
                .into_iter()
                .filter(|o| !b"Ey".contains(&o.letter)),
        )
    }
}

/// Options as separate words: `-p`, `22`.
fn render(opts: impl IntoIterator<Item = Opt>) -> Vec<OsString> {
    let mut out = Vec::new();
    for o in opts {
        out.push(OsString::from(format!("-{}", char::from(o.letter))));
        out.extend(o.value);
    }
    out
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
        assert!(!f.logging);
        for line in [
            &["-aCyE/tmp/log", "h"][..],
            &["-y", "h"],
            &["-E", "/tmp/log", "h"],
        ] {
            assert!(connect(line).1.flags.logging, "{line:?}");
        }
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
        assert!(split(&os(&["-H", "h"]), LONG).is_err());
    }

    fn g(label: &str, getopt: &str) -> Grammar {
        Grammar::from_getopt(label, getopt)
    }

    fn with(grammar: &Grammar, v: &[&str]) -> Result<SshArgs> {
        split_with(&os(v), LONG, Grammars::Fixed(grammar)).map(|s| s.ssh)
    }

    /// `-P`: a flag in OpenSSH 9.2 (the getopt string of its `ssh.c`, also in its binary), a
    /// tag from 9.4 on. The same line names a different destination and command.
    #[test]
    fn p_follows_the_grammar_of_the_ssh_that_runs() {
        let old = g("OpenSSH 9.2", grammar::GETOPT_9_2);
        let ssh = with(&old, &["-P", "host", "echo", "hi"]).unwrap();
        assert_eq!(ssh.options, os(&["-P"]));
        assert_eq!(ssh.destination, Some("host".into()));
        assert_eq!(ssh.command_line(), Some("echo hi".into()));
        // Clustered: -Pp22 is -P, then -p 22.
        let ssh = with(&old, &["-Pp22", "host"]).unwrap();
        assert_eq!(ssh.opts_with(Grammars::Fixed(&old)).len(), 2);
        assert_eq!(
            ssh.session_options_with(Grammars::Fixed(&old)),
            os(&["-P", "-p", "22"])
        );

        for newer in [
            g("OpenSSH 9.4", grammar::GETOPT_9_4),
            g("OpenSSH 10.5", grammar::GETOPT_10_5),
        ] {
            let ssh = with(&newer, &["-P", "host", "echo", "hi"]).unwrap();
            assert_eq!(ssh.options, os(&["-P", "host"]), "{}", newer.label());
            assert_eq!(ssh.destination, Some("echo".into()));
            assert_eq!(ssh.command_line(), Some("hi".into()));
            let ssh = with(&newer, &["-Pp22", "host"]).unwrap();
            assert_eq!(
                ssh.session_options_with(Grammars::Fixed(&newer)),
                os(&["-P", "p22"])
            );
            // A tag with nothing after it is missing its value.
            assert!(with(&newer, &["host", "-P"]).is_err());
        }
    }

    /// `-Z` (list the keys that would be tried) is new in OpenSSH 10.5: a query there, an
    /// unknown option in 9.2 and 9.4, with the version named in the message.
    #[test]
    fn z_exists_only_in_the_newest_grammar() {
        let newest = g("OpenSSH 10.5", grammar::GETOPT_10_5);
        let ssh = with(&newest, &["-Z", "host"]).unwrap();
        assert!(ssh.flags.query);
        for older in [
            g("OpenSSH 9.2", grammar::GETOPT_9_2),
            g("OpenSSH 9.4", grammar::GETOPT_9_4),
        ] {
            let e = with(&older, &["-Z", "host"]).unwrap_err().to_string();
            assert!(e.contains("-Z") && e.contains(older.label()), "{e}");
        }
    }

    /// Every letter that is not version-dependent reads the same in all three grammars, so a
    /// line without `-P` or `-Z` splits the same whichever ssh is installed.
    #[test]
    fn other_letters_split_alike_in_every_grammar() {
        let line = [
            "-4AaCgKkMNnqsTtVvXxYy",
            "-B",
            "lo",
            "-bx",
            "-c",
            "aes128-ctr",
            "-D1080",
            "-E",
            "log",
            "-e",
            "none",
            "-F",
            "cfg",
            "-G",
            "-I",
            "p",
            "-i",
            "k",
            "-J",
            "j",
            "-L",
            "1:h:2",
            "-l",
            "u",
            "-m",
            "mac",
            "-O",
            "check",
            "-o",
            "A=b",
            "-p",
            "2",
            "-Q",
            "kex",
            "-R",
            "3",
            "-S",
            "s",
            "-W",
            "h:1",
            "-w",
            "any",
            "host",
            "-t",
            "cmd",
            "-x",
        ];
        let split: Vec<SshArgs> = [
            grammar::GETOPT_9_2,
            grammar::GETOPT_9_4,
            grammar::GETOPT_10_5,
        ]
        .iter()
        .map(|s| with(&g("x", s), &line).unwrap())
        .collect();
        assert_eq!(split[0], split[1]);
        assert_eq!(split[1], split[2]);
        assert_eq!(split[0].destination, Some("host".into()));
        assert_eq!(split[0].command, os(&["cmd", "-x"]));
        assert_eq!(split[0].flags.master, 1);
        assert_eq!(split[0].flags.tty, 2);
    }

    /// `ssso host ''` is no command, as for ssh; `'' ''` is one space, a command.
    #[test]
    fn empty_commands_like_ssh() {
        let (_, ssh) = connect(&["host", ""]);
        assert_eq!(ssh.command_line(), None);
        let (_, ssh) = connect(&["host", "", ""]);
        assert_eq!(ssh.command_line(), Some(" ".into()));
        let (_, ssh) = connect(&["host", "", "x"]);
        assert_eq!(ssh.command_line(), Some(" x".into()));
    }

    #[test]
    fn double_dash_before_the_destination_is_recorded() {
        let (_, ssh) = connect(&["-p", "2", "--", "status"]);
        assert!(ssh.flags.end_of_options);
        let (_, ssh) = connect(&["status", "--", "x"]);
        assert!(!ssh.flags.end_of_options);
        assert_eq!(ssh.command, os(&["x"]));
    }

    /// The line for `ssh -G` drops where ssh logs, nothing else.
    #[test]
    fn session_options_leave_out_logging_only() {
        let (_, ssh) = connect(&["-yvE", "/tmp/log", "-tp22", "-o", "X=y", "h", "-E/l", "c"]);
        assert_eq!(
            ssh.session_options(),
            os(&["-v", "-t", "-p", "22", "-o", "X=y"])
        );
    }
}
