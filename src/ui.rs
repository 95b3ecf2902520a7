//! ssso's own messages: always on stderr (stdout belongs to the remote command, and in
//! ProxyCommand mode to the SSH stream), short, prefixed with `ssso:`.

use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};

static LEVEL: AtomicU8 = AtomicU8::new(1);

/// 0: errors only (`-q`), 1: warnings and notices, 2+: `-v` steps.
pub fn set_level(level: u8) {
    LEVEL.store(level, Ordering::Relaxed);
}

pub fn level() -> u8 {
    LEVEL.load(Ordering::Relaxed)
}

pub fn error(err: &anyhow::Error) {
    let _ = writeln!(std::io::stderr(), "ssso: error: {err:#}");
}

pub fn warn(msg: impl std::fmt::Display) {
    if level() >= 1 {
        let _ = writeln!(std::io::stderr(), "ssso: warning: {msg}");
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
