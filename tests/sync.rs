//! The sync's guarantees end to end, against the harness's sshd (its own, in this test binary)
//! with the real `aws` CLI v1 on the remote: the newest token wins in both directions and equal
//! tokens write nothing; `--access-token-only`; the token on no command line on either side
//! (every execve recorded with strace); 20 concurrent syncs and a botocore-like writer; a
//! connection cut, a stall, a full disk and a read-only `~/.aws` in the middle of a sync; a
//! remote whose startup files print, whose `sh` is missing, or that answers slowly.

mod common;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;

const PROFILE: &str = "dev";
const SESSION: &str = "corp";

fn key() -> String {
    cache_key(SESSION)
}

/// A local side whose token (registered with the portal) expires in `expires_in` seconds.
fn local_with(label: &str, expires_in: i64) -> (Local, String) {
    let local = Local::new(&sso_config(PROFILE, SESSION));
    let token = unique_token(label);
    local.write_token(&key(), &token, expires_in);
    local.register_token(&token);
    (local, token)
}

fn err(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// (inode, mtime in ns) of a file: equal before and after means it was not written.
fn stamp(path: &std::path::Path) -> (u64, i64) {
    let m = fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (m.ino(), m.mtime() * 1_000_000_000 + m.mtime_nsec())
}

/// ssso's own files left in the user's `~/.aws` and cache: temporary files, locks, markers.
fn leftovers(user: &str) -> Vec<String> {
    let mut v = Vec::new();
    for dir in [".aws", ".aws/sso/cache"] {
        if let Ok(rd) = fs::read_dir(home(user).join(dir)) {
            v.extend(
                rd.map(|e| e.unwrap().file_name().into_string().unwrap())
                    .filter(|n| n.starts_with(".ssso")),
            );
        }
    }
    v
}

/// Waits (bounded) until no process of `user` runs on this machine (zombies aside); panics
/// with the list.
fn assert_no_remote_processes(user: &str, within: Duration) {
    let (uid, _, _) = passwd(user).unwrap();
    let deadline = Instant::now() + within;
    loop {
        let mut procs = Vec::new();
        for e in fs::read_dir("/proc").unwrap().flatten() {
            if e.file_name().to_string_lossy().parse::<u32>().is_err() {
                continue;
            }
            // Zombies (state Z) have finished running; their parent reaps them.
            let stat = fs::read_to_string(e.path().join("stat")).unwrap_or_default();
            let zombie = stat
                .rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'));
            if let Ok(m) = fs::metadata(e.path())
                && m.uid() == uid
                && !zombie
            {
                let cmd = fs::read(e.path().join("cmdline")).unwrap_or_default();
                procs.push(String::from_utf8_lossy(&cmd).replace('\0', " "));
            }
        }
        if procs.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "processes of {user} still running: {procs:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn proxy_ok(out: &Output, what: &str) {
    assert!(
        out.stdout.starts_with(b"SSH-2.0-"),
        "{what}: no SSH banner on stdout\n{}",
        err(out)
    );
}

/// Local newer → remote replaced (and used there); equal → nothing written on either side;
/// remote newer → kept there and copied back, also through `ssso proxy`.
#[test]
fn newest_wins_both_ways_and_equal_tokens_write_nothing() {
    let u = user("ssso-zsh");
    let old = unique_token("remote-old");
    register_token(&old);
    u.install(&sso_config(PROFILE, SESSION), &key(), &old, 1800);
    let (local, new) = local_with("local-newer", 7200);

    let out = run(
        &mut local.ssso_to(
            &["--profile", PROFILE],
            u.name(),
            &["aws sts get-caller-identity --output json"],
        ),
        CMD_TIMEOUT,
    );
    caller_identity_check(&out, &new);
    assert_token_unused(&old);
    let local_bytes = fs::read(local.token_path(&key())).unwrap();
    assert_eq!(u.read(&token_rel_path(&key())).unwrap(), local_bytes);

    // Equal: not a byte written anywhere (same inode, same mtime), and -v says so.
    let remote_tok = u.home().join(token_rel_path(&key()));
    let remote_cfg = u.home().join(".aws/config");
    let before = (
        stamp(&remote_tok),
        stamp(&remote_cfg),
        stamp(&local.token_path(&key())),
    );
    std::thread::sleep(Duration::from_millis(20));
    let out = run(
        &mut local.ssso_to(&["--profile", PROFILE, "-v"], u.name(), &["true"]),
        CMD_TIMEOUT,
    );
    assert_success(&out, "equal tokens");
    assert!(err(&out).contains("already current"), "{}", err(&out));
    let after = (
        stamp(&remote_tok),
        stamp(&remote_cfg),
        stamp(&local.token_path(&key())),
    );
    assert_eq!(before, after, "equal tokens: something was rewritten");
    assert!(leftovers(u.name()).is_empty(), "{:?}", leftovers(u.name()));

    // Remote newer, through ProxyCommand mode: kept there, copied back here.
    let newer = unique_token("remote-newer");
    register_token(&newer);
    let newer_json = token_json(&newer, 10_800);
    u.write(&token_rel_path(&key()), newer_json.as_bytes(), 0o600);
    let out = run(
        &mut local.ssso_proxy(&["--profile", PROFILE], u.name()),
        CMD_TIMEOUT,
    );
    proxy_ok(&out, "proxy with a newer remote token");
    assert_eq!(
        fs::read(local.token_path(&key())).unwrap(),
        newer_json.as_bytes(),
        "the newer remote token was not copied back by ssso proxy: {}",
        err(&out)
    );
    assert_eq!(
        u.read(&token_rel_path(&key())).unwrap(),
        newer_json.as_bytes()
    );
    caller_identity_check(&remote_caller_identity(u.name(), PROFILE), &newer);
    assert!(leftovers(u.name()).is_empty(), "{:?}", leftovers(u.name()));
}

/// `--access-token-only`: the remote gets no refresh secrets and still works; a stripped
/// remote copy that expires later is never written over the refreshable local token.
#[test]
fn access_token_only_sends_no_refresh_secrets_and_never_comes_back() {
    let u = user("ssso-tcsh");
    let (local, token) = local_with("ato", 3600);
    let local_path = local.token_path(&key());
    let out = run(
        &mut local.ssso_to(
            &["--profile", PROFILE, "--access-token-only"],
            u.name(),
            &["aws sts get-caller-identity --output json"],
        ),
        CMD_TIMEOUT,
    );
    caller_identity_check(&out, &token);
    let remote = u.token(&key()).unwrap();
    assert!(remote.get("refreshToken").is_none(), "{remote}");
    assert!(remote.get("clientSecret").is_none(), "{remote}");
    assert_eq!(remote["accessToken"], token.as_str());
    assert_eq!(remote["clientId"], "fake-client-id");
    assert_eq!(u.mode(&token_rel_path(&key())), Some(0o600));

    // A stripped remote copy that expires later: kept there, not written here.
    let later = unique_token("ato-later");
    register_token(&later);
    let mut stripped: serde_json::Value = serde_json::from_str(&token_json(&later, 7200)).unwrap();
    stripped.as_object_mut().unwrap().remove("refreshToken");
    stripped.as_object_mut().unwrap().remove("clientSecret");
    u.write(
        &token_rel_path(&key()),
        stripped.to_string().as_bytes(),
        0o600,
    );
    let before = (stamp(&local_path), fs::read(&local_path).unwrap());
    let out = run(
        &mut local.ssso_to(&["--profile", PROFILE], u.name(), &["true"]),
        CMD_TIMEOUT,
    );
    assert_success(&out, "default mode over a stripped, later remote copy");
    assert_eq!((stamp(&local_path), fs::read(&local_path).unwrap()), before);
    assert_eq!(u.token(&key()).unwrap()["accessToken"], later.as_str());
}

/// Every command line run on either side, recorded with strace (`execve`, with the
/// environment), while ssso syncs through the connect path (a write, `-v`, an unchanged
/// sync, `--access-token-only`) and through `ssso proxy`: no secret of the token is in any.
#[test]
fn the_token_is_on_no_command_line_on_either_side() {
    let srv = server();
    let u = user("ssso-sh");
    let (local, token) = local_with("SECRET-ACCESS", 3600);
    let secrets = [
        token.clone(),
        format!("fake-refresh-{token}"),
        "fake-client-secret".to_owned(),
    ];
    let logs = local.scratch().join("strace");
    fs::create_dir_all(&logs).unwrap();
    let remote_log = logs.join("remote");
    let mut tracer = Command::new("strace")
        .args([
            "-f",
            "-qq",
            "-v",
            "-s",
            "1000000",
            "-e",
            "trace=execve",
            "-o",
        ])
        .arg(&remote_log)
        .args(["-p", &srv.sshd_pid().to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("strace (apt-get install strace; setup.sh does)");
    std::thread::sleep(Duration::from_millis(700));

    let traced = |args: &[&str], name: &str| {
        let mut cmd = local.command("strace");
        // -D: ssso stays this process's child, and the tracer follows `ssso proxy`'s
        // background sync master without holding up the test; the output goes to files,
        // since the tracer keeps ssso's stdout and stderr open as long as it runs.
        cmd.args([
            "-D",
            "-f",
            "-qq",
            "-v",
            "-s",
            "1000000",
            "-e",
            "trace=execve",
            "-o",
        ])
        .arg(logs.join(name))
        .arg(ssso_bin())
        .args(args);
        let (out_path, err_path) = (
            logs.join(format!("{name}.out")),
            logs.join(format!("{name}.err")),
        );
        cmd.stdout(fs::File::create(&out_path).unwrap())
            .stderr(fs::File::create(&err_path).unwrap());
        let mut child = cmd.spawn().unwrap();
        let deadline = Instant::now() + CMD_TIMEOUT;
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            assert!(Instant::now() < deadline, "{name}: timed out");
            std::thread::sleep(Duration::from_millis(20));
        };
        Output {
            status,
            stdout: fs::read(out_path).unwrap(),
            stderr: fs::read(err_path).unwrap(),
        }
    };
    let dest = srv.dest(u.name());
    let cfg = srv.ssh_config().to_str().unwrap();
    let port = srv.port.to_string();
    let mut stderrs = String::new();
    for (name, args) in [
        (
            "write",
            vec!["-v", "--profile", PROFILE, "-F", cfg, &dest, "true"],
        ),
        (
            "same",
            vec!["-v", "--profile", PROFILE, "-F", cfg, &dest, "true"],
        ),
        (
            "ato",
            vec![
                "-v",
                "--access-token-only",
                "--profile",
                PROFILE,
                "-F",
                cfg,
                &dest,
                "true",
            ],
        ),
        (
            "proxy",
            vec![
                "proxy",
                "--verbose",
                "--profile",
                PROFILE,
                "-F",
                cfg,
                "--user",
                u.name(),
                "--alias",
                HOST_ALIAS,
                "127.0.0.1",
                &port,
            ],
        ),
    ] {
        let out = traced(&args, name);
        if name == "proxy" {
            proxy_ok(&out, name);
        } else {
            assert_success(&out, name);
        }
        stderrs.push_str(&err(&out));
    }
    caller_identity_check(&remote_caller_identity(u.name(), PROFILE), &token);
    std::thread::sleep(Duration::from_millis(300));
    unsafe { libc::kill(tracer.id() as i32, libc::SIGINT) };
    let _ = tracer.wait();

    // The recordings saw what they should: ssh locally, the sync script and its `mv` remotely.
    let remote = fs::read_to_string(&remote_log).unwrap();
    assert!(remote.contains("exec sh -c"), "no remote command recorded");
    assert!(
        remote.contains("[\"mv\", \"-f\""),
        "the remote write was not recorded"
    );
    let mut local_all = String::new();
    for name in ["write", "same", "ato", "proxy"] {
        let l = fs::read_to_string(logs.join(name)).unwrap();
        assert!(
            l.contains("execve(\"/usr/bin/ssh\""),
            "{name}: no ssh recorded"
        );
        local_all.push_str(&l);
    }
    for s in &secrets {
        assert!(!remote.contains(s.as_str()), "{s} on a remote command line");
        assert!(
            !local_all.contains(s.as_str()),
            "{s} on a local command line"
        );
        assert!(!stderrs.contains(s.as_str()), "{s} in ssso's messages");
    }
    // -v says what is sent, redacted.
    assert!(stderrs.contains("syncing ~/.aws/sso/cache/"), "{stderrs}");
    assert!(stderrs.contains("<redacted"), "{stderrs}");
}

/// 20 syncs at once with 20 different tokens: the one that expires last wins, the config has
/// each section once, nothing is left behind. Then again with a botocore-like writer
/// replacing the token file all the while: a whole token and a valid config at the end.
#[test]
fn twenty_concurrent_syncs_and_a_botocore_writer() {
    let u = user("ssso-ksh");
    let name = u.name();
    let head = "# keep\n[default]\nregion = eu-west-1\n";
    u.write(".aws/config", head.as_bytes(), 0o600);
    let round = |base: i64| -> Vec<(Local, String)> {
        let locals: Vec<(Local, String)> = (0..20)
            .map(|i| local_with(&format!("conc{i}"), base + i * 60))
            .collect();
        std::thread::scope(|s| {
            let handles: Vec<_> = locals
                .iter()
                .map(|(l, _)| {
                    s.spawn(move || {
                        run(
                            &mut l.ssso_to(&["--profile", PROFILE], name, &["true"]),
                            CMD_TIMEOUT,
                        )
                    })
                })
                .collect();
            for h in handles {
                let out = h.join().unwrap();
                assert_success(&out, "concurrent sync");
                assert!(!err(&out).contains("could not sync"), "{}", err(&out));
            }
        });
        locals
    };
    let check_config = || {
        let cfg = String::from_utf8(u.read(".aws/config").unwrap()).unwrap();
        assert!(cfg.starts_with(head), "{cfg}");
        assert_eq!(cfg.matches("[profile dev]").count(), 1, "{cfg}");
        assert_eq!(cfg.matches("[sso-session corp]").count(), 1, "{cfg}");
    };

    let locals = round(3600);
    let last = &locals[19];
    assert_eq!(
        u.read(&token_rel_path(&key())).unwrap(),
        fs::read(last.0.token_path(&key())).unwrap(),
        "the token that expires last did not win"
    );
    check_config();
    assert!(leftovers(name).is_empty(), "{:?}", leftovers(name));
    caller_identity_check(&remote_caller_identity(name, PROFILE), &last.1);

    // A writer like botocore's (temporary file + rename) at the same time.
    let stop = std::sync::atomic::AtomicBool::new(false);
    let written = std::sync::Mutex::new(Vec::new());
    let locals = std::thread::scope(|s| {
        s.spawn(|| {
            let (uid, gid, home) = passwd(name).unwrap();
            let dir = home.join(".aws/sso/cache");
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let t = unique_token("botocore");
                let tmp = dir.join(format!("tmp{n}"));
                fs::write(&tmp, token_json(&t, 9000 + n)).unwrap();
                std::os::unix::fs::chown(&tmp, Some(uid), Some(gid)).unwrap();
                fs::rename(&tmp, dir.join(format!("{}.json", key()))).unwrap();
                written.lock().unwrap().push(t);
                n += 1;
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        // Stops the writer however the round ends (a failed assertion would otherwise leave
        // the scope waiting for the writer forever).
        struct Stop<'a>(&'a std::sync::atomic::AtomicBool);
        impl Drop for Stop<'_> {
            fn drop(&mut self) {
                self.0.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        }
        let _stop = Stop(&stop);
        round(5000)
    });
    let final_tok = u.token(&key()).expect("a token file");
    let at = final_tok["accessToken"].as_str().unwrap().to_owned();
    let known = written.lock().unwrap().contains(&at) || locals.iter().any(|(_, t)| *t == at);
    assert!(known, "unknown token {at} at the end");
    assert!(final_tok["expiresAt"].is_string() && final_tok["startUrl"] == START_URL);
    check_config();
    assert!(leftovers(name).is_empty(), "{:?}", leftovers(name));
}

/// The token as it is on the remote, and the two versions it may be.
fn assert_old_or_new(user: &str, old: &[u8], new: &[u8], what: &str) {
    let now = remote_read(user, &token_rel_path(&key())).unwrap();
    assert!(
        now == old || now == new,
        "{what}: the remote token is neither the old nor the new one: {}",
        String::from_utf8_lossy(&now)
    );
}

/// Waits until `~USER/.aws/sso/cache` holds a file starting with `prefix` (bounded).
fn wait_for_remote_file(user: &str, prefix: &str) {
    let dir = home(user).join(".aws/sso/cache");
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(rd) = fs::read_dir(&dir)
            && rd
                .flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with(prefix))
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{prefix}* never appeared in ~{user}/.aws/sso/cache");
}

/// Cut the connection with the new token in its temporary file (killing the local ssh, or
/// the user's sshd process), or let ssso give up on a stalled remote: the remote token is the
/// old or the new one, nothing is left behind, no process of the user stays, and ssso says
/// what happened; the session still runs when only the sync failed; `ssso proxy` connects.
#[test]
fn faults_in_the_middle_of_a_sync() {
    // A user no other test binary touches: "no process of the user is left" must hold.
    let u = user(FULL_USER);
    let name = u.name();
    for victim in ["local ssh", "remote sshd"] {
        let old = unique_token("fault-old");
        u.install(&sso_config(PROFILE, SESSION), &key(), &old, 1800);
        let old_bytes = u.read(&token_rel_path(&key())).unwrap();
        let (local, _) = local_with("fault-new", 7200);
        let new_bytes = fs::read(local.token_path(&key())).unwrap();
        let mut cmd = local.ssso_to(&["--profile", PROFILE], name, &["sleep 3"]);
        cmd.env("SSSO_TEST_SYNC_STALL", "token:2")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let child = cmd.spawn().unwrap();
        wait_for_remote_file(name, ".ssso-tok.");
        if victim == "local ssh" {
            let ssh = children_of(child.id() as i32);
            assert_eq!(ssh.len(), 1, "{ssh:?}");
            unsafe { libc::kill(ssh[0], libc::SIGKILL) };
        } else {
            let (uid, _, _) = passwd(name).unwrap();
            for e in fs::read_dir("/proc").unwrap().flatten() {
                let comm = fs::read_to_string(e.path().join("comm")).unwrap_or_default();
                if comm.trim() == "sshd"
                    && fs::metadata(e.path()).is_ok_and(|m| m.uid() == uid)
                    && let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>()
                {
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
        }
        let out = child.wait_with_output().unwrap();
        assert_ne!(out.status.code(), Some(0), "{victim}");
        assert!(
            err(&out).contains("could not sync the AWS token"),
            "{victim}: {}",
            err(&out)
        );
        assert_no_remote_processes(name, Duration::from_secs(40));
        assert_old_or_new(name, &old_bytes, &new_bytes, victim);
        assert!(
            leftovers(name).is_empty(),
            "{victim}: {:?}",
            leftovers(name)
        );
    }

    // A remote that stalls past the time limit: a warning, and the session goes on.
    let old = unique_token("stall-old");
    u.install(&sso_config(PROFILE, SESSION), &key(), &old, 1800);
    let old_bytes = u.read(&token_rel_path(&key())).unwrap();
    let (local, _) = local_with("stall-new", 7200);
    let new_bytes = fs::read(local.token_path(&key())).unwrap();
    let out = run(
        local
            .ssso_to(&["--profile", PROFILE], name, &["echo still-here"])
            .env("SSSO_TEST_SYNC_STALL", "read:3")
            .env("SSSO_TEST_SYNC_TIMEOUT", "1"),
        CMD_TIMEOUT,
    );
    assert_success(&out, "stalled sync");
    assert_eq!(out.stdout, b"still-here\n");
    assert!(
        err(&out).contains("did not answer within 1s"),
        "{}",
        err(&out)
    );
    assert_no_remote_processes(name, Duration::from_secs(20));
    assert_old_or_new(name, &old_bytes, &new_bytes, "stall");
    assert!(leftovers(name).is_empty(), "{:?}", leftovers(name));

    // The same through ssso proxy: a warning, and it connects.
    let (local, _) = local_with("stall-proxy", 9000);
    let out = run(
        local
            .ssso_proxy(&["--profile", PROFILE], name)
            .env("SSSO_TEST_SYNC_STALL", "read:3")
            .env("SSSO_TEST_SYNC_TIMEOUT", "1"),
        CMD_TIMEOUT,
    );
    proxy_ok(&out, "stalled proxy sync");
    assert!(
        err(&out).contains("did not answer within 1s"),
        "{}",
        err(&out)
    );
}

/// A full disk, then a read-only file system, under `~/.aws`: the old token and config stay
/// whole, nothing is left behind, the message says why, and the session runs.
#[test]
fn full_disk_and_read_only_aws_directory() {
    let u = user(FULL_USER);
    let tiny = TinyAws::mount(256);
    let old = unique_token("full-old");
    let cfg_before = format!(
        "[default]\nregion = x\n\n{}",
        sso_config("other", "elsewhere")
    );
    u.write(".aws/config", cfg_before.as_bytes(), 0o600);
    u.write(
        &token_rel_path(&key()),
        token_json(&old, 1800).as_bytes(),
        0o600,
    );
    let old_bytes = u.read(&token_rel_path(&key())).unwrap();
    tiny.fill();
    let (local, _) = local_with("full-new", 7200);
    for (what, needle) in [("full disk", "disk full"), ("read-only", "Read-only")] {
        if what == "read-only" {
            tiny.read_only();
        }
        let started = Instant::now();
        let out = run(
            &mut local.ssso_to(&["--profile", PROFILE], u.name(), &["echo still-here"]),
            CMD_TIMEOUT,
        );
        assert_success(&out, what);
        assert_eq!(out.stdout, b"still-here\n", "{what}");
        let e = err(&out);
        assert!(
            e.contains("could not sync") && e.contains(needle),
            "{what}: {e}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{what}: the session waited"
        );
        assert_eq!(
            u.read(&token_rel_path(&key())).unwrap(),
            old_bytes,
            "{what}"
        );
        assert_eq!(
            u.read(".aws/config").unwrap(),
            cfg_before.as_bytes(),
            "{what}"
        );
        assert!(
            leftovers(u.name()).is_empty(),
            "{what}: {:?}",
            leftovers(u.name())
        );
    }
    drop(tiny);
}

/// A remote whose `.cshrc` prints (with no final newline) is synced as any other; one whose
/// `sh` cannot be found, or that answers too slowly, gets a clear warning, and `ssso proxy`
/// still connects.
#[test]
fn noisy_missing_sh_and_slow_remotes() {
    let u = user(NOISY_USER);
    let (local, token) = local_with("noisy", 3600);
    let out = run(
        &mut local.ssso_to(
            &["--profile", PROFILE],
            u.name(),
            &["aws sts get-caller-identity --output json"],
        ),
        CMD_TIMEOUT,
    );
    caller_identity_check(&out, &token);
    assert!(!err(&out).contains("could not sync"), "{}", err(&out));
    let out = run(
        &mut local.ssso_to(&["--profile", PROFILE, "-v"], u.name(), &["true"]),
        CMD_TIMEOUT,
    );
    assert!(err(&out).contains("already current"), "{}", err(&out));

    u.write(".aws/.test-nosh", b"", 0o644);
    let out = run(
        &mut local.ssso_proxy(&["--profile", PROFILE], u.name()),
        CMD_TIMEOUT,
    );
    proxy_ok(&out, "no sh");
    assert!(
        err(&out).contains("could not sync") && err(&out).contains("/bin/sh"),
        "{}",
        err(&out)
    );
    fs::remove_file(u.home().join(".aws/.test-nosh")).unwrap();

    u.write(".aws/.test-slow", b"3\n", 0o644);
    let (local, _) = local_with("slow", 7200);
    let out = run(
        local
            .ssso_proxy(&["--profile", PROFILE], u.name())
            .env("SSSO_TEST_SYNC_TIMEOUT", "1"),
        CMD_TIMEOUT,
    );
    proxy_ok(&out, "slow remote");
    assert!(
        err(&out).contains("did not answer within 1s"),
        "{}",
        err(&out)
    );
    fs::remove_file(u.home().join(".aws/.test-slow")).unwrap();
}
