//! `ssso sync HOST...`: many hosts at once (aliases of the one test sshd, users with different
//! login shells), a closed port and a listener that never speaks among them.

mod common;

use std::fmt::Write as _;
use std::net::TcpListener;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::*;

/// An ssh config with `(alias, user)` hosts on the test sshd, `dead-closed` (a closed port)
/// and `dead-silent` (accepts, never answers).
fn fleet_config(local: &Local, hosts: &[(&str, &str)]) -> PathBuf {
    let s = server();
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in silent.incoming().take(64) {
            held.push(c);
        }
    });
    let mut cfg = String::new();
    for (alias, user) in hosts {
        writeln!(cfg, "Host {alias}\n    Port {}\n    User {user}", s.port).unwrap();
    }
    writeln!(
        cfg,
        "Host dead-closed\n    Port {closed_port}\n    User ssso-bash"
    )
    .unwrap();
    writeln!(
        cfg,
        "Host dead-silent\n    Port {silent_port}\n    User ssso-bash"
    )
    .unwrap();
    writeln!(
        cfg,
        "Host *\n    HostName 127.0.0.1\n    IdentityFile {}\n    IdentitiesOnly yes\n    \
         UserKnownHostsFile {}\n    GlobalKnownHostsFile /dev/null\n    \
         StrictHostKeyChecking yes\n    CheckHostIP no\n    IdentityAgent none\n    LogLevel ERROR",
        s.client_key().display(),
        s.known_hosts().display()
    )
    .unwrap();
    let path = local.scratch().join("fleet_config");
    std::fs::write(&path, cfg).unwrap();
    path
}

/// The table's rows: host -> (result, detail).
fn table(stdout: &str) -> Vec<(String, String, String)> {
    let mut lines = stdout.lines();
    assert!(lines.next().unwrap().starts_with("HOST"), "{stdout}");
    lines
        .map(|l| {
            let (host, rest) = l.split_once("  ").unwrap();
            let rest = rest.trim_start();
            let (result, detail) = if let Some(d) = rest.strip_prefix("already current") {
                ("already current", d)
            } else {
                rest.split_once(' ').unwrap_or((rest, ""))
            };
            (host.into(), result.into(), detail.trim().into())
        })
        .collect()
}

const ALIASES: &[(&str, &str)] = &[
    ("f-bash", "ssso-bash"),
    ("f-fish", "ssso-fish"),
    ("f-tcsh", "ssso-tcsh"),
    ("f-bash2", "ssso-bash"),
    ("f-fish2", "ssso-fish"),
    ("f-tcsh2", "ssso-tcsh"),
];

#[test]
fn many_hosts_at_once_dead_ones_do_not_hold_them_up() {
    let users = [user("ssso-bash"), user("ssso-fish"), user("ssso-tcsh")];
    let local = Local::new(&sso_config("p", "s"));
    let tok = unique_token("fleet");
    register_token(&tok);
    local.write_token(&cache_key("s"), &tok, 3600);
    let cfg = fleet_config(&local, ALIASES);

    let mut cmd = local.ssso();
    cmd.args(["sync", "--profile", "p", "--timeout", "5s", "-F"])
        .arg(&cfg)
        .args(ALIASES.iter().map(|(a, _)| *a))
        .args(["dead-closed", "dead-silent"]);
    let started = Instant::now();
    let out = run(&mut cmd, Duration::from_secs(60));
    let took = started.elapsed();
    let (status, stdout, stderr) = text(&out);
    assert_eq!(status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(took < Duration::from_secs(12), "took {took:?}");
    let rows = table(&stdout);
    assert_eq!(rows.len(), 8, "{stdout}");
    for (host, result, detail) in &rows[..6] {
        assert!(
            result == "synced" || result == "already current",
            "{host}: {result} {detail}\n{stdout}"
        );
    }
    assert_eq!(rows[6].0, "dead-closed");
    assert_eq!(rows[6].1, "failed");
    assert!(rows[6].2.contains("refused"), "{stdout}");
    assert_eq!(rows[7].0, "dead-silent");
    assert_eq!(rows[7].1, "failed", "{stdout}");
    assert!(local.login_calls().is_empty());
    for u in &users[..2] {
        caller_identity_check(&remote_caller_identity(u.name(), "p"), &tok);
    }
    assert_eq!(users[2].token(&cache_key("s")).unwrap()["accessToken"], tok);

    // Again: nothing to do anywhere, exit 0.
    let mut cmd = local.ssso();
    cmd.args(["sync", "--profile", "p", "-F"])
        .arg(&cfg)
        .args(["f-bash", "f-fish"]);
    let out = run(&mut cmd, Duration::from_secs(60));
    let (status, stdout, stderr) = text(&out);
    assert!(status.success(), "{stdout}\n{stderr}");
    let rows = table(&stdout);
    assert!(rows.iter().all(|r| r.1 == "already current"), "{stdout}");
}

#[test]
fn one_login_before_any_host_hosts_from_stdin() {
    let u = user("ssso-zsh");
    let local = Local::new(&sso_config("p", "s"));
    local.write_token(&cache_key("s"), &unique_token("stale"), 60);
    register_token(local.login_token());
    let aliases = [("z1", "ssso-zsh"), ("z2", "ssso-zsh"), ("z3", "ssso-zsh")];
    let cfg = fleet_config(&local, &aliases);
    let mut cmd = local.ssso();
    cmd.args([
        "sync",
        "--profile",
        "p",
        "--jobs",
        "2",
        "--hosts-file",
        "-",
        "-F",
    ])
    .arg(&cfg);
    let out = run_with_stdin(
        &mut cmd,
        b"z1\n# comment\nz2\n\nz3\n",
        Duration::from_secs(60),
    );
    let (status, stdout, stderr) = text(&out);
    assert!(status.success(), "{stdout}\n{stderr}");
    assert_eq!(local.login_calls(), ["sso login --profile p"]);
    let rows = table(&stdout);
    assert_eq!(
        rows.iter().map(|r| r.0.as_str()).collect::<Vec<_>>(),
        ["z1", "z2", "z3"]
    );
    caller_identity_check(&remote_caller_identity(u.name(), "p"), local.login_token());
}

/// Without `--profile`, the fleet's profile is the first host's `SetEnv AWS_PROFILE`: hosts
/// that name different profiles are refused before any login or connection (else the order
/// of the arguments would decide which profile each host gets); `--profile` settles it.
#[test]
fn hosts_naming_different_profiles_are_refused_without_profile() {
    let local = Local::new(&format!(
        "{}\n[profile other]\nsso_session = s\nsso_account_id = 111111111111\nsso_role_name = R\n",
        sso_config("p", "s")
    ));
    let s = server();
    let cfg = local.scratch().join("two_profiles");
    std::fs::write(
        &cfg,
        format!(
            "Host fa\n    SetEnv AWS_PROFILE=p\nHost fb\n    SetEnv AWS_PROFILE=other\n\
             Host *\n    HostName 127.0.0.1\n    Port {}\n    User ssso-nosuchuser\n    \
             IdentityFile {}\n    IdentitiesOnly yes\n    UserKnownHostsFile {}\n    \
             GlobalKnownHostsFile /dev/null\n    StrictHostKeyChecking yes\n    LogLevel ERROR\n",
            s.port,
            s.client_key().display(),
            s.known_hosts().display()
        ),
    )
    .unwrap();
    let mut cmd = local.ssso();
    cmd.args(["sync", "-F"]).arg(&cfg).args(["fa", "fb"]);
    let out = run(&mut cmd, CMD_TIMEOUT);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(254), "{err}");
    assert!(
        err.contains("name different AWS profiles") && err.contains("fb names other"),
        "{err}"
    );
    assert!(local.login_calls().is_empty(), "{err}");
    assert!(
        !s.sshd_log().contains("ssso-nosuchuser"),
        "a host was contacted"
    );
}
