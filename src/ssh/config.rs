//! The user's ssh client configuration for one destination, as `ssh -G` resolves it (every
//! `Host`/`Match` block, `Include`, and the command line's `-F`, `-o`, `-l`, `-p`... applied):
//! what ssso reads of it (`SetEnv AWS_PROFILE`, `RemoteCommand`, `RequestTTY`, `ProxyCommand`,
//! `ControlMaster`/`ControlPath`, the resolved user, host and port). For the connect path, `ssh -G` also reads the user's
//! whole line ([`SshConfig::resolve_line`]): ssh then makes every check it makes before
//! connecting (`-f` without a command, a `RemoteCommand` with a command-line command, `-s`
//! without a subsystem, a bad `-L`...), and its verdict is ssso's.

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

    /// Runs `ssh -G` over the user's whole line: every option (but where ssh logs), the
    /// destination and the command. `Refused` when ssh would refuse the line before
    /// connecting, with ssh's status; ssh prints its own reason when it runs the line itself.
    pub fn resolve_line(ssh: &SshArgs) -> Result<Verdict> {
        let dest = ssh.destination.as_deref().context("no destination")?;
        let out = Command::new("ssh")
            .arg("-G")
            .args(ssh.session_options())
            .arg("--")
            .arg(dest)
            .args(&ssh.command)
            .stdin(std::process::Stdio::null())
            .output()
            .context("could not run ssh; is OpenSSH installed?")?;
        if !out.status.success() {
            return Ok(Verdict::Refused {
                status: out.status.code().unwrap_or(255),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            });
        }
        Ok(Verdict::Runs(SshConfig::parse(&String::from_utf8_lossy(
            &out.stdout,
        ))))
    }

    /// Whether the config gives `name` a host of its own: a `HostName` other than the name,
    /// a `ProxyCommand` or a `ProxyJump`.
    pub fn configures(&self, name: &str) -> bool {
        let set = |k| self.get(k).is_some_and(|v| !v.eq_ignore_ascii_case("none"));
        self.get("hostname")
            .is_some_and(|h| !h.eq_ignore_ascii_case(name))
            || set("proxycommand")
            || set("proxyjump")
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

    /// Every value of `key` (`sendenv`, `setenv`: one line each), in order.
    pub fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.entries
            .iter()
            .filter(move |(k, _)| k == key)
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

/// What `ssh -G` says of the user's whole line.
#[derive(Debug)]
pub enum Verdict {
    /// ssh would go ahead: the resolved configuration.
    Runs(SshConfig),
    /// ssh refuses the line before connecting, with this status and message.
    Refused { status: i32, stderr: String },
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

    #[test]
    fn configured_hosts() {
        let c = |t: &str| SshConfig::parse(t);
        assert!(!c("hostname status\nproxycommand none\n").configures("status"));
        assert!(!c("hostname STATUS\n").configures("status"));
        assert!(c("hostname 10.0.0.5\n").configures("status"));
        assert!(c("hostname status\nproxyjump bastion\n").configures("status"));
        assert!(c("hostname status\nproxycommand nc %h %p\n").configures("status"));
    }

    /// ssh's own checks before connecting are ssh's verdict, read from `ssh -G` of the line.
    #[test]
    fn ssh_refuses_what_it_would_refuse() {
        use crate::ssh::args::split;
        let os = |v: &[&str]| v.iter().map(std::ffi::OsString::from).collect::<Vec<_>>();
        let verdict = |v: &[&str]| {
            let line = split(&os(v), &[]).unwrap().ssh;
            SshConfig::resolve_line(&line).unwrap()
        };
        let cfg = ["-F", "none"];
        for bad in [
            &["-f", "h"][..],
            &["-o", "RemoteCommand=ls", "h", "echo"],
            &["-s", "h"],
            &["-N", "-s", "h", "x"],
            &["-L", "nonsense", "h", "x"],
        ] {
            let line: Vec<&str> = cfg.iter().chain(bad).copied().collect();
            assert!(
                matches!(verdict(&line), Verdict::Refused { status: 255, .. }),
                "{bad:?}"
            );
        }
        let Verdict::Refused { stderr, .. } = verdict(&["-F", "none", "-f", "h"]) else {
            panic!()
        };
        assert!(stderr.contains("Cannot fork into background"), "{stderr}");
        for good in [
            &["-f", "h", "x"][..],
            &["-o", "RemoteCommand=ls", "h"],
            &["-o", "RemoteCommand=ls", "h", ""],
            &["-t", "-E", "/nonexistent/dir/log", "h"],
        ] {
            let line: Vec<&str> = cfg.iter().chain(good).copied().collect();
            assert!(matches!(verdict(&line), Verdict::Runs(_)), "{good:?}");
        }
        let Verdict::Runs(c) = verdict(&["-F", "none", "-tt", "-M", "h"]) else {
            panic!()
        };
        assert_eq!(c.get("requesttty"), Some("force"));
        assert_eq!(c.get("controlmaster"), Some("true"));
    }
}
