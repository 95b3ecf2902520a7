//! Least-privilege mode, `ssso --forward`: the SSO token stays on this machine, and the host
//! gets one role's temporary credentials, on demand, only while the session is connected.
//!
//! The pieces, from this machine to the host's AWS SDKs:
//! - [`server`]: a credential server on a unix socket in ssso's private directory. It calls
//!   SSO `GetRoleCredentials` for the profile's account and role (through a [`server::Source`]
//!   that the connect path provides), caches the answer until shortly before it expires (one
//!   call at a time, however many requests wait), and answers each request that carries the
//!   session's secret with the container-credentials JSON that every AWS SDK's
//!   `AWS_CONTAINER_CREDENTIALS_FULL_URI` provider reads, or with `credential_process` JSON.
//!   [`http`] is the strict HTTP/1.1 subset it speaks.
//! - The transport: a remote forward of a unix socket (`ssh -O forward -R HOSTSOCK:LOCALSOCK`
//!   on the session's own master), in a fresh 0700 directory under the host's `/tmp`: only the
//!   user (and root) can reach it, nobody can take it first, and `GatewayPorts` never applies.
//! - [`host`]: the host side, two one-shot `sh` programs and one installed helper. The first
//!   makes the socket's directory, stores the secret (read from the channel's stdin, never a
//!   command line) in a 0600 file there, installs `~/.aws/ssso/credential-process`, and leaves
//!   a watcher that removes the directory when the connection ends. The second, once the
//!   forward is up, points `~/.aws/ssso/forward/PROFILE/SESSION` at the directory and writes
//!   `[profile PROFILE]` with `credential_process = HOME/.aws/ssso/credential-process PROFILE`
//!   (the edit is computed here, in Rust). Every process of the user on the host, inside the
//!   session or not, then gets credentials through that profile while the session lasts, and
//!   a message saying to reconnect with ssso afterwards.
//!
//! No file on the host ever holds the SSO token, its refresh token or its client secret, and
//! the role credentials exist only in the memory of the processes that asked for them.

pub mod host;
pub mod http;
pub mod server;
pub mod source;

use std::io::Read as _;

use anyhow::Context as _;

/// A per-session random secret: 32 bytes from the kernel, as 64 hex characters. Every request
/// to the credential server must carry it (`Authorization` header). Debug never shows it.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// A fresh secret; an error (never a weaker secret) when the kernel's random source fails.
    pub fn generate() -> anyhow::Result<Secret> {
        let mut buf = [0u8; 32];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut buf))
            .context("cannot read /dev/urandom for the session's secret")?;
        Ok(Secret(buf.iter().map(|b| format!("{b:02x}")).collect()))
    }

    /// The secret itself, for the host's stdin and nothing else.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether `candidate` is the secret, in time that does not depend on where they differ.
    pub fn matches(&self, candidate: &[u8]) -> bool {
        let mine = self.0.as_bytes();
        if candidate.len() != mine.len() {
            return false;
        }
        mine.iter()
            .zip(candidate)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }

    #[cfg(test)]
    pub(crate) fn from_test(s: &str) -> Secret {
        Secret(s.to_owned())
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// 16 random hex characters (not a secret): names one session's files on the host.
pub fn session_id() -> anyhow::Result<String> {
    let mut buf = [0u8; 8];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .context("cannot read /dev/urandom")?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets() {
        let a = Secret::generate().unwrap();
        let b = Secret::generate().unwrap();
        assert_eq!(a.expose().len(), 64);
        assert!(a.expose().bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a.expose(), b.expose());
        assert!(a.matches(a.expose().as_bytes()));
        assert!(!a.matches(b.expose().as_bytes()));
        assert!(!a.matches(&a.expose().as_bytes()[1..]));
        assert!(!a.matches(b""));
        assert_eq!(format!("{a:?}"), "Secret(<redacted>)");
        let id = session_id().unwrap();
        assert_eq!(id.len(), 16);
    }
}
