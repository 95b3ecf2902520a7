//! Refreshing the SSO token without a browser: [`refresh_file`] is botocore's
//! `SSOTokenProvider` refresh done by ssso: the SSO-OIDC `CreateToken` call with the `refresh_token` grant (`POST {endpoint}/token`, endpoint
//! `AWS_ENDPOINT_URL_SSO_OIDC` or `https://oidc.{region}.amazonaws.com`), for sso-session
//! profiles whose token carries refreshToken, clientId, clientSecret and an unexpired
//! registration; the new token is written with the same fields, in the same order, as botocore
//! writes it.
//!
//! One refresher per chain: the read-refresh-write runs under the token's [`token::lock`], and
//! the result is always written with compare-and-swap on "the file is still what I read"
//! ([`token::write_if_unchanged`]), never on the order of expiries: the service has spent the
//! old refresh token, so the rotated one must be kept even when the new token does not expire
//! later (an SSO session near its end).

use std::io::Read as _;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::aws::config::SsoProfile;
use crate::aws::token::{self, Token};
use crate::ui;

/// Overrides the SSO-OIDC endpoint (as botocore reads it).
pub const ENDPOINT_ENV: &str = "AWS_ENDPOINT_URL_SSO_OIDC";
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

/// Refreshes the token at `path` (read as `tok`) and writes the result there. Under the lock
/// the file is read again first: if it changed meanwhile (another ssso refreshed it, a login,
/// an adopted host token), that is the answer and nothing is spent. Returns the token the file
/// holds afterwards.
pub fn refresh_file(path: &Path, sso: &SsoProfile, tok: &Token) -> Result<Token> {
    if !can_refresh(sso, tok) {
        bail!(
            "the token cannot be refreshed without a login (no refresh token, or a legacy profile)"
        );
    }
    let _lock = token::lock(path)?;
    match token::read(path)? {
        Some(now) if now.bytes != tok.bytes => {
            ui::debug("the token file changed meanwhile (another refresher, or a login): using it");
            return Ok(now);
        }
        Some(_) => {}
        None => bail!("the token file disappeared before the refresh"),
    }
    let old = fields(&tok.bytes)?;
    let answer = create_token(&endpoint(&sso.region), &old)?;
    let bytes = refreshed(&old, sso, &answer, crate::time::now())?;
    if token::write_if_unchanged(path, Some(&tok.bytes), &bytes)? {
        ui::debug(format_args!(
            "refreshed the SSO token; it now {}",
            crate::time::relative_expiry(token::parse(&bytes)?.expires_at, crate::time::now())
        ));
        return token::parse(&bytes);
    }
    // Another writer that does not take the lock (the AWS CLI) replaced the file during the
    // call: its token is the newer intent (a login); ours was one of two uses of one chain.
    ui::debug("the token file was replaced during the refresh (the AWS CLI?): keeping that one");
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
        (
            "expiresAt",
            s(&crate::time::format_timestamp(now + expires_in)),
        ),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::config::AwsConfig;
    use crate::testing::conformance_dir;

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
        let t =
            token::parse(crate::aws::token::tests::token_json(crate::time::now() + 60).as_bytes())
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
            let now = crate::time::parse_timestamp(c["currentTime"].as_str().unwrap()).unwrap();
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
