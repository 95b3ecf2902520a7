//! ssso's own messages: always on stderr (stdout belongs to the remote command, and in
//! ProxyCommand mode to the SSH stream), short, prefixed with `ssso:`. The `error:` and
//! `warning:` labels are coloured only when stderr is a terminal and `NO_COLOR` is unset or
//! empty (https://no-color.org).

use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};

static LEVEL: AtomicU8 = AtomicU8::new(1);

/// How much ssso says on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verbosity {
    /// `-q`: errors only.
    Quiet,
    /// Warnings and notices.
    Normal,
    /// `-v`: each step too.
    Verbose,
}

impl Verbosity {
    /// From ssh-style `-q` and `-v` (quiet wins).
    pub fn from_flags(quiet: bool, verbose: bool) -> Verbosity {
        match (quiet, verbose) {
            (true, _) => Verbosity::Quiet,
            (_, true) => Verbosity::Verbose,
            _ => Verbosity::Normal,
        }
    }
}

/// Sets the verbosity for the rest of the process (once, at the boundary).
pub fn set_verbosity(v: Verbosity) {
    let level = match v {
        Verbosity::Quiet => 0,
        Verbosity::Normal => 1,
        Verbosity::Verbose => 2,
    };
    LEVEL.store(level, Ordering::Relaxed);
}

pub fn level() -> u8 {
    LEVEL.load(Ordering::Relaxed)
}

/// Whether messages may be coloured: stderr is a terminal and NO_COLOR is unset or empty.
fn colour() -> bool {
    use std::io::IsTerminal as _;
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

/// `label` in bold `sgr` colour when [`colour`] allows it.
fn label(label: &str, sgr: &str) -> String {
    if colour() {
        format!("\x1b[1;{sgr}m{label}\x1b[0m")
    } else {
        label.to_owned()
    }
}

pub fn error(err: &anyhow::Error) {
    let _ = writeln!(std::io::stderr(), "ssso: {} {err:#}", label("error:", "31"));
}

pub fn warn(msg: impl std::fmt::Display) {
    if level() >= 1 {
        let _ = writeln!(std::io::stderr(), "ssso: {} {msg}", label("warning:", "33"));
    }
}

/// A warning while the user's session owns the terminal (raw mode, where `\n` does not return
/// the carriage): one line of its own, `\r\n` before and after, nothing else on the screen
/// changed. Plain [`warn`] when stderr is not a terminal.
pub fn warn_in_session(msg: impl std::fmt::Display) {
    use std::io::IsTerminal as _;
    if !std::io::stderr().is_terminal() {
        return warn(msg);
    }
    if level() >= 1 {
        let _ = write!(
            std::io::stderr(),
            "\r\nssso: {} {msg}\r\n",
            label("warning:", "33")
        );
    }
}

/// [`info`] while the user's session owns the terminal (see [`warn_in_session`]).
pub fn info_in_session(msg: impl std::fmt::Display) {
    use std::io::IsTerminal as _;
    if !std::io::stderr().is_terminal() {
        return info(msg);
    }
    if level() >= 1 {
        let _ = write!(std::io::stderr(), "\r\nssso: {msg}\r\n");
    }
}

pub fn info(msg: impl std::fmt::Display) {
    if level() >= 1 {
        let _ = writeln!(std::io::stderr(), "ssso: {msg}");
    }
}

pub fn debug(msg: impl std::fmt::Display) {
    if level() >= 2 {
        let _ = writeln!(std::io::stderr(), "ssso: debug: {msg}");
    }
}
