//! The subcommands end to end: host names that look like subcommands, `ssso login`,
//! `ssso status --all`, and `ssso doctor` / `ssso setup` against the test sshd on 127.0.0.1.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

const PROFILE: &str = "dev";
const SESSION: &str = "corp";

fn out(cmd: &mut Command) -> (i32, String, String) {
    let o = run(cmd, CMD_TIMEOUT);
    let (status, stdout, stderr) = text(&o);
    (status.code().unwrap_or(-1), stdout, stderr)
}

/// A subcommand is only the first word: `--`, `user@` or an ssh option first make it a host.
#[test]
fn subcommand_names_are_host_names_after_dash_dash_or_user() {
    let local = Local::new("");
    for name in ["status", "login", "doctor", "setup", "completions", "help"] {
        for args in [vec!["-G", "--", name], vec!["-G", &format!("me@{name}")]] {
            let (code, stdout, stderr) = out(local.ssso().args(&args));
            assert_eq!(code, 0, "{args:?}: {stderr}");
            assert!(
                stdout.contains(&format!("\nhostname {name}\n")),
                "{args:?}: {stdout}"
            );
        }
    }
}

#[test]
fn login_runs_aws_sso_login_only_when_needed() {
    let local = Local::new(&sso_config(PROFILE, SESSION));
    local.write_token(&cache_key(SESSION), &unique_token("fresh"), 3600);
    let (code, _, stderr) = out(local.ssso().args(["login", "--profile", PROFILE]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("expires in"), "{stderr}");
    assert!(local.login_calls().is_empty());

    let (code, _, stderr) = out(local.ssso().args([
        "login",
        "--profile",
        PROFILE,
        "--force",
        "--login-arg=--use-device-code",
    ]));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("waiting for the IAM Identity Center login"),
        "{stderr}"
    );
    assert_eq!(
        local.login_calls(),
        [format!("sso login --profile {PROFILE} --use-device-code")]
    );

    local.write_token(&cache_key(SESSION), &unique_token("stale"), 60);
    let (code, _, stderr) = out(local.ssso().args(["login", "-q", "--profile", PROFILE]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.is_empty(), "-q: {stderr}");
    assert_eq!(local.login_calls().len(), 2);
}

#[test]
fn status_all_lists_sessions_profiles_and_tokens() {
    let local = Local::new(&format!(
        "{}\n{}",
        sso_config(PROFILE, SESSION),
        legacy_sso_config("old")
    ));
    local.write_token(&cache_key(SESSION), &unique_token("s"), 3 * 3600 + 600);
    let (code, stdout, _) = out(local.ssso().args(["status", "--all"]));
    assert_eq!(code, 1, "the legacy profile has no token: {stdout}");
    assert!(stdout.contains("sso-session corp: https://example.awsapps.com/start (us-east-1)\n  profiles: dev\n  token:    expires in 3h"), "{stdout}");
    assert!(
        stdout.contains("profiles: old\n  token:    none"),
        "{stdout}"
    );
    let (_, stdout, _) = out(local.ssso().args(["status", "--all", "--json"]));
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["sessions"][0]["sso_session"], SESSION);
    assert_eq!(v["sessions"][0]["profiles"], serde_json::json!([PROFILE]));
    assert_eq!(v["sessions"][0]["token"]["fresh"], true);
    assert_eq!(v["sessions"][1]["sso_session"], serde_json::Value::Null);
    assert_eq!(v["sessions"][1]["token"]["present"], false);
}

fn doctor(local: &Local, user: &str, json: bool) -> (i32, String, String) {
    let mut cmd = local.ssso();
    cmd.args(["doctor", "--profile", PROFILE, "-F"])
        .arg(server().ssh_config());
    if json {
        cmd.arg("--json");
    }
    out(cmd.arg(server().dest(user)))
}

#[test]
fn doctor_reports_before_and_after_a_sync() {
    let u = user("ssso-bash");
    let local = Local::new(&sso_config(PROFILE, SESSION));
    let token = unique_token("doctor");
    local.write_token(&cache_key(SESSION), &token, 3600);
    local.register_token(&token);

    let (code, stdout, stderr) = doctor(&local, u.name(), false);
    assert_eq!(code, 1, "nothing synced yet: {stdout}{stderr}");
    assert!(stdout.contains("ok    ssh "), "{stdout}");
    assert!(stdout.contains("fail  token "), "{stdout}");
    assert!(stdout.contains("fail  identity "), "{stdout}");

    let mut sync = local.ssso();
    sync.args(["--profile", PROFILE, "-F"])
        .arg(server().ssh_config())
        .arg(server().dest(u.name()))
        .arg("true");
    let (code, _, stderr) = out(&mut sync);
    assert_eq!(code, 0, "{stderr}");

    let (code, stdout, stderr) = doctor(&local, u.name(), true);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["ok"], true, "{v:#}");
    let status = |name: &str| {
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["check"] == name)
            .unwrap()["status"]
            .clone()
    };
    for c in [
        "ssh",
        "config",
        "token",
        "token-files",
        "credentials",
        "identity",
    ] {
        assert_eq!(status(c), "ok", "{c}: {v:#}");
    }
    assert_eq!(
        status("aws"),
        "warn",
        "the test users have AWS CLI v1: {v:#}"
    );
    let identity = v["checks"][6]["detail"].as_str().unwrap();
    assert!(identity.contains(ACCOUNT_ID), "{identity}");
    assert!(!stdout.contains(&token), "the token leaked into the report");
}

#[test]
fn doctor_says_how_to_fix_a_refused_key() {
    let local = Local::new(&sso_config(PROFILE, SESSION));
    local.write_token(&cache_key(SESSION), &unique_token("pw"), 3600);
    let mut cmd = local.ssso();
    cmd.args(["doctor", "--profile", PROFILE, "-o", "BatchMode=yes", "-F"])
        .arg(server().ssh_config())
        .arg(server().dest(PW_USER));
    let (code, stdout, _) = out(&mut cmd);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("fail  ssh ") && stdout.contains("ssh-copy-id"),
        "{stdout}"
    );
}

#[test]
fn setup_writes_the_ssh_block_and_persists_the_profile_idempotently() {
    let u = user("ssso-zsh");
    let local = Local::new(&sso_config(PROFILE, SESSION));
    let ssh_config = local.home().join(".ssh/config");
    std::fs::create_dir_all(ssh_config.parent().unwrap()).unwrap();
    std::fs::write(
        &ssh_config,
        "Compression yes\nHost *\n    ServerAliveInterval 5\n",
    )
    .unwrap();
    let setup = |extra: &[&str]| {
        let mut cmd = local.ssso();
        cmd.arg("setup")
            .args(extra)
            .arg("-F")
            .arg(server().ssh_config())
            .arg(server().dest(u.name()));
        out(&mut cmd)
    };
    let (code, stdout, stderr) = setup(&["--profile", PROFILE]);
    assert_eq!(code, 0, "{stderr}");
    // The alias, the profile and the -F file are spelled out: paramiko and fabric expand
    // neither %n nor read a parent ssh, and the sync connection needs the same config.
    let line = format!(
        "    ProxyCommand ssso proxy --alias ssso-test --profile dev --user %r -F {} %h %p\n    SetEnv AWS_PROFILE=dev\n",
        server().ssh_config().display()
    );
    assert!(stdout.contains(&line), "{stdout}");
    assert_eq!(
        std::fs::read_to_string(&ssh_config).unwrap(),
        "Compression yes\nHost *\n    ServerAliveInterval 5\n"
    );

    for _ in 0..2 {
        let (code, _, stderr) = setup(&["--profile", PROFILE, "--persist-profile", "--write"]);
        assert_eq!(code, 0, "{stderr}");
    }
    let written = std::fs::read_to_string(&ssh_config).unwrap();
    assert!(
        written.starts_with("Compression yes\n# >>> ssso setup ssso-test >>>\nHost ssso-test\n"),
        "{written}"
    );
    assert_eq!(written.matches(">>> ssso").count(), 1, "{written}");
    let zshenv = remote_read(u.name(), ".zshenv")
        .map(|b| String::from_utf8(b).unwrap())
        .unwrap_or_default();
    assert_eq!(
        zshenv.matches("export AWS_PROFILE='dev'").count(),
        1,
        "{zshenv}"
    );
    let o = run(
        &mut server().ssh(u.name(), ["echo \"[$AWS_PROFILE]\""]),
        Duration::from_secs(30),
    );
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("[dev]"),
        "{o:?}"
    );

    let (code, _, stderr) = setup(&["--undo", "--persist-profile", "--write"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        std::fs::read_to_string(&ssh_config).unwrap(),
        "Compression yes\nHost *\n    ServerAliveInterval 5\n"
    );
    let zshenv = remote_read(u.name(), ".zshenv")
        .map(|b| String::from_utf8(b).unwrap())
        .unwrap_or_default();
    assert!(!zshenv.contains("AWS_PROFILE"), "{zshenv}");
}
