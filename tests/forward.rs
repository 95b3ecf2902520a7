//! Least-privilege mode, `ssso --forward`, end to end: the real sshd, the real ssh, the real
//! AWS CLI v1 (botocore) on the host, the mock IAM Identity Center portal counting
//! `GetRoleCredentials`.
//!
//! What must hold: `aws` works in the session (every login shell) and from other logins of the
//! same user while the session lasts; no file under the host's home ever holds a byte of the
//! SSO token's secrets; when the session ends (normally, or with ssh killed) the endpoint and
//! the secret go and `aws` says to reconnect with ssso; another user gets nothing; many
//! concurrent calls cost one `GetRoleCredentials` per credential lifetime.

mod common;

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::*;

const P: &str = "dev";

/// A local side with profile `dev` (sso-session `corp`) and a fresh token that the portal
/// accepts; returns it with the token and its refresh token and client secret.
fn setup() -> (Local, String) {
    let local = Local::new(&sso_config(P, "corp"));
    let tok = unique_token("fwd");
    register_token(&tok);
    local.write_token(&cache_key("corp"), &tok, 3600);
    (local, tok)
}

/// The token file's secrets: none of them may ever be in a file on the host.
fn secrets(tok: &str) -> Vec<String> {
    vec![
        tok.to_owned(),
        format!("fake-refresh-{tok}"),
        "fake-client-secret".to_owned(),
    ]
}

/// Every file under the user's home, and in forward sessions' directories under /tmp, holding
/// one of `needles` (the test machine is also the laptop: the rest of /tmp is its side).
fn files_holding(user: &str, needles: &[String]) -> Vec<PathBuf> {
    fn walk(dir: &Path, needles: &[String], found: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            let Ok(m) = std::fs::symlink_metadata(&p) else {
                continue;
            };
            if m.is_dir() {
                walk(&p, needles, found);
            } else if m.is_file()
                && let Ok(bytes) = std::fs::read(&p)
                && needles
                    .iter()
                    .any(|n| bytes.windows(n.len()).any(|w| w == n.as_bytes()))
            {
                found.push(p);
            }
        }
    }
    let mut found = Vec::new();
    walk(&home(user), needles, &mut found);
    for e in std::fs::read_dir("/tmp").unwrap().flatten() {
        if e.file_name().to_string_lossy().starts_with("ssso-fwd.") {
            walk(&e.path(), needles, &mut found);
        }
    }
    found
}

fn forward_cmd(local: &Local, user: &str, extra: &[&str], remote: &[&str]) -> Command {
    let mut args = vec!["--forward", "--profile", P];
    args.extend_from_slice(extra);
    let mut cmd = local.ssso_to(&args, user, remote);
    cmd.env("AWS_ENDPOINT_URL_SSO", portal().sso_url());
    cmd
}

/// The host-side pointer files of live forward sessions for `P`.
fn pointers(user: &str) -> Vec<PathBuf> {
    std::fs::read_dir(home(user).join(".aws/ssso/forward").join(P))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
                .collect()
        })
        .unwrap_or_default()
}

/// The session directories the pointers name.
fn session_dirs(user: &str) -> Vec<PathBuf> {
    pointers(user)
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| PathBuf::from(s.trim()))
        .collect()
}

fn wait_until(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        thread::sleep(Duration::from_millis(100));
    }
}

/// `aws sts get-caller-identity --profile dev` as USER over plain ssh, in a login shell.
fn plain_caller_identity(user: &str) -> Output {
    remote_caller_identity(user, P)
}

/// A held forward session, its ssso process and the ssh under it. The session runs
/// `cat >/dev/null` on the host, fed by a pipe held here: it ends when the pipe closes or the
/// connection drops, so no process of the test user outlives the test on the host.
struct Held {
    child: Child,
    stdin: Option<std::process::ChildStdin>,
}

impl Held {
    fn start(local: &Local, user: &str, extra: &[&str]) -> Held {
        let mut cmd = forward_cmd(local, user, extra, &["cat >/dev/null"]);
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
                Ok(())
            });
        }
        let mut child = cmd.spawn().unwrap();
        let stdin = child.stdin.take();
        let held = Held { child, stdin };
        wait_until(
            "the forward session to be up",
            Duration::from_secs(30),
            || !pointers(user).is_empty(),
        );
        held
    }

    /// The ssh processes under ssso (the master).
    fn ssh_pids(&self) -> Vec<i32> {
        children_of(self.child.id() as i32)
    }

    /// Kills ssh with SIGKILL (a dropped connection), waits for ssso; returns its stderr.
    fn kill_ssh(mut self) -> String {
        let pids = self.ssh_pids();
        assert!(!pids.is_empty(), "no ssh under ssso");
        for p in pids {
            unsafe { libc::kill(p, libc::SIGKILL) };
        }
        let out = wait_output(&mut self.child, Duration::from_secs(20));
        String::from_utf8_lossy(&out).into_owned()
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        // EOF ends the session on the host; then make sure nothing is left here.
        drop(self.stdin.take());
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10)
            && self.child.try_wait().ok().flatten().is_none()
        {
            thread::sleep(Duration::from_millis(50));
        }
        for p in children_of(self.child.id() as i32) {
            unsafe { libc::kill(p, libc::SIGKILL) };
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_output(child: &mut Child, limit: Duration) -> Vec<u8> {
    use std::io::Read as _;
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(start.elapsed() < limit, "ssso did not exit after ssh died");
        thread::sleep(Duration::from_millis(50));
    }
    let mut err = Vec::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_end(&mut err);
    }
    err
}

/// After the session: no pointer, no session directory, and `aws` says to reconnect.
fn assert_session_gone(user: &str, dirs: &[PathBuf]) {
    wait_until("the host to clean up", Duration::from_secs(10), || {
        pointers(user).is_empty() && dirs.iter().all(|d| !d.exists())
    });
    let out = plain_caller_identity(user);
    assert_aws_failed(&out, &["reconnect"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no ssso --forward session for AWS profile dev")
            && err.contains("ssso --forward --profile dev"),
        "{err}"
    );
}

/// In every login shell: `aws` works in the session with AWS_PROFILE alone and with
/// `--profile`; GetRoleCredentials was called by ssso for the profile's account and role; no
/// token secret on the host; afterwards the endpoint is gone and `aws` says to reconnect.
#[test]
fn aws_works_in_the_session_in_every_login_shell() {
    for (shell, name) in SHELL_USERS {
        let u = user(name);
        server();
        let (local, tok) = setup();
        let line = "aws sts get-caller-identity --output json; aws sts get-caller-identity --profile dev --output text --query Account";
        let out = run(
            &mut forward_cmd(&local, u.name(), &[], &[line]),
            CMD_TIMEOUT,
        );
        let json = assert_caller_identity(&out);
        assert_eq!(json["Account"], ACCOUNT_ID, "{shell}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.trim_end().ends_with(ACCOUNT_ID), "{shell}: {stdout}");
        let calls = portal().role_calls(&tok);
        assert_eq!(
            calls.len(),
            1,
            "{shell}: one GetRoleCredentials for two calls"
        );
        assert_eq!(
            (calls[0].account_id.as_str(), calls[0].role_name.as_str()),
            (ACCOUNT_ID, ROLE_NAME)
        );
        // Only ssso used the token: the host never saw it.
        assert_eq!(portal().times_seen(&tok), 1, "{shell}");
        assert!(
            u.read(&token_rel_path(&cache_key("corp"))).is_none(),
            "{shell}"
        );
        assert_eq!(
            files_holding(u.name(), &secrets(&tok)),
            Vec::<PathBuf>::new(),
            "{shell}"
        );
        assert_session_gone(u.name(), &[]);
    }
}

/// A second plain ssh login and a cron-like environment get credentials while the session
/// lasts; killing ssh (a dropped connection) removes the endpoint and the secret; nothing
/// secret at rest during or after.
#[test]
fn other_logins_work_while_the_session_lasts() {
    let u = user("ssso-bash");
    server();
    let (local, tok) = setup();
    let held = Held::start(&local, u.name(), &[]);
    let dirs = session_dirs(u.name());
    assert_eq!(dirs.len(), 1);
    let dir = &dirs[0];
    assert!(dir.starts_with("/tmp"), "{}", dir.display());
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
    let m = std::fs::metadata(dir).unwrap();
    assert_eq!(
        (m.permissions().mode() & 0o777, m.uid()),
        (0o700, passwd(u.name()).unwrap().0)
    );
    assert_eq!(
        std::fs::metadata(dir.join("secret"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );

    assert_caller_identity(&plain_caller_identity(u.name()));
    // cron: a bare environment, PATH=/usr/bin:/bin, no login shell.
    let cron = "env -i HOME=\"$HOME\" PATH=/usr/bin:/bin AWS_ENDPOINT_URL_STS=\"$AWS_ENDPOINT_URL_STS\" /opt/ssso-test/venv/bin/aws sts get-caller-identity --profile dev --output json";
    assert_caller_identity(&run(&mut server().ssh(u.name(), [cron]), CMD_TIMEOUT));
    // The helper's other client, python3 (for hosts without curl).
    let py = "SSSO_FORWARD_CLIENT=python3 aws sts get-caller-identity --profile dev --output json";
    assert_caller_identity(&run(&mut server().ssh(u.name(), [py]), CMD_TIMEOUT));
    assert_eq!(
        portal().role_calls(&tok).len(),
        1,
        "cached: one GetRoleCredentials"
    );
    assert_eq!(
        files_holding(u.name(), &secrets(&tok)),
        Vec::<PathBuf>::new()
    );

    // status and doctor show the mode.
    let out = run(local.ssso().args(["status", "--profile", P]), CMD_TIMEOUT);
    let (_, stdout, _) = text(&out);
    assert!(
        stdout.contains(&format!("forward to {}", u.dest())),
        "{stdout}"
    );
    let doctor = || {
        let mut cmd = local.ssso();
        cmd.args(["doctor", "--profile", P, "--json", "-F"])
            .arg(server().ssh_config())
            .arg(u.dest());
        let out = run(&mut cmd, CMD_TIMEOUT);
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let check = |d: &serde_json::Value, name: &str| {
        d["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["check"] == name)
            .cloned()
            .unwrap()
    };
    let d = doctor();
    assert!(
        check(&d, "mode")["detail"]
            .as_str()
            .unwrap()
            .starts_with("forward:"),
        "{d}"
    );
    assert_eq!(check(&d, "identity")["status"], "ok", "{d}");
    assert_eq!(d["ok"], true, "{d}");

    let stderr = held.kill_ssh();
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_session_gone(u.name(), &dirs);
    assert_eq!(
        files_holding(u.name(), &secrets(&tok)),
        Vec::<PathBuf>::new()
    );
    let d = doctor();
    assert_eq!(check(&d, "identity")["status"], "warn", "{d}");
    let out = run(local.ssso().args(["status", "--profile", P]), CMD_TIMEOUT);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("forward to"));
}

/// Another user of the host can read nothing of the session and reach nothing: not the
/// pointer, not the secret, not the socket, not the helper.
#[test]
fn another_user_gets_nothing() {
    let u = user("ssso-bash");
    let other = user("ssso-sh");
    server();
    let (local, tok) = setup();
    let _held = Held::start(&local, u.name(), &[]);
    let dir = session_dirs(u.name()).remove(0);
    let victim = home(u.name());
    let attempts = [
        format!("cat {}/.aws/ssso/forward/dev/*", victim.display()),
        format!("cat {}/secret", dir.display()),
        format!("ls {}", dir.display()),
        format!("{}/.aws/ssso/credential-process dev", victim.display()),
        format!(
            "python3 -c 'import socket; s = socket.socket(socket.AF_UNIX); s.connect(\"{}/s\"); s.sendall(b\"GET /credential-process HTTP/1.0\\r\\n\\r\\n\"); print(s.recv(999))'",
            dir.display()
        ),
        format!(
            "curl -s --unix-socket {}/s http://localhost/credential-process",
            dir.display()
        ),
    ];
    for a in &attempts {
        let out = run(&mut server().ssh(other.name(), [a.as_str()]), CMD_TIMEOUT);
        let (status, stdout, stderr) = text(&out);
        assert!(!status.success(), "{a} succeeded:\n{stdout}\n{stderr}");
        assert!(
            !stdout.contains("AccessKeyId") && !stdout.contains("ASIA"),
            "{a}: {stdout}"
        );
    }
    // Their own profile pointing at the victim's helper gets nothing either.
    other.write(
        ".aws/config",
        format!(
            "[profile dev]\ncredential_process = {}/.aws/ssso/credential-process dev\nregion = us-east-1\n",
            victim.display()
        )
        .as_bytes(),
        0o600,
    );
    assert!(!plain_caller_identity(other.name()).status.success());
    assert_eq!(portal().role_calls(&tok).len(), 0, "nobody got credentials");
    // The session itself still works.
    assert_caller_identity(&plain_caller_identity(u.name()));
}

/// A profile without sso_account_id / sso_role_name is refused before any connection.
#[test]
fn a_profile_without_a_role_is_refused() {
    let cfg = "[profile dev]\nsso_session = corp\nregion = us-east-1\n[sso-session corp]\nsso_start_url = https://example.awsapps.com/start\nsso_region = us-east-1\n";
    let local = Local::new(cfg);
    let tok = unique_token("norole");
    local.write_token(&cache_key("corp"), &tok, 3600);
    let out = run(
        &mut forward_cmd(&local, "ssso-bash", &[], &["true"]),
        CMD_TIMEOUT,
    );
    let (status, _, stderr) = text(&out);
    assert_eq!(status.code(), Some(254), "{stderr}");
    assert!(
        stderr.contains("profile `dev` has no sso_account_id and sso_role_name"),
        "{stderr}"
    );
}

/// File-sync mode, then forward mode, then file-sync again: `aws` works each time; forward
/// mode removed the token that file-sync left.
#[test]
fn switching_modes_leaves_a_working_host() {
    let u = user("ssso-zsh");
    server();
    let (local, tok) = setup();
    let id = caller_identity_command(P);
    let plain =
        |extra: &[&str]| local.ssso_to(&[&["--profile", P][..], extra].concat(), u.name(), &[&id]);
    assert_caller_identity(&run(&mut plain(&[]), CMD_TIMEOUT));
    assert!(u.read(&token_rel_path(&cache_key("corp"))).is_some());
    let out = run(&mut forward_cmd(&local, u.name(), &[], &[&id]), CMD_TIMEOUT);
    assert_caller_identity(&out);
    assert!(
        u.read(&token_rel_path(&cache_key("corp"))).is_none(),
        "the token left by file-sync mode is removed"
    );
    let cfg = String::from_utf8(u.read(".aws/config").unwrap()).unwrap();
    assert!(
        cfg.contains("credential_process = ") && !cfg.contains("sso_session"),
        "{cfg}"
    );
    assert_caller_identity(&run(&mut plain(&[]), CMD_TIMEOUT));
    let cfg = String::from_utf8(u.read(".aws/config").unwrap()).unwrap();
    assert!(
        !cfg.contains("credential_process") && cfg.contains("sso_session"),
        "{cfg}"
    );
    assert_eq!(cfg.matches("[profile dev]").count(), 1, "{cfg}");
    let _ = tok;
}

/// 100 concurrent `aws` calls on the host through the forward all succeed, with one
/// `GetRoleCredentials` (the credentials last 10 minutes).
#[test]
fn a_hundred_concurrent_calls_one_get_role_credentials() {
    let u = user("ssso-ksh");
    server();
    let (local, tok) = setup();
    portal().set_role_lifetime(&tok, 600);
    let _held = Held::start(&local, u.name(), &[]);
    let script = "d=$(mktemp -d); i=0; while [ $i -lt 100 ]; do i=$((i+1)); (aws sts get-caller-identity --profile dev --output text --query Account >$d/o$i 2>&1; echo $? >$d/r$i) & done; wait; cat $d/r* | sort | uniq -c; grep -L 123456789012 $d/o* | head -3 | xargs -r cat; rm -rf $d";
    let out = run(
        &mut server().ssh(u.name(), [script]),
        Duration::from_secs(300),
    );
    let (status, stdout, stderr) = text(&out);
    assert!(status.success(), "{stdout}\n{stderr}");
    assert_eq!(stdout.trim(), "100 0", "{stdout}\n{stderr}");
    assert_eq!(portal().role_calls(&tok).len(), 1);
}

/// With credentials that last 12 s (so a set is replaced with 3 s left), calls one a second
/// for 30 s: a new GetRoleCredentials only when the last set is within its replacement margin,
/// never two for one lifetime.
#[test]
fn one_get_role_credentials_per_lifetime() {
    let u = user("ssso-tcsh");
    server();
    let (local, tok) = setup();
    portal().set_role_lifetime(&tok, 12);
    let _held = Held::start(&local, u.name(), &[]);
    let start = Instant::now();
    let mut ok = 0;
    while start.elapsed() < Duration::from_secs(30) {
        let out = run(
            &mut server().ssh(
                u.name(),
                ["aws sts get-caller-identity --profile dev --output text --query Account"],
            ),
            CMD_TIMEOUT,
        );
        if out.status.success() {
            ok += 1;
        } else {
            panic!("{}", String::from_utf8_lossy(&out.stderr));
        }
        thread::sleep(Duration::from_millis(500));
    }
    let calls = portal().role_calls(&tok);
    assert!(ok >= 10, "{ok} calls");
    assert!(
        calls.len() >= 2 && calls.len() <= 5,
        "{} calls for 30 s of 12 s credentials: {calls:?}",
        calls.len()
    );
    for w in calls.windows(2) {
        // Fetched at expiration - 12 s; the previous set was due at its expiration - 3 s.
        let fetched = w[1].expiration_ms - 12_000;
        assert!(fetched >= w[0].expiration_ms - 3_000 - 1_000, "{calls:?}");
    }
}

/// The container-credentials answer is what the real botocore's `ContainerProvider` reads from
/// `AWS_CONTAINER_CREDENTIALS_FULL_URI` with `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` (served
/// here over TCP loopback, as an SDK would reach it); without the secret it gets nothing.
#[test]
fn botocore_container_provider_reads_the_answer() {
    use ssso::aws::portal::RoleCredentials;
    use ssso::forward::server::{Failure, Server, Source};
    struct Fixed;
    impl Source for Fixed {
        fn fetch(&self) -> Result<RoleCredentials, Failure> {
            Ok(RoleCredentials {
                access_key_id: "ASIABOTOCORE".into(),
                secret_access_key: "botocore-secret".into(),
                session_token: "botocore-session".into(),
                expiration: ssso::time::now() + 3600,
            })
        }
    }
    let secret = ssso::forward::Secret::generate().unwrap();
    let server = std::sync::Arc::new(Server::new(
        secret.clone(),
        Some(ACCOUNT_ID.into()),
        std::sync::Arc::new(Fixed),
    ));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let srv = server.clone();
    thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let l = tokio::net::TcpListener::from_std(listener).unwrap();
            while let Ok((s, _)) = l.accept().await {
                let srv = srv.clone();
                tokio::spawn(async move { srv.handle(s).await });
            }
        });
    });
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good");
    std::fs::write(&good, secret.expose()).unwrap();
    let bad = dir.path().join("bad");
    std::fs::write(&bad, "0".repeat(64)).unwrap();
    let py = "from awscli.botocore.credentials import ContainerProvider\nc = ContainerProvider().load().get_frozen_credentials()\nprint(c.access_key, c.secret_key, c.token)";
    let python = |token_file: &Path| {
        let mut cmd = Command::new(format!("{REMOTE_AWS_VENV}/bin/python3"));
        cmd.args(["-c", py])
            .env(
                "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                format!("http://127.0.0.1:{port}/role-credentials"),
            )
            .env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", token_file);
        run(&mut cmd, CMD_TIMEOUT)
    };
    let out = python(&good);
    let (status, stdout, stderr) = text(&out);
    assert!(status.success(), "{stderr}");
    assert_eq!(
        stdout.trim(),
        "ASIABOTOCORE botocore-secret botocore-session"
    );
    let out = python(&bad);
    let (status, stdout, stderr) = text(&out);
    assert!(!status.success() && !stdout.contains("ASIA"), "{stdout}");
    assert!(stderr.contains("401"), "{stderr}");
}

/// `ssso setup --forward` prints a block without ProxyCommand and with SSSO_MODE=forward, and
/// says what plain ssh loses; a host with that SetEnv gets forward mode without the option.
#[test]
fn setup_forward_and_the_mode_from_the_ssh_config() {
    let u = user("ssso-fish");
    server();
    let (local, tok) = setup();
    let out = run(
        local
            .ssso()
            .args(["setup", "--forward", "--profile", P, "-F"])
            .arg(server().ssh_config())
            .arg(u.dest()),
        CMD_TIMEOUT,
    );
    let (status, stdout, stderr) = text(&out);
    assert!(status.success(), "{stderr}");
    assert!(
        stdout.contains("SetEnv AWS_PROFILE=dev SSSO_MODE=forward")
            && !stdout.contains("ProxyCommand"),
        "{stdout}"
    );
    assert!(stderr.contains("plain ssh, scp and rsync"), "{stderr}");

    let cfg = local.scratch().join("ssh_config");
    std::fs::write(
        &cfg,
        format!(
            "Host {HOST_ALIAS}\n    SetEnv SSSO_MODE=forward\nInclude {}\n",
            server().ssh_config().display()
        ),
    )
    .unwrap();
    let mut cmd = local.ssso();
    cmd.env("AWS_ENDPOINT_URL_SSO", portal().sso_url())
        .args(["--profile", P, "-F"])
        .arg(&cfg)
        .arg(u.dest())
        .arg(caller_identity_command(P));
    assert_caller_identity(&run(&mut cmd, CMD_TIMEOUT));
    assert_eq!(portal().role_calls(&tok).len(), 1);
    assert!(u.read(&token_rel_path(&cache_key("corp"))).is_none());
}

/// When IAM Identity Center refuses the local token, the host's `aws` says to log in again on
/// the machine running ssso, and ssso says it on its side too; `-f` is refused up front.
#[test]
fn a_refused_token_says_where_to_log_in() {
    let u = user("ssso-sh");
    server();
    let local = Local::new(&sso_config(P, "corp"));
    let tok = unique_token("refused");
    local.write_token(&cache_key("corp"), &tok, 3600);
    let out = run(
        &mut forward_cmd(&local, u.name(), &[], &[&caller_identity_command(P)]),
        CMD_TIMEOUT,
    );
    let (status, _, stderr) = text(&out);
    assert!(!status.success());
    assert!(
        stderr.contains("IAM Identity Center refused the SSO token for profile dev")
            && stderr
                .contains("log in again on the machine running ssso (`ssso login --profile dev`)"),
        "{stderr}"
    );
    assert_eq!(
        stderr
            .matches("ssso: warning: the host asked for AWS credentials and got none")
            .count(),
        1,
        "{stderr}"
    );
    let out = run(
        &mut forward_cmd(&local, u.name(), &["-f"], &["true"]),
        CMD_TIMEOUT,
    );
    let (status, _, stderr) = text(&out);
    assert_eq!(status.code(), Some(254), "{stderr}");
    assert!(stderr.contains("drop -f"), "{stderr}");
}

/// A host whose disk is full when forward mode must point the profile at its helper: the
/// user's `~/.aws/config` stays byte for byte what it was, nothing of ssso's is left behind,
/// and the message says why the host gets no credentials.
#[test]
fn a_full_disk_leaves_the_config_whole() {
    let u = user(FULL_USER);
    server();
    let tiny = TinyAws::mount(1024);
    // A config of 600 KB: its new version does not fit beside it.
    let mut cfg = String::new();
    let mut i = 0;
    while cfg.len() < 600_000 {
        cfg.push_str(&format!("[profile p{i}]\nregion = us-east-1\n\n"));
        i += 1;
    }
    u.write(".aws/config", cfg.as_bytes(), 0o600);
    let (local, _tok) = setup();
    let out = run(
        &mut forward_cmd(&local, u.name(), &[], &["echo session-ran"]),
        CMD_TIMEOUT,
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "session-ran\n",
        "{err}"
    );
    assert!(err.contains("~/.aws/config"), "{err}");
    assert!(
        u.read(".aws/config").unwrap() == cfg.as_bytes(),
        "the config changed\n{err}"
    );
    let left: Vec<String> = std::fs::read_dir(home(u.name()).join(".aws"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with(".config") || n.contains(".ssso"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    drop(tiny);
}
