//! The IAM Identity Center portal API, and the one call ssso makes to it: `GetRoleCredentials`,
//! which trades the SSO access token for one role's temporary credentials (what botocore's
//! `SSOProvider` does on every host in file-sync mode, and what `ssso --forward` does on the
//! laptop instead).
//!
//! `GET {endpoint}/federation/credentials?account_id=A&role_name=R` with the access token in
//! the `x-amz-sso_bearer_token` header; the endpoint is `AWS_ENDPOINT_URL_SSO` (as botocore
//! reads it) or `https://portal.sso.{region}.amazonaws.com`, the region being the SSO
//! session's `sso_region`. The answer is `{"roleCredentials": {accessKeyId, secretAccessKey,
//! sessionToken, expiration}}`, expiration in milliseconds since the epoch.
//!
//! Nothing here puts the access token or the credentials into a message: [`RoleCredentials`]'s
//! Debug output shows the access key id and the expiry only, and errors quote the portal's
//! own error type and message, never the request.

use std::io::Read as _;
use std::time::Duration;

/// Overrides the portal endpoint (as botocore reads it).
pub const ENDPOINT_ENV: &str = "AWS_ENDPOINT_URL_SSO";
/// Bound on one `GetRoleCredentials` call.
const HTTP_TIMEOUT: Duration = Duration::from_secs(15);
/// Longest answer read (a real one is well under 2 KiB).
const MAX_ANSWER: u64 = 64 * 1024;

/// The portal endpoint for an SSO region: `AWS_ENDPOINT_URL_SSO` when set, else AWS's.
pub fn endpoint(region: &str) -> String {
    endpoint_from(std::env::var(ENDPOINT_ENV).ok(), region)
}

fn endpoint_from(env: Option<String>, region: &str) -> String {
    match env {
        Some(e) if !e.is_empty() => e.trim_end_matches('/').to_owned(),
        _ => format!("https://portal.sso.{region}.amazonaws.com"),
    }
}

/// One role's temporary credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct RoleCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    /// Unix seconds.
    pub expiration: i64,
}

impl std::fmt::Debug for RoleCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoleCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("session_token", &"<redacted>")
            .field("expiration", &self.expiration)
            .finish()
    }
}

/// Why `GetRoleCredentials` gave no credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortalError {
    /// The portal answered with an error: HTTP status, its error type (`UnauthorizedException`,
    /// `ForbiddenException`, `TooManyRequestsException`, ...) and its message.
    Refused {
        status: u16,
        kind: String,
        message: String,
    },
    /// No answer (DNS, connection, TLS, timeout).
    Unreachable(String),
    /// An answer that is not the documented shape.
    Malformed(String),
}

impl PortalError {
    /// The portal refused the token itself (expired, revoked, or from another session):
    /// a new login is the fix.
    pub fn token_refused(&self) -> bool {
        matches!(self, PortalError::Refused { status: 401, .. })
    }
}

impl std::fmt::Display for PortalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PortalError::Refused {
                status,
                kind,
                message,
            } => {
                write!(f, "GetRoleCredentials was refused ({status} {kind}")?;
                if !message.is_empty() {
                    write!(f, ": {message}")?;
                }
                write!(f, ")")
            }
            PortalError::Unreachable(why) => {
                write!(f, "cannot reach the IAM Identity Center portal: {why}")
            }
            PortalError::Malformed(why) => write!(
                f,
                "the IAM Identity Center portal answered GetRoleCredentials with {why}"
            ),
        }
    }
}

impl std::error::Error for PortalError {}

/// Percent-encodes a query value (RFC 3986 unreserved characters pass as they are).
fn query_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The request URL for `account_id` / `role_name` at `endpoint`.
fn url(endpoint: &str, account_id: &str, role_name: &str) -> String {
    format!(
        "{endpoint}/federation/credentials?account_id={}&role_name={}",
        query_value(account_id),
        query_value(role_name)
    )
}

/// `GetRoleCredentials` for `account_id` / `role_name` with the SSO `access_token`.
pub fn get_role_credentials(
    endpoint: &str,
    account_id: &str,
    role_name: &str,
    access_token: &str,
) -> Result<RoleCredentials, PortalError> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(HTTP_TIMEOUT))
        .http_status_as_error(false)
        .user_agent(concat!("ssso/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let url = url(endpoint, account_id, role_name);
    let mut resp = agent
        .get(&url)
        .header("x-amz-sso_bearer_token", access_token)
        .header("Accept", "application/json")
        .call()
        .map_err(|e| PortalError::Unreachable(format!("{endpoint}: {e}")))?;
    let status = resp.status().as_u16();
    let kind_header = resp
        .headers()
        .get("x-amzn-ErrorType")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut body = Vec::new();
    resp.body_mut()
        .as_reader()
        .take(MAX_ANSWER)
        .read_to_end(&mut body)
        .map_err(|e| PortalError::Unreachable(format!("{endpoint}: reading the answer: {e}")))?;
    answer(status, kind_header.as_deref(), &body)
}

/// Judges the portal's answer: credentials, or why not.
fn answer(
    status: u16,
    kind_header: Option<&str>,
    body: &[u8],
) -> Result<RoleCredentials, PortalError> {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    if !(200..300).contains(&status) {
        // `x-amzn-ErrorType: UnauthorizedException:http://...`, or `__type` in the body.
        let kind = kind_header
            .or_else(|| v["__type"].as_str())
            .map(|k| {
                k.split([':', '#'])
                    .find(|p| p.ends_with("Exception"))
                    .unwrap_or(k)
            })
            .unwrap_or("error")
            .to_owned();
        let message = v["message"]
            .as_str()
            .or_else(|| v["Message"].as_str())
            .unwrap_or("")
            .chars()
            .filter(|c| !c.is_control())
            .take(300)
            .collect();
        return Err(PortalError::Refused {
            status,
            kind,
            message,
        });
    }
    let c = &v["roleCredentials"];
    if !c.is_object() {
        return Err(PortalError::Malformed("no roleCredentials object".into()));
    }
    let field = |k: &str| {
        c[k].as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| PortalError::Malformed(format!("no {k} in roleCredentials")))
    };
    let expiration_ms = c["expiration"]
        .as_i64()
        .filter(|ms| *ms > 0)
        .ok_or_else(|| PortalError::Malformed("no expiration in roleCredentials".into()))?;
    Ok(RoleCredentials {
        access_key_id: field("accessKeyId")?,
        secret_access_key: field("secretAccessKey")?,
        session_token: field("sessionToken")?,
        expiration: expiration_ms.div_euclid(1000),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead as _, BufReader, Write as _};
    use std::net::TcpListener;

    #[test]
    fn endpoints() {
        assert_eq!(
            endpoint_from(None, "eu-west-1"),
            "https://portal.sso.eu-west-1.amazonaws.com"
        );
        assert_eq!(
            endpoint_from(Some(String::new()), "us-east-1"),
            "https://portal.sso.us-east-1.amazonaws.com"
        );
        assert_eq!(
            endpoint_from(Some("http://127.0.0.1:9/".into()), "x"),
            "http://127.0.0.1:9"
        );
        assert_eq!(
            url("http://h", "123456789012", "Admin+Ops/é"),
            "http://h/federation/credentials?account_id=123456789012&role_name=Admin%2BOps%2F%C3%A9"
        );
    }

    #[test]
    fn answers() {
        let ok = br#"{"roleCredentials":{"accessKeyId":"ASIAX","secretAccessKey":"S3CR3T","sessionToken":"T0K3N","expiration":1795684636123}}"#;
        let c = answer(200, None, ok).unwrap();
        assert_eq!(c.access_key_id, "ASIAX");
        assert_eq!(c.expiration, 1_795_684_636);
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("S3CR3T") && !dbg.contains("T0K3N"), "{dbg}");

        let e = answer(
            401,
            Some("UnauthorizedException:http://internal.amazon.com/coral/"),
            br#"{"message":"Session token not found or invalid"}"#,
        )
        .unwrap_err();
        assert!(e.token_refused());
        assert_eq!(
            e.to_string(),
            "GetRoleCredentials was refused (401 UnauthorizedException: Session token not found or invalid)"
        );
        let e = answer(
            403,
            None,
            br#"{"__type":"com.amazon#ForbiddenException","message":"No access"}"#,
        )
        .unwrap_err();
        assert!(!e.token_refused());
        assert!(
            e.to_string().contains("403 ForbiddenException: No access"),
            "{e}"
        );
        let e = answer(500, None, b"<html>").unwrap_err();
        assert_eq!(e.to_string(), "GetRoleCredentials was refused (500 error)");

        for bad in [
            &br#"{}"#[..],
            br#"{"roleCredentials":{"accessKeyId":"A","secretAccessKey":"S","sessionToken":"T"}}"#,
            br#"{"roleCredentials":{"accessKeyId":"","secretAccessKey":"S","sessionToken":"T","expiration":1}}"#,
            b"not json",
        ] {
            assert!(matches!(answer(200, None, bad), Err(PortalError::Malformed(_))));
        }
    }

    /// A one-request HTTP server on 127.0.0.1: returns the request head it saw.
    fn serve_once(
        status: &'static str,
        body: &'static str,
    ) -> (String, std::thread::JoinHandle<String>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = format!("http://{}", l.local_addr().unwrap());
        let h = std::thread::spawn(move || {
            let (s, _) = l.accept().unwrap();
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut head = String::new();
            loop {
                let mut line = String::new();
                r.read_line(&mut line).unwrap();
                if line == "\r\n" || line.is_empty() {
                    break;
                }
                head.push_str(&line);
            }
            let mut s = s;
            write!(
                s,
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .unwrap();
            head
        });
        (addr, h)
    }

    #[test]
    fn one_call_over_http() {
        let (ep, h) = serve_once(
            "200 OK",
            r#"{"roleCredentials":{"accessKeyId":"ASIAY","secretAccessKey":"s","sessionToken":"t","expiration":2000000000000}}"#,
        );
        let c = get_role_credentials(&ep, "123456789012", "ReadOnly", "the-token").unwrap();
        assert_eq!(
            (c.access_key_id.as_str(), c.expiration),
            ("ASIAY", 2_000_000_000)
        );
        let head = h.join().unwrap().to_ascii_lowercase();
        assert!(
            head.starts_with(
                "get /federation/credentials?account_id=123456789012&role_name=readonly http/1.1\r\n"
            ),
            "{head}"
        );
        assert!(
            head.contains("x-amz-sso_bearer_token: the-token\r\n"),
            "{head}"
        );

        let (ep, h) = serve_once("401 Unauthorized", r#"{"message":"expired"}"#);
        let e = get_role_credentials(&ep, "1", "R", "the-token").unwrap_err();
        h.join().unwrap();
        assert!(e.token_refused());
        assert!(!e.to_string().contains("the-token"));

        // Nobody listening: unreachable, and the message does not carry the token.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let e = get_role_credentials(&format!("http://127.0.0.1:{port}"), "1", "R", "the-token")
            .unwrap_err();
        assert!(matches!(e, PortalError::Unreachable(_)), "{e:?}");
        assert!(!e.to_string().contains("the-token"));
    }
}
