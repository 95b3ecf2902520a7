//! ssh's own grammar and behaviour, one named regression test per case of issue 12: each runs
//! the same line through plain `ssh` and through `ssso` against the harness's real sshd and
//! compares what the user sees (stdout, stderr, exit status), or checks the documented
//! difference where ssso differs on purpose.

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::*;
use ssso::ssh::grammar::{Grammar, Letter, Version};

const PROFILE: &str = "dev";
const SESSION: &str = "corp";

/// A local side with a fresh, portal-registered token for PROFILE.
fn fresh_local() -> (Local, String) {
    let local = Local::new(&sso_config(PROFILE, SESSION));
    let token = unique_token("compat");
    local.write_token(&cache_key(SESSION), &token, 3600);
    local.register_token(&token);
    (local, token)
}

/// A local side whose token is stale: any login attempt shows in `login_calls`.
fn stale_local() -> Local {
    let local = Local::new(&sso_config(PROFILE, SESSION));
    local.write_token(&cache_key(SESSION), &unique_token("stale"), 60);
    local
}

/// `ssh -F <test config> LINE` in `local`'s environment.
fn ssh(local: &Local, line: &[&str]) -> Command {
    let mut cmd = local.command("ssh");
    cmd.arg("-F").arg(server().ssh_config()).args(line);
    cmd
}

/// `ssso -F <test config> LINE` (profile from SSSO_PROFILE: the line is ssh's, word for word).
fn ssso(local: &Local, line: &[&str]) -> Command {
    let mut cmd = local.ssso();
    cmd.arg("-F")
        .arg(server().ssh_config())
        .args(line)
        .env("SSSO_PROFILE", PROFILE);
    cmd
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// stderr without ssso's own lines (`ssso: ...`).
fn ssh_stderr(o: &Output) -> String {
    err(o)
        .lines()
        .filter(|l| !l.starts_with("ssso:"))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Asserts both runs look the same to the user: stdout, status, and stderr but ssso's lines.
fn assert_same(what: &str, ssh: &Output, ssso: &Output) {
    assert_eq!(
        (out(ssso), ssso.status.code(), ssh_stderr(ssso)),
        (out(ssh), ssh.status.code(), ssh_stderr(ssh)),
        "{what}: ssso (left) differs from ssh (right)\n--- ssso stderr:\n{}",
        err(ssso)
    );
}

/// An ssh config at `scratch/NAME.conf` where `Host ALIAS` is the test server, with `extra`
/// lines in its block, then the harness's config.
fn alias_config(local: &Local, alias: &str, extra: &str) -> std::path::PathBuf {
    let srv = server();
    let path = local.scratch().join(format!("{alias}.conf"));
    std::fs::write(
        &path,
        format!(
            "Host {alias}\n  HostName 127.0.0.1\n  Port {port}\n  IdentityFile {key}\n  \
             IdentitiesOnly yes\n  UserKnownHostsFile {kh}\n  GlobalKnownHostsFile /dev/null\n  \
             StrictHostKeyChecking yes\n  LogLevel ERROR\n{extra}\nInclude {cfg}\n",
            port = srv.port,
            key = srv.client_key().display(),
            kh = srv.known_hosts().display(),
            cfg = srv.ssh_config().display(),
        ),
    )
    .unwrap();
    path
}

/// The installed ssh's grammar, as ssso reads it.
fn installed_grammar() -> Grammar {
    let out = Command::new("ssh").arg("-V").output().unwrap();
    Grammar::for_version(Version::parse(&String::from_utf8_lossy(&out.stderr)))
}

/// `-P` is a flag in OpenSSH 9.2 (this machine's) and `-P tag` from 9.4 on: ssso reads it as
/// the installed ssh does. (`ssso -P host echo hi` used to print the session wrapper.)
#[test]
fn p_option_follows_the_installed_ssh() {
    let u = user("ssso-bash");
    let (local, _) = fresh_local();
    let dest = u.dest();
    let line: Vec<&str> = match installed_grammar().letter(b'P') {
        Letter::Flag => vec!["-P", &dest, "echo", "hi"],
        Letter::Value => vec!["-P", "ssso-tag", &dest, "echo", "hi"],
        Letter::Unknown => panic!("this ssh has no -P at all"),
    };
    let a = run(&mut ssh(&local, &line), CMD_TIMEOUT);
    let b = run(&mut ssso(&local, &line), CMD_TIMEOUT);
    assert_eq!(out(&a), "hi\n", "{}", err(&a));
    assert_same("-P", &a, &b);
    // Clustered with a value option after it: -Pp PORT (a flag, then the port) in 9.2.
    if installed_grammar().letter(b'P') == Letter::Flag {
        let port = server().port.to_string();
        let line = ["-Pp", &port, &dest, "echo", "clustered"];
        let a = run(&mut ssh(&local, &line), CMD_TIMEOUT);
        let b = run(&mut ssso(&local, &line), CMD_TIMEOUT);
        assert_eq!(out(&a), "clustered\n", "{}", err(&a));
        assert_same("-Pp PORT", &a, &b);
    }
    // -Z does not exist before OpenSSH 10.5: ssh's usage, ssso's usage error.
    if installed_grammar().letter(b'Z') == Letter::Unknown {
        let b = run(&mut ssso(&local, &["-Z", &dest]), CMD_TIMEOUT);
        assert_eq!(b.status.code(), Some(2), "{}", err(&b));
        assert!(
            err(&b).starts_with("ssso: error: unknown ssh option -Z (OpenSSH "),
            "{}",
            err(&b)
        );
    }
}

/// `ssso host ''` is no command, as ssh decides it: the login shell starts and reads stdin;
/// `'' ''` is a command of one space. stdout and exit status are ssh's.
#[test]
fn empty_command_is_no_command_like_ssh() {
    for &(shell, name) in &[
        ("bash", "ssso-bash"),
        ("sh", "ssso-sh"),
        ("tcsh", "ssso-tcsh"),
    ] {
        let u = user(name);
        let (local, _) = fresh_local();
        let dest = u.dest();
        let stdin = b"echo from-stdin\nexit 3\n";
        for line in [vec![dest.as_str(), ""], vec![dest.as_str(), "", ""]] {
            let a = run_with_stdin(&mut ssh(&local, &line), stdin, CMD_TIMEOUT);
            let b = run_with_stdin(&mut ssso(&local, &line), stdin, CMD_TIMEOUT);
            assert_same(&format!("{shell} {line:?}"), &a, &b);
            if line.len() == 2 {
                assert!(out(&a).contains("from-stdin"), "{shell}: {}", out(&a));
                assert_eq!(a.status.code(), Some(3), "{shell}");
            } else {
                assert_eq!((out(&a).as_str(), a.status.code()), ("", Some(0)));
            }
        }
    }
}

/// `$0` in the remote command is what sshd gives the login shell (its basename), and shells'
/// own error messages carry it: identical to plain ssh in all seven login shells.
#[test]
fn zero_and_error_messages_match_ssh_in_every_login_shell() {
    for &(shell, name) in SHELL_USERS {
        let u = user(name);
        let (local, _) = fresh_local();
        let dest = u.dest();
        let line = [dest.as_str(), "echo $0; nosuchcommand-ssso-0"];
        let a = run(&mut ssh(&local, &line), CMD_TIMEOUT);
        let b = run(&mut ssso(&local, &line), CMD_TIMEOUT);
        assert_same(shell, &a, &b);
        assert!(
            !err(&b).contains(&format!("/{shell}:")) && !out(&b).contains("/bin/"),
            "{shell}: a full path leaked into $0\n{}{}",
            out(&b),
            err(&b)
        );
    }
}

/// `-f` without a command and a config `RemoteCommand` with a command-line command are
/// refused by ssh before it connects: ssso refuses them the same way (ssh's message, 255),
/// before any login or sync.
#[test]
fn lines_ssh_refuses_are_refused_before_any_login() {
    let u = user("ssso-ksh");
    let local = stale_local();
    let cfg = alias_config(&local, "rc", "  RemoteCommand echo from-remote-command");
    let dest = u.dest();
    let rc_dest = format!("{}@rc", u.name());
    let cases: Vec<(&str, Vec<&str>, &str)> = vec![
        ("-f", vec!["-f", &dest], "Cannot fork into background"),
        ("-q -f", vec!["-q", "-f", &dest], ""),
        (
            "RemoteCommand and a command",
            vec!["-o", "RemoteCommand=echo x", &dest, "true"],
            "Cannot execute command-line and remote command",
        ),
        ("-s without a subsystem", vec!["-s", &dest], "usage: ssh"),
    ];
    for (what, line, message) in cases {
        let a = run(&mut ssh(&local, &line), CMD_TIMEOUT);
        let b = run(&mut ssso(&local, &line), CMD_TIMEOUT);
        assert_eq!(a.status.code(), Some(255), "{what}: {}", err(&a));
        assert!(err(&a).contains(message), "{what}: {}", err(&a));
        assert_eq!(
            (out(&b), b.status.code(), err(&b)),
            (out(&a), Some(255), err(&a)),
            "{what}"
        );
    }
    // The config's RemoteCommand with a command on the line, through -F.
    let line = ["-F", cfg.to_str().unwrap(), rc_dest.as_str(), "true"];
    let mut plain = local.command("ssh");
    plain.args(line);
    let a = run(&mut plain, CMD_TIMEOUT);
    let mut ours = local.ssso();
    ours.args(line).env("SSSO_PROFILE", PROFILE);
    let b = run(&mut ours, CMD_TIMEOUT);
    assert!(err(&a).contains("Cannot execute command-line and remote command"));
    assert_eq!((err(&b), b.status.code()), (err(&a), Some(255)));

    assert!(local.login_calls().is_empty(), "a refused line logged in");
    assert!(u.read(".aws").is_none(), "a refused line synced");

    // Without the command the config's RemoteCommand runs, as with ssh (and is synced).
    let (local, _) = fresh_local();
    let line = ["-F", cfg.to_str().unwrap(), rc_dest.as_str()];
    let mut ours = local.ssso();
    ours.args(line).env("SSSO_PROFILE", PROFILE);
    let b = run(&mut ours, CMD_TIMEOUT);
    assert_eq!(out(&b), "from-remote-command\n", "{}", err(&b));
    assert!(u.read(&token_rel_path(&cache_key(SESSION))).is_some());
}

/// The user's `-M`: ssh's own master at the user's ControlPath for the session, and the sync
/// goes over it (it used to wait ~30 s and sync nothing); `-M`/`-MM` without a ControlPath
/// change nothing, as for ssh.
#[test]
fn user_master_is_ssh_s_own_and_the_session_is_synced() {
    let u = user("ssso-zsh");
    let (local, token) = fresh_local();
    let dest = u.dest();
    let ctl = local.scratch().join("cm-%C");
    let ctl_opt = format!("ControlPath={}", ctl.display());
    let identity = caller_identity_command(PROFILE);
    for line in [
        vec!["-M", "-o", &ctl_opt, &dest, &identity],
        vec!["-M", &dest, &identity],
        vec!["-tMM", &dest, &identity],
    ] {
        let _ = std::fs::remove_dir_all(u.home().join(".aws"));
        let b = run(&mut ssso(&local, &line), CMD_TIMEOUT);
        assert!(!err(&b).contains("could not sync"), "{line:?}: {}", err(&b));
        caller_identity_check(&b, &token);
    }

    // A dead socket left at the user's path: ssh -M would run without a master; ssso syncs
    // over its own.
    let stale = local.scratch().join("stale-cm");
    drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
    let stale_opt = format!("ControlPath={}", stale.display());
    let _ = std::fs::remove_dir_all(u.home().join(".aws"));
    let b = run(
        &mut ssso(&local, &["-M", "-o", &stale_opt, &dest, &identity]),
        CMD_TIMEOUT,
    );
    assert!(!err(&b).contains("could not sync"), "stale: {}", err(&b));
    caller_identity_check(&b, &token);

    // While the session runs, the master at the user's path is ssh's and answers -O check.
    let mut cmd = ssso(&local, &["-M", "-o", &ctl_opt, &dest, "sleep 4; echo done"]);
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let sock = loop {
        let found = std::fs::read_dir(local.scratch())
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("cm-"));
        if let Some(p) = found {
            break p;
        }
        assert!(
            Instant::now() < deadline,
            "no master socket at the user's path"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let check = run(
        local
            .command("ssh")
            .arg("-F")
            .arg(server().ssh_config())
            .arg("-S")
            .arg(&sock)
            .args(["-O", "check", &dest]),
        CMD_TIMEOUT,
    );
    let status = child.wait().unwrap();
    assert!(check.status.success(), "-O check: {}", err(&check));
    assert!(status.success());
    assert!(
        !Path::new(&sock).exists(),
        "the master outlived the session"
    );
}

/// "Pseudo-terminal will not be allocated" appears exactly when, and as often as, plain ssh
/// prints it: once for a login or `-t` without a local tty, never under `RequestTTY=no`,
/// `LogLevel=QUIET`, the test config's `LogLevel ERROR`, `-q`, `-T` or `-y`.
#[test]
fn pty_message_exactly_when_ssh_prints_it() {
    const MSG: &str = "Pseudo-terminal will not be allocated";
    let u = user("ssso-sh");
    let (local, _) = fresh_local();
    let dest = u.dest();
    let info = ["-o", "LogLevel=INFO"];
    let cases: Vec<(Vec<&str>, usize)> = vec![
        (vec![&info[0], info[1], &dest], 1),
        (vec![&info[0], info[1], &dest, ""], 1),
        (vec![&info[0], info[1], "-n", &dest], 1),
        (vec![&info[0], info[1], "-t", &dest, "true"], 1),
        (vec![&info[0], info[1], &dest, "-t", "true"], 1),
        (vec![&info[0], info[1], "-o", "RequestTTY=no", &dest], 0),
        (vec![&info[0], info[1], "-T", &dest], 0),
        (vec![&info[0], info[1], "-q", &dest], 0),
        (vec![&info[0], info[1], "-y", "-t", &dest, "true"], 0),
        (vec!["-o", "LogLevel=QUIET", &dest], 0),
        (vec![&dest], 0),
        (vec![&info[0], info[1], "-tt", "-n", &dest, "true"], 0),
    ];
    for (line, expected) in cases {
        let a = run_with_stdin(&mut ssh(&local, &line), b"exit 0\n", CMD_TIMEOUT);
        let b = run_with_stdin(&mut ssso(&local, &line), b"exit 0\n", CMD_TIMEOUT);
        assert_eq!(
            err(&a).matches(MSG).count(),
            expected,
            "ssh {line:?}: {}",
            err(&a)
        );
        assert_eq!(
            err(&b).matches(MSG).count(),
            expected,
            "ssso {line:?}: {}",
            err(&b)
        );
        assert_eq!(b.status.code(), a.status.code(), "{line:?}");
    }
}

/// `ssso --profile dev status`: a subcommand's name after options, which the ssh config does
/// not know as a host: a usage error that says what to write, before any login. A configured
/// host of that name, or `--`, connects.
#[test]
fn subcommand_name_as_destination_says_so_before_any_login() {
    let u = user("ssso-bash");
    let local = stale_local();
    let mut cmd = local.ssso();
    cmd.arg("-F")
        .arg(server().ssh_config())
        .args(["--profile", PROFILE, "status"]);
    let b = run(&mut cmd, CMD_TIMEOUT);
    assert_eq!(b.status.code(), Some(2), "{}", err(&b));
    assert!(
        err(&b).starts_with("ssso: error:")
            && err(&b).contains("`ssso status [OPTIONS]`")
            && err(&b).contains("`ssso [OPTIONS] -- status`"),
        "{}",
        err(&b)
    );
    assert!(local.login_calls().is_empty(), "it logged in first");

    // A host called status in the ssh config is a host.
    let (local, _) = fresh_local();
    let cfg = alias_config(&local, "status", &format!("  User {}", u.name()));
    for line in [
        vec!["--profile", PROFILE, "status", "echo", "a-host"],
        vec!["--profile", PROFILE, "--", "status", "echo", "a-host"],
    ] {
        let mut cmd = local.ssso();
        cmd.arg("-F").arg(&cfg).args(&line);
        let b = run(&mut cmd, CMD_TIMEOUT);
        assert_eq!(out(&b), "a-host\n", "{line:?}: {}", err(&b));
    }
}

/// ssso's own grammar errors follow ssso's one convention (`ssso: error:`, exit 2) where ssh
/// prints its usage and exits 255; ssh's refusals of a well-formed line stay ssh's.
#[test]
fn usage_errors_follow_ssso_s_convention() {
    let local = stale_local();
    let dest = server().dest("ssso-bash");
    for line in [
        vec!["-H", dest.as_str()],
        vec![dest.as_str(), "-p"],
        vec!["-v"],
        vec!["--no-such-option", dest.as_str()],
    ] {
        let a = run(&mut ssh(&local, &line), CMD_TIMEOUT);
        let b = run(&mut ssso(&local, &line), CMD_TIMEOUT);
        assert_eq!(a.status.code(), Some(255), "{line:?}");
        assert!(err(&a).contains("usage: ssh"), "{line:?}: {}", err(&a));
        assert_eq!(b.status.code(), Some(2), "{line:?}");
        assert!(
            err(&b).starts_with("ssso: error: "),
            "{line:?}: {}",
            err(&b)
        );
        assert!(out(&b).is_empty());
    }
    assert!(local.login_calls().is_empty());
}

/// A second sshd for one test: the harness's configuration with `changes` applied, on a port
/// of its own; killed (with its sessions) when dropped.
struct OtherSshd {
    child: std::process::Child,
    port: u16,
    known_hosts: std::path::PathBuf,
}

impl OtherSshd {
    fn start(local: &Local, changes: &[(&str, &str)]) -> OtherSshd {
        use std::os::unix::process::CommandExt;
        let srv = server();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut cfg = std::fs::read_to_string(srv.dir().join("sshd_config")).unwrap();
        cfg = cfg.replace(
            &format!("ListenAddress 127.0.0.1:{}", srv.port),
            &format!("ListenAddress 127.0.0.1:{port}"),
        );
        for (from, to) in changes {
            assert!(
                cfg.contains(from),
                "the harness's sshd_config has no {from:?}"
            );
            cfg = cfg.replace(from, to);
        }
        let path = local.scratch().join("sshd_config");
        std::fs::write(&path, cfg).unwrap();
        let kh = std::fs::read_to_string(srv.known_hosts()).unwrap();
        let known_hosts = local.scratch().join("known_hosts");
        std::fs::write(
            &known_hosts,
            kh.replace(&format!("]:{} ", srv.port), &format!("]:{port} ")),
        )
        .unwrap();
        let log = std::fs::File::create(local.scratch().join("sshd.log")).unwrap();
        let mut cmd = Command::new("/usr/sbin/sshd");
        cmd.args(["-D", "-e", "-f"])
            .arg(&path)
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        // SAFETY: prctl only, between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
                Ok(())
            });
        }
        let child = cmd.spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the second sshd did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        OtherSshd {
            child,
            port,
            known_hosts,
        }
    }

    /// An ssh config naming this server `other`.
    fn ssh_config(&self, local: &Local) -> std::path::PathBuf {
        let srv = server();
        let path = local.scratch().join("other.conf");
        std::fs::write(
            &path,
            format!(
                "Host other\n  HostName 127.0.0.1\n  Port {}\n  IdentityFile {}\n  \
                 IdentitiesOnly yes\n  UserKnownHostsFile {}\n  GlobalKnownHostsFile /dev/null\n  \
                 StrictHostKeyChecking yes\n  LogLevel ERROR\nInclude {}\n",
                self.port,
                srv.client_key().display(),
                self.known_hosts.display(),
                srv.ssh_config().display()
            ),
        )
        .unwrap();
        path
    }
}

impl Drop for OtherSshd {
    fn drop(&mut self) {
        let pid = self.child.id() as i32;
        for p in children_of(pid) {
            unsafe { libc::kill(p, libc::SIGKILL) };
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Decided and documented (README "Compatibility with ssh", man page): sshd prints the message
/// of the day and "Last login" only for a session without a command, and ssso's session is a
/// command (the wrapper that waits for the sync), so an interactive `ssso host` shows neither
/// where `ssh host` does; ssso cannot know what sshd would print (PrintMotd, pam_motd,
/// ~/.hushlogin, lastlog are the server's), so it prints nothing in their place. This test
/// keeps that documentation true against an sshd with `PrintMotd yes` and `PrintLastLog yes`.
#[test]
fn motd_and_last_login_are_shown_by_ssh_only_as_documented() {
    let motd = std::fs::read_to_string("/etc/motd").unwrap_or_default();
    let first = motd
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .expect("this test needs a non-empty /etc/motd (Debian ships one)")
        .to_owned();
    let u = user("ssso-bash");
    let (local, _) = fresh_local();
    let sshd = OtherSshd::start(
        &local,
        &[
            ("PrintMotd no", "PrintMotd yes"),
            ("PrintLastLog no", "PrintLastLog yes"),
        ],
    );
    let cfg = sshd.ssh_config(&local);
    let dest = format!("{}@other", u.name());
    let line = ["-F", cfg.to_str().unwrap(), "-tt", dest.as_str()];
    let mut plain = local.command("ssh");
    plain.args(line);
    let mut ours = local.ssso();
    ours.args(line).env("SSSO_PROFILE", PROFILE);
    // Twice, so the second plain login also has a last one to report.
    let _ = run_with_stdin(local.command("ssh").args(line), b"exit\n", CMD_TIMEOUT);
    let a = run_with_stdin(&mut plain, b"exit\n", CMD_TIMEOUT);
    let b = run_with_stdin(&mut ours, b"echo P=$AWS_PROFILE; exit\n", CMD_TIMEOUT);
    assert!(
        out(&a).contains(&first),
        "plain ssh showed no motd ({:?}):\n{}\n{}\n--- sshd:\n{}",
        a.status,
        out(&a),
        err(&a),
        std::fs::read_to_string(local.scratch().join("sshd.log")).unwrap_or_default()
    );
    assert!(out(&a).contains("Last login"), "plain ssh: {}", out(&a));
    assert!(out(&b).contains("P=dev"), "{}{}", out(&b), err(&b));
    assert!(
        !out(&b).contains(&first) && !out(&b).contains("Last login"),
        "ssso now shows the motd or Last login: update README and man page\n{}",
        out(&b)
    );
    drop(sshd);
}
