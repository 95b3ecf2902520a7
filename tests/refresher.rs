//! One refresher: with refresh tokens that rotate on every use and are refused when reused
//! (the mock SSO-OIDC), and the host's own botocore (the real AWS CLI v1) allowed to refresh
//! against it, ssso keeps the chain whole: a rotated refresh token is never thrown away, ssso
//! refreshes before the host's botocore would, a host that refreshed first is adopted instead
//! of a browser login, and `aws sso login`'s output never lands on the remote command's stdout.

mod common;

use std::time::Duration;

use common::*;

/// ssso's environment for these stories: the mock SSO-OIDC for its own refreshes.
fn with_mock_oidc(t: Test<'_>) -> Test<'_> {
    t.env("AWS_ENDPOINT_URL_SSO_OIDC", portal().sso_url())
        .args(["--profile", "p"])
}

/// `for each of N: aws sts get-caller-identity, then ok-I or fail-I; sleep 1`.
fn aws_loop(n: u32) -> String {
    let each = caller_identity_command("p");
    format!(
        "for i in $(seq 1 {n}); do {each} >/dev/null 2>&1 && echo ok-$i || echo fail-$i; sleep 1; done"
    )
}

/// A laptop whose token (10 minutes left, written an hour ago) the host holds too, and whose
/// refresh token the host's botocore has just spent: its own refresh, by itself. Returns the
/// local side, the refresh family and the access token the host's refresh got.
fn host_refreshed_first(u: &UserGuard, label: &str) -> (Local, String, Vec<String>) {
    let local = Local::new(&sso_config("p", "s"));
    let tok = unique_token(label);
    register_token(&tok);
    local.write_token(&cache_key("s"), &tok, 600);
    local.backdate_token(&cache_key("s"), 3600);
    u.install(&sso_config("p", "s"), &cache_key("s"), &tok, 600);
    let family = format!("fake-refresh-{tok}");
    portal().register_refresh(&family, 3600);
    // The host's aws, with 10 minutes left, refreshes by itself.
    assert_caller_identity(&remote_caller_identity(u.name(), "p"));
    let by_host = portal().refreshes_by(&family, "host");
    assert_eq!(by_host.len(), 1, "the host's botocore did not refresh");
    (local, family, by_host)
}

/// Point 1: the refresh result holds the only live refresh token (the service spent the old
/// one), so it is written even when it does not expire later than the file's token.
#[test]
fn a_rotated_refresh_token_is_kept_even_when_its_token_expires_sooner() {
    let _u = user("ssso-sh");
    let local = Local::new(&sso_config("p", "s"));
    let tok = unique_token("shortrefresh");
    local.write_token(&cache_key("s"), &tok, 50);
    local.backdate_token(&cache_key("s"), 3600);
    let family = format!("fake-refresh-{tok}");
    // The SSO session ends soon: a refresh gives a token that lasts 40 s, less than the 50 s
    // left on the current one.
    portal().register_refresh(&family, 40);

    let ran = with_mock_oidc(local.test())
        .args(["--no-login", "-v"])
        .to("ssso-sh")
        .remote(["true"])
        .status(254)
        .stderr_contains("drop --no-login")
        .run();
    let issued = portal().refreshes_by(&family, "ssso");
    assert_eq!(issued.len(), 1, "{}", ran.stderr);
    let kept = local.read_token(&cache_key("s")).unwrap();
    assert_eq!(kept["accessToken"], issued[0].as_str(), "{}", ran.stderr);
    let refresh = kept["refreshToken"].as_str().unwrap();
    assert!(
        refresh.starts_with(&format!("{family}~")),
        "the rotated refresh token was thrown away: {refresh}\n{}",
        ran.stderr
    );
    assert!(local.login_calls().is_empty());
    assert_eq!(portal().reuses(&family), Vec::<String>::new());
}

/// Point 2: the host's botocore refreshes by itself once under 15 minutes are left; ssso
/// refreshes (and pushes) first, from 20 minutes, so the host never does.
#[test]
fn ssso_refreshes_before_the_host_s_botocore_would() {
    let u = user("ssso-bash");
    let local = Local::new(&sso_config("p", "s"));
    let tok = unique_token("ahead");
    register_token(&tok);
    // 15 minutes and 5 seconds left: fresh by --min-valid (15m), and 5 s from the host's window.
    local.write_token(&cache_key("s"), &tok, 905);
    local.backdate_token(&cache_key("s"), 3600);
    let family = format!("fake-refresh-{tok}");
    portal().register_refresh(&family, 3600);

    let ran = with_mock_oidc(local.test())
        .to(u.name())
        .remote([aws_loop(10)])
        .timeout(Duration::from_secs(120))
        .run();
    let lines: Vec<&str> = ran.stdout.lines().collect();
    assert_eq!(lines.len(), 10, "{}\n{}", ran.stdout, ran.stderr);
    assert!(
        lines.iter().all(|l| l.starts_with("ok-")),
        "{}\n{}",
        ran.stdout,
        ran.stderr
    );
    assert_eq!(
        portal().refreshes_by(&family, "host"),
        Vec::<String>::new(),
        "the host's botocore refreshed: ssso was not first"
    );
    assert_eq!(portal().reuses(&family), Vec::<String>::new());
    let by_ssso = portal().refreshes_by(&family, "ssso");
    assert_eq!(by_ssso.len(), 1);
    assert_eq!(u.token(&cache_key("s")).unwrap()["accessToken"], by_ssso[0]);
    assert!(local.login_calls().is_empty());
}

/// Point 3, at connect: the host's botocore refreshed first and spent the refresh token the
/// laptop holds. The local token is stale, so before its own refresh (which would present the
/// spent refresh token) and before any login, ssso reads the host's token and adopts it: no
/// reuse, no browser login.
#[test]
fn a_host_that_refreshed_first_is_adopted_instead_of_a_login() {
    let u = user("ssso-zsh");
    let (local, family, by_host) = host_refreshed_first(&u, "hostfirst");

    let ran = with_mock_oidc(local.test())
        .arg("-v")
        .to(u.name())
        .remote([caller_identity_command("p")])
        .stdout_contains(ACCOUNT_ID)
        .run();
    assert_eq!(
        local.login_calls(),
        Vec::<String>::new(),
        "a browser login for nothing\n{}",
        ran.stderr
    );
    let kept = local.read_token(&cache_key("s")).unwrap();
    assert_eq!(kept["accessToken"], by_host[0].as_str(), "{}", ran.stderr);
    assert!(
        kept["refreshToken"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{family}~"))
    );
    assert_eq!(portal().refreshes_by(&family, "host").len(), 1);
    // The laptop's refresh token was spent by the host: it is never presented again.
    assert_eq!(
        portal().reuses(&family),
        Vec::<String>::new(),
        "{}",
        ran.stderr
    );
}

/// Point 3, while a session is held: the host's botocore refreshes (its clock a little ahead
/// puts it in its window); before ssso's own refresh is due, it reads the host's token back and
/// adopts it: nothing is reused, and the laptop keeps the live chain.
#[test]
fn a_held_session_adopts_the_host_s_refresh_and_reuses_nothing() {
    let u = user("ssso-ksh");
    let local = Local::new(&sso_config("p", "s"));
    let tok = unique_token("heldhost");
    register_token(&tok);
    local.write_token(&cache_key("s"), &tok, 1000);
    let family = format!("fake-refresh-{tok}");
    portal().register_refresh(&family, 3600);
    let each = caller_identity_command("p");
    let script = format!(
        "faketime -f +2m {each} >/dev/null && echo host-refreshed; sleep 14; {each} >/dev/null && echo ok"
    );
    let ran = with_mock_oidc(local.test())
        // Compressed: a token written 8 s ago may be refreshed (the default is a minute).
        .env("SSSO_TEST_SCHEDULE", "1200 8 60 300")
        .to(u.name())
        .remote([script])
        .timeout(Duration::from_secs(90))
        .stdout("host-refreshed\nok\n")
        .run();
    let by_host = portal().refreshes_by(&family, "host");
    assert_eq!(by_host.len(), 1, "{}", ran.stderr);
    assert_eq!(portal().reuses(&family), Vec::<String>::new());
    assert_eq!(portal().refreshes_by(&family, "ssso"), Vec::<String>::new());
    let kept = local.read_token(&cache_key("s")).unwrap();
    assert_eq!(kept["accessToken"], by_host[0].as_str(), "{}", ran.stderr);
}

/// Point 5: `aws sso login`'s "Successfully logged into Start URL" is for the user, on
/// stderr: the remote command's stdout stays byte for byte its own.
#[test]
fn the_login_s_output_never_reaches_stdout() {
    let u = user("ssso-fish");
    let local = Local::new(&sso_config("p", "s"));
    register_token(local.login_token());
    local
        .test()
        .args(["--profile", "p"])
        .to(u.name())
        .remote(["echo out"])
        .stdout("out\n")
        .stderr_contains("Successfully logged into Start URL")
        .run();
    assert_eq!(local.login_calls(), ["sso login --profile p"]);
}

/// Point 3 through a ProxyCommand (scp, rsync, git, editors): `ssso proxy` reads the host's
/// newer token before it would log in, over a connection of its own whose output never reaches
/// the SSH stream; the client's command then runs with the adopted token.
#[test]
fn a_proxycommand_adopts_the_host_s_token_instead_of_a_login() {
    let u = user("ssso-tcsh");
    let srv = server();
    let (local, family, by_host) = host_refreshed_first(&u, "proxyhost");

    let cfg = local.scratch().join("proxy_config");
    std::fs::write(
        &cfg,
        format!(
            "Host proxied\n    HostName 127.0.0.1\n    Port {port}\n    User {name}\n    \
             SetEnv AWS_PROFILE=p\n    ProxyCommand {ssso} proxy -F {cfg} --user %r --alias %n %h %p\n\
             Host *\n    IdentityFile {key}\n    IdentitiesOnly yes\n    UserKnownHostsFile {kh}\n    \
             GlobalKnownHostsFile /dev/null\n    StrictHostKeyChecking yes\n    BatchMode yes\n    \
             LogLevel ERROR\n    IdentityAgent none\n    UpdateHostKeys no\n    CheckHostIP no\n",
            port = srv.port,
            name = u.name(),
            ssso = ssso_bin().display(),
            cfg = cfg.display(),
            key = srv.client_key().display(),
            kh = srv.known_hosts().display(),
        ),
    )
    .unwrap();
    let out = run(
        local
            .command("ssh")
            .env("AWS_ENDPOINT_URL_SSO_OIDC", portal().sso_url())
            .args(["-F", cfg.to_str().unwrap(), "proxied", "echo connected"]),
        Duration::from_secs(60),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_success(&out, "ssh through ssso proxy");
    assert_eq!(out.stdout, b"connected\n", "{err}");
    assert_eq!(
        local.login_calls(),
        Vec::<String>::new(),
        "a browser login for nothing\n{err}"
    );
    let kept = local.read_token(&cache_key("s")).unwrap();
    assert_eq!(kept["accessToken"], by_host[0].as_str(), "{err}");
    assert_eq!(portal().reuses(&family), Vec::<String>::new());
}

/// The quiet read of the host before a refresh never prompts: a user who logs in with a
/// password is asked once, by the session, and the stale token is refreshed without a browser.
#[test]
fn a_password_user_is_asked_once_when_the_token_needs_a_refresh() {
    let _u = user(PW_USER);
    let local = Local::new(&sso_config("p", "s"));
    let tok = unique_token("pwstale");
    register_token(&tok);
    local.write_token(&cache_key("s"), &tok, 600);
    local.backdate_token(&cache_key("s"), 3600);
    let family = format!("fake-refresh-{tok}");
    portal().register_refresh(&family, 3600);
    let screen = with_mock_oidc(local.test())
        .args(["-o", "PubkeyAuthentication=no"])
        .args([
            "-o",
            "PreferredAuthentications=password,keyboard-interactive",
        ])
        .to(PW_USER)
        .remote([caller_identity_command("p")])
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
    assert_eq!(portal().refreshes_by(&family, "ssso").len(), 1, "{screen}");
    assert_eq!(local.login_calls(), Vec::<String>::new(), "{screen}");
}
