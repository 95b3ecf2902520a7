//! `ssso status` end to end: the real binary, a fake HOME, no network and no process.

use std::path::PathBuf;
use std::process::{Command, Output};

struct Home(PathBuf);

impl Home {
    fn new(tag: &str) -> Home {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let p =
            std::env::temp_dir().join(format!("ssso-status-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(p.join(".aws/sso/cache")).unwrap();
        std::fs::write(
            p.join(".aws/config"),
            "[profile dev]\nsso_session = corp\nsso_account_id = 111122223333\nsso_role_name = Dev\n\n[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = eu-west-1\n\n[profile keys]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = SECRETSECRET\n",
        )
        .unwrap();
        Home(p)
    }

    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ssso"));
        cmd.arg("status")
            .args(args)
            .env("HOME", &self.0)
            .env("PATH", "/nonexistent")
            .env_remove("AWS_CONFIG_FILE")
            .env_remove("SSSO_PROFILE")
            .env_remove("AWS_PROFILE");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn token(expires_at: &str) -> String {
    format!(
        r#"{{"startUrl":"https://corp.awsapps.com/start","region":"eu-west-1","accessToken":"SECRET-ACCESS","expiresAt":"{expires_at}","clientId":"c","clientSecret":"SECRET-CLIENT","registrationExpiresAt":"2199-01-01T00:00:00Z","refreshToken":"SECRET-REFRESH"}}"#
    )
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// The cache file path the binary reports for profile dev.
fn cache_name(home: &Home) -> String {
    let out = home.run(&["--profile", "dev", "--json"], &[]);
    let v = json(&out);
    let p = v["cache_file"].as_str().unwrap().to_owned();
    assert!(p.starts_with(&*home.0.to_string_lossy()), "{p}");
    p
}

#[test]
fn fresh_token_exits_0() {
    let h = Home::new("fresh");
    let path = PathBuf::from(cache_name(&h));
    // sha1("corp") + ".json", under HOME
    assert_eq!(
        path,
        h.0.join(".aws/sso/cache/ee0bfd2552fbd840c02cc48b6e823320543c450f.json")
    );
    std::fs::write(&path, token("2199-01-01T00:00:00Z")).unwrap();
    let out = h.run(&["--json"], &[("SSSO_PROFILE", "dev")]);
    assert_eq!(out.status.code(), Some(0));
    let v = json(&out);
    assert_eq!(v["profile"], "dev");
    assert_eq!(v["profile_source"], "SSSO_PROFILE");
    assert_eq!(v["sso_session"], "corp");
    assert_eq!(v["start_url"], "https://corp.awsapps.com/start");
    assert_eq!(v["region"], "eu-west-1");
    assert_eq!(v["min_valid_seconds"], 900);
    assert_eq!(v["token"]["present"], true);
    assert_eq!(v["token"]["expires_at"], "2199-01-01T00:00:00Z");
    assert_eq!(v["token"]["fresh"], true);
    assert_eq!(v["token"]["refreshable"], true);
    assert!(out.stderr.is_empty());

    let out = h.run(&[], &[("AWS_PROFILE", "dev")]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("dev (from AWS_PROFILE)"), "{text}");
    assert!(text.contains("fresh:        yes"), "{text}");
    assert!(!text.contains("SECRET"), "{text}");
}

#[test]
fn expired_or_missing_token_exits_1() {
    let h = Home::new("expired");
    let out = h.run(&["--profile", "dev", "--json"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json(&out)["token"]["present"], false);

    let path = PathBuf::from(cache_name(&h));
    std::fs::write(&path, token("2001-01-01T00:00:00UTC")).unwrap();
    let out = h.run(&["--profile", "dev"], &[]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("expired ") && text.contains(" ago (2001-01-01T00:00:00Z)"),
        "{text}"
    );

    // A long --min-valid makes a valid token stale.
    std::fs::write(&path, token("2199-01-01T00:00:00Z")).unwrap();
    let out = h.run(
        &["--profile", "dev", "--min-valid", "99999d", "--json"],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json(&out)["token"]["fresh"], false);
}

#[test]
fn errors_exit_254_on_stderr_only() {
    let h = Home::new("errors");
    let out = h.run(&[], &[]);
    assert_eq!(out.status.code(), Some(254));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("no AWS profile chosen"), "{err}");
    assert!(
        err.contains("SSO profiles in") && err.contains(": dev."),
        "{err}"
    );

    let out = h.run(&["--profile", "keys"], &[]);
    assert_eq!(out.status.code(), Some(254));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("never copies long-term credentials"), "{err}");
    assert!(!err.contains("SECRETSECRET"), "{err}");

    let path = PathBuf::from(cache_name(&h));
    std::fs::write(&path, "{\"accessToken\":\"SECRET-ACCESS\"").unwrap();
    // An unusable token file is reported (not fresh: 1) with the rest of the profile, as
    // `--all` reports it; none of its bytes are shown.
    let out = h.run(&["--profile", "dev"], &[]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("token:        unusable ("), "{text}");
    assert!(text.contains("profile:      dev"), "{text}");
    assert!(!text.contains("SECRET"), "{text}");
    let out = h.run(&["--profile", "dev", "--json"], &[]);
    assert_eq!(out.status.code(), Some(1));
    let j = json(&out);
    assert_eq!(j["token"]["present"], false);
    assert!(j["token"]["error"].is_string(), "{j}");
    assert!(!j.to_string().contains("SECRET"), "{j}");

    // A bad option value is a usage error, like every other (exit 2, `ssso: error:`).
    let out = h.run(&["--profile", "dev", "--min-valid", "soon"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.starts_with("ssso: error: invalid value 'soon' for '--min-valid"),
        "{err}"
    );

    let out = h.run(&["--profile", "dev"], &[("AWS_CONFIG_FILE", "~/nope")]);
    assert_eq!(out.status.code(), Some(254));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("/nope does not exist") && err.contains("aws configure sso"),
        "{err}"
    );
}
