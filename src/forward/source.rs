//! Where the forwarded credentials come from: SSO `GetRoleCredentials` for the profile's
//! account and role, with the token in this machine's cache, read again for every fetch (so a
//! login or a refresh made meanwhile is used at once) and refreshed first, as botocore would,
//! when it is refreshable and close to its end. Every failure becomes a [`Failure`] whose
//! message tells the person at the host what to do on this machine; the first failure of each
//! kind is also said here, on the terminal.

use std::path::PathBuf;
use std::sync::Mutex;

use super::server::{Failure, Source};
use crate::aws::config::SsoProfile;
use crate::aws::oidc;
use crate::aws::portal::{self, PortalError, RoleCredentials};
use crate::aws::token::{self, Token};
use crate::{time, ui};

/// A token with less than this left is refreshed before it is used (when it can be).
pub const REFRESH_BEFORE: i64 = 15 * 60;

/// `GetRoleCredentials` for one profile with the local token.
pub struct SsoSource {
    sso: SsoProfile,
    account_id: String,
    role_name: String,
    token_path: PathBuf,
    /// The code of the last failure said on the terminal (said once per kind).
    told: Mutex<Option<&'static str>>,
}

impl SsoSource {
    /// The source for `sso`; an error for a profile without an account and a role.
    pub fn new(sso: &SsoProfile) -> anyhow::Result<SsoSource> {
        let (Some(account_id), Some(role_name)) = (&sso.account_id, &sso.role_name) else {
            anyhow::bail!(
                "profile `{}` has no sso_account_id and sso_role_name: --forward hands the host one role's credentials, so the profile must name them (add both to [profile {}]), or connect without --forward",
                sso.profile,
                sso.profile
            );
        };
        Ok(SsoSource {
            sso: sso.clone(),
            account_id: account_id.clone(),
            role_name: role_name.clone(),
            token_path: token::cache_dir()?.join(&sso.cache_file_name),
            told: Mutex::new(None),
        })
    }

    fn login_required(&self, why: &str) -> Failure {
        let p = &self.sso.profile;
        Failure {
            status: 503,
            code: "SsoLoginRequired",
            message: format!(
                "{why}; log in again on the machine running ssso (`ssso login --profile {p}`): this host gets credentials again at once, no reconnect needed"
            ),
        }
    }

    /// The token to use: the file's, refreshed first when that is due and possible.
    fn token(&self) -> Result<(Token, String), Failure> {
        let p = &self.sso.profile;
        let tok = match token::read(&self.token_path) {
            Ok(Some(t)) => t,
            Ok(None) => {
                return Err(self.login_required(&format!(
                    "ssso has no SSO token for profile {p} on its machine"
                )));
            }
            Err(e) => {
                return Err(self.login_required(&format!(
                    "the SSO token for profile {p} on ssso's machine is unusable ({})",
                    e.root_cause()
                )));
            }
        };
        let now = time::now();
        let tok = if tok.expires_at - now < REFRESH_BEFORE && oidc::can_refresh(&self.sso, &tok) {
            match oidc::refresh_file(&self.token_path, &self.sso, &tok) {
                Ok(t) => t,
                Err(e) => {
                    ui::debug(format_args!("could not refresh the SSO token: {e:#}"));
                    tok
                }
            }
        } else {
            tok
        };
        if tok.expires_at <= time::now() {
            return Err(self.login_required(&format!(
                "the SSO token for profile {p} on ssso's machine has expired and could not be refreshed"
            )));
        }
        let access = serde_json::from_slice::<serde_json::Value>(&tok.bytes)
            .ok()
            .and_then(|v| v["accessToken"].as_str().map(str::to_owned))
            .ok_or_else(|| self.login_required("the SSO token file has no accessToken"))?;
        Ok((tok, access))
    }

    fn fetch_inner(&self) -> Result<RoleCredentials, Failure> {
        let (_, access) = self.token()?;
        let (a, r) = (&self.account_id, &self.role_name);
        ui::debug(format_args!(
            "GetRoleCredentials for role {r} in account {a}"
        ));
        portal::get_role_credentials(&portal::endpoint(&self.sso.region), a, r, &access).map_err(
            |e| match &e {
                e if e.token_refused() => self.login_required(&format!(
                    "IAM Identity Center refused the SSO token for profile {} ({e})",
                    self.sso.profile
                )),
                PortalError::Refused { status: 403, .. } => Failure {
                    status: 502,
                    code: "RoleForbidden",
                    message: format!(
                        "IAM Identity Center does not give you role {r} in account {a} ({e}); check the profile's sso_role_name and sso_account_id"
                    ),
                },
                PortalError::Unreachable(_) => Failure {
                    status: 502,
                    code: "PortalUnreachable",
                    message: format!("{e}; check the network of the machine running ssso"),
                },
                _ => Failure {
                    status: 502,
                    code: "PortalError",
                    message: e.to_string(),
                },
            },
        )
    }
}

impl Source for SsoSource {
    fn fetch(&self) -> Result<RoleCredentials, Failure> {
        let result = self.fetch_inner();
        let mut told = self.told.lock().unwrap_or_else(|e| e.into_inner());
        match &result {
            Ok(c) => {
                ui::debug(format_args!(
                    "role credentials {} until {}",
                    c.access_key_id,
                    time::format_timestamp(c.expiration)
                ));
                *told = None;
            }
            Err(f) if *told != Some(f.code) => {
                *told = Some(f.code);
                ui::warn_in_session(format_args!(
                    "the host asked for AWS credentials and got none: {}",
                    f.message
                ));
            }
            Err(_) => {}
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::config::AwsConfig;

    #[test]
    fn a_profile_without_account_and_role_is_refused() {
        let cfg = AwsConfig::parse(
            "[profile t]\nsso_session = s\n[sso-session s]\nsso_start_url = https://x/start\nsso_region = eu-west-1\n",
        )
        .unwrap();
        // A token-only profile (botocore itself refuses an account without a role).
        let e = SsoSource::new(&cfg.sso_profile("t").unwrap())
            .err()
            .unwrap();
        assert!(
            e.to_string().contains(
                "has no sso_account_id and sso_role_name: --forward hands the host one role's credentials"
            ),
            "{e}"
        );
    }
}
