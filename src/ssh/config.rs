//! The user's ssh client configuration for one destination, as `ssh -G` resolves it (every
//! `Host`/`Match` block, `Include`, and the command line's `-F`, `-o`, `-l`, `-p`... applied):
//! what ssso reads of it (`SetEnv AWS_PROFILE`, `RemoteCommand`, `RequestTTY`, `ProxyCommand`,
//! `ControlMaster`/`ControlPath`, the resolved user, host and port).

use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::ssh::args::SshArgs;

/// The user's ssh configuration for one destination, as `ssh -G` resolves it.
#[derive(Debug, Default)]
pub struct SshConfig {
    entries: Vec<(String, String)>,
}

impl SshConfig {
    /// Runs `ssh -G` with the user's config-shaping options for the destination.
    pub fn resolve(ssh: &SshArgs) -> Result<SshConfig> {
        SshConfig::resolve_with(ssh, &[])
    }

    /// [`SshConfig::resolve`] with `extra` options before the destination (such as
    /// [`SshArgs::sharing_options`]).
    pub fn resolve_with(ssh: &SshArgs, extra: &[std::ffi::OsString]) -> Result<SshConfig> {
        let dest = ssh.destination.as_deref().context("no destination")?;
        let out = Command::new("ssh")
            .arg("-G")
            .args(ssh.config_options())
            .args(extra)
            .arg("--")
            .arg(dest)
            .stdin(std::process::Stdio::null())
            .output()
            .context("could not run ssh; is OpenSSH installed?")?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            bail!(
                "ssh could not read its configuration for {}: {}",
                dest.to_string_lossy(),
                err.trim()
            );
        }
        Ok(SshConfig::parse(&String::from_utf8_lossy(&out.stdout)))
    }

    pub fn parse(text: &str) -> SshConfig {
        let entries = text
            .lines()
            .filter_map(|l| {
                let (k, v) = l.split_once(' ')?;
                Some((k.to_ascii_lowercase(), v.to_owned()))
            })
            .collect();
        SshConfig { entries }
    }

    /// The value of `key` (lowercase, as `ssh -G` prints it).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// `SetEnv NAME=value` for the host, if any.
    pub fn setenv(&self, name: &str) -> Option<String> {
        self.entries
            .iter()
            .filter(|(k, _)| k == "setenv")
            .find_map(|(_, v)| v.strip_prefix(name)?.strip_prefix('=').map(str::to_owned))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_g_output() {
        let c = SshConfig::parse(
            "user alice\nsetenv FOO=a b\nsetenv AWS_PROFILE=my.prof\nrequesttty auto\n",
        );
        assert_eq!(c.get("user"), Some("alice"));
        assert_eq!(c.setenv("AWS_PROFILE").as_deref(), Some("my.prof"));
        assert_eq!(c.setenv("AWS"), None);
        assert_eq!(c.setenv("FOO").as_deref(), Some("a b"));
    }
}
