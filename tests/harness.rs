//! Smoke tests of the harness itself, with plain `ssh` (no ssso): the test sshd, the test users
//! and their shells, the remote AWS CLI v1 against the mock portal and moto, the fake local CLI.

mod common;

use std::process::Command;

use common::*;

const PROFILE: &str = "dev";
const SESSION: &str = "corp";

/// For every shell: a synced token works, the portal saw exactly that token.
#[test]
fn every_shell_runs_aws_with_a_synced_token() {
    let server = server();
    let threads: Vec<_> = SHELL_USERS
        .iter()
        .map(|&(shell, name)| {
            std::thread::spawn(move || {
                let u = user(name);
                let token = unique_token(&format!("synced-{shell}"));
                register_token(&token);
                u.install(
                    &sso_config(PROFILE, SESSION),
                    &cache_key(SESSION),
                    &token,
                    3600,
                );
                let out = remote_caller_identity(u.name(), PROFILE);
                caller_identity_check(&out, &token);
            })
        })
        .collect();
    let mut failed = Vec::new();
    for (t, (shell, _)) in threads.into_iter().zip(SHELL_USERS) {
        if t.join().is_err() {
            failed.push(*shell);
        }
    }
    assert!(
        failed.is_empty(),
        "failed for shells {failed:?}\n--- sshd log:\n{}",
        server.sshd_log()
    );
}

#[test]
fn each_user_gets_its_own_login_shell() {
    let server = server();
    for &(shell, name) in SHELL_USERS {
        let _u = user(name);
        // The parent of that `sh` is the shell sshd ran for `-c` (`; true` keeps the shell from
        // exec'ing sh directly). Valid syntax in all seven shells.
        let out = run(
            &mut server.ssh(name, ["sh -c 'cat /proc/$PPID/comm'; true"]),
            CMD_TIMEOUT,
        );
        assert_success(&out, name);
        let got = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        let want = match shell {
            "sh" => "dash",
            "csh" => "bsd-csh",
            s => s,
        };
        assert_eq!(got, want, "{name} runs commands with the wrong shell");
    }
}

#[test]
fn legacy_profile_works_too() {
    let u = user("ssso-bash");
    let token = unique_token("legacy");
    register_token(&token);
    u.install(
        &legacy_sso_config(PROFILE),
        &cache_key(START_URL),
        &token,
        3600,
    );
    assert_caller_identity(&remote_caller_identity(u.name(), PROFILE));
    assert_token_used(&token);
}

#[test]
fn expired_token_fails() {
    let u = user("ssso-zsh");
    let token = unique_token("expired");
    register_token(&token);
    u.install(
        &sso_config(PROFILE, SESSION),
        &cache_key(SESSION),
        &token,
        -60,
    );
    let out = remote_caller_identity(u.name(), PROFILE);
    assert_aws_failed(&out, &["expired"]);
    assert_token_unused(&token);
}

#[test]
fn absent_token_fails() {
    let u = user("ssso-fish");
    u.write(
        ".aws/config",
        sso_config(PROFILE, SESSION).as_bytes(),
        0o600,
    );
    let out = remote_caller_identity(u.name(), PROFILE);
    assert_aws_failed(&out, &["does not exist", "expired", "sso login"]);
}

#[test]
fn unregistered_token_is_refused_by_the_portal() {
    let u = user("ssso-sh");
    let token = unique_token("unknown");
    u.install(
        &sso_config(PROFILE, SESSION),
        &cache_key(SESSION),
        &token,
        3600,
    );
    let out = remote_caller_identity(u.name(), PROFILE);
    assert_aws_failed(&out, &["expired or is otherwise invalid", "Unauthorized"]);
    assert_token_used(&token);
}

#[test]
fn noaws_user_has_no_aws_but_others_do() {
    let server = server();
    let _n = user(NOAWS_USER);
    // Non-login `sh -c` (what ssh runs) and a login shell (what an interactive session gets).
    for cmd in ["command -v aws", "exec bash -lc 'command -v aws'"] {
        let out = run(&mut server.ssh(NOAWS_USER, [cmd]), CMD_TIMEOUT);
        assert!(
            !out.status.success(),
            "{NOAWS_USER} found aws with {cmd:?}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    let _b = user("ssso-bash");
    for cmd in ["command -v aws", "exec bash -lc 'command -v aws'"] {
        let out = run(&mut server.ssh("ssso-bash", [cmd]), CMD_TIMEOUT);
        assert_success(&out, cmd);
    }
}

#[test]
fn readonly_user_cannot_create_dot_aws() {
    let server = server();
    let _u = user(RO_USER);
    let out = run(
        &mut server.ssh(RO_USER, ["mkdir -p ~/.aws/sso/cache"]),
        CMD_TIMEOUT,
    );
    assert!(!out.status.success(), "{RO_USER} could create ~/.aws");
    assert_eq!(remote_mode(RO_USER, ".aws"), None);
}

#[test]
fn remote_file_helpers_round_trip() {
    let u = user("ssso-ksh");
    assert_eq!(u.read(".aws/config"), None);
    u.write(".aws/sso/cache/x.json", b"{}", 0o600);
    assert_eq!(u.read(".aws/sso/cache/x.json").as_deref(), Some(&b"{}"[..]));
    assert_eq!(u.mode(".aws/sso/cache/x.json"), Some(0o600));
    assert_eq!(u.mode(".aws/sso"), Some(0o700));
    let (uid, _, _) = passwd(u.name()).unwrap();
    assert_eq!(remote_owner(u.name(), ".aws/sso/cache/x.json"), Some(uid));
    drop(u);
    // The next holder starts clean.
    let u = user("ssso-ksh");
    assert_eq!(u.read(".aws/sso/cache/x.json"), None);
}

#[test]
fn scp_works_through_internal_sftp() {
    let server = server();
    let u = user("ssso-tcsh");
    let local = Local::new("");
    let src = local.scratch().join("f");
    std::fs::write(&src, b"hello").unwrap();
    let out = run(
        Command::new("scp")
            .arg("-F")
            .arg(server.ssh_config())
            .arg(&src)
            .arg(format!("{}:f", u.dest())),
        CMD_TIMEOUT,
    );
    assert_success(&out, "scp");
    assert_eq!(u.read("f").as_deref(), Some(&b"hello"[..]));
    std::fs::remove_file(u.home().join("f")).unwrap();
}

#[test]
fn password_user_logs_in_through_a_pty_prompt() {
    let server = server();
    let _u = user(PW_USER);
    // sshpass answers the prompt ssh writes to its controlling terminal (a pty sshpass made).
    let out = run(
        Command::new("sshpass")
            .args(["-p", PW_PASSWORD, "-P", "password:"])
            .arg("ssh")
            .arg("-F")
            .arg(server.ssh_config())
            .args(["-o", "PreferredAuthentications=password"])
            .arg(server.dest(PW_USER))
            .arg("echo logged-in-as-$USER"),
        CMD_TIMEOUT,
    );
    assert_success(&out, "sshpass ssh");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "logged-in-as-ssso-pw"
    );
    // And the key alone is not enough for that user.
    let mut cmd = server.ssh(PW_USER, ["true"]);
    cmd.args(["-o", "BatchMode=yes"]);
    let out = run(&mut cmd, CMD_TIMEOUT);
    assert!(
        !out.status.success(),
        "{PW_USER} logged in without password"
    );
}

#[test]
fn fake_aws_logs_in_like_cli_v2() {
    let local = Local::new(&sso_config(PROFILE, SESSION));
    let out = run(local.command("aws").arg("--version"), CMD_TIMEOUT);
    assert_success(&out, "aws --version");
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("aws-cli/2.22.0 "));

    let out = run(
        local
            .command("aws")
            .args(["sso", "login", "--profile", PROFILE]),
        CMD_TIMEOUT,
    );
    assert_success(&out, "aws sso login");
    assert_eq!(
        local.login_calls(),
        [format!("sso login --profile {PROFILE}")]
    );
    let token = local.read_token(&cache_key(SESSION)).expect("token file");
    assert_eq!(token["accessToken"], local.login_token());
    assert_eq!(token["startUrl"], START_URL);
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&local.token_path(&cache_key(SESSION))), 0o600);
    assert_eq!(mode(&local.home().join(".aws/sso/cache")), 0o700);

    let out = run(
        local
            .command("aws")
            .args(["sso", "login", "--profile", PROFILE])
            .env("FAKE_AWS_FAIL", "1"),
        CMD_TIMEOUT,
    );
    assert_eq!(out.status.code(), Some(255));
    assert_eq!(local.login_calls().len(), 2);

    let out = run(local.command("aws").args(["s3", "ls"]), CMD_TIMEOUT);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn local_path_hides_real_aws() {
    let local = Local::new("");
    local.remove_fake_aws();
    let out = run(
        local.command("sh").args(["-c", "command -v aws"]),
        CMD_TIMEOUT,
    );
    assert!(
        !out.status.success(),
        "a real aws is on the local PATH: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn write_token_matches_fake_aws_format() {
    let local = Local::new("");
    local.write_token(&cache_key(SESSION), "tok", 120);
    let t = local.read_token(&cache_key(SESSION)).unwrap();
    let expires = t["expiresAt"].as_str().unwrap();
    assert_eq!(expires.len(), "2025-01-01T00:00:00Z".len());
    assert!(expires.ends_with('Z'));
    for k in [
        "startUrl",
        "region",
        "accessToken",
        "clientId",
        "clientSecret",
        "registrationExpiresAt",
        "refreshToken",
    ] {
        assert!(t.get(k).is_some(), "missing {k}");
    }
    assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
    assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00Z");
    // sha1("s"), as `echo -n s | sha1sum` prints it.
    assert_eq!(cache_key("s"), "a0f1490a20d0211c997b44bc357e1972deab8ae3");
}

#[test]
fn password_prompt_through_pty_run() {
    let server = server();
    let _u = user(PW_USER);
    let mut cmd = Command::new("ssh");
    cmd.arg("-F")
        .arg(server.ssh_config())
        .args(["-o", "PreferredAuthentications=password"])
        .arg(server.dest(PW_USER))
        .arg("echo pw-ok");
    let out = run_in_pty(
        &cmd,
        &[("password: ", &format!("{PW_PASSWORD}\\r"))],
        CMD_TIMEOUT,
    );
    assert_success(&out, "ssh with a typed password");
    assert!(String::from_utf8_lossy(&out.stdout).contains("pw-ok"));
}

/// An interactive login shell on a remote pty (what an ssso session will be) finds aws and
/// sees the environment sshd hands out, in every shell.
#[test]
fn interactive_login_shells_on_a_pty() {
    let server = server();
    for &(shell, name) in SHELL_USERS {
        let _u = user(name);
        let mut cmd = Command::new("ssh");
        cmd.arg("-F")
            .arg(server.ssh_config())
            .arg("-tt")
            .arg(server.dest(name));
        // No prompt regex (prompts differ per shell): type the commands, then exit.
        let out = run_in_pty(
            &cmd,
            &[(
                "",
                "echo MARK-$AWS_EC2_METADATA_DISABLED-MARK; aws --version; exit\\r",
            )],
            CMD_TIMEOUT,
        );
        let screen = String::from_utf8_lossy(&out.stdout);
        assert!(
            screen.contains("MARK-true-MARK") && screen.contains("aws-cli/1."),
            "{shell}: unexpected session:\n{screen}"
        );
    }
}
