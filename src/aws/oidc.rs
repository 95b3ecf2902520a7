//! Refreshing the SSO token without a browser, and keeping a long session's remote token
//! fresh. [`refresh_file`] is botocore's `SSOTokenProvider` refresh done by ssso: the SSO-OIDC
//! `CreateToken` call with the `refresh_token` grant (`POST {endpoint}/token`, endpoint
//! `AWS_ENDPOINT_URL_SSO_OIDC` or `https://oidc.{region}.amazonaws.com`), for sso-session
//! profiles whose token carries refreshToken, clientId, clientSecret and an unexpired
//! registration; the new token is written with the same fields, in the same order, as botocore
//! writes it, and only if it is newer than the file (a rotated refresh token is never lost to
//! a stale copy). [`keep_fresh`] runs beside an interactive session, on ssso's side only: every
//! [`POLL`] it looks at the local token file and pushes a changed token over the session's own
//! master ([`sync::run`], one short remote `sh` that exits); when the token comes within
//! `--min-valid` of expiry it refreshes it (at most one attempt per [`ATTEMPT_INTERVAL`], or per
//! `--min-valid` when that is shorter), and when it cannot, it prints one warning line on the
//! terminal before the token expires. ssso is then the one refresher for every machine the
//! token was synced to, so a rotated refresh token never collides with another copy.

use std::io::Read as _;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::aws::config::SsoProfile;
use crate::aws::token::{self, Token};
use crate::cmd::connect;
use crate::sync;
use crate::ui;

/// Overrides the SSO-OIDC endpoint (as botocore reads it).
pub const ENDPOINT_ENV: &str = "AWS_ENDPOINT_URL_SSO_OIDC";
/// How often [`keep_fresh`] looks at the local token file.
pub const POLL: Duration = Duration::from_secs(2);
/// At most one refresh attempt per this many seconds (botocore's `_attempt_timeout`).
pub const ATTEMPT_INTERVAL: i64 = 60;
/// The warning about an expiring token that cannot be refreshed comes this long before
/// expiry (or `--min-valid` before, when that is shorter).
pub const WARN_BEFORE: i64 = 5 * 60;
/// Bound on one `CreateToken` call.
const HTTP_TIMEOUT: Duration = Duration::from_secs(15);

/// Whether ssso can refresh `tok` for `sso` itself: an sso-session profile (botocore never
/// refreshes legacy ones) and a token with a live registration and a refresh token.
pub fn can_refresh(sso: &SsoProfile, tok: &Token) -> bool {
    sso.session.is_some() && tok.refreshable
}

/// The SSO-OIDC endpoint for `region`.
pub fn endpoint(region: &str) -> String {
    match std::env::var(ENDPOINT_ENV) {
        Ok(e) if !e.is_empty() => e.trim_end_matches('/').to_owned(),
        _ => format!("https://oidc.{region}.amazonaws.com"),
    }
}

/// Refreshes the token at `path` (currently `tok`) and writes the new one there if it is
/// newer than what the file holds by then. Returns the token the file holds afterwards.
pub fn refresh_file(path: &Path, sso: &SsoProfile, tok: &Token) -> Result<Token> {
    if !can_refresh(sso, tok) {
        bail!(
            "the token cannot be refreshed without a login (no refresh token, or a legacy profile)"
        );
    }
    let old = fields(&tok.bytes)?;
    let answer = create_token(&endpoint(&sso.region), &old)?;
    let bytes = refreshed(&old, sso, &answer, token::now())?;
    token::write_if_newer(path, &bytes)?;
    token::read(path)?.context("the token file disappeared after the refresh")
}

fn fields(bytes: &[u8]) -> Result<serde_json::Map<String, serde_json::Value>> {
    match serde_json::from_slice(bytes) {
        Ok(serde_json::Value::Object(m)) => Ok(m),
        _ => bail!("the token file is not a JSON object"),
    }
}

/// `POST {endpoint}/token` with the refresh_token grant; the parsed answer.
fn create_token(
    endpoint: &str,
    old: &serde_json::Map<String, serde_json::Value>,
) -> Result<serde_json::Value> {
    let body = serde_json::json!({
        "clientId": old.get("clientId"),
        "clientSecret": old.get("clientSecret"),
        "grantType": "refresh_token",
        "refreshToken": old.get("refreshToken"),
    })
    .to_string();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(HTTP_TIMEOUT))
        .http_status_as_error(false)
        .user_agent(concat!("ssso/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let url = format!("{endpoint}/token");
    ui::debug(format_args!("refreshing the SSO token at {url}"));
    let mut resp = agent
        .post(&url)
        .content_type("application/json")
        .send(&body)
        .with_context(|| format!("cannot reach {url}"))?;
    let status = resp.status();
    let mut text = String::new();
    resp.body_mut()
        .as_reader()
        .take(1 << 20)
        .read_to_string(&mut text)
        .with_context(|| format!("reading the answer of {url}"))?;
    let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    if !status.is_success() {
        // The OIDC error fields carry no secrets.
        let kind = v["error"].as_str().unwrap_or("error");
        let why = v["error_description"].as_str().unwrap_or("");
        bail!("CreateToken refused the refresh ({status}: {kind} {why})");
    }
    Ok(v)
}

/// The new token file as botocore writes it after a refresh: startUrl and region from the
/// config, the new accessToken and expiresAt, the registration carried over, the new
/// refreshToken if the answer has one (botocore drops the old one otherwise). `json.dumps`
/// layout: `", "` and `": "` separators, keys in this order.
pub(crate) fn refreshed(
    old: &serde_json::Map<String, serde_json::Value>,
    sso: &SsoProfile,
    answer: &serde_json::Value,
    now: i64,
) -> Result<Vec<u8>> {
    let access = answer["accessToken"]
        .as_str()
        .filter(|s| !s.is_empty())
        .context("CreateToken answered without an accessToken")?;
    let expires_in = answer["expiresIn"]
        .as_i64()
        .context("CreateToken answered without expiresIn")?;
    let s = |v: &str| serde_json::Value::String(v.to_owned());
    let mut out: Vec<(&str, serde_json::Value)> = vec![
        ("startUrl", s(&sso.start_url)),
        ("region", s(&sso.region)),
        ("accessToken", s(access)),
        ("expiresAt", s(&token::format_timestamp(now + expires_in))),
    ];
    for k in ["clientId", "clientSecret", "registrationExpiresAt"] {
        out.push((k, old.get(k).cloned().unwrap_or_default()));
    }
    if let Some(r) = answer.get("refreshToken").filter(|r| r.is_string()) {
        out.push(("refreshToken", r.clone()));
    }
    let mut text = String::from("{");
    for (n, (k, v)) in out.iter().enumerate() {
        if n > 0 {
            text.push_str(", ");
        }
        text.push_str(&format!("{}: {}", serde_json::Value::from(*k), v));
    }
    text.push('}');
    Ok(text.into_bytes())
}

/// What [`keep_fresh`] works on: the session's master and what to push over it.
pub struct Session<'a> {
    pub ctl: &'a Path,
    pub sso: &'a SsoProfile,
    pub sync: &'a crate::cli::SyncOpts,
    pub min_valid: u64,
    /// The host, for messages.
    pub dest: &'a str,
}

/// The identity of the file's current version: changes on every write or rename.
fn stamp(path: &Path) -> Option<(u64, u64, i64, i64)> {
    use std::os::unix::fs::MetadataExt as _;
    let m = std::fs::metadata(path).ok()?;
    Some((m.ino(), m.len(), m.mtime(), m.mtime_nsec()))
}

/// Keeps the remote token of a running session fresh until dropped (it never returns): pushes
/// every new local token, refreshes it when it is due, warns once per token when it cannot.
/// `pushed` is the token the session's own sync sent.
pub async fn keep_fresh(s: Session<'_>, pushed: Token) {
    let Ok(path) = token::cache_dir().map(|d| d.join(&s.sso.cache_file_name)) else {
        return std::future::pending().await;
    };
    let min_valid = i64::try_from(s.min_valid).unwrap_or(i64::MAX);
    let retry = ATTEMPT_INTERVAL.min(min_valid.max(1));
    let warn_at = WARN_BEFORE.min(min_valid);
    let mut seen = None;
    let mut current = pushed.clone();
    let mut pushed = pushed.bytes;
    let mut next_attempt = 0;
    let mut refresh_error: Option<String> = None;
    let mut warned_for = None;
    loop {
        tokio::time::sleep(POLL).await;
        let now_stamp = stamp(&path);
        if now_stamp != seen {
            seen = now_stamp;
            if let Ok(Some(t)) = token::read(&path) {
                current = t;
            }
        }
        if current.bytes != pushed && current.expires_at > token::now() {
            pushed = current.bytes.clone();
            push(&s, &current).await;
        }
        let now = token::now();
        if current.expires_at - now <= min_valid && now >= next_attempt {
            if can_refresh(s.sso, &current) {
                next_attempt = now + retry;
                let (p, sso, tok) = (path.clone(), s.sso.clone(), current.clone());
                match tokio::task::spawn_blocking(move || refresh_file(&p, &sso, &tok)).await {
                    Ok(Ok(t)) => {
                        ui::debug(format_args!(
                            "refreshed the SSO token; it now {}",
                            token::relative_expiry(t.expires_at, token::now())
                        ));
                        refresh_error = None;
                        current = t;
                        seen = stamp(&path);
                        if current.bytes != pushed {
                            pushed = current.bytes.clone();
                            push(&s, &current).await;
                        }
                        continue;
                    }
                    Ok(Err(e)) => refresh_error = Some(format!("{e:#}")),
                    Err(e) => refresh_error = Some(e.to_string()),
                }
            } else {
                refresh_error = Some("it has no refresh token".into());
            }
        }
        let left = current.expires_at - token::now();
        if left <= warn_at
            && left > 0
            && warned_for != Some(current.expires_at)
            && let Some(why) = &refresh_error
        {
            warned_for = Some(current.expires_at);
            ui::warn_in_session(format_args!(
                "the AWS SSO token for profile `{}` expires in {} and could not be refreshed ({why}); run `aws sso login --profile {}` here: ssso pushes the new token to {}",
                s.sso.profile,
                token::human_duration(left),
                s.sso.profile,
                s.dest
            ));
        }
    }
}

/// Pushes `tok` over the session's master, with no session waiting for it.
async fn push(s: &Session<'_>, tok: &Token) {
    let plan = match sync::Plan::new(s.sso, tok, s.sync, None) {
        Ok(p) => p,
        Err(e) => {
            return ui::warn_in_session(format_args!(
                "could not push the new token to {}: {e:#}",
                s.dest
            ));
        }
    };
    match sync::run(s.ctl, &plan, connect::SYNC_TIMEOUT).await {
        Ok(r) => {
            ui::debug(format_args!(
                "pushed the new token to {}: {:?}",
                s.dest, r.token
            ));
            if let sync::TokenOutcome::RemoteNewer(bytes) = &r.token {
                connect::keep_remote_token(bytes, s.sso, tok);
            }
        }
        Err(e) => ui::warn_in_session(format_args!(
            "could not push the new AWS token to {}: {e:#}",
            s.dest
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::config::AwsConfig;
    use crate::aws::config::tests::conformance_dir;

    fn sso() -> SsoProfile {
        AwsConfig::parse(
            "[profile p]\nsso_session = s\n[sso-session s]\nsso_start_url = https://d-1.awsapps.com/start\nsso_region = eu-west-1\n",
        )
        .unwrap()
        .sso_profile("p")
        .unwrap()
    }

    #[test]
    fn new_token_is_written_like_botocore() {
        let old = fields(crate::aws::token::tests::token_json(1000).as_bytes()).unwrap();
        let answer = serde_json::json!({"accessToken": "new", "expiresIn": 3600, "refreshToken": "r2", "tokenType": "Bearer"});
        let bytes = refreshed(&old, &sso(), &answer, 1_795_684_636).unwrap();
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            r#"{"startUrl": "https://d-1.awsapps.com/start", "region": "eu-west-1", "accessToken": "new", "expiresAt": "2026-11-26T10:17:16Z", "clientId": "cid", "clientSecret": "SECRET-CLIENT", "registrationExpiresAt": "2199-01-01T00:00:00Z", "refreshToken": "r2"}"#
        );
        let answer = serde_json::json!({"accessToken": "new", "expiresIn": 60});
        let t = token::parse(&refreshed(&old, &sso(), &answer, 0).unwrap()).unwrap();
        assert!(!t.refreshable, "no refresh token in the answer: none kept");
        assert!(refreshed(&old, &sso(), &serde_json::json!({"expiresIn": 1}), 0).is_err());
    }

    #[test]
    fn legacy_profiles_are_not_refreshed() {
        let legacy = AwsConfig::parse(
            "[profile p]\nsso_start_url = https://d-1.awsapps.com/start\nsso_region = eu-west-1\nsso_account_id = 1\nsso_role_name = r\n",
        )
        .unwrap()
        .sso_profile("p")
        .unwrap();
        let t = token::parse(crate::aws::token::tests::token_json(token::now() + 60).as_bytes())
            .unwrap();
        assert!(can_refresh(&sso(), &t));
        assert!(!can_refresh(&legacy, &t));
    }

    /// botocore's refresh cases: where botocore refreshes, the token ssso would write from the
    /// same CreateToken answer is the one botocore writes back.
    #[test]
    fn conformance_botocore_write_back() {
        let Some(dir) = conformance_dir("conformance_botocore_write_back") else {
            return;
        };
        let data: serde_json::Value = serde_json::from_slice(
            &std::fs::read(dir.join("botocore-sso-token-provider-cases.json")).unwrap(),
        )
        .unwrap();
        let mut checked = 0;
        for c in data["sso_provider_refresh_cases"].as_array().unwrap() {
            let (Some(answer), Some(want)) =
                (c.get("refreshResponse"), c.get("expectedTokenWriteback"))
            else {
                continue;
            };
            let doc = c["documentation"].as_str().unwrap();
            let now = token::parse_timestamp(c["currentTime"].as_str().unwrap()).unwrap();
            let old = c["cachedToken"].as_object().unwrap();
            // The cases' config has the cached token's start URL and region.
            let mut sso = sso();
            sso.start_url = old["startUrl"].as_str().unwrap().into();
            sso.region = old["region"].as_str().unwrap().into();
            let got: serde_json::Value =
                serde_json::from_slice(&refreshed(old, &sso, answer, now).unwrap()).unwrap();
            assert_eq!(&got, want, "{doc}");
            checked += 1;
        }
        assert!(checked >= 2, "no write-back case checked");
    }
}
