//! Dynamic shell completion: the hidden `ssso __complete` helper and the small hooks that the
//! bash, zsh and fish scripts (see [`crate::docs`]) add on top of clap's static completions.
//!
//! The static scripts know ssso's options and subcommands; two kinds of values depend on the
//! user's files and are completed here instead: the value of `--profile` (the SSO profiles of
//! the local AWS config) and DESTINATION (the `Host` names of `~/.ssh/config` and the host
//! names of `~/.ssh/known_hosts`, keeping a `user@` prefix). A shell hook calls
//! `ssso __complete --shell SHELL -- WORD... CURRENT` with the words typed after `ssso`;
//! the helper decides, with the same ssh option table as the connect path
//! ([`crate::ssh::args::split`]), whether CURRENT is one of those two and prints the matching
//! candidates one per line (exit 0), or exits 1 to let the static completion answer. It reads
//! local files only, never the network, and prints nothing on stderr.
//!
//! A helper rather than clap_complete's dynamic `CompleteEnv`: ssso's command line is ssh's
//! (one-letter ssh options, destination, then a remote command), which clap does not parse,
//! and the checked-in scripts stay ordinary static files that packages install.

use std::path::Path;

use crate::ssh::args::{self, Split};

/// What the helper answers for the word being completed.
#[derive(Debug, PartialEq, Eq)]
pub enum Answer {
    /// These candidates (exit 0).
    Values(Vec<String>),
    /// Not ours: an option or a subcommand's argument; the static script answers (exit 1).
    Static,
    /// A remote command word or an ssh option's value: file names (exit 2).
    Files,
}

/// The command line's grammar, as the helper needs it: the subcommands' names and ssso's long
/// options with whether each takes a value (from the clap definitions).
#[derive(Debug, Clone, Copy)]
pub struct Grammar<'a> {
    pub subcommands: &'a [&'a str],
    pub long_options: &'a [(&'a str, bool)],
}

/// Runs the helper; returns the exit status (see [`Answer`]).
pub fn run(shell: &str, words: &[String], grammar: Grammar) -> u8 {
    let (words, tail) = if shell == "bash" {
        join_bash_breaks(words)
    } else {
        let tail = words.last().map_or(0, String::len);
        (words.to_vec(), tail)
    };
    let found = match candidates(&words, grammar, profiles, hosts) {
        Answer::Values(v) => v,
        Answer::Static => return 1,
        Answer::Files => return 2,
    };
    let cur = words.last().map_or("", String::as_str);
    // bash replaces only what follows the word's last break character (`=`, `@`, `:`); fish
    // completes the value after `--profile=` itself.
    let strip = match shell {
        "bash" => cur.len() - tail.min(cur.len()),
        "fish" if cur.starts_with("--profile=") => "--profile=".len(),
        _ => 0,
    };
    let mut out = String::new();
    for c in found {
        out.push_str(c.get(strip..).unwrap_or(&c));
        out.push('\n');
    }
    use std::io::Write as _;
    let _ = std::io::stdout().write_all(out.as_bytes());
    0
}

/// bash splits words at COMP_WORDBREAKS (`--profile=de` arrives as `--profile`, `=`, `de`;
/// `me@host` as `me`, `@`, `host`): join them back. Also returns the length of the part of the
/// last word that bash will replace.
fn join_bash_breaks(words: &[String]) -> (Vec<String>, usize) {
    let is_break = |w: &str| matches!(w, "=" | "@" | ":");
    // readline keeps a leading `@` in the word it replaces (rl_special_prefixes).
    let tail = match words {
        [.., w] if w == "@" => 1,
        [.., w] if is_break(w) => 0,
        [.., at, w] if at == "@" => w.len() + 1,
        [.., w] => w.len(),
        [] => 0,
    };
    let mut out: Vec<String> = Vec::new();
    let mut glue = false;
    for w in words {
        match out.last_mut() {
            Some(last) if glue || is_break(w) => {
                last.push_str(w);
                glue = is_break(w);
            }
            _ => out.push(w.clone()),
        }
    }
    (out, tail)
}

/// The candidates for the last word of `words` (the words after `ssso`), or None when the
/// static completion should answer.
pub(crate) fn candidates(
    words: &[String],
    grammar: Grammar,
    profiles: impl FnOnce() -> Vec<String>,
    hosts: impl FnOnce() -> Vec<String>,
) -> Answer {
    let (cur, mut before) = match words.split_last() {
        Some((cur, before)) => (cur.as_str(), before),
        None => ("", words),
    };
    let mut sub = None;
    if let Some(first) = before.first()
        && grammar.subcommands.contains(&first.as_str())
    {
        sub = Some(first.as_str());
        before = &before[1..];
    }
    let matching = |list: Vec<String>, prefix: &str, add: &str| -> Vec<String> {
        list.into_iter()
            .filter(|c| c.starts_with(prefix))
            .map(|c| format!("{add}{c}"))
            .collect()
    };
    if before.last().is_some_and(|w| w == "--profile") {
        return Answer::Values(matching(profiles(), cur, ""));
    }
    if let Some(v) = cur.strip_prefix("--profile=") {
        return Answer::Values(matching(profiles(), v, "--profile="));
    }
    if !matches!(sub, None | Some("doctor" | "setup")) || cur.starts_with('-') {
        return Answer::Static;
    }
    // The value of another long option of ssso's (`--min-valid 1h`).
    if let Some(name) = before.last().and_then(|w| w.strip_prefix("--"))
        && grammar.long_options.iter().any(|(n, v)| *v && *n == name)
    {
        return Answer::Static;
    }
    let os: Vec<std::ffi::OsString> = before.iter().map(Into::into).collect();
    // An error here is an ssh option still waiting for its value (`-p`, `-i`).
    let Ok(Split { ssh, .. }) = args::split(&os, grammar.long_options) else {
        return Answer::Files;
    };
    if ssh.destination.is_some() {
        return if sub.is_none() {
            Answer::Files
        } else {
            Answer::Static
        };
    }
    let (user, host) = match cur.rfind('@') {
        Some(at) => cur.split_at(at + 1),
        None => ("", cur),
    };
    let mut out = matching(hosts(), host, user);
    if sub.is_none() && before.is_empty() {
        out.extend(
            grammar
                .subcommands
                .iter()
                .filter(|s| s.starts_with(cur) && !s.starts_with('_') && **s != "man")
                .map(|s| s.to_string()),
        );
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|c| seen.insert(c.clone()));
    Answer::Values(out)
}

/// The SSO profiles of the local AWS config (none when it cannot be read).
fn profiles() -> Vec<String> {
    crate::aws::config::config_path()
        .and_then(|p| crate::aws::config::AwsConfig::load(&p))
        .map(|c| c.sso_profile_names())
        .unwrap_or_default()
}

/// Host names from `~/.ssh/config` and `~/.ssh/known_hosts`, sorted, without duplicates.
fn hosts() -> Vec<String> {
    let Some(home) = std::env::var_os("HOME") else {
        return Vec::new();
    };
    let ssh = Path::new(&home).join(".ssh");
    let read = |name: &str| std::fs::read_to_string(ssh.join(name)).unwrap_or_default();
    let mut out = config_hosts(&read("config"));
    out.extend(known_hosts(&read("known_hosts")));
    out.sort();
    out.dedup();
    out
}

/// The literal names of `Host` lines (patterns and negations left out).
pub(crate) fn config_hosts(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        let Some((key, rest)) = line.split_once(|c: char| c.is_whitespace() || c == '=') else {
            continue;
        };
        if !key.eq_ignore_ascii_case("host") {
            continue;
        }
        for name in rest
            .trim_start_matches(|c: char| c.is_whitespace() || c == '=')
            .split_whitespace()
        {
            if name.starts_with('#') {
                break;
            }
            let name = name.trim_matches('"');
            if !name.is_empty() && !name.contains(['*', '?', '!']) {
                out.push(name.to_owned());
            }
        }
    }
    out
}

/// Host names of a known_hosts file: hashed entries and markers skipped, `[host]:port` as host.
pub(crate) fn known_hosts(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim_start();
        if line.starts_with(['#', '@', '|']) {
            continue;
        }
        let Some(field) = line.split_whitespace().next() else {
            continue;
        };
        for name in field.split(',') {
            let name = match name.strip_prefix('[') {
                Some(r) => r.split(']').next().unwrap_or(""),
                None => name,
            };
            if !name.is_empty() && !name.contains(['*', '?', '!']) {
                out.push(name.to_owned());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUBS: &[&str] = &["status", "login", "doctor", "setup", "man", "__complete"];
    const LONG: &[(&str, bool)] = &[("profile", true), ("min-valid", true), ("no-login", false)];

    fn c(words: &[&str]) -> Answer {
        let words: Vec<String> = words.iter().map(|s| s.to_string()).collect();
        candidates(
            &words,
            Grammar {
                subcommands: SUBS,
                long_options: LONG,
            },
            || vec!["dev".into(), "prod".into()],
            || vec!["alpha".into(), "bravo.example.org".into(), "status".into()],
        )
    }

    fn v(list: &[&str]) -> Answer {
        Answer::Values(list.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn profile_values() {
        assert_eq!(c(&["--profile", "d"]), v(&["dev"]));
        assert_eq!(c(&["--profile=p"]), v(&["--profile=prod"]));
        assert_eq!(c(&["status", "--profile", ""]), v(&["dev", "prod"]));
        assert_eq!(c(&["-p", "22", "--profile", "x"]), v(&[]));
    }

    #[test]
    fn destinations() {
        assert_eq!(c(&["al"]), v(&["alpha"]));
        assert_eq!(c(&["st"]), v(&["status"]));
        assert_eq!(c(&["-p", "22", "me@b"]), v(&["me@bravo.example.org"]));
        assert_eq!(
            c(&["--profile", "dev", "-A", "b"]),
            v(&["bravo.example.org"])
        );
        assert_eq!(c(&["doctor", "-v", "a"]), v(&["alpha"]));
        // Not ours: an ssh option's value, an option, the remote command, other subcommands.
        assert_eq!(c(&["-p", ""]), Answer::Files);
        assert_eq!(c(&["alpha", "l"]), Answer::Files);
        assert_eq!(c(&["--min-valid", ""]), Answer::Static);
        assert_eq!(c(&["-"]), Answer::Static);
        assert_eq!(c(&["status", ""]), Answer::Static);
        assert_eq!(c(&["doctor", "alpha", ""]), Answer::Static);
    }

    #[test]
    fn bash_breaks_are_joined() {
        let w = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            join_bash_breaks(&w(&["--profile", "=", "de"])),
            (w(&["--profile=de"]), 2)
        );
        assert_eq!(
            join_bash_breaks(&w(&["--profile", "="])),
            (w(&["--profile="]), 0)
        );
        assert_eq!(
            join_bash_breaks(&w(&["-p", "2", "me", "@", "br"])),
            (w(&["-p", "2", "me@br"]), 3)
        );
    }

    #[test]
    fn host_files() {
        assert_eq!(
            config_hosts("Host a b *.x !c\n  HostName z\nhost=eq # c\nMatch host y\nHOST \"q\"\n"),
            ["a", "b", "eq", "q"]
        );
        assert_eq!(
            known_hosts(
                "h1,10.0.0.1 ssh-ed25519 K\n[h2]:2222 ssh-rsa K\n|1|abc= ssh-rsa K\n@revoked * k\n# c\n"
            ),
            ["h1", "10.0.0.1", "h2"]
        );
    }
}
