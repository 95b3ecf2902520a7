//! `ssso sync --keep`: the one refresher for a fleet. Two hosts (one behind a TCP relay the
//! test can cut and restore), refresh tokens that rotate and are refused when reused, and a
//! compressed schedule (`SSSO_TEST_SCHEDULE`: a refreshed token is due again after 4 s) so
//! that several refreshes happen within the test; the hosts' own botocore may refresh too,
//! and never has to.

mod common;

use std::io::Read as _;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::*;

/// A TCP relay on 127.0.0.1 to the test sshd: a host that can go away and come back.
struct Relay {
    port: u16,
    stop: Arc<AtomicBool>,
    streams: Arc<Mutex<Vec<TcpStream>>>,
    accept: Option<thread::JoinHandle<()>>,
}

impl Relay {
    /// Listens on `port` (0: any free one) and relays every connection to sshd.
    fn start(port: u16) -> Relay {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind the relay");
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let streams: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (s, st) = (stop.clone(), streams.clone());
        let to = server().port;
        let accept = thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((a, _)) => {
                        a.set_nonblocking(false).unwrap();
                        let Ok(b) = TcpStream::connect(("127.0.0.1", to)) else {
                            continue;
                        };
                        let mut list = st.lock().unwrap();
                        list.push(a.try_clone().unwrap());
                        list.push(b.try_clone().unwrap());
                        for (mut from, mut to) in
                            [(a.try_clone().unwrap(), b.try_clone().unwrap()), (b, a)]
                        {
                            thread::spawn(move || {
                                let _ = std::io::copy(&mut from, &mut to);
                                let _ = to.shutdown(Shutdown::Write);
                            });
                        }
                    }
                    Err(_) => thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Relay {
            port,
            stop,
            streams,
            accept: Some(accept),
        }
    }

    /// Closes the listener and cuts every relayed connection.
    fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.accept.take() {
            t.join().unwrap();
        }
        for s in self.streams.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop();
    }
}

fn wait_until(limit: Duration, what: &str, log: &Path, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "{what} within {limit:?}\n--- ssso's stderr:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        thread::sleep(Duration::from_millis(200));
    }
}

fn access(token: Option<serde_json::Value>) -> String {
    token
        .and_then(|t| t["accessToken"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn wait_exit(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("ssso sync --keep did not end within {limit:?} of SIGINT");
        }
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn keep_refreshes_for_two_hosts_survives_one_going_away_and_ends_on_ctrl_c() {
    let a = user("ssso-bash");
    let b = user("ssso-fish");
    let local = Local::new(&sso_config("p", "s"));
    let tok = unique_token("keep");
    register_token(&tok);
    // 18 minutes 20 s left: due (20m), still beyond the hosts' botocore window (15m).
    local.write_token(&cache_key("s"), &tok, 1100);
    local.backdate_token(&cache_key("s"), 3600);
    let family = format!("fake-refresh-{tok}");
    portal().register_refresh(&family, 1100);
    let mut relay = Relay::start(0);
    let relay_port = relay.port;
    let cfg = hosts_config(
        &local,
        &[
            ("ka", server().port, "ssso-bash"),
            ("kb", relay_port, "ssso-fish"),
        ],
    );

    let log = local.scratch().join("keep.err");
    let mut cmd = local.ssso();
    cmd.env("AWS_ENDPOINT_URL_SSO_OIDC", portal().sso_url())
        .env("SSSO_TEST_SCHEDULE", "1200 4 4 300")
        .args(["sync", "--keep", "--with-refresh-token", "--profile", "p"])
        .args(["--timeout", "3s", "-v", "-F"])
        .arg(&cfg)
        .args(["ka", "kb"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    let mut child = cmd.spawn().expect("start ssso sync --keep");
    let local_access = || access(local.read_token(&cache_key("s")));
    let refreshed = |t: String| t.starts_with("refreshed-");

    // Both hosts get the refreshed tokens, and their aws works.
    wait_until(Duration::from_secs(30), "both hosts synced", &log, || {
        refreshed(access(a.token(&cache_key("s")))) && refreshed(access(b.token(&cache_key("s"))))
    });
    assert_caller_identity(&remote_caller_identity(a.name(), "p"));
    assert_caller_identity(&remote_caller_identity(b.name(), "p"));

    // kb goes away; ka keeps getting every refresh.
    relay.stop();
    let text = || std::fs::read_to_string(&log).unwrap_or_default();
    wait_until(Duration::from_secs(15), "kb reported lost", &log, || {
        text().contains("kb: connection lost")
    });
    let during = portal().refreshes_by(&family, "ssso").len();
    wait_until(Duration::from_secs(20), "refreshes go on", &log, || {
        portal().refreshes_by(&family, "ssso").len() >= during + 2
            && access(a.token(&cache_key("s"))) == local_access()
    });
    assert_ne!(access(b.token(&cache_key("s"))), local_access());

    // kb comes back (same port): reconnected, and it gets the current token.
    let _back = Relay::start(relay_port);
    wait_until(
        Duration::from_secs(40),
        "kb reconnected and synced",
        &log,
        || {
            text().matches("kb: connected").count() >= 2
                && access(b.token(&cache_key("s"))) == local_access()
        },
    );
    assert_caller_identity(&remote_caller_identity(b.name(), "p"));

    // Ctrl-C: exit 0, every connection closed, no process left.
    // SAFETY: a plain kill(2) of the child this test started.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = wait_exit(&mut child, Duration::from_secs(15));
    let mut stderr = String::new();
    std::fs::File::open(&log)
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert_eq!(processes_of(local.scratch()), Vec::<i32>::new(), "{stderr}");

    // One refresher: several refreshes, all ssso's; nothing reused.
    assert!(
        portal().refreshes_by(&family, "ssso").len() >= 4,
        "{stderr}"
    );
    assert_eq!(portal().refreshes_by(&family, "host"), Vec::<String>::new());
    assert_eq!(portal().reuses(&family), Vec::<String>::new(), "{stderr}");
    assert!(local.login_calls().is_empty());
    eprintln!("--- ssso sync --keep's stderr:\n{stderr}");
}

/// A one-shot `ssso sync` sends the access token only by default: hosts that shared one
/// refresh token would spend it for each other (point 4); `--with-refresh-token` sends it.
#[test]
fn one_shot_sync_sends_the_access_token_only_by_default() {
    let a = user("ssso-sh");
    let local = Local::new(&sso_config("p", "s"));
    let tok = unique_token("oneshot");
    register_token(&tok);
    local.write_token(&cache_key("s"), &tok, 3600);
    local
        .test()
        .args(["sync", "--profile", "p", "-F"])
        .arg(server().ssh_config())
        .arg(server().dest(a.name()))
        .run();
    let t = a.token(&cache_key("s")).unwrap();
    assert_eq!(t["accessToken"], tok.as_str());
    assert!(t.get("refreshToken").is_none(), "{t}");
    assert!(t.get("clientSecret").is_none(), "{t}");
    assert_caller_identity(&remote_caller_identity(a.name(), "p"));

    local
        .test()
        .args(["sync", "--with-refresh-token", "--profile", "p", "-F"])
        .arg(server().ssh_config())
        .arg(server().dest(a.name()))
        .run();
    let t = a.token(&cache_key("s")).unwrap();
    assert_eq!(t["refreshToken"], format!("fake-refresh-{tok}").as_str());
}

/// Point 4, measured: a one-shot sync that gives two hosts the same refresh token (as
/// `--with-refresh-token` does) makes two refreshers of one chain: the first host's botocore
/// spends it, the second one's refresh is a reuse (refused), and it fails once its access token
/// expires. The default (access token only) gives the hosts nothing to spend.
#[test]
fn one_refresh_token_on_two_hosts_is_spent_by_the_first() {
    let a = user("ssso-zsh");
    let b = user("ssso-ksh");
    let local = Local::new(&sso_config("p", "s"));
    let sync = |tok: &str, extra: &[&str]| {
        local.write_token(&cache_key("s"), tok, 600);
        local
            .test()
            .args(["sync", "--profile", "p", "--min-valid", "1m"])
            .args(extra)
            .arg("-F")
            .arg(server().ssh_config())
            .arg(server().dest(a.name()))
            .arg(server().dest(b.name()))
            .run();
    };
    // 10 minutes left: within the hosts' botocore window (15m).
    let shared = unique_token("shared");
    register_token(&shared);
    let family = format!("fake-refresh-{shared}");
    portal().register_refresh(&family, 3600);
    sync(&shared, &["--with-refresh-token"]);
    assert_caller_identity(&remote_caller_identity(a.name(), "p"));
    assert_caller_identity(&remote_caller_identity(b.name(), "p"));
    assert_eq!(portal().refreshes_by(&family, "host").len(), 1);
    assert_eq!(
        portal().reuses(&family),
        ["host"],
        "the second host reused it"
    );

    // The default: no refresh token on the hosts, nothing spent, both work.
    let only = unique_token("accessonly");
    register_token(&only);
    let family = format!("fake-refresh-{only}");
    portal().register_refresh(&family, 3600);
    sync(&only, &[]);
    assert_caller_identity(&remote_caller_identity(a.name(), "p"));
    assert_caller_identity(&remote_caller_identity(b.name(), "p"));
    assert_eq!(portal().refreshes(&family), Vec::<String>::new());
    assert_eq!(portal().reuses(&family), Vec::<String>::new());
}
