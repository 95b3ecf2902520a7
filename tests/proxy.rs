//! ProxyCommand mode (`ssso proxy`) and ssso as the ssh program of other tools, against the
//! harness's real sshd on 127.0.0.1: scp, sftp, rsync and git, each followed by the remote
//! `aws sts get-caller-identity` that proves the synced token works; a 100 MiB file through
//! the relay both ways; recursion through `Host *`; a ProxyJump host behind the proxied host;
//! sync failures with and without `--strict`; stdout carrying nothing but the SSH stream.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;

const PROFILE: &str = "px";
const SESSION: &str = "pxsess";

/// A local side with a fresh registered token, the test user locked, and an ssh config whose
/// `Host proxied` (and any `extra` hosts) run `ssso proxy`.
struct Setup {
    local: Local,
    user: UserGuard,
    cfg: PathBuf,
    token: String,
}

/// `proxy_args` is what follows `ssso proxy` in the ProxyCommand (`{cfg}` is replaced by the
/// config file's path).
fn setup(user: &str, proxy_args: &str, extra: &str) -> Setup {
    let srv = server();
    let user = common::user(user);
    let local = Local::new(&sso_config(PROFILE, SESSION));
    let token = unique_token("proxy");
    local.write_token(&cache_key(SESSION), &token, 3600);
    local.register_token(&token);
    let cfg = local.scratch().join("ssh_config");
    let proxy_args = proxy_args.replace("{cfg}", &cfg.display().to_string());
    let text = format!(
        "Host proxied\n\
         \x20   HostName 127.0.0.1\n\
         \x20   Port {port}\n\
         \x20   User {name}\n\
         \x20   SetEnv AWS_PROFILE={PROFILE}\n\
         \x20   ProxyCommand {ssso} proxy {proxy_args}\n\
         {extra}\n\
         Host *\n\
         \x20   IdentityFile {key}\n\
         \x20   IdentitiesOnly yes\n\
         \x20   UserKnownHostsFile {kh}\n\
         \x20   GlobalKnownHostsFile /dev/null\n\
         \x20   StrictHostKeyChecking yes\n\
         \x20   BatchMode yes\n\
         \x20   LogLevel ERROR\n\
         \x20   IdentityAgent none\n\
         \x20   UpdateHostKeys no\n\
         \x20   CheckHostIP no\n\
         \x20   ConnectTimeout 20\n",
        port = srv.port,
        name = user.name(),
        ssso = ssso_bin().display(),
        key = srv.client_key().display(),
        kh = srv.known_hosts().display(),
    );
    fs::write(&cfg, text).unwrap();
    Setup {
        local,
        user,
        cfg,
        token,
    }
}

/// The explicit ProxyCommand arguments.
const EXPLICIT: &str = "-F {cfg} --user %r --alias %n %h %p";

impl Setup {
    fn cmd(&self, program: &str) -> Command {
        self.local.command(program)
    }
    fn cfg(&self) -> &str {
        self.cfg.to_str().unwrap()
    }
    fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.local.scratch().join(name);
        fs::write(&p, bytes).unwrap();
        p
    }
    /// The token is on the remote and `aws sts get-caller-identity` works with it there.
    fn assert_synced(&self) {
        self.assert_synced_for(self.user.name());
    }
    fn assert_synced_for(&self, user: &str) {
        let tok = remote_read(user, &token_rel_path(&cache_key(SESSION)))
            .unwrap_or_else(|| panic!("no token synced to {user}"));
        assert!(String::from_utf8_lossy(&tok).contains(&self.token));
        caller_identity_check(&remote_caller_identity(user, PROFILE), &self.token);
    }
    fn remote_rm(&self, path: &str) {
        let _ = fs::remove_file(self.user.home().join(path));
        let _ = fs::remove_dir_all(self.user.home().join(path));
    }
}

fn ok(out: Output, what: &str) -> Output {
    assert_success(&out, what);
    out
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// "Accepted publickey for USER" lines in the sshd log so far.
fn logins(user: &str) -> usize {
    let needle = format!("Accepted publickey for {user} ");
    server().sshd_log().matches(&needle).count()
}

#[test]
fn scp_over_proxycommand_with_the_issue_config_syncs_first() {
    // Exactly `ProxyCommand ssso proxy %h %p`: alias and -F come from the parent ssh.
    let s = setup("ssso-bash", "%h %p", "");
    s.remote_rm("scp-up.txt");
    let src = s.file("up.txt", b"hello over scp\n");
    ok(
        run(
            s.cmd("scp")
                .args(["-q", "-F", s.cfg()])
                .arg(&src)
                .arg("proxied:scp-up.txt"),
            CMD_TIMEOUT,
        ),
        "scp upload",
    );
    assert_eq!(
        s.user.read("scp-up.txt").as_deref(),
        Some(&b"hello over scp\n"[..])
    );
    s.assert_synced();
    let back = s.local.scratch().join("down.txt");
    ok(
        run(
            s.cmd("scp")
                .args(["-q", "-F", s.cfg(), "proxied:scp-up.txt"])
                .arg(&back),
            CMD_TIMEOUT,
        ),
        "scp download",
    );
    assert_eq!(fs::read(&back).unwrap(), b"hello over scp\n");
}

#[test]
fn sftp_and_rsync_over_proxycommand() {
    let s = setup("ssso-zsh", EXPLICIT, "");
    s.remote_rm("sftp-up.txt");
    s.remote_rm("rsync-dir");
    let src = s.file("a.txt", b"sftp bytes\n");
    let batch = s.file(
        "batch",
        format!("put {} sftp-up.txt\n", src.display()).as_bytes(),
    );
    let out = run(
        s.cmd("sftp")
            .args(["-q", "-F", s.cfg(), "-b"])
            .arg(&batch)
            .arg("proxied"),
        CMD_TIMEOUT,
    );
    ok(out, "sftp");
    assert_eq!(
        s.user.read("sftp-up.txt").as_deref(),
        Some(&b"sftp bytes\n"[..])
    );
    s.assert_synced();

    let dir = s.local.scratch().join("tree");
    fs::create_dir_all(dir.join("sub")).unwrap();
    fs::write(dir.join("sub/f"), b"rsync bytes").unwrap();
    let out = run(
        s.cmd("rsync")
            .args(["-a", "-e", &format!("ssh -F {}", s.cfg())])
            .arg(format!("{}/", dir.display()))
            .arg("proxied:rsync-dir/"),
        CMD_TIMEOUT,
    );
    ok(out, "rsync");
    assert_eq!(
        s.user.read("rsync-dir/sub/f").as_deref(),
        Some(&b"rsync bytes"[..])
    );
    s.assert_synced();
}

/// Makes a bare repository `name` in the test user's home (over plain ssh, as that user).
fn bare_repo(user: &str, name: &str) {
    let _ = fs::remove_dir_all(home(user).join(name));
    ok(
        run(
            &mut server().ssh(user, [format!("git init -q --bare {name}")]),
            CMD_TIMEOUT,
        ),
        "git init --bare",
    );
}

fn git(s: &Setup, ssh_command: &str, dir: &Path, args: &[&str]) -> Output {
    run(
        s.cmd("git")
            .current_dir(dir)
            .env("GIT_SSH_COMMAND", ssh_command)
            .env("SSSO_PROFILE", PROFILE)
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@example.org",
                "-c",
                "init.defaultBranch=main",
            ])
            .args(args),
        CMD_TIMEOUT,
    )
}

fn git_round_trip(s: &Setup, ssh_command: &str, url: &str, user: &str) {
    let work = s.local.scratch().join(format!("w{}", ssh_command.len()));
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(&work).unwrap();
    ok(
        git(s, ssh_command, &work, &["clone", "-q", url, "c"]),
        "git clone",
    );
    let c = work.join("c");
    fs::write(c.join("README"), "pushed through ssso\n").unwrap();
    ok(git(s, ssh_command, &c, &["add", "README"]), "git add");
    ok(
        git(s, ssh_command, &c, &["commit", "-qm", "m"]),
        "git commit",
    );
    ok(
        git(s, ssh_command, &c, &["push", "-q", "origin", "HEAD:main"]),
        "git push",
    );
    let log = run(
        &mut server().ssh(user, ["git --git-dir=repo.git log --format=%s main"]),
        CMD_TIMEOUT,
    );
    assert_eq!(String::from_utf8_lossy(&ok(log, "git log").stdout), "m\n");
}

#[test]
fn git_clone_and_push_over_proxycommand() {
    let s = setup("ssso-fish", EXPLICIT, "");
    bare_repo(s.user.name(), "repo.git");
    git_round_trip(
        &s,
        &format!("ssh -F {}", s.cfg()),
        "proxied:repo.git",
        s.user.name(),
    );
    s.assert_synced();
}

#[test]
fn ssso_as_the_ssh_program_of_scp_sftp_rsync_and_git() {
    let s = setup("ssso-tcsh", EXPLICIT, "");
    let harness_cfg = server().ssh_config().to_str().unwrap();
    let dest = s.user.dest();
    let ssso = ssso_bin().to_str().unwrap();
    s.remote_rm("s1.txt");
    s.remote_rm("s2.txt");
    s.remote_rm("r");

    // scp -S ssso: -x -oRemoteCommand=none -oClearAllForwardings=yes -s ... sftp
    let src = s.file("x.txt", b"via scp -S ssso\n");
    let out = run(
        s.cmd("scp")
            .env("SSSO_PROFILE", PROFILE)
            .args(["-q", "-S", ssso, "-F", harness_cfg])
            .arg(&src)
            .arg(format!("{dest}:s1.txt")),
        CMD_TIMEOUT,
    );
    ok(out, "scp -S ssso");
    assert_eq!(
        s.user.read("s1.txt").as_deref(),
        Some(&b"via scp -S ssso\n"[..])
    );
    s.assert_synced();

    // sftp -S ssso
    let batch = s.file(
        "b",
        format!("put {} s2.txt\nls s2.txt\n", src.display()).as_bytes(),
    );
    let out = run(
        s.cmd("sftp")
            .env("SSSO_PROFILE", PROFILE)
            .args(["-q", "-S", ssso, "-F", harness_cfg, "-b"])
            .arg(&batch)
            .arg(&dest),
        CMD_TIMEOUT,
    );
    let out = ok(out, "sftp -S ssso");
    assert!(String::from_utf8_lossy(&out.stdout).contains("s2.txt"));
    assert!(s.user.read("s2.txt").is_some());

    // rsync -e ssso, both ways; compare with rsync -e ssh byte for byte.
    let out = run(
        s.cmd("rsync")
            .env("SSSO_PROFILE", PROFILE)
            .args(["-a", "-e", &format!("{ssso} -F {harness_cfg}")])
            .arg(&src)
            .arg(format!("{dest}:r/")),
        CMD_TIMEOUT,
    );
    ok(out, "rsync -e ssso");
    assert!(s.user.read("r/x.txt").is_some());
    let list = |program: &str| {
        let out = run(
            s.cmd("rsync")
                .env("SSSO_PROFILE", PROFILE)
                .args([
                    "-r",
                    "--list-only",
                    "-e",
                    &format!("{program} -F {harness_cfg}"),
                ])
                .arg(format!("{dest}:r/")),
            CMD_TIMEOUT,
        );
        let out = ok(out, "rsync --list-only");
        (out.status.code(), out.stdout)
    };
    assert_eq!(list(ssso), list("ssh"));

    // GIT_SSH_COMMAND=ssso: clone, push; and a failing ls-remote exits as with ssh.
    bare_repo(s.user.name(), "repo.git");
    let url = format!("{dest}:repo.git");
    git_round_trip(&s, &format!("{ssso} -F {harness_cfg}"), &url, s.user.name());
    let missing = format!("{dest}:nope.git");
    let via = |c: &str| {
        let out = git(
            &s,
            &format!("{c} -F {harness_cfg}"),
            s.local.scratch(),
            &["ls-remote", &missing],
        );
        (out.status.code(), out.stdout)
    };
    assert_eq!(via(ssso), via("ssh"));
    s.assert_synced();

    // Exit status and stdout bytes of a plain command, ssso vs ssh, with ssh's options that
    // tools pass.
    let cmd = |program: &str| {
        let out = run(
            s.cmd(program)
                .env("SSSO_PROFILE", PROFILE)
                .args(["-x", "-T", "-oClearAllForwardings=yes", "-F", harness_cfg])
                .arg(&dest)
                .arg("printf 'a\\0b\\n'; exit 7"),
            CMD_TIMEOUT,
        );
        (out.status.code(), out.stdout)
    };
    assert_eq!(cmd(ssso), (Some(7), b"a\0b\n".to_vec()));
    assert_eq!(cmd(ssso), cmd("ssh"));
}

/// Deterministic, incompressible-looking bytes.
fn big_bytes(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut v = Vec::with_capacity(len);
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}

#[test]
fn hundred_mib_through_the_relay_arrive_identical_both_ways() {
    let s = setup("ssso-sh", EXPLICIT, "");
    s.remote_rm("big.bin");
    let data = big_bytes(100 << 20);
    let src = s.file("big.bin", &data);
    ok(
        run(
            s.cmd("scp")
                .args(["-q", "-F", s.cfg()])
                .arg(&src)
                .arg("proxied:big.bin"),
            CMD_TIMEOUT * 3,
        ),
        "scp 100 MiB up",
    );
    assert!(
        s.user.read("big.bin").unwrap() == data,
        "uploaded file differs"
    );
    // Down: the remote's cat, through the relay, to our stdout.
    let out = run(
        s.cmd("ssh").args(["-F", s.cfg(), "proxied", "cat big.bin"]),
        CMD_TIMEOUT * 3,
    );
    let out = ok(out, "ssh cat 100 MiB down");
    assert!(out.stdout == data, "downloaded bytes differ");
    s.assert_synced();
}

#[test]
fn fdpass_hands_ssh_the_socket() {
    let s = setup(
        "ssso-ksh",
        EXPLICIT,
        "Host proxied\n    ProxyUseFdpass yes\n",
    );
    let out = run(
        s.cmd("ssh")
            .args(["-F", s.cfg(), "proxied", "echo fdpass-ok"]),
        CMD_TIMEOUT,
    );
    let out = ok(out, "ssh with ProxyUseFdpass");
    assert_eq!(out.stdout, b"fdpass-ok\n");
    s.assert_synced();
}

#[test]
fn host_star_proxycommand_has_one_inner_hop_and_a_burst_reuses_the_master() {
    // The ProxyCommand for every host, the inner ssh included.
    let srv = server();
    let s = setup("ssso-csh", EXPLICIT, "");
    let text = fs::read_to_string(&s.cfg).unwrap();
    // `proxied` loses its own ProxyCommand: `Host *` gives it.
    let own = &text[text.find("    ProxyCommand").unwrap()..];
    let own = &own[..=own.find('\n').unwrap()];
    let text = text.replacen(own, "", 1).replace(
        "Host *\n",
        &format!(
            "Host *\n    ProxyCommand {} proxy -F {} --user %r --alias %n %h %p\n",
            ssso_bin().display(),
            s.cfg()
        ),
    );
    fs::write(&s.cfg, text).unwrap();
    let _ = srv;
    let before = logins(s.user.name());
    let out = run(
        s.cmd("ssh").args(["-F", s.cfg(), "proxied", "echo one"]),
        CMD_TIMEOUT,
    );
    let out = ok(out, "ssh via Host *");
    assert_eq!(out.stdout, b"one\n");
    // One login for the sync master, one for the session: no recursion.
    assert_eq!(
        logins(s.user.name()) - before,
        2,
        "{}\n--- ssh's stderr:\n{}\n--- config:\n{}",
        srv.sshd_log(),
        stderr(&out),
        fs::read_to_string(&s.cfg).unwrap()
    );
    s.assert_synced();
    // A burst: the master is reused and the token is already in sync: one login each.
    let before = logins(s.user.name());
    for _ in 0..3 {
        let out = run(
            s.cmd("ssh").args(["-F", s.cfg(), "proxied", "true"]),
            CMD_TIMEOUT,
        );
        ok(out, "ssh again");
    }
    assert_eq!(logins(s.user.name()) - before, 3);
}

#[test]
fn a_proxyjump_host_behind_the_proxycommand_host() {
    let srv = server();
    let behind = common::user("ssso-sh");
    let extra = format!(
        "Host behind\n    HostName 127.0.0.1\n    Port {}\n    User {}\n    ProxyJump proxied\n",
        srv.port,
        behind.name()
    );
    let s = setup("ssso-ksh", EXPLICIT, &extra);
    let out = run(
        s.cmd("ssh").args(["-F", s.cfg(), "behind", "id -un"]),
        CMD_TIMEOUT,
    );
    let out = ok(out, "ssh through a ProxyJump host");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ssso-sh\n");
    // The jump host is the one with `ssso proxy`: it got the token.
    s.assert_synced();
}

#[test]
fn sync_failure_warns_and_connects_unless_strict() {
    let s = setup(RO_USER, EXPLICIT, "");
    let out = run(
        s.cmd("ssh")
            .args(["-F", s.cfg(), "proxied", "echo connected"]),
        CMD_TIMEOUT,
    );
    let out = ok(out, "ssh to the read-only home");
    assert_eq!(out.stdout, b"connected\n");
    let err = stderr(&out);
    assert!(
        err.contains("ssso: warning: could not sync the AWS token"),
        "{err}"
    );

    let strict = fs::read_to_string(&s.cfg)
        .unwrap()
        .replace(" proxy -F ", " proxy --strict -F ");
    fs::write(&s.cfg, strict).unwrap();
    let out = run(
        s.cmd("ssh")
            .args(["-F", s.cfg(), "proxied", "echo connected"]),
        CMD_TIMEOUT,
    );
    assert_eq!(out.status.code(), Some(255), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    let err = stderr(&out);
    assert!(
        err.contains("ssso: error:") && err.contains("--strict"),
        "{err}"
    );
}

/// `ssso proxy` run directly, stdout captured: the first bytes must be the server's banner.
fn proxy_stdout(s: &Setup, extra: &[&str]) -> Output {
    let srv = server();
    run(
        s.local
            .ssso()
            .arg("proxy")
            .args(extra)
            .args(["-F", s.cfg(), "--alias", "proxied"])
            .args(["127.0.0.1", &srv.port.to_string()]),
        CMD_TIMEOUT,
    )
}

#[test]
fn nothing_but_the_ssh_stream_on_stdout() {
    // A login is needed (no token): the fake aws prints on its stdout, which must not reach ours.
    let s = setup("ssso-bash", EXPLICIT, "");
    fs::remove_file(s.local.token_path(&cache_key(SESSION))).unwrap();
    s.local.register_token(s.local.login_token());
    let out = proxy_stdout(&s, &[]);
    assert!(
        out.stdout.starts_with(b"SSH-2.0-"),
        "stdout: {:?}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        stderr(&out)
    );
    assert_eq!(s.local.login_calls().len(), 1);
    drop(s);

    // A failed sync, warned about: still only the banner.
    let s = setup(RO_USER, EXPLICIT, "");
    let out = proxy_stdout(&s, &[]);
    assert!(out.stdout.starts_with(b"SSH-2.0-"), "{}", stderr(&out));
    assert!(stderr(&out).contains("warning"), "{}", stderr(&out));
    // --strict: nothing at all, and a failure.
    let out = proxy_stdout(&s, &["--strict"]);
    assert!(out.stdout.is_empty());
    assert_eq!(out.status.code(), Some(254));
}

#[test]
fn a_dead_master_socket_does_not_break_it() {
    let s = setup("ssso-bash", EXPLICIT, "");
    let out = run(
        s.cmd("ssh").args(["-F", s.cfg(), "proxied", "true"]),
        CMD_TIMEOUT,
    );
    ok(out, "first ssh");
    // Kill the sync master (SIGKILL: its socket file stays behind, dead).
    let masters = sync_masters(s.cfg());
    assert_eq!(masters.len(), 1, "{masters:?}");
    let (pid, ctl) = &masters[0];
    unsafe { libc::kill(*pid, libc::SIGKILL) };
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(ctl.exists(), "the dead socket should still be there");
    // A new token must get through.
    let newer = unique_token("proxy-again");
    s.local.write_token(&cache_key(SESSION), &newer, 7200);
    s.local.register_token(&newer);
    let out = run(
        s.cmd("ssh").args(["-F", s.cfg(), "proxied", "echo again"]),
        CMD_TIMEOUT,
    );
    assert_eq!(ok(out, "ssh after a dead master").stdout, b"again\n");
    caller_identity_check(&remote_caller_identity(s.user.name(), PROFILE), &newer);
}

/// (pid, control socket) of the running sync masters whose command line names `cfg`.
fn sync_masters(cfg: &str) -> Vec<(i32, PathBuf)> {
    let mut found = Vec::new();
    for e in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(raw) = fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let argv: Vec<String> = raw
            .split(|&b| b == 0)
            .map(|w| String::from_utf8_lossy(w).into_owned())
            .collect();
        if argv.first().is_some_and(|a| a == "ssh")
            && argv.iter().any(|a| a == "-M")
            && argv.iter().any(|a| a == cfg)
            && let Some(i) = argv.iter().position(|a| a == "-S")
        {
            found.push((pid, PathBuf::from(&argv[i + 1])));
        }
    }
    found
}
