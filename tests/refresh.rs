//! Long sessions: ssso keeps the remote token fresh while a session runs (native refresh with
//! rotating refresh tokens, a local `aws sso login` pushed, a warning when it cannot refresh),
//! and `ssso login` refreshes before it falls back to `aws sso login`.
//!
//! These tests compress token lifetimes to seconds (`SSSO_TEST_SCHEDULE`), far below botocore's
//! 15-minute refresh window, where the host's botocore would refresh on every call: the mock
//! SSO-OIDC refuses the host's refreshes of their families (`refuse_host_refresh`), so a
//! remote AWS call that succeeds after the first token expired proves that ssso refreshed and
//! pushed. tests/refresher.rs lets the host refresh, with real lifetimes.

mod common;

use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use common::*;

/// `ssso --profile P -F CONFIG USER@ssso-test COMMAND` with the mock SSO-OIDC as endpoint and
/// the compressed schedule `schedule` ("REFRESH_BEFORE MIN_AGE ATTEMPT_INTERVAL WARN_BEFORE").
fn ssso_session(
    local: &Local,
    u: &UserGuard,
    schedule: &str,
    extra: &[&str],
    command: &str,
) -> Command {
    let mut cmd = local.ssso();
    cmd.env("AWS_ENDPOINT_URL_SSO_OIDC", portal().sso_url())
        .env("SSSO_TEST_SCHEDULE", schedule)
        .args(["--profile", "p", "-F"])
        .arg(server().ssh_config())
        .args(extra)
        .arg(u.dest())
        .arg(command);
    cmd
}

#[test]
fn session_outlives_several_tokens() {
    let u = user("ssso-bash");
    let local = Local::new(&sso_config("p", "s"));
    let first = unique_token("short");
    register_token(&first);
    // Tokens that live 20 s; ssso refreshes with 10 s left.
    local.write_token(&cache_key("s"), &first, 20);
    let family = format!("fake-refresh-{first}");
    portal().register_refresh(&family, 20);
    portal().refuse_host_refresh(&family);

    let each = caller_identity_command("p");
    let script = format!(
        "for i in 1 2 3 4; do sleep 11; {each} >/dev/null && echo ok-$i || echo fail-$i; done"
    );
    let out = run(
        &mut ssso_session(&local, &u, "10 5 5 5", &["--min-valid", "10s"], &script),
        Duration::from_secs(120),
    );
    let (status, stdout, stderr) = text(&out);
    assert!(status.success(), "{status}\n{stdout}\n{stderr}");
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        ["ok-1", "ok-2", "ok-3", "ok-4"],
        "{stderr}"
    );
    // 44 s with 20 s tokens: the first one expired twice over; every refresh was ssso's.
    let issued = portal().refreshes(&family);
    assert!(issued.len() >= 3, "refreshes: {issued:?}\n{stderr}");
    let local_tok = local.read_token(&cache_key("s")).unwrap();
    let last = issued.last().unwrap();
    assert!(
        [issued[issued.len() - 2].as_str(), last.as_str()]
            .contains(&local_tok["accessToken"].as_str().unwrap()),
        "the local token is one of the last refreshed ones"
    );
    let rotated = local_tok["refreshToken"].as_str().unwrap();
    assert!(rotated.starts_with(&format!("{family}~")), "{rotated}");
    assert!(
        issued.iter().any(|t| portal().times_seen(t) > 0),
        "the remote used a refreshed token"
    );
    assert!(!stderr.contains("warning"), "{stderr}");
    assert!(local.login_calls().is_empty(), "{:?}", local.login_calls());
    assert_eq!(portal().reuses(&family), Vec::<String>::new());
}

#[test]
fn refresh_failure_warns_once_before_expiry() {
    let u = user("ssso-zsh");
    let local = Local::new(&sso_config("p", "s"));
    let tok = unique_token("nofresh");
    register_token(&tok);
    local.write_token(&cache_key("s"), &tok, 25);
    let family = format!("fake-refresh-{tok}");
    portal().register_refresh(&family, 20);
    portal().fail_refresh(&family);
    portal().refuse_host_refresh(&family);

    let out = run(
        &mut ssso_session(
            &local,
            &u,
            "20 5 60 20",
            &["--min-valid", "20s"],
            "sleep 9; echo done",
        ),
        Duration::from_secs(60),
    );
    let (status, stdout, stderr) = text(&out);
    assert!(status.success(), "{status}\n{stdout}\n{stderr}");
    assert_eq!(stdout.trim(), "done");
    let warnings: Vec<&str> = stderr.lines().filter(|l| l.contains("warning")).collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(
        warnings[0].contains("could not be refreshed")
            && warnings[0].contains("aws sso login --profile p"),
        "{stderr}"
    );
    assert!(portal().refreshes(&family).is_empty());

    // -q: nothing at all.
    let out = run(
        &mut ssso_session(
            &local,
            &u,
            "20 5 60 20",
            &["--min-valid", "20s", "-q"],
            "sleep 7; echo done",
        ),
        Duration::from_secs(60),
    );
    let (status, stdout, stderr) = text(&out);
    assert!(status.success(), "{status}\n{stdout}\n{stderr}");
    // The token has less than --min-valid left by now and cannot be refreshed: `aws sso login`
    // runs, and its own output (the device code a user may need) goes to stderr, not stdout.
    assert_eq!(stdout, "done\n", "{stderr}");
    assert!(
        !stderr.lines().any(|l| l.starts_with("ssso:")),
        "-q: nothing from ssso itself\n{stderr}"
    );
}

#[test]
fn warning_on_a_terminal_is_one_raw_mode_line() {
    let u = user("ssso-sh");
    let local = Local::new(&sso_config("p", "s"));
    let tok = unique_token("ptywarn");
    register_token(&tok);
    local.write_token(&cache_key("s"), &tok, 25);
    let family = format!("fake-refresh-{tok}");
    portal().register_refresh(&family, 20);
    portal().fail_refresh(&family);
    portal().refuse_host_refresh(&family);
    // A tty session (-t) whose command outlives the warning.
    let cmd = ssso_session(
        &local,
        &u,
        "20 5 60 20",
        &["--min-valid", "20s", "-t"],
        "sleep 8; echo done",
    );
    let out = run_in_pty(&cmd, &[], Duration::from_secs(40));
    let screen = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{screen}");
    let at = screen.find("ssso: ").expect(&screen);
    assert!(
        screen[..at].ends_with("\r\n") || at == 0,
        "starts on a line of its own: {screen:?}"
    );
    let line_end = screen[at..].find("\r\n").expect("ends with CRLF");
    assert!(screen[at..at + line_end].contains("could not be refreshed"));
    assert_eq!(
        screen.matches("could not be refreshed").count(),
        1,
        "{screen:?}"
    );
}

#[test]
fn local_login_during_a_session_is_pushed() {
    let u = user("ssso-ksh");
    let local = Local::new(&sso_config("p", "s"));
    // The session starts with a token the portal does not accept; the login's does.
    let stale = unique_token("revoked");
    local.write_token(&cache_key("s"), &stale, 3600);
    register_token(local.login_token());

    let each = caller_identity_command("p");
    let mut cmd = ssso_session(
        &local,
        &u,
        "1200 60 60 300",
        &[],
        &format!("sleep 9; {each}"),
    );
    let session = thread::spawn(move || run(&mut cmd, Duration::from_secs(60)));
    thread::sleep(Duration::from_secs(3));
    let mut login = local.command("aws");
    login.args(["sso", "login", "--profile", "p"]);
    assert_success(&run(&mut login, CMD_TIMEOUT), "aws sso login (fake)");
    let out = session.join().unwrap();
    caller_identity_check(&out, local.login_token());
    assert_token_unused(&stale);
    assert_eq!(
        u.token(&cache_key("s")).unwrap()["accessToken"],
        local.login_token()
    );
}

#[test]
fn login_refreshes_before_it_opens_a_browser() {
    let local = Local::new(&sso_config("p", "s"));
    let tok = unique_token("loginrefresh");
    local.write_token(&cache_key("s"), &tok, 60);
    let family = format!("fake-refresh-{tok}");
    portal().register_refresh(&family, 3600);
    let login = || {
        let mut cmd = local.ssso();
        cmd.env("AWS_ENDPOINT_URL_SSO_OIDC", portal().sso_url())
            .args(["login", "--profile", "p"]);
        run(&mut cmd, CMD_TIMEOUT)
    };
    let started = Instant::now();
    let out = login();
    assert_success(&out, "ssso login");
    assert!(local.login_calls().is_empty(), "{:?}", local.login_calls());
    let t = local.read_token(&cache_key("s")).unwrap();
    assert_eq!(t["accessToken"], portal().refreshes(&family)[0]);
    assert!(t["refreshToken"].as_str().unwrap().starts_with(&family));
    assert!(started.elapsed() < Duration::from_secs(10));

    // A refresh that fails falls back to `aws sso login`.
    local.write_token(&cache_key("s"), &tok, 60);
    let out = login();
    assert_success(&out, "ssso login (fallback)");
    assert_eq!(local.login_calls(), ["sso login --profile p"]);
    // The login's message says why a browser is needed: the refresh was tried and refused.
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("its refresh without a browser failed (CreateToken refused the refresh"),
        "{err}"
    );
    assert!(!err.contains(&family), "{err}");
    assert_eq!(
        local.read_token(&cache_key("s")).unwrap()["accessToken"],
        local.login_token()
    );
}

/// A host that keeps refusing the token (its cache directory is writable by others) is told
/// about once, not at every poll: the pushes back off and a repeated reason is not repeated.
#[test]
fn a_push_that_keeps_failing_is_said_once() {
    let u = user("ssso-ksh");
    let local = Local::new(&sso_config("p", "s"));
    let first = unique_token("refused1");
    local.write_token(&cache_key("s"), &first, 3600);
    u.write(".aws/sso/cache/.keep", b"", 0o600);
    let cache = u.home().join(".aws/sso/cache");
    std::fs::set_permissions(&cache, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let mut cmd = ssso_session(&local, &u, "1200 60 60 300", &[], "sleep 12; echo done");
    let session = thread::spawn(move || run(&mut cmd, Duration::from_secs(60)));
    thread::sleep(Duration::from_secs(3));
    // A new local token: pushed, refused, and pushed again with a growing pause.
    local.write_token(&cache_key("s"), &unique_token("refused2"), 7200);
    let out = session.join().unwrap();
    std::fs::set_permissions(&cache, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    assert_success(&out, "session");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.stdout, b"done\n", "{err}");
    assert_eq!(
        err.matches("could not push the new AWS token").count(),
        1,
        "{err}"
    );
    assert!(err.contains("writable by other users"), "{err}");
}
