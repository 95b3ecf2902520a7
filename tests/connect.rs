//! The connect path end to end: the built `ssso` against the test sshd on 127.0.0.1, the real
//! `ssh` client, and the real `aws` CLI on the remote reading the token ssso synced.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

const PROFILE: &str = "dev";
const SESSION: &str = "corp";

/// A local side with a fresh, portal-registered token for PROFILE.
fn fresh_local() -> (Local, String) {
    let local = Local::new(&sso_config(PROFILE, SESSION));
    let token = unique_token("fresh");
    local.write_token(&cache_key(SESSION), &token, 3600);
    local.register_token(&token);
    (local, token)
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
                let ran = local
                    .test()
                    .context(format!("ssso through {shell}"))
                    .args(["--profile", PROFILE])
                    .to(name)
                    .remote(["aws sts get-caller-identity --output json"])
                    .run();
                caller_identity_check(&ran.output, &token);
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
            let ran = local
                .test()
                .context(format!("{shell} with profile {name:?}"))
                .args(["--profile", name])
                .to(user_name)
                .remote(["printenv AWS_PROFILE"])
                .run();
            assert_eq!(ran.stdout.trim_end(), name, "{shell}");
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
        local
            .test()
            .context(shell)
            .args(["--profile", PROFILE])
            .to(name)
            .typing(
                "",
                "echo P=$AWS_PROFILE; test -t 0 && echo TTY-OK; exit 3\\r",
            )
            .status(3)
            .stdout_contains("P=dev")
            .stdout_contains("TTY-OK")
            .run();
    }
}

/// The login shell is a login shell (its name starts with `-`, as sshd starts it).
#[test]
fn interactive_shell_is_a_login_shell() {
    let _u = user("ssso-bash");
    let (local, _) = fresh_local();
    local
        .test()
        .args(["--profile", PROFILE])
        .to("ssso-bash")
        .typing(
            "",
            "echo ZERO=$0; shopt -q login_shell && echo LOGIN-OK; exit\\r",
        )
        .stdout_contains("ZERO=-bash")
        .stdout_contains("LOGIN-OK")
        .run();
}

/// A password prompt appears once and works, through the master connection.
#[test]
fn password_prompt_appears_once() {
    let _u = user(PW_USER);
    let (local, token) = fresh_local();
    let screen = local
        .test()
        .args(["--profile", PROFILE, "-o", "PubkeyAuthentication=no"])
        .args([
            "-o",
            "PreferredAuthentications=password,keyboard-interactive",
        ])
        .to(PW_USER)
        .remote(["aws sts get-caller-identity --output json"])
        .env_remove("SSH_ASKPASS")
        .typing("(?i)password: ", &format!("{PW_PASSWORD}\\r"))
        .stdout_contains(ACCOUNT_ID)
        .run()
        .stdout;
    assert_eq!(
        screen.to_lowercase().matches("password:").count(),
        1,
        "{screen}"
    );
    assert_token_used(&token);
}

/// The remote command's status and output pass through; ssh's own failure is 255 with ssh's
/// message; ssso's own failures are 254 and change nothing.
#[test]
fn exit_statuses() {
    let u = user("ssso-sh");
    let (local, _) = fresh_local();
    // Connection refused: ssh's message and 255.
    local
        .test()
        .args(["--profile", PROFILE, "-p", "1"])
        .to(u.name())
        .remote(["true"])
        .status(255)
        .stderr_contains("refused")
        .run();

    // Authentication failure (a user the server does not know): ssh's message and 255.
    local
        .test()
        .args(["--profile", PROFILE, "-o", "BatchMode=yes"])
        .to("ssso-nosuchuser")
        .remote(["true"])
        .status(255)
        .stderr_contains("Permission denied")
        .run();
    assert!(
        u.read(".aws").is_none(),
        "nothing may be written when ssh fails"
    );

    // The remote command's status and both outputs, untouched.
    local
        .test()
        .args(["--profile", PROFILE])
        .to(u.name())
        .remote(["echo out; echo err >&2; exit 7"])
        .status(7)
        .stdout("out\n")
        .stderr("err\n")
        .run();
}

/// Fresh token: no `aws` process at all. Stale: exactly one `aws sso login --profile P` with
/// the --login-arg values, then the new token is synced. --no-login: an error, nothing runs.
#[test]
fn login_only_when_needed() {
    let u = user("ssso-zsh");
    let local = Local::new(&sso_config(PROFILE, SESSION));
    local.write_token(&cache_key(SESSION), &unique_token("stale"), 60); // < 15 min left
    // --no-login: a stale token is an error that says what to run.
    local
        .test()
        .args(["--profile", PROFILE, "--no-login"])
        .to(u.name())
        .remote(["true"])
        .status(254)
        .stderr_contains("aws sso login")
        .run();
    assert!(local.login_calls().is_empty());
    assert!(u.read(&token_rel_path(&cache_key(SESSION))).is_none());

    // Stale: one login with the --login-arg values, and the new token works on the host.
    local.register_token(local.login_token());
    let ran = local
        .test()
        .context("ssso with a stale token")
        .args(["--profile", PROFILE, "--login-arg=--use-device-code"])
        .to(u.name())
        .remote(["aws sts get-caller-identity --output json"])
        .run();
    assert_eq!(
        local.login_calls(),
        vec![format!("sso login --profile {PROFILE} --use-device-code")]
    );
    caller_identity_check(&ran.output, local.login_token());

    // Now fresh: a second run starts no aws.
    local
        .test()
        .context("second run")
        .args(["--profile", PROFILE])
        .to(u.name())
        .remote(["true"])
        .run();
    assert_eq!(local.login_calls().len(), 1);
}

/// A failing or missing local `aws` is a clear error (254) and nothing is sent.
#[test]
fn login_failures_are_clear() {
    let u = user("ssso-ksh");
    let local = Local::new(&sso_config(PROFILE, SESSION));
    // `aws sso login` fails.
    local
        .test()
        .args(["--profile", PROFILE])
        .to(u.name())
        .remote(["true"])
        .env("FAKE_AWS_FAIL", "1")
        .status(254)
        .stderr_contains("login")
        .run();
    assert!(!local.token_path(&cache_key(SESSION)).exists());

    // No `aws` at all: where to get it.
    local.remove_fake_aws();
    local
        .test()
        .args(["--profile", PROFILE])
        .to(u.name())
        .remote(["true"])
        .status(254)
        .stderr_contains("getting-started-install")
        .run();
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
        let mut test = local
            .test()
            .context("profile resolution")
            .args(args)
            .ssh_config(&cfg)
            .to(u.name())
            .remote(["printenv AWS_PROFILE"]);
        for (k, v) in env {
            test = test.env(k, v);
        }
        test.run().stdout.trim().to_owned()
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
    local
        .test()
        .to(u.name())
        .remote(["true"])
        .status(254)
        .stderr_contains("other")
        .stderr_contains("--profile")
        .run();
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
        local
            .test()
            .context(what)
            .args(["--profile", PROFILE, "--no-login"])
            .to(u.name())
            .remote(["true"])
            .status(254)
            .stderr_contains(needle)
            .stderr_lacks("SECRET-VALUE") // the token never leaks into a message
            .stdout("") // ssso's own messages never go to stdout
            .run();
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
    local
        .test()
        .context("sync")
        .args(["--profile", PROFILE])
        .to(u.name())
        .remote(["true"])
        .run();
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

    // A second run writes nothing.
    local
        .test()
        .context("second sync")
        .args(["--profile", PROFILE, "-v"])
        .to(u.name())
        .remote(["true"])
        .stderr_contains("already current")
        .run();
    assert_eq!(
        String::from_utf8(u.read(".aws/config").unwrap()).unwrap(),
        after
    );

    // --no-config leaves a changed remote config alone.
    u.write(".aws/config", b"[default]\n", 0o644);
    local
        .test()
        .context("--no-config")
        .args(["--profile", PROFILE, "--no-config"])
        .to(u.name())
        .remote(["true"])
        .run();
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
    let ran = local
        .test()
        .context("sync with a newer remote token")
        .args(["--profile", PROFILE])
        .to(u.name())
        .remote(["aws sts get-caller-identity --output json"])
        .run();
    caller_identity_check(&ran.output, &newer);
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
    // A home where ~/.aws cannot be made: a warning, and the command still runs.
    local
        .test()
        .context("read-only home")
        .args(["--profile", PROFILE])
        .to(RO_USER)
        .remote(["echo still-here"])
        .stdout("still-here\n")
        .stderr_contains("could not sync")
        .run();

    // No aws on the host: synced all the same, with a warning.
    let u = user(NOAWS_USER);
    local
        .test()
        .context("no aws")
        .args(["--profile", PROFILE])
        .to(u.name())
        .remote(["echo ok"])
        .stderr_contains("no `aws`")
        .run();
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
    local
        .test()
        .context("with the user's ControlMaster settings")
        .args(["--profile", PROFILE])
        .ssh_config(&cfg)
        .to(u.name())
        .remote(["echo hi"])
        .stdout("hi\n")
        .run();
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
    Test::new()
        .context("ssso -G -- status")
        .args(["-G", "-F"])
        .arg(server().ssh_config())
        .args(["--", "status"])
        .stdout_contains("hostname status")
        .run();
    let ran = Test::new().context("ssso -V").arg("-V").run();
    assert!(ran.stderr.starts_with("OpenSSH"), "{}", ran.stderr);
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
