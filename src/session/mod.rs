//! The local half of a sync, for every command that syncs (connect, proxy, `ssso sync`): the
//! settings they share ([`Settings`]), the steps before any connection (the profile and a fresh
//! token, [`fresh_token`]), what the user hears about a finished sync ([`report_sync`]), keeping
//! a newer token that the host had ([`adopt_remote_token`]), keeping a held session's host
//! fresh ([`keep`]), and the stamps that let a recent sync over the same connection be skipped
//! ([`stamp`]).

pub mod forward;
pub mod keep;
pub mod keeper;
pub mod stamp;

use std::time::Duration;

use anyhow::Result;

use crate::aws::config::SsoProfile;
use crate::aws::login::{self, Freshness};
use crate::aws::profile;
use crate::aws::token::{self, Token};
use crate::ssh::args::SshArgs;
use crate::ssh::config::SshConfig;
use crate::sync::{self, ConfigOutcome, TokenOutcome};
use crate::ui;

/// How long a sync may take once the connection is up.
pub const SYNC_TIMEOUT: Duration = Duration::from_secs(30);

/// What every command that syncs is told by the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `--profile`; else the environment and the host's `SetEnv` (see [`profile::choose`]).
    pub profile: Option<String>,
    pub freshness: Freshness,
    pub sync: sync::Options,
}

/// The steps before any connection, shared by every command that syncs: the profile (from the
/// settings, the environment or the host's `SetEnv AWS_PROFILE` in `cfg`), its SSO settings,
/// and a token with more than `--min-valid` left, refreshed (when due, see
/// [`crate::aws::schedule`]), adopted from `host` (the connect path's destination: before any
/// login, its token, which its botocore may have refreshed, is pulled over a connection and
/// adopted when newer), or logged in for if needed (`stdin_is_stream`: see
/// [`login::ensure_fresh`]).
pub fn fresh_token(
    settings: &Settings,
    cfg: &SshConfig,
    stdin_is_stream: bool,
    host: Option<&SshArgs>,
) -> Result<(SsoProfile, Token)> {
    let sso = host_profile(settings.profile.as_deref(), cfg)?;
    let tok = login::ensure_fresh_reconciling(
        &sso,
        &settings.freshness,
        stdin_is_stream,
        |local, may_prompt| {
            let (host, local) = (host?, local?);
            pull_host_token(host, cfg, &sso, local, may_prompt)
        },
    )?;
    Ok((sso, tok))
}

/// The host's token for `sso`, read (nothing written), or None (with the reason on `-v`).
/// Only when the local token is stale: the cost of a read against presenting a refresh token
/// the host may have spent, or against a browser login.
///
/// When the user's configuration (`cfg`, the host's `ssh -G`) shares connections for the
/// destination and a master of the user's answers at its `ControlPath` (as the connect path
/// decides, see [`crate::ssh::control`]), the read goes over that master: no new connection,
/// no prompt, and the master is left exactly as it was (it may be the only way in for a
/// user with a password or 2FA). Otherwise, or when that read fails, it goes over a
/// short-lived connection of its own (`host`: the user's ssh options and destination; a
/// background master that ends after the read). Without `may_prompt` that connection never
/// asks (BatchMode): a password is not worth a refresh.
pub fn pull_host_token(
    host: &SshArgs,
    cfg: &SshConfig,
    sso: &SsoProfile,
    _local: &Token,
    may_prompt: bool,
) -> Option<Vec<u8>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()?;
    let sharing = crate::ssh::control::Sharing::from_config(cfg);
    if let crate::ssh::control::Route::Join(ctl) =
        runtime.block_on(crate::ssh::control::choose(&sharing, PROBE_TIMEOUT))
    {
        ui::debug(format_args!(
            "reading the host's token over your ControlMaster {} before any login",
            ctl.display()
        ));
        match runtime.block_on(sync::pull_token(&ctl, &sso.cache_file_name, SYNC_TIMEOUT)) {
            Ok(pulled) => return pulled_bytes(pulled),
            Err(e) => ui::debug(format_args!(
                "could not read the host's token over your ControlMaster: {e:#}; trying a connection of its own"
            )),
        }
    }
    let target = SshArgs {
        options: host.options.clone(),
        destination: host.destination.clone(),
        ..Default::default()
    };
    let dir = crate::ssh::master::PrivateDir::new().ok()?;
    let ctl = dir.socket();
    ui::debug("reading the host's token before any login");
    // Its stdout is our stderr: in ProxyCommand mode our stdout is the SSH stream, and a
    // master in the background must never hold the remote command's stdout open.
    let stdout = {
        use std::os::fd::AsFd as _;
        std::io::stderr().as_fd().try_clone_to_owned().ok()?
    };
    let quiet: &[&str] = if may_prompt {
        &[]
    } else {
        &["-o", "BatchMode=yes"]
    };
    let mut cmd = crate::ssh::master::sync_master_command(&target, &ctl, "5", quiet);
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::from(stdout));
    if !may_prompt {
        // Its "Permission denied" would only be noise: a refresh follows.
        cmd.stderr(std::process::Stdio::null());
    }
    let started = cmd.status();
    if !started.is_ok_and(|s| s.success()) {
        ui::debug("could not connect to read the host's token");
        return None;
    }
    let pulled = runtime.block_on(sync::pull_token(&ctl, &sso.cache_file_name, SYNC_TIMEOUT));
    let _ = std::process::Command::new("ssh")
        .arg("-S")
        .arg(&ctl)
        .args(["-O", "exit", "ssso-pull"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
    match pulled {
        Ok(pulled) => pulled_bytes(pulled),
        Err(e) => {
            ui::debug(format_args!("could not read the host's token: {e:#}"));
            None
        }
    }
}

/// Bound on the alive check of the user's own master before the read.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// The token a read found, if the host had one.
fn pulled_bytes(pulled: sync::Pulled) -> Option<Vec<u8>> {
    if pulled.bytes.is_none() {
        ui::debug("the host has no token");
    }
    pulled.bytes
}

/// The profile for a host: `--profile` (`flag`), `SSSO_PROFILE`, the host's `SetEnv
/// AWS_PROFILE` in its ssh config `cfg`, `AWS_PROFILE` (see [`profile::choose`]), resolved to its
/// SSO settings. A profile name is whatever botocore reads (quotes, spaces, unicode...); the
/// config parser refuses only names with NUL, the one byte a remote program cannot carry.
pub fn host_profile(flag: Option<&str>, cfg: &SshConfig) -> Result<SsoProfile> {
    let (_, sso) = profile::resolve(flag, || cfg.setenv("AWS_PROFILE"))?;
    Ok(sso)
}

/// Tells the user what a finished sync did: nothing when all is well (the steps with `-v`),
/// warnings otherwise; a newer token that the host had is adopted here.
pub fn report_sync(result: &Result<sync::Report>, dest: &str, sso: &SsoProfile) {
    match result {
        Err(e) => ui::warn(format_args!(
            "could not sync the AWS token to {dest}: {e:#}; AWS commands there will not see your login"
        )),
        Ok(r) => {
            match &r.token {
                TokenOutcome::Written => ui::debug("token written on the remote"),
                TokenOutcome::Unchanged => ui::debug("remote token already current"),
                TokenOutcome::RemoteNewer(bytes) => adopt_remote_token(bytes, sso),
                TokenOutcome::Failed(why) => ui::warn(format_args!(
                    "could not sync the AWS token to {dest}: {why}; AWS commands there will not see your login"
                )),
            }
            match &r.config {
                ConfigOutcome::Written => ui::debug("remote ~/.aws/config updated"),
                ConfigOutcome::Unchanged | ConfigOutcome::NotRequested => {}
                ConfigOutcome::Skipped(why) => ui::warn(format_args!("{dest}: {why}")),
            }
            if r.aws_missing {
                ui::warn(format_args!(
                    "{dest} has no `aws` on its PATH; install AWS CLI v2 there: https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html"
                ));
            }
        }
    }
}

/// The remote had a newer token for the same session (its botocore refreshed it): keep it
/// here too ([`token::adopt`]: the newest valid copy, under the refresher's lock), so the next
/// sync does not push the older one and a rotated refresh token is not lost.
pub fn adopt_remote_token(bytes: &[u8], sso: &SsoProfile) {
    let store = || -> Result<bool> { token::adopt(&sso.cache_path()?, bytes) };
    match store() {
        Ok(true) => ui::debug("the remote's token was newer: kept it and stored it locally"),
        Ok(false) => {}
        Err(e) => ui::warn(format_args!("the remote's newer token: {e:#}")),
    }
}
