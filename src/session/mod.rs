//! The local half of a sync, for every command that syncs (connect, proxy, `ssso sync`): the
//! settings they share ([`Settings`]), the steps before any connection (the profile and a fresh
//! token, [`fresh_token`]), what the user hears about a finished sync ([`report_sync`]), keeping
//! a newer token that the host had ([`adopt_remote_token`]), keeping a held session's host
//! fresh ([`keep`]), and the stamps that let a recent sync over the same connection be skipped
//! ([`stamp`]).

pub mod forward;
pub mod keep;
pub mod stamp;

use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::aws::config::SsoProfile;
use crate::aws::login::{self, Freshness};
use crate::aws::profile;
use crate::aws::token::{self, Token};
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
/// and a token with more than `--min-valid` left, refreshed or logged in for if needed
/// (`login_stdout_to_stderr`: see [`login::ensure_fresh`]).
pub fn fresh_token(
    settings: &Settings,
    cfg: &SshConfig,
    login_stdout_to_stderr: bool,
) -> Result<(SsoProfile, Token)> {
    let sso = host_profile(settings.profile.as_deref(), cfg)?;
    let tok = login::ensure_fresh(&sso, &settings.freshness, login_stdout_to_stderr)?;
    Ok((sso, tok))
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
pub fn report_sync(result: &Result<sync::Report>, dest: &str, sso: &SsoProfile, local: &Token) {
    match result {
        Err(e) => ui::warn(format_args!(
            "could not sync the AWS token to {dest}: {e:#}; AWS commands there will not see your login"
        )),
        Ok(r) => {
            match &r.token {
                TokenOutcome::Written => ui::debug("token written on the remote"),
                TokenOutcome::Unchanged => ui::debug("remote token already current"),
                TokenOutcome::RemoteNewer(bytes) => adopt_remote_token(bytes, sso, local),
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
/// here too, so the next sync does not push the older one and a rotated refresh token is not lost.
pub fn adopt_remote_token(bytes: &[u8], sso: &SsoProfile, local: &Token) {
    let store = || -> Result<bool> {
        let remote = token::parse(bytes).context("the remote's newer token is not valid")?;
        if remote.start_url != local.start_url {
            bail!("the remote's token is for another start URL; left it alone");
        }
        let path = sso.cache_path()?;
        token::write_if_newer(&path, bytes)
    };
    match store() {
        Ok(true) => ui::debug("the remote's token was newer: kept it and stored it locally"),
        Ok(false) => {}
        Err(e) => ui::warn(format_args!("{e:#}")),
    }
}
