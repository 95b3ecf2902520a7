//! The connect path end to end: the built `ssso` against the test sshd on 127.0.0.1, the real
//! `ssh` client, and the real `aws` CLI on the remote reading the token ssso synced.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

const PROFILE: &str = "dev";
const SESSION: &str = "corp";

/// `ssso -F <test config> [args...] user@ssso-test [remote...]` in `local`'s environment.
fn ssso(local: &Local, args: &[&str], user: &str, remote: &[&str]) -> Command {
    local.ssso_to(args, user, remote)
}

/// A local side with a fresh, portal-registered token for PROFILE.
fn fresh_local() -> (Local, String) {
    let local = Local::new(&sso_config(PROFILE, SESSION));
    let token = unique_token("fresh");
    local.write_token(&cache_key(SESSION), &token, 3600);
    local.register_token(&token);
    (local, token)
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The proof, for every login shell: before ssso the remote has no token and `aws` fails;
/// after `ssso host 'aws sts get-caller-identity'` (no --profile: AWS_PROFILE does it) the
/// remote prints the identity, and the portal saw exactly the local token.
#[test]
fn every_login_shell_gets_the_token_and_aws_profile() {
    let threads: Vec<_> = SHELL_USERS
        .iter()
        .map(|&(shell, name)| {
            std::thread::spawn(move || {
                let u = user(name);
                let (local, token) = fresh_local();
                let before = remote_caller_identity(u.name(), PROFILE);
                assert!(
                    !before.status.success(),
                    "{shell}: aws worked before any sync"
                );
                let out = run(
                    &mut ssso(
                        &local,
                        &["--profile", PROFILE],
                        name,
                        &["aws sts get-caller-identity --output json"],
                    ),
                    CMD_TIMEOUT,
                );
                assert_success(&out, &format!("ssso through {shell}"));
                caller_identity_check(&out, &token);
                assert!(
                    local.login_calls().is_empty(),
                    "a fresh token must not log in"
                );
                // Synced files: private, owned by the user.
                let key = cache_key(SESSION);
                assert_eq!(u.mode(&token_rel_path(&key)), Some(0o600), "{shell}");
                assert_eq!(u.mode(".aws/sso/cache"), Some(0o700), "{shell}");
                assert_eq!(
                    u.read(&token_rel_path(&key)),
                    std::fs::read(local.token_path(&key)).ok(),
                    "{shell}: remote token differs from the local file"
                );
                let cache: Vec<_> = std::fs::read_dir(u.home().join(".aws/sso/cache"))
                    .unwrap()
                    .map(|e| e.unwrap().file_name().into_string().unwrap())
                    .collect();
                assert_eq!(cache, vec![format!("{key}.json")], "{shell}: leftovers");
            })
        })
        .collect();
    let failed: Vec<_> = threads
        .into_iter()
        .zip(SHELL_USERS)
        .filter_map(|(t, (shell, _))| t.join().is_err().then_some(*shell))
        .collect();
    assert!(failed.is_empty(), "failed for: {failed:?}");
}

/// Profile names with characters special to some shell arrive intact in every shell.
#[test]
fn special_profile_names_arrive_intact() {
    // (name in the config's header, name as chosen): botocore takes any name its shell-like
    // split of the header gives, so quotes let a name hold spaces, `!`, `'` and `$`.
    let names = [
        ("a.b-c_d@e+f", "a.b-c_d@e+f"),
        ("t/1%2:3", "t/1%2:3"),
        ("\"x!y 'q' $HOME\"", "x!y 'q' $HOME"),
    ];
    for (header, name) in names {
        for &(shell, user_name) in SHELL_USERS {
            let _u = user(user_name);
            let local = Local::new(&sso_config(header, SESSION));
            let token = unique_token("special");
            local.write_token(&cache_key(SESSION), &token, 3600);
            let out = run(
                &mut ssso(
                    &local,
                    &["--profile", name],
                    user_name,
                    &["printenv AWS_PROFILE"],
                ),
                CMD_TIMEOUT,
            );
            assert_success(&out, &format!("{shell} with profile {name:?}"));
            assert_eq!(stdout(&out).trim_end(), name, "{shell}");
        }
    }
}

/// Interactive: a login shell of the user's own kind, on a tty, with AWS_PROFILE exported,
/// and the remote command's exit status comes back.
#[test]
fn interactive_login_shell_on_a_tty() {
    for &(shell, name) in SHELL_USERS {
        let _u = user(name);
        let (local, _) = fresh_local();
        let cmd = ssso(&local, &["--profile", PROFILE], name, &[]);
        let out = run_in_pty(
            &cmd,
            &[(
                "",
                "echo P=$AWS_PROFILE; test -t 0 && echo TTY-OK; exit 3\\r",
            )],
            CMD_TIMEOUT,
        );
        let screen = stdout(&out);
        assert!(
            screen.contains("P=dev") && screen.contains("TTY-OK"),
            "{shell}: unexpected session:\n{screen}"
        );
        assert_eq!(out.status.code(), Some(3), "{shell}: exit status\n{screen}");
    }
}

/// The login shell is a login shell (its name starts with `-`, as sshd starts it).
#[test]
fn interactive_shell_is_a_login_shell() {
    let _u = user("ssso-bash");
    let (local, _) = fresh_local();
    let cmd = ssso(&local, &["--profile", PROFILE], "ssso-bash", &[]);
    let out = run_in_pty(
        &cmd,
        &[(
            "",
            "echo ZERO=$0; shopt -q login_shell && echo LOGIN-OK; exit\\r",
        )],
        CMD_TIMEOUT,
    );
    let screen = stdout(&out);
    assert!(
        screen.contains("ZERO=-bash") && screen.contains("LOGIN-OK"),
        "{screen}"
    );
}

/// A password prompt appears once and works, through the master connection.
#[test]
fn password_prompt_appears_once() {
    let _u = user(PW_USER);
    let (local, token) = fresh_local();
    let mut cmd = ssso(
        &local,
        &[
            "--profile",
            PROFILE,
            "-o",
            "PubkeyAuthentication=no",
            "-o",
            "PreferredAuthentications=password,keyboard-interactive",
        ],
        PW_USER,
        &["aws sts get-caller-identity --output json"],
    );
    cmd.env_remove("SSH_ASKPASS");
    let out = run_in_pty(
        &cmd,
        &[("(?i)password: ", &format!("{PW_PASSWORD}\\r"))],
        CMD_TIMEOUT,
    );
    let screen = stdout(&out);
    assert!(out.status.success(), "{screen}");
    assert_eq!(
        screen.to_lowercase().matches("password:").count(),
        1,
        "{screen}"
    );
    assert!(screen.contains(ACCOUNT_ID), "{screen}");
    assert_token_used(&token);
}

/// The remote command's status and output pass through; ssh's own failure is 255 with ssh's
/// message; ssso's own failures are 254 and change nothing.
#[test]
fn exit_statuses() {
    let u = user("ssso-sh");
    let (local, _) = fresh_local();
    // Connection refused: ssh's message and 255.
    let out = run(
        &mut ssso(
            &local,
            &["--profile", PROFILE, "-p", "1"],
            u.name(),
            &["true"],
        ),
        CMD_TIMEOUT,
    );
    assert_eq!(out.status.code(), Some(255), "{}", stderr(&out));
    assert!(stderr(&out).contains("refused"), "{}", stderr(&out));

    // Authentication failure (a user the server does not know): ssh's message and 255.
    let out = run(
        &mut ssso(
            &local,
            &["--profile", PROFILE, "-o", "BatchMode=yes"],
            "ssso-nosuchuser",
            &["true"],
        ),
        CMD_TIMEOUT,
    );
    assert_eq!(out.status.code(), Some(255), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Permission denied"),
        "{}",
        stderr(&out)
    );
    assert!(
        u.read(".aws").is_none(),
        "nothing may be written when ssh fails"
    );

    let out = run(
        &mut ssso(
            &local,
            &["--profile", PROFILE],
            u.name(),
            &["echo out; echo err >&2; exit 7"],
        ),
        CMD_TIMEOUT,
    );
    assert_eq!(out.status.code(), Some(7));
    assert_eq!(stdout(&out), "out\n");
    assert_eq!(stderr(&out), "err\n");
}

/// Fresh token: no `aws` process at all. Stale: exactly one `aws sso login --profile P` with
/// the --login-arg values, then the new token is synced. --no-login: an error, nothing runs.
#[test]
fn login_only_when_needed() {
    let u = user("ssso-zsh");
    let local = Local::new(&sso_config(PROFILE, SESSION));
    local.write_token(&cache_key(SESSION), &unique_token("stale"), 60); // < 15 min left
    let out = run(
        &mut ssso(
            &local,
            &["--profile", PROFILE, "--no-login"],
            u.name(),
            &["true"],
        ),
        CMD_TIMEOUT,
    );
    assert_eq!(out.status.code(), Some(254), "{}", stderr(&out));
    assert!(stderr(&out).contains("aws sso login"), "{}", stderr(&out));
    assert!(local.login_calls().is_empty());
    assert!(u.read(&token_rel_path(&cache_key(SESSION))).is_none());

    local.register_token(local.login_token());
    let out = run(
        &mut ssso(
            &local,
            &["--profile", PROFILE, "--login-arg=--use-device-code"],
            u.name(),
            &["aws sts get-caller-identity --output json"],
        ),
        CMD_TIMEOUT,
    );
    assert_success(&out, "ssso with a stale token");
    assert_eq!(
        local.login_calls(),
        vec![format!("sso login --profile {PROFILE} --use-device-code")]
    );
    caller_identity_check(&out, local.login_token());

    // Now fresh: a second run starts no aws.
    let out = run(
        &mut ssso(&local, &["--profile", PROFILE], u.name(), &["true"]),
        CMD_TIMEOUT,
    );
    assert_success(&out, "second run");
    assert_eq!(local.login_calls().len(), 1);
}

/// A failing or missing local `aws` is a clear error (254) and nothing is sent.
#[test]
fn login_failures_are_clear() {
    let u = user("ssso-ksh");
    let local = Local::new(&sso_config(PROFILE, SESSION));
    let mut cmd = ssso(&local, &["--profile", PROFILE], u.name(), &["true"]);
    cmd.env("FAKE_AWS_FAIL", "1");
    let out = run(&mut cmd, CMD_TIMEOUT);
    assert_eq!(out.status.code(), Some(254), "{}", stderr(&out));
    assert!(stderr(&out).contains("login"), "{}", stderr(&out));
    assert!(!local.token_path(&cache_key(SESSION)).exists());

    local.remove_fake_aws();
    let out = run(
        &mut ssso(&local, &["--profile", PROFILE], u.name(), &["true"]),
        CMD_TIMEOUT,
    );
    assert_eq!(out.status.code(), Some(254), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("getting-started-install"),
        "{}",
        stderr(&out)
    );
    assert!(u.read(".aws/config").is_none());
}

/// Profile from the host's `SetEnv AWS_PROFILE` in the user's ssh config, below --profile and
/// SSSO_PROFILE, above AWS_PROFILE.
#[test]
fn profile_resolution_order() {
    let u = user("ssso-tcsh");
    let mut config = sso_config(PROFILE, SESSION);
    config.push_str(
        &sso_config("other", SESSION)
            .replace(&format!("[sso-session {SESSION}]"), "[sso-session unused]"),
    );
    let local = Local::new(&config);
    local.write_token(&cache_key(SESSION), &unique_token("order"), 3600);
    let cfg = local.scratch().join("ssh_config");
    std::fs::write(
        &cfg,
        format!(
            "Host ssso-test\n  SetEnv AWS_PROFILE={PROFILE}\nInclude {}\n",
            server().ssh_config().display()
        ),
    )
    .unwrap();
    let with = |env: &[(&str, &str)], args: &[&str]| {
        let mut cmd = local.ssso();
        cmd.arg("-F")
            .arg(&cfg)
            .args(args)
            .arg(server().dest(u.name()))
            .arg("printenv AWS_PROFILE");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = run(&mut cmd, CMD_TIMEOUT);
        assert_success(&out, "profile resolution");
        stdout(&out).trim().to_owned()
    };
    assert_eq!(
        with(&[("AWS_PROFILE", "other")], &[]),
        PROFILE,
        "SetEnv beats AWS_PROFILE"
    );
    assert_eq!(
        with(&[("SSSO_PROFILE", "other")], &[]),
        "other",
        "SSSO_PROFILE beats SetEnv"
    );
    assert_eq!(
        with(&[("SSSO_PROFILE", "other")], &["--profile", PROFILE]),
        PROFILE
    );

    // Nothing chosen: an error that lists the SSO profiles.
    let out = run(&mut ssso(&local, &[], u.name(), &["true"]), CMD_TIMEOUT);
    assert_eq!(out.status.code(), Some(254));
    assert!(
        stderr(&out).contains("other") && stderr(&out).contains("--profile"),
        "{}",
        stderr(&out)
    );
}

/// Bad local input: a clear error, exit 254, nothing written anywhere.
#[test]
fn bad_local_input() {
    let u = user("ssso-fish");
    let key = cache_key(SESSION);
    let cases: Vec<(&str, String, Option<&[u8]>, &str)> = vec![
        ("no config", String::new(), None, "config"),
        (
            "unknown profile",
            sso_config("someone-else", SESSION),
            None,
            PROFILE,
        ),
        (
            "missing sso-session",
            format!("[profile {PROFILE}]\nsso_session = nowhere\n"),
            None,
            "nowhere",
        ),
        (
            "static keys",
            format!(
                "[profile {PROFILE}]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = x\n"
            ),
            None,
            "long-term",
        ),
        (
            "empty token",
            sso_config(PROFILE, SESSION),
            Some(b""),
            "token",
        ),
        (
            "corrupt token",
            sso_config(PROFILE, SESSION),
            Some(b"{\"accessToken\": \"SECRET-VALUE\", \"expiresAt\": \"tomorrow\"}"),
            "expiresAt",
        ),
    ];
    for (what, config, token, needle) in cases {
        let local = Local::new(&config);
        if let Some(t) = token {
            std::fs::create_dir_all(local.token_path(&key).parent().unwrap()).unwrap();
            std::fs::write(local.token_path(&key), t).unwrap();
        }
        let mut cmd = ssso(
            &local,
            &["--profile", PROFILE, "--no-login"],
            u.name(),
            &["true"],
        );
        let out = run(&mut cmd, CMD_TIMEOUT);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(254), "{what}: {err}");
        assert!(
            err.contains(needle),
            "{what}: {err:?} should mention {needle:?}"
        );
        assert!(
            !err.contains("SECRET-VALUE"),
            "{what}: the token leaked into a message"
        );
        assert!(stdout(&out).is_empty(), "{what}: ssso wrote to stdout");
        assert!(
            u.read(".aws").is_none() && u.read(".aws/config").is_none(),
            "{what}: remote touched"
        );
    }
}

/// The remote config keeps every byte outside the two sections; the sections are replaced in
/// place; a second run writes nothing.
#[test]
fn remote_config_is_edited_in_place() {
    let u = user("ssso-bash");
    let (local, _) = fresh_local();
    let before = format!(
        "# mine\n[default]\nregion = eu-west-1\n\n[profile {PROFILE}]\nsso_session = stale\n\n# keep me\n[profile other]\nregion = x\n"
    );
    u.write(".aws/config", before.as_bytes(), 0o644);
    let out = run(
        &mut ssso(&local, &["--profile", PROFILE], u.name(), &["true"]),
        CMD_TIMEOUT,
    );
    assert_success(&out, "sync");
    let after = String::from_utf8(u.read(".aws/config").unwrap()).unwrap();
    let local_cfg = sso_config(PROFILE, SESSION);
    let profile_section: String = local_cfg.split("\n\n").next().unwrap().to_owned() + "\n";
    assert!(
        after.starts_with("# mine\n[default]\nregion = eu-west-1\n\n"),
        "{after}"
    );
    assert!(
        after.contains(&format!(
            "{profile_section}\n# keep me\n[profile other]\nregion = x\n"
        )),
        "{after}"
    );
    assert!(
        after.contains(&format!("[sso-session {SESSION}]")),
        "{after}"
    );
    assert_eq!(after.matches(&format!("[profile {PROFILE}]")).count(), 1);

    let out = run(
        &mut ssso(&local, &["--profile", PROFILE, "-v"], u.name(), &["true"]),
        CMD_TIMEOUT,
    );
    assert_success(&out, "second sync");
    assert!(stderr(&out).contains("already current"), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8(u.read(".aws/config").unwrap()).unwrap(),
        after
    );

    // --no-config leaves a changed remote config alone.
    u.write(".aws/config", b"[default]\n", 0o644);
    let out = run(
        &mut ssso(
            &local,
            &["--profile", PROFILE, "--no-config"],
            u.name(),
            &["true"],
        ),
        CMD_TIMEOUT,
    );
    assert_success(&out, "--no-config");
    assert_eq!(u.read(".aws/config").unwrap(), b"[default]\n");
}

/// A newer token on the remote (its botocore refreshed it) is kept there and copied back.
#[test]
fn newer_remote_token_wins() {
    let u = user("ssso-csh");
    let (local, old) = fresh_local();
    let newer = unique_token("remote-refreshed");
    register_token(&newer);
    u.install(
        &sso_config(PROFILE, SESSION),
        &cache_key(SESSION),
        &newer,
        7200,
    );
    let out = run(
        &mut ssso(
            &local,
            &["--profile", PROFILE],
            u.name(),
            &["aws sts get-caller-identity --output json"],
        ),
        CMD_TIMEOUT,
    );
    assert_success(&out, "sync with a newer remote token");
    caller_identity_check(&out, &newer);
    assert_token_unused(&old);
    let local_now = local.read_token(&cache_key(SESSION)).unwrap();
    assert_eq!(
        local_now["accessToken"],
        newer.as_str(),
        "the newer token was not copied back"
    );
}

/// Remote problems are warnings; the session still runs.
#[test]
fn remote_problems_are_warnings() {
    let _u = user(RO_USER);
    let (local, _) = fresh_local();
    let out = run(
        &mut ssso(
            &local,
            &["--profile", PROFILE],
            RO_USER,
            &["echo still-here"],
        ),
        CMD_TIMEOUT,
    );
    assert_success(&out, "read-only home");
    assert_eq!(stdout(&out), "still-here\n");
    assert!(stderr(&out).contains("could not sync"), "{}", stderr(&out));

    let u = user(NOAWS_USER);
    let out = run(
        &mut ssso(&local, &["--profile", PROFILE], u.name(), &["echo ok"]),
        CMD_TIMEOUT,
    );
    assert_success(&out, "no aws");
    assert!(stderr(&out).contains("no `aws`"), "{}", stderr(&out));
    assert!(u.read(&token_rel_path(&cache_key(SESSION))).is_some());
}

/// The user's own ControlMaster/ControlPath/ControlPersist settings and a stale socket do not
/// get in the way, and no master or socket is left behind.
#[test]
fn user_control_settings_and_cleanup() {
    let u = user("ssso-ksh");
    let (local, _) = fresh_local();
    let stale = local.scratch().join("stale-socket");
    std::fs::write(&stale, b"not a socket").unwrap();
    let cfg = local.scratch().join("ssh_config");
    std::fs::write(
        &cfg,
        format!(
            "Host *\n  ControlMaster auto\n  ControlPath {}\n  ControlPersist yes\nInclude {}\n",
            stale.display(),
            server().ssh_config().display()
        ),
    )
    .unwrap();
    let mut cmd = local.ssso();
    cmd.args(["--profile", PROFILE, "-F"])
        .arg(&cfg)
        .arg(server().dest(u.name()))
        .arg("echo hi");
    let out = run(&mut cmd, CMD_TIMEOUT);
    assert_success(&out, "with the user's ControlMaster settings");
    assert_eq!(stdout(&out), "hi\n");
    std::thread::sleep(Duration::from_millis(200));
    let masters = Command::new("pgrep")
        .args(["-f", &format!("ssh .*ControlMaster=yes.*{}", u.name())])
        .output()
        .unwrap();
    assert!(
        masters.stdout.is_empty(),
        "a master is still running: {}",
        String::from_utf8_lossy(&masters.stdout)
    );
}

/// ssh's own query options behave exactly as with ssh, and a host named like a subcommand is
/// reachable with `--`.
#[test]
fn queries_pass_through_and_subcommand_names_are_hosts() {
    let local = Local::new("");
    let out = run(
        local
            .ssso()
            .arg("-G")
            .arg("-F")
            .arg(server().ssh_config())
            .arg("--")
            .arg("status"),
        CMD_TIMEOUT,
    );
    assert_success(&out, "ssso -G -- status");
    assert!(stdout(&out).contains("hostname status"), "{}", stdout(&out));
    let out = run(local.ssso().arg("-V"), CMD_TIMEOUT);
    assert_success(&out, "ssso -V");
    assert!(stderr(&out).starts_with("OpenSSH"), "{}", stderr(&out));
}

/// `~^Z` suspends the whole job (ssso with its ssh), as with plain ssh, and `fg` resumes it.
#[test]
fn escape_suspend_stops_the_job_and_fg_resumes_it() {
    let u = user("ssso-bash");
    let (local, _) = fresh_local();
    let line = format!(
        "{} --profile {PROFILE} -F {} {}\\r",
        ssso_bin().display(),
        server().ssh_config().display(),
        server().dest(u.name())
    );
    let mut shell = local.command("/bin/bash");
    shell
        .args(["--norc", "--noprofile", "-i"])
        .env("PS1", "local$ ");
    let out = run_in_pty(
        &shell,
        &[
            ("local\\$ ", &line),
            ("ssso-bash@", "echo IN-$AWS_PROFILE\\r"),
            ("IN-dev", "\\r~\\x1a"),
            ("Stopped", "fg\\r"),
            ("ssso", "echo BACK-$AWS_PROFILE\\r"),
            ("BACK-dev", "exit\\r"),
            ("local\\$ ", "exit\\r"),
        ],
        CMD_TIMEOUT,
    );
    let screen = stdout(&out);
    assert!(screen.contains("BACK-dev"), "{screen}");
}
