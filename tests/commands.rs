//! The subcommands end to end: host names that look like subcommands, `ssso login`,
//! `ssso status --all`, and `ssso doctor` / `ssso setup` against the test sshd on 127.0.0.1.

mod common;

use std::time::Duration;

use common::*;

const PROFILE: &str = "dev";
const SESSION: &str = "corp";

/// A subcommand is only the first word: `--`, `user@` or an ssh option first make it a host.
#[test]
fn subcommand_names_are_host_names_after_dash_dash_or_user() {
    let local = Local::new("");
    for name in ["status", "login", "doctor", "setup", "completions", "help"] {
        for args in [vec!["-G", "--", name], vec!["-G", &format!("me@{name}")]] {
            local
                .test()
                .context(format!("{args:?}"))
                .args(&args)
                .stdout_contains(format!("\nhostname {name}\n"))
                .run();
        }
    }
}

#[test]
fn login_runs_aws_sso_login_only_when_needed() {
    let local = Local::new(&sso_config(PROFILE, SESSION));
    local.write_token(&cache_key(SESSION), &unique_token("fresh"), 3600);
    // A fresh token: `ssso login` only says how long it lasts.
    local
        .test()
        .args(["login", "--profile", PROFILE])
        .stderr_contains("expires in")
        .run();
    assert!(local.login_calls().is_empty());

    // --force logs in anyway, with the --login-arg values.
    local
        .test()
        .args(["login", "--profile", PROFILE, "--force"])
        .arg("--login-arg=--use-device-code")
        .stderr_contains("waiting for the IAM Identity Center login")
        .run();
    assert_eq!(
        local.login_calls(),
        [format!("sso login --profile {PROFILE} --use-device-code")]
    );

    // A stale token logs in, and -q says nothing about it; the AWS CLI's own output (which a
    // device-code login needs) goes to stderr, as in every mode, and stdout stays empty.
    local.write_token(&cache_key(SESSION), &unique_token("stale"), 60);
    let ran = local
        .test()
        .args(["login", "-q", "--profile", PROFILE])
        .stdout("")
        .stderr_contains("Successfully logged into Start URL")
        .run();
    assert!(
        !ran.stderr.lines().any(|l| l.starts_with("ssso:")),
        "{}",
        ran.stderr
    );
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
    local
        .test()
        .context("the legacy profile has no token")
        .args(["status", "--all"])
        .status(1)
        .stdout_contains("sso-session corp: https://example.awsapps.com/start (us-east-1)\n  profiles: dev\n  token:    expires in 3h")
        .stdout_contains("profiles: old\n  token:    none")
        .run();
    let v = local
        .test()
        .args(["status", "--all", "--json"])
        .status(1)
        .run()
        .json();
    assert_eq!(v["sessions"][0]["sso_session"], SESSION);
    assert_eq!(v["sessions"][0]["profiles"], serde_json::json!([PROFILE]));
    assert_eq!(v["sessions"][0]["token"]["fresh"], true);
    assert_eq!(v["sessions"][1]["sso_session"], serde_json::Value::Null);
    assert_eq!(v["sessions"][1]["token"]["present"], false);
}

/// `ssso doctor --profile dev [--json] USER@ssso-test`.
fn doctor<'a>(local: &'a Local, user: &str, json: bool) -> Test<'a> {
    let test = local.test().args(["doctor", "--profile", PROFILE]);
    let test = if json { test.arg("--json") } else { test };
    test.to(user)
}

#[test]
fn doctor_reports_before_and_after_a_sync() {
    let u = user("ssso-bash");
    let local = Local::new(&sso_config(PROFILE, SESSION));
    let token = unique_token("doctor");
    local.write_token(&cache_key(SESSION), &token, 3600);
    local.register_token(&token);

    doctor(&local, u.name(), false)
        .context("nothing synced yet")
        .status(1)
        .stdout_contains("ok    ssh ")
        .stdout_contains("fail  token ")
        .stdout_contains("fail  identity ")
        .run();

    local
        .test()
        .args(["--profile", PROFILE])
        .to(u.name())
        .remote(["true"])
        .run();

    let report = doctor(&local, u.name(), true)
        .stdout_lacks(&token) // the token never leaks into the report
        .run();
    let v = report.json();
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
        "mode",
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
    let identity = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "identity")
        .unwrap()["detail"]
        .as_str()
        .unwrap();
    assert!(identity.contains(ACCOUNT_ID), "{identity}");
}

/// The check named `name` in doctor's JSON report.
fn doctor_check(v: &serde_json::Value, name: &str) -> serde_json::Value {
    v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == name)
        .unwrap_or_else(|| panic!("no {name} check: {v:#}"))
        .clone()
}

/// What the sync refuses on the host, doctor names with the fix that works (not "run ssso
/// once", which cannot): a `~/.aws` others can write (and after `chmod go-w` the sync and
/// doctor are fine), a symlink at `~/.aws/config`, a FIFO at the token path. The mode line
/// never says the host holds a token the token check did not find.
#[test]
fn doctor_names_what_the_sync_refuses_and_the_fix_that_works() {
    let u = user("ssso-zsh");
    let local = Local::new(&sso_config(PROFILE, SESSION));
    let token = unique_token("doctor-refused");
    local.write_token(&cache_key(SESSION), &token, 3600);
    local.register_token(&token);
    let aws = u.home().join(".aws");
    let chmod = |p: &std::path::Path, m: u32| {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    };

    // ~/.aws writable by others: the sync refuses it, doctor says chmod go-w.
    u.write(".aws/.keep", b"", 0o600);
    chmod(&aws, 0o777);
    local
        .test()
        .args(["--profile", PROFILE])
        .to(u.name())
        .remote(["true"])
        .stderr_contains("~/.aws is writable by other users")
        .run();
    let v = doctor(&local, u.name(), true).status(1).run().json();
    for name in ["token", "config"] {
        let c = doctor_check(&v, name);
        assert_eq!(c["status"], "fail", "{name}: {v:#}");
        assert!(
            c["detail"]
                .as_str()
                .unwrap()
                .contains("~/.aws is writable by other users"),
            "{name}: {v:#}"
        );
        assert!(
            c["fix"]
                .as_str()
                .unwrap()
                .starts_with("on the host, chmod go-w ~/.aws; then run `ssso --profile dev"),
            "{name}: {v:#}"
        );
    }
    let mode = doctor_check(&v, "mode");
    assert!(!mode["detail"].as_str().unwrap().contains("holds"), "{v:#}");
    // The fix works: after it, the sync writes and doctor is content.
    chmod(&aws, 0o700);
    local
        .test()
        .args(["--profile", PROFILE])
        .to(u.name())
        .remote(["true"])
        .stderr_lacks("could not sync")
        .run();
    let v = doctor(&local, u.name(), true).run().json();
    assert_eq!(v["ok"], true, "{v:#}");
    assert!(
        doctor_check(&v, "mode")["detail"]
            .as_str()
            .unwrap()
            .contains("the host holds the SSO token"),
        "{v:#}"
    );

    // ~/.aws/config a symlink (to a file without the profile): not "run aws configure sso".
    let cfg = aws.join("config");
    std::fs::rename(&cfg, aws.join("real-config")).unwrap();
    u.write(
        ".aws/other-config",
        b"[default]\nregion = eu-west-1\n",
        0o600,
    );
    std::os::unix::fs::symlink(aws.join("other-config"), &cfg).unwrap();
    let v = doctor(&local, u.name(), true).status(1).run().json();
    let c = doctor_check(&v, "config");
    assert_eq!(c["status"], "fail", "{v:#}");
    let detail = c["detail"].as_str().unwrap();
    assert!(detail.contains("~/.aws/config is a symlink"), "{v:#}");
    assert!(!detail.contains("configure sso"), "{v:#}");
    assert!(
        c["fix"]
            .as_str()
            .unwrap()
            .starts_with("on the host, replace the symlink ~/.aws/config with a regular file"),
        "{v:#}"
    );
    std::fs::remove_file(&cfg).unwrap();
    std::fs::rename(aws.join("real-config"), &cfg).unwrap();

    // A FIFO at the token path.
    let tok = u.home().join(token_rel_path(&cache_key(SESSION)));
    std::fs::remove_file(&tok).unwrap();
    let c_path = std::ffi::CString::new(tok.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    let (uid, gid, _) = passwd(u.name()).unwrap();
    std::os::unix::fs::chown(&tok, Some(uid), Some(gid)).unwrap();
    let v = doctor(&local, u.name(), true).status(1).run().json();
    let c = doctor_check(&v, "token");
    assert_eq!(c["status"], "fail", "{v:#}");
    assert!(
        c["detail"]
            .as_str()
            .unwrap()
            .contains("is a FIFO, not a file"),
        "{v:#}"
    );
    assert!(
        c["fix"]
            .as_str()
            .unwrap()
            .starts_with("on the host, remove the FIFO ~/.aws/sso/cache/"),
        "{v:#}"
    );
    assert!(
        !doctor_check(&v, "mode")["detail"]
            .as_str()
            .unwrap()
            .contains("holds"),
        "{v:#}"
    );
}

#[test]
fn doctor_says_how_to_fix_a_refused_key() {
    let local = Local::new(&sso_config(PROFILE, SESSION));
    local.write_token(&cache_key(SESSION), &unique_token("pw"), 3600);
    local
        .test()
        .args(["doctor", "--profile", PROFILE, "-o", "BatchMode=yes"])
        .to(PW_USER)
        .status(1)
        .stdout_contains("fail  ssh ")
        .stdout_contains("ssh-copy-id")
        .run();
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
    let setup = |extra: &[&str]| local.test().arg("setup").args(extra).to(u.name());
    // Without --write: the block is printed, the file untouched. The alias, the profile and
    // the -F file are spelled out: paramiko and fabric expand neither %n nor read a parent
    // ssh, and the sync connection needs the same config.
    setup(&["--profile", PROFILE])
        .stdout_contains(format!(
            "    ProxyCommand ssso proxy --alias ssso-test --profile dev --user %r -F {} %h %p
    SetEnv AWS_PROFILE=dev
",
            server().ssh_config().display()
        ))
        .run();
    assert_eq!(
        std::fs::read_to_string(&ssh_config).unwrap(),
        "Compression yes\nHost *\n    ServerAliveInterval 5\n"
    );

    // Twice with --write and --persist-profile: one block here, one line there.
    for _ in 0..2 {
        setup(&["--profile", PROFILE, "--persist-profile", "--write"]).run();
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

    // --undo takes both away.
    setup(&["--undo", "--persist-profile", "--write"]).run();
    assert_eq!(
        std::fs::read_to_string(&ssh_config).unwrap(),
        "Compression yes\nHost *\n    ServerAliveInterval 5\n"
    );
    let zshenv = remote_read(u.name(), ".zshenv")
        .map(|b| String::from_utf8(b).unwrap())
        .unwrap_or_default();
    assert!(!zshenv.contains("AWS_PROFILE"), "{zshenv}");
}

/// Runs `cmd` (a login that waits 30 s for the browser) until the fake `aws sso login` has
/// started, sends `sig` to ssso alone, and waits at most 10 s for ssso to end: its status and
/// stderr. stderr goes to a file, which a login left running could not hold open.
fn signal_during_login(
    local: &Local,
    mut cmd: std::process::Command,
    sig: i32,
) -> (std::process::ExitStatus, String) {
    let err = local.scratch().join("stderr");
    cmd.env("FAKE_AWS_SLEEP", "30")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&err).unwrap());
    let mut child = cmd.spawn().unwrap();
    let started = std::time::Instant::now();
    while local.login_calls().is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "aws sso login did not start: {}",
            std::fs::read_to_string(&err).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // The fake aws logs its call, then says it waits: from then on it sleeps.
    while !std::fs::read_to_string(&err)
        .unwrap_or_default()
        .contains("fake aws: waiting")
    {
        assert!(started.elapsed() < Duration::from_secs(20));
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: a signal to our own child.
    unsafe { libc::kill(child.id() as i32, sig) };
    let sent = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if sent.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "ssso did not end within 10 s of signal {sig}: {}",
                std::fs::read_to_string(&err).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (status, std::fs::read_to_string(&err).unwrap_or_default())
}

/// ssso is told to end while `aws sso login` waits for the browser (a service manager's
/// SIGTERM, a closed terminal's SIGHUP): the login ends too, and ssso exits 128 + N as a
/// session's ssh would. A SIGINT sent to ssso alone (`kill -INT`, not the terminal's Ctrl-C,
/// which reaches the whole process group) cancels the login as Ctrl-C does: 254, nothing
/// synced. No `aws` is left running, and no token was written.
#[test]
fn signals_sent_to_ssso_end_the_login_too() {
    for (sig, status, says) in [
        (libc::SIGTERM, 143, "ssso received SIGTERM"),
        (libc::SIGHUP, 129, "ssso received SIGHUP"),
        (libc::SIGINT, 254, "was cancelled"),
    ] {
        let local = Local::new(&sso_config(PROFILE, SESSION));
        let mut cmd = local.ssso();
        cmd.args(["login", "--profile", PROFILE]);
        let (got, err) = signal_during_login(&local, cmd, sig);
        assert_eq!(got.code(), Some(status), "signal {sig}: {got:?}\n{err}");
        assert!(err.contains(says), "signal {sig}: {err}");
        assert_eq!(
            processes_of(local.scratch()),
            Vec::<i32>::new(),
            "signal {sig}: aws sso login was left running\n{err}"
        );
        assert!(local.read_token(&cache_key(SESSION)).is_none());
    }
}

/// The same on the connect path (`ssso HOST`) and in `ssso sync --keep`, which log in before
/// they connect: SIGTERM ends the login, ssso exits 143, and nothing connects.
#[test]
fn sigterm_during_a_connect_s_login_ends_the_login() {
    let u = user("ssso-csh");
    let connects = || server().sshd_log().matches(" for ssso-csh from ").count();
    let before = connects();
    let local = Local::new(&sso_config(PROFILE, SESSION));
    let connect = local.ssso_to(&["--profile", PROFILE], u.name(), &["true"]);
    let keep = Local::new(&sso_config(PROFILE, SESSION));
    let mut sync_keep = keep.ssso();
    sync_keep
        .args(["sync", "--keep", "--profile", PROFILE, "-F"])
        .arg(server().ssh_config())
        .arg(server().dest(u.name()));
    for (what, local, cmd) in [
        ("connect", &local, connect),
        ("sync --keep", &keep, sync_keep),
    ] {
        let (got, err) = signal_during_login(local, cmd, libc::SIGTERM);
        assert_eq!(got.code(), Some(143), "{what}: {got:?}\n{err}");
        assert_eq!(
            processes_of(local.scratch()),
            Vec::<i32>::new(),
            "{what}: {err}"
        );
        assert_eq!(
            connects(),
            before,
            "{what}: ssso connected after its login was ended"
        );
    }
}

/// Ctrl-C at the terminal (SIGINT to the whole foreground process group) cancels the login:
/// ssso says so and exits 254, and no `aws` is left.
#[test]
fn ctrl_c_at_the_terminal_cancels_the_login() {
    let local = Local::new(&sso_config(PROFILE, SESSION));
    let ran = local
        .test()
        .args(["login", "--profile", PROFILE])
        .env("FAKE_AWS_SLEEP", "30")
        .typing("fake aws: waiting", "\\x03")
        .timeout(Duration::from_secs(20))
        .status(254)
        .stdout_contains("was cancelled (Ctrl-C)")
        .run();
    assert_eq!(
        processes_of(local.scratch()),
        Vec::<i32>::new(),
        "{}",
        ran.stdout
    );
    assert!(local.read_token(&cache_key(SESSION)).is_none());
}
