//! `ssso status`: the resolved profile, where that choice came from, its IAM Identity Center
//! settings and the state of its local token, read from local files only (no network, no
//! process). Its report is the command's output, so it goes to stdout.
//!
//! Exit status: 0 when the token is fresh (more than `--min-valid` left), 1 when it is stale,
//! expired or missing (`ssso HOST` would run `aws sso login`), and ssso's error status (254)
//! for anything else: no profile chosen, no config, a profile that is not an SSO profile, an
//! unreadable or corrupt token file (a bad `--min-valid` is a usage error: 2).
//!
//! Without `--profile`, the profile comes from SSSO_PROFILE, then AWS_PROFILE; there is no
//! host here, so the ssh config's `SetEnv AWS_PROFILE` layer is skipped.
//!
//! `--json` prints one JSON object on one line (stable; new fields may be added, existing ones
//! keep their meaning):
//!
//! | field | type | meaning |
//! |---|---|---|
//! | `profile` | string | the AWS profile |
//! | `profile_source` | string | where it was chosen: `"flag"` (--profile), `"SSSO_PROFILE"`, `"ssh-config"` (never from status), `"AWS_PROFILE"` |
//! | `sso_session` | string or null | the profile's `sso_session`; null for a legacy profile (sso_start_url in the profile) |
//! | `start_url` | string | the IAM Identity Center start URL |
//! | `region` | string | the IAM Identity Center region (`sso_region`) |
//! | `cache_file` | string | path of the token cache file |
//! | `token.present` | bool | a usable token file exists |
//! | `token.expires_at` | string or null | its `expiresAt` as `YYYY-MM-DDTHH:MM:SSZ` (UTC) |
//! | `token.expires_in_seconds` | int or null | seconds until then; negative once expired |
//! | `token.fresh` | bool | more than `min_valid_seconds` left (false without a token) |
//! | `token.refreshable` | bool | ssso and the AWS CLI/SDKs can refresh it without a browser: an sso-session profile (botocore never refreshes a legacy profile's token), refreshToken, clientId, clientSecret present and client registration unexpired (false without a token) |
//! | `token.refresh_in_seconds` | int or null | seconds until ssso refreshes it without a browser (less than `refresh_before_seconds` left and written over a minute ago, or not fresh); 0 when due now; null when it is not refreshable |
//! | `token.error` | string or null | why the token file is unusable (then `present` is false) |
//! | `min_valid_seconds` | int | the `--min-valid` threshold used for `fresh` |
//! | `refresh_before_seconds` | int | the `--refresh-before` threshold used for `refresh_in_seconds` |
//! | `forward.possible` | bool | `--forward` can serve this profile (it names an account and a role) |
//! | `forward.why_not` | string or null | why not, when it cannot |
//! | `forward.sessions[]` | array | the `ssso --forward` sessions running here for this profile: `{"host", "pid", "started"}` (`started` as `YYYY-MM-DDTHH:MM:SSZ`) |
//!
//! `--all` reports every `[sso-session]` of the local config and every legacy start URL, with
//! the SSO profiles that use each; it exits 0 when every token that a profile uses is fresh.
//! `--all --json` prints one object:
//!
//! | field | type | meaning |
//! |---|---|---|
//! | `sessions[]` | array | one per token cache file, in config order |
//! | `sessions[].sso_session` | string or null | the session name; null for a legacy start URL |
//! | `sessions[].start_url`, `.region` | string | the session's settings (empty when missing) |
//! | `sessions[].profiles` | array of string | the SSO profiles that use it (may be empty) |
//! | `sessions[].cache_file` | string | path of its token cache file |
//! | `sessions[].token` | object | as `token` above, plus `error`: why the file is unusable, or null |
//! | `errors[]` | array | `{"profile", "error"}` for SSO profiles that do not resolve |
//! | `min_valid_seconds` | int | as above |

use std::io::Write as _;

use anyhow::Context;

use crate::aws::config::{self, AwsConfig, SsoProfile};
use crate::aws::profile::{self, Source};
use crate::aws::token::{self, Token};

/// `ssso status`'s settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub profile: Option<String>,
    /// A token with this much or less left is not fresh.
    pub min_valid: std::time::Duration,
    /// A refreshable token with this much or less left is refreshed by ssso.
    pub refresh_before: std::time::Duration,
    pub json: bool,
    /// Every SSO session instead of one profile.
    pub all: bool,
}

/// Run `ssso status`; see the module doc for the exit status and the JSON fields.
pub fn run(args: &Settings) -> anyhow::Result<u8> {
    let min_valid = args.min_valid.as_secs();
    if args.all {
        let cfg = AwsConfig::load(&config::config_path()?)?;
        let all = All::gather(&cfg, crate::time::now(), min_valid)?;
        let out = if args.json {
            format!("{}\n", all.json())
        } else {
            all.text()
        };
        print(&out)?;
        return Ok(if all.fresh() { 0 } else { 1 });
    }
    let (source, sso) = profile::resolve(args.profile.as_deref(), || None)?;
    let cache_file = sso.cache_path()?;
    // An unusable file is reported, not an error: the rest of the report still helps.
    let (tok, token_error) = match token::read(&cache_file) {
        Ok(t) => (t, None),
        Err(e) => (None, Some(format!("{:#}", e.root_cause()))),
    };
    let report = Report {
        sso: &sso,
        source,
        cache_file: &cache_file,
        token: tok.as_ref(),
        token_error,
        written_at: token::written_at(&cache_file),
        now: crate::time::now(),
        min_valid,
        refresh_before: i64::try_from(args.refresh_before.as_secs()).unwrap_or(i64::MAX),
        forwards: crate::session::forward::live(Some(&sso.profile)),
    };
    let out = if args.json {
        format!("{}\n", report.json())
    } else {
        report.text()
    };
    print(&out)?;
    Ok(if report.fresh() { 0 } else { 1 })
}

/// The report is the command's output: stdout, and a closed pipe (`| head`) is not an error.
fn print(out: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(e).context("cannot write the status to stdout"),
    }
}

/// The `token` object of the JSON output, for one token file (or none); `legacy`: a legacy
/// profile's start URL, whose token botocore never refreshes.
fn token_json(t: Option<&Token>, now: i64, min_valid: u64, legacy: bool) -> serde_json::Value {
    serde_json::json!({
        "present": t.is_some(),
        "expires_at": t.map(|t| crate::time::format_timestamp(t.expires_at)),
        "expires_in_seconds": t.map(|t| t.expires_at - now),
        "fresh": t.is_some_and(|t| token::is_fresh(t, now, min_valid)),
        "refreshable": !legacy && t.is_some_and(|t| t.refreshable),
    })
}

/// `--all`: every SSO session (and legacy start URL) of the config.
struct All {
    sessions: Vec<SessionState>,
    /// SSO profiles that do not resolve (missing sso-session section...), with the reason.
    errors: Vec<(String, String)>,
    now: i64,
    min_valid: u64,
}

struct SessionState {
    /// None for a legacy profile's start URL.
    name: Option<String>,
    start_url: String,
    region: String,
    profiles: Vec<String>,
    cache_file: std::path::PathBuf,
    token: Result<Option<Token>, String>,
}

impl All {
    fn gather(cfg: &AwsConfig, now: i64, min_valid: u64) -> anyhow::Result<All> {
        let dir = token::cache_dir()?;
        let mut sessions: Vec<SessionState> = Vec::new();
        let mut errors = Vec::new();
        let add = |sessions: &mut Vec<SessionState>,
                   name: Option<String>,
                   url: String,
                   region: String,
                   key: String| {
            let cache_file = dir.join(&key);
            if let Some(i) = sessions.iter().position(|s| s.cache_file == cache_file) {
                return i;
            }
            let token = token::read(&cache_file).map_err(|e| e.root_cause().to_string());
            sessions.push(SessionState {
                name,
                start_url: url,
                region,
                profiles: Vec::new(),
                cache_file,
                token,
            });
            sessions.len() - 1
        };
        for p in cfg.sso_profile_names() {
            match cfg.sso_profile(&p) {
                Ok(sso) => {
                    let i = add(
                        &mut sessions,
                        sso.session,
                        sso.start_url,
                        sso.region,
                        sso.cache_file_name,
                    );
                    sessions[i].profiles.push(p);
                }
                Err(e) => errors.push((p, format!("{e:#}"))),
            }
        }
        for name in cfg.sso_session_names() {
            let props = cfg.session_props(&name).unwrap_or_default();
            let get = |k: &str| props.get(k).cloned().unwrap_or_default();
            let key = token::cache_file_name(&name);
            add(
                &mut sessions,
                Some(name),
                get("sso_start_url"),
                get("sso_region"),
                key,
            );
        }
        Ok(All {
            sessions,
            errors,
            now,
            min_valid,
        })
    }

    fn token<'a>(&self, s: &'a SessionState) -> Option<&'a Token> {
        s.token.as_ref().ok().and_then(Option::as_ref)
    }

    /// Every session that some profile uses has a fresh token.
    fn fresh(&self) -> bool {
        self.sessions
            .iter()
            .filter(|s| !s.profiles.is_empty())
            .all(|s| {
                self.token(s)
                    .is_some_and(|t| token::is_fresh(t, self.now, self.min_valid))
            })
    }

    fn json(&self) -> serde_json::Value {
        let sessions: Vec<serde_json::Value> = self
            .sessions
            .iter()
            .map(|s| {
                let mut t = token_json(self.token(s), self.now, self.min_valid, s.name.is_none());
                t["error"] = s.token.as_ref().err().cloned().into();
                serde_json::json!({
                    "sso_session": s.name,
                    "start_url": s.start_url,
                    "region": s.region,
                    "profiles": s.profiles,
                    "cache_file": s.cache_file.to_string_lossy(),
                    "token": t,
                })
            })
            .collect();
        let errors: Vec<serde_json::Value> = self
            .errors
            .iter()
            .map(|(p, e)| serde_json::json!({"profile": p, "error": e}))
            .collect();
        serde_json::json!({
            "sessions": sessions,
            "errors": errors,
            "min_valid_seconds": self.min_valid,
        })
    }

    fn text(&self) -> String {
        let mut out = String::new();
        if self.sessions.is_empty() {
            out.push_str("no SSO sessions or SSO profiles in the AWS config; run `aws configure sso` to create one\n");
        }
        for s in &self.sessions {
            let title = match &s.name {
                Some(n) => format!("sso-session {n}"),
                None => "legacy profile".to_owned(),
            };
            out.push_str(&format!("{title}: {} ({})\n", s.start_url, s.region));
            let profiles = if s.profiles.is_empty() {
                "none".to_owned()
            } else {
                s.profiles.join(", ")
            };
            out.push_str(&format!("  profiles: {profiles}\n"));
            let state = match &s.token {
                Err(e) => format!("unusable ({e})"),
                Ok(None) => "none".to_owned(),
                Ok(Some(t)) => format!(
                    "{} ({}), {}, {}",
                    crate::time::relative_expiry(t.expires_at, self.now),
                    crate::time::format_timestamp(t.expires_at),
                    if token::is_fresh(t, self.now, self.min_valid) {
                        "fresh"
                    } else {
                        "not fresh"
                    },
                    if s.name.is_some() && t.refreshable {
                        "refreshable"
                    } else {
                        "not refreshable"
                    }
                ),
            };
            out.push_str(&format!("  token:    {state}\n"));
        }
        for (p, e) in &self.errors {
            out.push_str(&format!("profile {p}: {e}\n"));
        }
        out
    }
}

struct Report<'a> {
    sso: &'a SsoProfile,
    source: Source,
    cache_file: &'a std::path::Path,
    token: Option<&'a Token>,
    now: i64,
    min_valid: u64,
    /// Why the token file is unusable (then `token` is None).
    token_error: Option<String>,
    /// The token file's mtime (a token written less than a minute ago is not refreshed).
    written_at: Option<i64>,
    /// `--refresh-before`, in seconds.
    refresh_before: i64,
    /// The `--forward` sessions running for the profile.
    forwards: Vec<crate::session::forward::Live>,
}

impl Report<'_> {
    /// Why `--forward` cannot serve the profile, if it cannot.
    fn forward_why_not(&self) -> Option<String> {
        let s = self.sso;
        if s.account_id.is_none() || s.role_name.is_none() {
            return Some("no sso_account_id / sso_role_name: it names no role to forward".into());
        }
        crate::forward::host::check_profile_name(&s.profile)
            .err()
            .map(|e| e.to_string())
    }

    fn forward_json(&self) -> serde_json::Value {
        let sessions: Vec<serde_json::Value> = self
            .forwards
            .iter()
            .map(|l| {
                serde_json::json!({"host": l.host, "pid": l.pid, "started": crate::time::format_timestamp(l.started)})
            })
            .collect();
        let why = self.forward_why_not();
        serde_json::json!({"possible": why.is_none(), "why_not": why, "sessions": sessions})
    }

    fn fresh(&self) -> bool {
        self.token
            .is_some_and(|t| token::is_fresh(t, self.now, self.min_valid))
    }

    /// Seconds until ssso refreshes the token (0: due now), when it is refreshable: at once
    /// when it is not fresh; else once less than `--refresh-before` is left and the file is a
    /// minute old ([`crate::aws::schedule::Schedule::due`]).
    fn refresh_in(&self) -> Option<i64> {
        let t = self
            .token
            .filter(|t| crate::aws::oidc::can_refresh(self.sso, t))?;
        if !self.fresh() {
            return Some(0);
        }
        let min_age = i64::try_from(crate::aws::schedule::MIN_AGE.as_secs()).unwrap_or(0);
        let due_at = (t.expires_at - self.refresh_before)
            .max(self.written_at.unwrap_or(i64::MIN).saturating_add(min_age));
        Some((due_at - self.now).max(0))
    }

    fn json(&self) -> serde_json::Value {
        let mut token = token_json(self.token, self.now, self.min_valid, false);
        token["refreshable"] = self.refresh_in().is_some().into();
        token["refresh_in_seconds"] = self.refresh_in().into();
        token["error"] = self.token_error.clone().into();
        serde_json::json!({
            "profile": self.sso.profile,
            "profile_source": self.source.as_str(),
            "sso_session": self.sso.session,
            "start_url": self.sso.start_url,
            "region": self.sso.region,
            "cache_file": self.cache_file.to_string_lossy(),
            "token": token,
            "min_valid_seconds": self.min_valid,
            "refresh_before_seconds": self.refresh_before,
            "forward": self.forward_json(),
        })
    }

    fn text(&self) -> String {
        let s = self.sso;
        let min = crate::time::human_duration(self.min_valid.try_into().unwrap_or(i64::MAX));
        let mut lines: Vec<(&str, String)> = vec![
            ("profile", format!("{} (from {})", s.profile, self.source)),
            (
                "sso-session",
                s.session.clone().unwrap_or_else(|| {
                    "none (legacy profile: sso_start_url in the profile)".into()
                }),
            ),
            ("start URL", s.start_url.clone()),
            ("region", s.region.clone()),
        ];
        match (&s.account_id, &s.role_name) {
            (Some(a), Some(r)) => lines.push(("account/role", format!("{a} / {r}"))),
            (None, None) => lines.push((
                "account/role",
                "none (token-only profile: no sso_account_id / sso_role_name)".into(),
            )),
            (a, r) => lines.push((
                "account/role",
                format!(
                    "{} / {} (incomplete)",
                    a.as_deref().unwrap_or("?"),
                    r.as_deref().unwrap_or("?")
                ),
            )),
        }
        lines.push(("token cache", self.cache_file.display().to_string()));
        match (self.token, &self.token_error) {
            (None, Some(e)) => {
                lines.push(("token", format!("unusable ({e})")));
            }
            (None, None) => {
                lines.push(("token", "none".into()));
            }
            (Some(t), _) => {
                let when = crate::time::format_timestamp(t.expires_at);
                let rel = crate::time::relative_expiry(t.expires_at, self.now);
                lines.push(("token", format!("{rel} ({when})")));
            }
        }
        lines.push((
            "fresh",
            if self.fresh() {
                format!("yes (more than --min-valid {min} left)")
            } else if self.refresh_in().is_some() {
                format!(
                    "no (needs more than --min-valid {min} left; `ssso HOST` refreshes it first, without a browser)"
                )
            } else {
                format!(
                    "no (needs more than --min-valid {min} left; `ssso HOST` will run `aws sso login --profile {}`)",
                    s.profile
                )
            },
        ));
        let before = crate::time::human_duration(self.refresh_before);
        lines.push((
            "refreshable",
            match self.refresh_in() {
                None => "no".into(),
                Some(0) => format!(
                    "yes (less than --refresh-before {before} left: ssso refreshes it at the next connect, without a browser)"
                ),
                Some(secs) => format!(
                    "yes (ssso refreshes it without a browser in {}, with --refresh-before {before} left)",
                    crate::time::human_duration(secs)
                ),
            },
        ));
        lines.push((
            "--forward",
            match (self.forward_why_not(), &s.role_name, &s.account_id) {
                (None, Some(r), Some(a)) => {
                    format!("possible: a host gets role {r} in account {a} only")
                }
                (why, _, _) => format!("not possible ({})", why.unwrap_or_default()),
            },
        ));
        if self.forwards.is_empty() {
            lines.push((
                "mode",
                "no `ssso --forward` session running here (hosts reached with plain `ssso` get the token file)".into(),
            ));
        }
        for l in &self.forwards {
            lines.push((
                "mode",
                format!(
                    "forward to {} (pid {}, since {}): the token stays here",
                    l.host,
                    l.pid,
                    crate::time::format_timestamp(l.started)
                ),
            ));
        }
        let width = lines.iter().map(|(k, _)| k.len()).max().unwrap_or(0) + 1;
        let mut out = String::new();
        for (k, v) in lines {
            out.push_str(&format!("{:<width$} {v}\n", format!("{k}:")));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::token::tests::token_json;

    const CFG: &str = "[profile dev]\nsso_session = corp\nsso_account_id = 1\nsso_role_name = R\n[sso-session corp]\nsso_start_url = https://corp/start\nsso_region = eu-west-1\n[profile old]\nsso_start_url = https://old/start\nsso_region = us-east-1\n";

    fn report<'a>(sso: &'a SsoProfile, tok: Option<&'a Token>, now: i64) -> Report<'a> {
        Report {
            sso,
            source: Source::Flag,
            cache_file: std::path::Path::new("/h/.aws/sso/cache/x.json"),
            token: tok,
            now,
            min_valid: 900,
            token_error: None,
            written_at: Some(0),
            refresh_before: 1200,
            forwards: Vec::new(),
        }
    }

    #[test]
    fn fresh_text_and_json() {
        let sso = AwsConfig::parse(CFG).unwrap().sso_profile("dev").unwrap();
        let t = token::parse_at(token_json(1_795_684_636).as_bytes(), 0).unwrap();
        let now = 1_795_684_636 - (3 * 3600 + 12 * 60);
        let r = report(&sso, Some(&t), now);
        assert!(r.fresh());
        let text = r.text();
        assert!(
            text.contains("profile:      dev (from --profile)\n"),
            "{text}"
        );
        assert!(text.contains("sso-session:  corp\n"), "{text}");
        assert!(text.contains("account/role: 1 / R\n"), "{text}");
        assert!(
            text.contains("token:        expires in 3h12m (2026-11-26T09:17:16Z)\n"),
            "{text}"
        );
        assert!(
            text.contains("fresh:        yes (more than --min-valid 15m left)\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "refreshable:  yes (ssso refreshes it without a browser in 2h52m, with --refresh-before 20m left)\n"
            ),
            "{text}"
        );
        assert!(!text.contains("SECRET"));
        assert_eq!(
            r.json(),
            serde_json::json!({
                "profile": "dev", "profile_source": "flag", "sso_session": "corp",
                "start_url": "https://corp/start", "region": "eu-west-1",
                "cache_file": "/h/.aws/sso/cache/x.json",
                "token": {"present": true, "expires_at": "2026-11-26T09:17:16Z",
                          "expires_in_seconds": 11520, "fresh": true, "refreshable": true,
                          "refresh_in_seconds": 10320, "error": null},
                "min_valid_seconds": 900,
                "refresh_before_seconds": 1200,
                "forward": {"possible": true, "why_not": null, "sessions": []}
            })
        );
        assert!(
            text.contains("--forward:    possible: a host gets role R in account 1 only\n"),
            "{text}"
        );
        assert!(
            text.contains("mode:         no `ssso --forward` session running here"),
            "{text}"
        );
        // A running forward session is shown.
        let mut r = report(&sso, Some(&t), now);
        r.forwards.push(crate::session::forward::Live {
            profile: "dev".into(),
            host: "alice@box".into(),
            pid: 42,
            started: 1_795_684_636,
        });
        assert!(
            r.text().contains("mode:         forward to alice@box (pid 42, since 2026-11-26T09:17:16Z): the token stays here\n"),
            "{}",
            r.text()
        );
        assert_eq!(
            r.json()["forward"]["sessions"],
            serde_json::json!([{"host": "alice@box", "pid": 42, "started": "2026-11-26T09:17:16Z"}])
        );
    }

    #[test]
    fn expired_and_missing() {
        let sso = AwsConfig::parse(CFG).unwrap().sso_profile("old").unwrap();
        let t = token::parse_at(token_json(1_000_000).as_bytes(), 0).unwrap();
        let r = report(&sso, Some(&t), 1_000_000 + 1200);
        assert!(!r.fresh());
        let text = r.text();
        assert!(text.contains("expired 20m ago"), "{text}");
        assert!(text.contains("none (legacy profile"), "{text}");
        assert!(text.contains("aws sso login --profile old"), "{text}");
        assert!(
            text.contains("--forward:    not possible (no sso_account_id / sso_role_name"),
            "{text}"
        );
        assert_eq!(r.json()["forward"]["possible"], false);
        let j = r.json();
        assert_eq!(j["sso_session"], serde_json::Value::Null);
        assert_eq!(j["token"]["expires_in_seconds"], -1200);
        assert_eq!(j["token"]["fresh"], false);

        let r = report(&sso, None, 0);
        let j = r.json();
        assert_eq!(
            j["token"],
            serde_json::json!({"present": false, "expires_at": null,
                "expires_in_seconds": null, "fresh": false, "refreshable": false,
                "refresh_in_seconds": null, "error": null})
        );
        assert!(r.text().contains("token:        none\n"));
    }

    #[test]
    fn what_the_next_connect_does_with_the_token() {
        let cfg = AwsConfig::parse(CFG).unwrap();
        let dev = cfg.sso_profile("dev").unwrap();
        let t = token::parse_at(token_json(1_000_000).as_bytes(), 0).unwrap();
        // Stale (10 minutes left) but refreshable: refreshed at once, no browser.
        let r = report(&dev, Some(&t), 1_000_000 - 600);
        assert_eq!(r.refresh_in(), Some(0));
        assert!(
            r.text()
                .contains("`ssso HOST` refreshes it first, without a browser"),
            "{}",
            r.text()
        );
        // Fresh and due, but written 10 s ago: refreshed once the file is a minute old.
        let mut r = report(&dev, Some(&t), 1_000_000 - 1000);
        r.written_at = Some(1_000_000 - 1010);
        assert_eq!(r.refresh_in(), Some(50));
        // A legacy profile's token is never refreshed, whatever fields the file has.
        let old = cfg.sso_profile("old").unwrap();
        let r = report(&old, Some(&t), 1_000_000 - 600);
        assert_eq!(r.refresh_in(), None);
        assert_eq!(r.json()["token"]["refreshable"], false);
        assert!(r.text().contains("will run `aws sso login --profile old`"));
        // An unusable file is shown, with the rest of the report.
        let mut r = report(&dev, None, 0);
        r.token_error = Some("not valid JSON".into());
        assert!(
            r.text()
                .contains("token:        unusable (not valid JSON)\n"),
            "{}",
            r.text()
        );
        assert_eq!(r.json()["token"]["error"], "not valid JSON");
        assert_eq!(r.json()["profile"], "dev");
    }
}
