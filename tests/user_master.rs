//! The user's own ControlMaster (issue 12): when the user's ssh configuration shares
//! connections for the destination, ssso's session and sync go over the user's master, which
//! is left as it was found (same pid, still answering, no `-O exit`, no changed persist), and
//! sshd sees no connection of ssso's own. Against the harness's real sshd on 127.0.0.1, with
//! the real `aws sts get-caller-identity` on the host as the proof that the token arrived.

mod common;

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::*;

const PROFILE: &str = "um";
const SESSION: &str = "umsess";

/// A local side with a registered fresh token and an ssh config (`-F`) that shares
/// connections for every host: `ControlMaster MODE`, `ControlPath SCRATCH/cm-%C`,
/// `ControlPersist PERSIST`, then the harness's config.
struct Shared {
    local: Local,
    cfg: PathBuf,
    token: String,
}

impl Shared {
    fn new(mode: &str, persist: &str) -> Shared {
        Shared::with(mode, persist, "")
    }

    /// [`Shared::new`] with `extra` options (indented lines) first under `Host *`.
    fn with(mode: &str, persist: &str, extra: &str) -> Shared {
        let local = Local::new(&sso_config(PROFILE, SESSION));
        let token = unique_token("usermaster");
        local.write_token(&cache_key(SESSION), &token, 3600);
        local.register_token(&token);
        let cfg = local.scratch().join("ssh_config");
        fs::write(
            &cfg,
            format!(
                "Host *\n{extra}  ControlMaster {mode}\n  ControlPath {}/cm-%C\n  ControlPersist {persist}\nInclude {}\n",
                local.scratch().display(),
                server().ssh_config().display()
            ),
        )
        .unwrap();
        Shared { local, cfg, token }
    }

    fn cfg(&self) -> &str {
        self.cfg.to_str().unwrap()
    }

    /// `ssso --profile um -F CFG ARGS... USER@ssso-test REMOTE...`
    fn ssso(&self, args: &[&str], user: &str, remote: &[&str]) -> Command {
        let mut cmd = self.local.ssso();
        cmd.args(["--profile", PROFILE, "-F", self.cfg()]);
        cmd.args(args).arg(server().dest(user)).args(remote);
        cmd
    }

    /// Plain `ssh -F CFG ARGS... USER@ssso-test`.
    fn ssh(&self, args: &[&str], user: &str) -> Command {
        let mut cmd = self.local.command("ssh");
        cmd.args(["-F", self.cfg()])
            .args(args)
            .arg(server().dest(user));
        cmd
    }

    /// The resolved control path for USER@ssso-test (as `ssh -G` says).
    fn control_path(&self, user: &str) -> PathBuf {
        let out = run(&mut self.ssh(&["-G"], user), CMD_TIMEOUT);
        assert_success(&out, "ssh -G");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let line = text
            .lines()
            .find_map(|l| l.strip_prefix("controlpath "))
            .unwrap_or_else(|| panic!("no controlpath in ssh -G:\n{text}"));
        PathBuf::from(line)
    }

    /// The pid of the master answering `ssh -O check` for USER, if one does.
    fn master_pid(&self, user: &str) -> Option<u32> {
        let out = run(&mut self.ssh(&["-O", "check"], user), CMD_TIMEOUT);
        let err = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            return None;
        }
        let pid = err.split("pid=").nth(1)?.split(')').next()?;
        pid.parse().ok()
    }

    /// The token is on the host and the host's botocore uses it.
    fn assert_synced(&self, user: &str) {
        let tok = remote_read(user, &token_rel_path(&cache_key(SESSION)))
            .unwrap_or_else(|| panic!("no token synced to {user}"));
        assert!(String::from_utf8_lossy(&tok).contains(&self.token));
    }
}

/// Stops the masters this test started (`ssh -O exit` on every socket in the scratch
/// directory), so that a rerun starts clean and no process outlives the test.
struct StopMasters(PathBuf);

impl Drop for StopMasters {
    fn drop(&mut self) {
        for e in fs::read_dir(&self.0).into_iter().flatten().flatten() {
            let name = e.file_name();
            if name.to_string_lossy().starts_with("cm-") {
                let _ = Command::new("ssh")
                    .args(["-F", "/dev/null", "-o", "LogLevel=QUIET", "-S"])
                    .arg(e.path())
                    .args(["-O", "exit", "x"])
                    .status();
            }
        }
    }
}

/// "Accepted publickey for USER" lines in sshd's log so far: one per connection.
fn logins(user: &str) -> usize {
    let needle = format!("Accepted publickey for {user} ");
    server().sshd_log().matches(&needle).count()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn ok(out: Output, what: &str) -> Output {
    assert_success(&out, what);
    out
}

/// Starts the user's own master the way ssh does with this config (`ssh -f -N`, which with
/// `ControlMaster auto` and `ControlPersist` leaves a master in the background); its pid.
fn start_users_master(s: &Shared, user: &str) -> u32 {
    ok(
        run(&mut s.ssh(&["-f", "-N"], user), CMD_TIMEOUT),
        "ssh -f -N (the user's master)",
    );
    s.master_pid(user).expect("the user's master answers")
}

#[test]
fn session_and_sync_ride_on_a_live_user_master_and_leave_it_as_found() {
    let u = user("ssso-bash");
    let s = Shared::new("auto", "yes");
    let _stop = StopMasters(s.local.scratch().to_path_buf());
    let pid = start_users_master(&s, u.name());
    let before = logins(u.name());

    // The session: the command's output, AWS_PROFILE exported, exit status passed through.
    let out = run(
        &mut s.ssso(
            &[],
            u.name(),
            &[&format!(
                "echo \"[$AWS_PROFILE]\"; {}; exit 7",
                caller_identity_command(PROFILE)
            )],
        ),
        CMD_TIMEOUT,
    );
    assert_eq!(out.status.code(), Some(7), "{out:?}");
    assert!(
        stdout(&out).starts_with(&format!("[{PROFILE}]\n")),
        "{out:?}"
    );
    let identity = Output {
        status: std::process::ExitStatus::default(),
        stdout: out.stdout.clone(),
        stderr: Vec::new(),
    };
    assert_caller_identity(&identity);
    assert_token_used(&s.token);
    s.assert_synced(u.name());

    // The same master, still answering; no connection of ssso's own reached sshd.
    assert_eq!(
        s.master_pid(u.name()),
        Some(pid),
        "the user's master changed"
    );
    assert_eq!(
        logins(u.name()),
        before,
        "ssso opened a connection of its own"
    );

    // A tty through the mux client, as ssh over the master gives one.
    let out = run_in_pty(
        &s.ssso(&["-t"], u.name(), &["tty; echo \"P=$AWS_PROFILE\""]),
        &[],
        Duration::from_secs(30),
    );
    let screen = stdout(&out);
    assert!(
        out.status.success() && screen.contains("/dev/pts/") && screen.contains("P=um"),
        "{screen}"
    );

    // SIGTERM reaches the session; the user's master stays.
    let mut child = s
        .ssso(&[], u.name(), &["sleep 30"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let t0 = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "ssso ignored SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(!status.success());
    assert_eq!(
        s.master_pid(u.name()),
        Some(pid),
        "SIGTERM hurt the user's master"
    );
    assert_eq!(
        logins(u.name()),
        before,
        "ssso opened a connection of its own"
    );
}

/// A warm command (its token went over this master moments ago) runs in-process over the
/// master, without an ssh of its own, and the user sees what ssh over the same master gives:
/// stdin in, stdout and stderr out, the exit status; a line that needs ssh's own mux client
/// (here `-n`) still gets it.
#[test]
fn a_warm_command_over_the_users_master_is_what_ssh_over_it_gives() {
    let u = user("ssso-zsh");
    let s = Shared::new("auto", "yes");
    let _stop = StopMasters(s.local.scratch().to_path_buf());
    let pid = start_users_master(&s, u.name());
    ok(
        run(&mut s.ssso(&[], u.name(), &["true"]), CMD_TIMEOUT),
        "first ssso (sync)",
    );
    let before = logins(u.name());
    let line = "cat; echo \"[$AWS_PROFILE] $0\"; echo to-stderr >&2; exit 5";
    // An ssh first on the PATH that notes each start: ssso's `ssh -G`, and the session's.
    let bin = s.local.scratch().join("bin");
    fs::create_dir_all(&bin).unwrap();
    let starts = s.local.scratch().join("ssh-starts");
    let real = which::which("ssh").unwrap();
    fs::write(
        bin.join("ssh"),
        format!(
            "#!/bin/sh\necho \"$1\" >>'{}'\nexec '{}' \"$@\"\n",
            starts.display(),
            real.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    fs::set_permissions(bin.join("ssh"), fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let counted = |args: &[&str]| {
        let _ = fs::remove_file(&starts);
        let mut cmd = s.ssso(args, u.name(), &[line]);
        cmd.env("PATH", &path);
        let out = run_with_stdin(&mut cmd, b"from-stdin\n", CMD_TIMEOUT);
        (
            out,
            fs::read_to_string(&starts)
                .unwrap_or_default()
                .lines()
                .count(),
        )
    };
    let (out, ssh_starts) = counted(&[]);
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    assert_eq!(stdout(&out), format!("from-stdin\n[{PROFILE}] zsh\n"));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "to-stderr\n");
    assert_eq!(ssh_starts, 1, "only `ssh -G`: the session needs no ssh");
    // The same through ssh's own mux client: -n (stdin from /dev/null) is ssh's to do.
    let (out, ssh_starts) = counted(&["-n"]);
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    assert_eq!(stdout(&out), format!("[{PROFILE}] zsh\n"));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "to-stderr\n");
    assert_eq!(ssh_starts, 2, "`ssh -G` and the session's ssh");
    // A command killed by a signal: 255, as from ssh over the master.
    let out = run(&mut s.ssso(&[], u.name(), &["kill -9 $$"]), CMD_TIMEOUT);
    let plain = run(s.ssh(&[], u.name()).arg("kill -9 $$"), CMD_TIMEOUT);
    assert_eq!(out.status.code(), plain.status.code(), "{out:?} {plain:?}");
    assert_eq!(
        s.master_pid(u.name()),
        Some(pid),
        "the user's master changed"
    );
    assert_eq!(
        logins(u.name()),
        before,
        "ssso opened a connection of its own"
    );
}

#[test]
fn without_a_live_master_ssh_becomes_the_users_master_and_the_next_call_joins_it() {
    let u = user("ssso-sh");
    let s = Shared::new("auto", "60");
    let _stop = StopMasters(s.local.scratch().to_path_buf());
    // A dead socket where the user's master was: ssh (ControlMaster auto) replaces it.
    let path = s.control_path(u.name());
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert_eq!(s.master_pid(u.name()), None);

    let before = logins(u.name());
    let out = ok(
        run(
            &mut s.ssso(&[], u.name(), &["echo \"[$AWS_PROFILE]\""]),
            CMD_TIMEOUT,
        ),
        "ssso, creating the user's master",
    );
    assert_eq!(stdout(&out), format!("[{PROFILE}]\n"));
    assert_eq!(logins(u.name()), before + 1, "one connection: the master");
    s.assert_synced(u.name());
    // ControlPersist 60: the master outlives the session, as with plain ssh.
    let pid = s.master_pid(u.name()).expect("the user's master persists");

    // The next call, and plain ssh, join it: no new connection.
    let out = ok(
        run(
            &mut s.ssso(&[], u.name(), &[&caller_identity_command(PROFILE)]),
            CMD_TIMEOUT,
        ),
        "ssso joining",
    );
    assert_caller_identity(&out);
    assert_token_used(&s.token);
    ok(run(s.ssh(&[], u.name()).arg("true"), CMD_TIMEOUT), "ssh");
    assert_eq!(logins(u.name()), before + 1, "a second connection");
    assert_eq!(s.master_pid(u.name()), Some(pid));

    // That call skipped the sync (the same token went over this master moments ago); a new
    // local token is not held back by that.
    let newer = unique_token("usermaster-newer");
    s.local.write_token(&cache_key(SESSION), &newer, 7200);
    register_token(&newer);
    let out = ok(
        run(
            &mut s.ssso(&[], u.name(), &[&caller_identity_command(PROFILE)]),
            CMD_TIMEOUT,
        ),
        "ssso with a new token",
    );
    assert_caller_identity(&out);
    assert_token_used(&newer);
    let tok = remote_read(u.name(), &token_rel_path(&cache_key(SESSION))).unwrap();
    assert!(String::from_utf8_lossy(&tok).contains(&newer));
}

#[test]
fn control_master_no_joins_a_live_master_and_otherwise_uses_ssso_s_own() {
    let u = user("ssso-zsh");
    let s = Shared::new("no", "no");
    let _stop = StopMasters(s.local.scratch().to_path_buf());
    let path = s.control_path(u.name());

    // No master: ssso's own private one, gone afterwards; nothing at the user's path.
    let before = logins(u.name());
    let out = ok(
        run(&mut s.ssso(&[], u.name(), &["echo one"]), CMD_TIMEOUT),
        "ssso without a master",
    );
    assert_eq!(stdout(&out), "one\n");
    assert_eq!(logins(u.name()), before + 1);
    assert!(
        !path.exists(),
        "a socket appeared at the user's ControlPath"
    );
    s.assert_synced(u.name());

    // A live master of the user's (started by hand with -M): joined, left running.
    let master = s
        .ssh(&["-M", "-N", "-f", "-o", "ControlPersist=yes"], u.name())
        .status()
        .unwrap();
    assert!(master.success());
    let pid = s
        .master_pid(u.name())
        .expect("the hand-made master answers");
    let before = logins(u.name());
    let out = ok(
        run(&mut s.ssso(&[], u.name(), &["echo two"]), CMD_TIMEOUT),
        "ssso joining a ControlMaster-no master",
    );
    assert_eq!(stdout(&out), "two\n");
    assert_eq!(logins(u.name()), before);
    assert_eq!(s.master_pid(u.name()), Some(pid));
}

/// sshd's log lines about USER's authentications so far (accepted, failed, or given up by
/// the client): every new connection for USER that reached authentication shows here.
fn auth_lines(user: &str) -> usize {
    let tried = format!(" for {user} from ");
    let gave_up = format!(" authenticating user {user} ");
    server()
        .sshd_log()
        .lines()
        .filter(|l| {
            let auth = l.starts_with("Accepted ") || l.starts_with("Failed ");
            (auth && l.contains(&tried)) || l.contains(&gave_up)
        })
        .count()
}

/// A stale local token whose refresh token the host's botocore already spent, and a user who
/// can only get in with a password, through the master they opened by hand: before its
/// refresh, ssso reads the host's token over that master (no new connection, no prompt) and
/// adopts it. Nothing reused, no browser login, the master left as it was.
#[test]
fn a_stale_token_is_read_from_the_host_over_the_user_s_live_master() {
    let u = user(PW_USER);
    let s = Shared::with(
        "auto",
        "yes",
        "  PubkeyAuthentication no\n  PreferredAuthentications password,keyboard-interactive\n",
    );
    let _stop = StopMasters(s.local.scratch().to_path_buf());
    let tok = unique_token("overmaster");
    register_token(&tok);
    s.local.write_token(&cache_key(SESSION), &tok, 600);
    s.local.backdate_token(&cache_key(SESSION), 3600);
    u.install(
        &sso_config(PROFILE, SESSION),
        &cache_key(SESSION),
        &tok,
        600,
    );
    let family = format!("fake-refresh-{tok}");
    portal().register_refresh(&family, 3600);
    // The user's master: `ssh -MfN`, the password given once (by an askpass program: a
    // terminal would hang up on the master before it leaves the terminal's session).
    let askpass = s.local.scratch().join("askpass");
    fs::write(&askpass, format!("#!/bin/sh\necho '{PW_PASSWORD}'\n")).unwrap();
    fs::set_permissions(
        &askpass,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let mut master = s.ssh(&["-M", "-f", "-N"], u.name());
    master
        .env("SSH_ASKPASS", &askpass)
        .env("SSH_ASKPASS_REQUIRE", "force");
    ok(
        run(&mut master, CMD_TIMEOUT),
        "ssh -MfN (the user's master)",
    );
    let pid = s.master_pid(u.name()).expect("the user's master answers");
    // The host's aws (the user ran it over the master), with 10 minutes left, refreshes by
    // itself.
    assert_caller_identity(&run(
        s.ssh(&[], u.name()).arg(caller_identity_command(PROFILE)),
        CMD_TIMEOUT,
    ));
    let by_host = portal().refreshes_by(&family, "host");
    assert_eq!(by_host.len(), 1, "the host's botocore did not refresh");
    let before = auth_lines(u.name());

    // On a terminal, where a password prompt would wait (and fail the run by its timeout).
    let screen = s
        .local
        .test()
        .args(["--profile", PROFILE, "-v"])
        .ssh_config(&s.cfg)
        .env("AWS_ENDPOINT_URL_SSO_OIDC", portal().sso_url())
        .env_remove("SSH_ASKPASS")
        .to(u.name())
        .remote([caller_identity_command(PROFILE)])
        .typing("", "")
        .timeout(Duration::from_secs(40))
        .stdout_contains(ACCOUNT_ID)
        .stdout_lacks("assword")
        .run()
        .stdout;
    assert_eq!(
        portal().reuses(&family),
        Vec::<String>::new(),
        "the spent refresh token was presented\n{screen}"
    );
    assert_eq!(
        s.local.login_calls(),
        Vec::<String>::new(),
        "a browser login for nothing\n{screen}"
    );
    let kept = s.local.read_token(&cache_key(SESSION)).unwrap();
    assert_eq!(kept["accessToken"], by_host[0].as_str(), "{screen}");
    assert_eq!(portal().refreshes_by(&family, "ssso"), Vec::<String>::new());
    assert_eq!(
        s.master_pid(u.name()),
        Some(pid),
        "the user's master changed"
    );
    assert_eq!(
        auth_lines(u.name()),
        before,
        "ssso opened a connection of its own:\n{}",
        server().sshd_log()
    );
}

/// The same read from `ssso proxy` (run by a client that does not use the master, e.g.
/// paramiko with the block `ssso setup --write` adds): the host's token comes over the user's
/// live master, which is left as it was; the proxy then relays as always.
#[test]
fn ssso_proxy_reads_the_host_s_token_over_the_user_s_live_master() {
    let u = user("ssso-ksh");
    let s = Shared::new("auto", "yes");
    let _stop = StopMasters(s.local.scratch().to_path_buf());
    let tok = unique_token("proxyovermaster");
    register_token(&tok);
    s.local.write_token(&cache_key(SESSION), &tok, 600);
    s.local.backdate_token(&cache_key(SESSION), 3600);
    u.install(
        &sso_config(PROFILE, SESSION),
        &cache_key(SESSION),
        &tok,
        600,
    );
    let family = format!("fake-refresh-{tok}");
    portal().register_refresh(&family, 3600);
    let pid = start_users_master(&s, u.name());
    assert_caller_identity(&run(
        s.ssh(&[], u.name()).arg(caller_identity_command(PROFILE)),
        CMD_TIMEOUT,
    ));
    let by_host = portal().refreshes_by(&family, "host");
    assert_eq!(by_host.len(), 1, "the host's botocore did not refresh");

    let mut proxy = s.local.ssso();
    proxy
        .args(["proxy", "--verbose", "-F", s.cfg(), "--profile", PROFILE])
        .args(["--user", u.name(), "--alias", HOST_ALIAS])
        .args(["127.0.0.1", &server().port.to_string()])
        .env("AWS_ENDPOINT_URL_SSO_OIDC", portal().sso_url());
    let out = ok(run(&mut proxy, CMD_TIMEOUT), "ssso proxy");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(stdout(&out).starts_with("SSH-2.0-"), "{out:?}");
    assert!(err.contains("over your ControlMaster"), "{err}");
    assert_eq!(portal().reuses(&family), Vec::<String>::new(), "{err}");
    assert_eq!(s.local.login_calls(), Vec::<String>::new(), "{err}");
    let kept = s.local.read_token(&cache_key(SESSION)).unwrap();
    assert_eq!(kept["accessToken"], by_host[0].as_str(), "{err}");
    assert_eq!(
        s.master_pid(u.name()),
        Some(pid),
        "the user's master changed"
    );
}
