//! Several token lifetimes, compressed: two hosts under `ssso sync --keep --with-refresh-token`,
//! each running `aws` every few seconds, with 40-second tokens whose refresh tokens rotate and
//! are refused when reused, and expired access tokens refused by the portal. Target: 0 failed
//! calls, 0 reuses, 0 refreshes by the hosts.
//!
//! Compression, and how it keeps botocore's own rule: ssso's schedule is scaled down with
//! `SSSO_TEST_SCHEDULE` (refresh with 20 s left, not within 5 s of the last write), and the
//! hosts' `aws` runs under libfaketime 890 s in the past, so botocore (which refreshes with
//! 15 minutes left) sees 40-second tokens as 15m30s ones and reaches its own window with 10 s
//! left: the compressed analogue of 20 minutes against 15. Each call starts without the CLI's
//! credential cache, and role credentials last no longer than the token, so every call
//! presents the current SSO token to the portal.

mod common;

use std::io::Read as _;
use std::process::{Child, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::*;

/// Token lifetime in these tests.
const LIFETIME: i64 = 40;
/// How long the hosts run `aws`: four lifetimes.
const RUN: Duration = Duration::from_secs(160);

fn access(token: Option<serde_json::Value>) -> String {
    token
        .and_then(|t| t["accessToken"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The host's loop: `aws sts get-caller-identity` every 2 s for `secs` seconds (host clock 890 s
/// behind), one line `ok` or `fail` each.
fn host_loop(secs: u64) -> String {
    format!(
        "end=$(($(date +%s) + {secs})); while [ \"$(date +%s)\" -lt \"$end\" ]; do \
         rm -rf ~/.aws/cli/cache; \
         if faketime -f -890 aws sts get-caller-identity --profile p >/dev/null 2>>~/.aws/loop.err; \
         then echo ok; else echo fail; fi; sleep 2; done"
    )
}

fn spawn_loop(user: &str, secs: u64) -> Child {
    let mut cmd = server().ssh(user, [host_loop(secs)]);
    cmd.stdout(Stdio::piped()).stderr(Stdio::null());
    cmd.spawn().expect("start the host's loop")
}

fn finish(mut child: Child, limit: Duration) -> String {
    let deadline = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the host's loop did not end");
        }
        thread::sleep(Duration::from_millis(200));
    }
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    out
}

#[test]
fn two_hosts_stay_fresh_across_four_token_lifetimes() {
    let a = user("ssso-sh");
    let b = user("ssso-ksh");
    let local = Local::new(&sso_config("p", "s"));
    let tok = unique_token("lifetimes");
    register_token(&tok);
    local.write_token(&cache_key("s"), &tok, LIFETIME);
    local.backdate_token(&cache_key("s"), 3600);
    let family = format!("fake-refresh-{tok}");
    portal().register_refresh(&family, LIFETIME);
    let port = server().port;
    let cfg = hosts_config(&local, &[("la", port, a.name()), ("lb", port, b.name())]);

    let log = local.scratch().join("keep.err");
    let mut keep = local.ssso();
    keep.env("AWS_ENDPOINT_URL_SSO_OIDC", portal().sso_url())
        .env("SSSO_TEST_SCHEDULE", "20 5 5 10")
        .args([
            "sync",
            "--keep",
            "--with-refresh-token",
            "--profile",
            "p",
            "-v",
        ])
        .args(["--min-valid", "5s", "-F"])
        .arg(&cfg)
        .args(["la", "lb"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    let mut keep = keep.spawn().expect("start ssso sync --keep");
    let stderr = || std::fs::read_to_string(&log).unwrap_or_default();

    let deadline = Instant::now() + Duration::from_secs(30);
    while access(a.token(&cache_key("s"))).is_empty() || access(b.token(&cache_key("s"))).is_empty()
    {
        assert!(Instant::now() < deadline, "hosts not synced\n{}", stderr());
        thread::sleep(Duration::from_millis(200));
    }
    let loops = [
        spawn_loop(a.name(), RUN.as_secs()),
        spawn_loop(b.name(), RUN.as_secs()),
    ];
    let outs: Vec<String> = loops
        .into_iter()
        .map(|c| finish(c, RUN + Duration::from_secs(60)))
        .collect();

    // SAFETY: a plain kill(2) of the child this test started.
    unsafe { libc::kill(keep.id() as i32, libc::SIGINT) };
    let status = keep.wait().unwrap();
    let calls: usize = outs.iter().map(|o| o.lines().count()).sum();
    let failures: usize = outs
        .iter()
        .map(|o| o.lines().filter(|l| *l != "ok").count())
        .sum();
    let refreshes = portal().refreshes_by(&family, "ssso").len();
    let host_refreshes = portal().refreshes_by(&family, "host").len();
    let reuses = portal().reuses(&family).len();
    let expired = portal()
        .expired_uses()
        .iter()
        .filter(|t| portal().refreshes(&family).contains(t))
        .count();
    eprintln!(
        "lifetimes: {calls} calls on 2 hosts over {}s of {LIFETIME}s tokens: {failures} failures, \
         {refreshes} refreshes by ssso, {host_refreshes} by the hosts, {reuses} reuses, \
         {expired} expired tokens presented",
        RUN.as_secs()
    );
    let errors = [a.read(".aws/loop.err"), b.read(".aws/loop.err")]
        .map(|e| String::from_utf8_lossy(&e.unwrap_or_default()).into_owned());
    assert_eq!(status.code(), Some(0), "{}", stderr());
    assert!(calls >= 40, "{outs:?}");
    assert_eq!(failures, 0, "{outs:?}\n{errors:?}\n{}", stderr());
    assert_eq!(reuses, 0, "{}", stderr());
    assert_eq!(host_refreshes, 0, "{}", stderr());
    assert_eq!(expired, 0, "{}", stderr());
    assert!(
        refreshes as u64 >= RUN.as_secs() / LIFETIME as u64,
        "{refreshes} refreshes\n{}",
        stderr()
    );
    assert_eq!(processes_of(local.scratch()), Vec::<i32>::new());
}
