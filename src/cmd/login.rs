//! `ssso login [--profile NAME] [--force]`: make the local token fresh without ssh, running
//! `aws sso login` only when needed (see [`crate::aws::login`]). Messages go to stderr; exit 0
//! when the token is fresh afterwards.

use crate::aws::login::{self, Freshness};
use crate::aws::profile;
use crate::time;
use crate::ui;

/// `ssso login`'s settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub profile: Option<String>,
    pub freshness: Freshness,
    /// Log in even when the token is fresh.
    pub force: bool,
}

pub fn run(s: &Settings) -> anyhow::Result<u8> {
    let (_, sso) = profile::resolve(s.profile.as_deref(), || None)?;
    let t = login::login(&sso, &s.freshness, s.force)?;
    ui::info(format_args!(
        "the SSO token for profile `{}` {}",
        sso.profile,
        time::relative_expiry(t.expires_at, time::now())
    ));
    Ok(0)
}
