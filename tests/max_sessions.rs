//! A server that allows one session per connection (`MaxSessions 1`, common in hardened
//! configurations): the session holds the only slot, so the sync's channel over the same
//! connection is refused. ssso falls back to a second connection for the sync (BatchMode: it
//! never asks for anything twice), the session is released as soon as the token is there, and
//! the token is delivered. This test runs its own sshd (the harness's configuration with
//! `MaxSessions 1`, on another port).

mod common;

use std::fs;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const PROFILE: &str = "dev";
const SESSION: &str = "corp";

/// The harness's sshd, copied with `MaxSessions 1` on a port of its own; killed on drop.
struct OneSessionServer {
    child: Child,
    ssh_config: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl OneSessionServer {
    fn start() -> OneSessionServer {
        let srv = server();
        let dir = tempfile::tempdir().unwrap();
        let old = srv.port.to_string();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
            .to_string();
        let sshd = fs::read_to_string(srv.dir().join("sshd_config")).unwrap();
        assert!(sshd.contains("MaxSessions 50"), "{sshd}");
        let sshd = sshd
            .replace(&format!("127.0.0.1:{old}"), &format!("127.0.0.1:{port}"))
            .replace("MaxSessions 50", "MaxSessions 1");
        let sshd_config = dir.path().join("sshd_config");
        fs::write(&sshd_config, sshd).unwrap();
        let kh = fs::read_to_string(srv.known_hosts())
            .unwrap()
            .replace(&format!("]:{old} "), &format!("]:{port} "));
        let known_hosts = dir.path().join("known_hosts");
        fs::write(&known_hosts, kh).unwrap();
        let cfg = fs::read_to_string(srv.ssh_config())
            .unwrap()
            .replace(&format!("Port {old}\n"), &format!("Port {port}\n"))
            .replace(
                &srv.known_hosts().display().to_string(),
                &known_hosts.display().to_string(),
            );
        let ssh_config = dir.path().join("ssh_config");
        fs::write(&ssh_config, cfg).unwrap();
        let child = Command::new("/usr/sbin/sshd")
            .arg("-D")
            .arg("-e")
            .arg("-f")
            .arg(&sshd_config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(dir.path().join("sshd.log")).unwrap())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(format!("127.0.0.1:{port}")).is_err() {
            assert!(
                Instant::now() < deadline,
                "the MaxSessions 1 sshd did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        OneSessionServer {
            child,
            ssh_config,
            _dir: dir,
        }
    }
}

impl Drop for OneSessionServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn max_sessions_1_falls_back_to_a_second_connection() {
    let u = user("ssso-sh");
    let srv = OneSessionServer::start();
    let local = Local::new(&sso_config(PROFILE, SESSION));
    let token = unique_token("maxsessions");
    local.write_token(&cache_key(SESSION), &token, 3600);
    local.register_token(&token);
    let ours = fs::read(local.token_path(&cache_key(SESSION))).unwrap();
    let mut cmd = local.ssso();
    cmd.arg("-F").arg(&srv.ssh_config).args([
        "--profile",
        PROFILE,
        &format!("{}@{HOST_ALIAS}", u.name()),
        // The token is in place when the command starts.
        &format!("cat .aws/sso/cache/{}.json", cache_key(SESSION)),
    ]);
    let started = Instant::now();
    let out = run(&mut cmd, CMD_TIMEOUT);
    let took = started.elapsed();
    assert_success(&out, "MaxSessions 1");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("could not sync"), "{err}");
    assert_eq!(out.stdout, ours, "{err}");
    assert_eq!(u.read(&token_rel_path(&cache_key(SESSION))).unwrap(), ours);
    // Not a speed figure (bench/sync.sh has those): the 20 s wait of old is gone.
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

/// While the session holds the only slot, a new local token (`aws sso login` on the laptop, or
/// ssso's own refresh) is still pushed within seconds, over a second connection of its own.
#[test]
fn max_sessions_1_a_held_session_still_gets_new_tokens() {
    let u = user("ssso-sh");
    let srv = OneSessionServer::start();
    let local = Local::new(&sso_config(PROFILE, SESSION));
    let first = unique_token("maxheld1");
    local.write_token(&cache_key(SESSION), &first, 3600);
    local.register_token(&first);
    let path = format!(".aws/sso/cache/{}.json", cache_key(SESSION));
    let mut cmd = local.ssso();
    cmd.arg("-F").arg(&srv.ssh_config).args([
        "--profile",
        PROFILE,
        &format!("{}@{HOST_ALIAS}", u.name()),
        &format!("cat {path}; echo; sleep 12; cat {path}"),
    ]);
    let session = std::thread::spawn(move || run(&mut cmd, CMD_TIMEOUT));
    // The session is running with the first token; then the laptop gets a new one.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !u
        .read(&token_rel_path(&cache_key(SESSION)))
        .is_some_and(|b| String::from_utf8_lossy(&b).contains(&first))
    {
        assert!(Instant::now() < deadline, "the first token never arrived");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(2));
    let second = unique_token("maxheld2");
    local.register_token(&second);
    local.write_token(&cache_key(SESSION), &second, 7200);
    let out = session.join().unwrap();
    assert_success(&out, "MaxSessions 1, held session");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    let (before, after) = stdout.split_once('\n').unwrap();
    assert!(before.contains(&first), "{stdout}\n{err}");
    assert!(after.contains(&second), "not pushed:\n{stdout}\n{err}");
    assert!(!err.contains("could not push"), "{err}");
}
