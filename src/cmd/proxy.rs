//! ProxyCommand mode, `ssso proxy HOST PORT`: what ssh runs as `ProxyCommand` so that scp,
//! rsync, sftp, git and editors get a fresh token synced to the host before their session
//! starts, and then the TCP connection to HOST:PORT itself. It owns: finding the host's ssh
//! config (explicit `--alias/--user/-F`, else the parent ssh's own command line on Linux, else
//! HOST), the sync connection (a master of its own per host, user and port, `ControlPersist`
//! 60 s, in ssso's private directory, reused by the next call), a stamp that skips the sync
//! when this exact token and config were pushed to this host less than 60 s ago, and the byte
//! stream: the connected socket handed to ssh (`ProxyUseFdpass yes`) or relayed between
//! stdin/stdout and the socket with half-closes. The sync connection's own ssh runs the same
//! ProxyCommand again: `SSSO_PROXY_INNER` in its environment makes that inner `ssso proxy`
//! only connect, and ssso's connect path sets it too. stdout carries nothing but the SSH
//! stream; every message goes to stderr.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read, Write};
use std::mem::ManuallyDrop;
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use sha1::{Digest as _, Sha1};

use crate::session::{self, SYNC_TIMEOUT, stamp};
use crate::ssh::args::{self, SshArgs};
use crate::ssh::config::SshConfig;
use crate::ssh::master::{self, INNER_ENV};
use crate::ssh::mux;
use crate::sync;
use crate::ui;

/// `ssso proxy`'s settings (see `ssso proxy --help`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub session: session::Settings,
    /// A failed sync is an error (exit 254, no connection) instead of a warning.
    pub strict: bool,
    /// `--user %r`
    pub user: Option<String>,
    /// `--alias %n`
    pub alias: Option<String>,
    /// `-F CONFIG`
    pub config: Option<std::path::PathBuf>,
    /// `%h`
    pub host: String,
    /// `%p`
    pub port: u16,
}

/// How long the sync master stays up after its last use (a successful sync of the same token
/// and config to the same host counts as current as long: [`stamp::FRESH`]).
const PERSIST_SECS: u64 = stamp::FRESH.as_secs();

/// `SSSO_PROXY_RELAY=copy` forces the read/write relay instead of splice(2) (for measuring).
const RELAY_ENV: &str = "SSSO_PROXY_RELAY";

pub fn run(args: &Settings) -> Result<u8> {
    if std::env::var_os(INNER_ENV).is_some() {
        // The inner hop: just connect. After the connection is made nothing more is said, and
        // a master in the background must not keep the caller's stderr open through us.
        let sock = connect_tcp(&args.host, args.port)?;
        quiet_stderr();
        return serve(sock, stdout_is_socket());
    }

    let args = &without_unexpanded_tokens(args);
    let (target, cfg, source) = resolve_target(args)?;
    let dest = target.label(&cfg);
    if cfg.setenv("SSSO_MODE").as_deref() == Some(crate::cmd::connect::MODE_FORWARD) {
        // The host is set up for least privilege: no token goes there, and a ProxyCommand
        // cannot add a forward to ssh's own connection.
        ui::warn(format_args!(
            "{dest} is set up for ssso --forward (SetEnv SSSO_MODE=forward): ssso proxy does not copy the token there, and this session gets no AWS credentials; use `ssso {dest}`"
        ));
        return serve(connect_tcp(&args.host, args.port)?, false);
    }
    let (sso, tok) = session::fresh_token(&args.session, &cfg, true, Some(&target.ssh)).map_err(|e| {
        if source == Source::HostOnly {
            e.context(format!(
                "ssso proxy only knows the address {} (its parent is not ssh and it was given no --alias): write the host's alias and profile into the ProxyCommand, as `ssso setup --write ALIAS` does: ProxyCommand ssso proxy --alias ALIAS --profile NAME --user %r %h %p",
                args.host
            ))
        } else {
            e
        }
    })?;
    let plan = sync::Plan::new(&sso, &tok, &args.session.sync, None)?.for_host(&dest);
    match sync_to_host(&target, &cfg, &plan, &dest) {
        Ok(None) => ui::debug(format_args!(
            "{dest}: this token was synced less than {PERSIST_SECS}s ago; not syncing again"
        )),
        Ok(Some(sync::Report {
            token: sync::TokenOutcome::Failed(why),
            ..
        })) if args.strict => {
            bail!("could not sync the AWS token to {dest} (--strict: not connecting): {why}");
        }
        Ok(Some(report)) => session::report_sync(&Ok(report), &dest, &sso),
        Err(e) if args.strict => {
            return Err(e.context(format!(
                "could not sync the AWS token to {dest} (--strict: not connecting)"
            )));
        }
        Err(e) => session::report_sync(&Err(e), &dest, &sso),
    }

    let sock = connect_tcp(&args.host, args.port)?;
    let fdpass = cfg.get("proxyusefdpass") == Some("yes");
    if fdpass && !stdout_is_socket() {
        ui::warn("ProxyUseFdpass is set but stdout is not a socket; relaying instead");
    }
    serve(sock, fdpass && stdout_is_socket())
}

/// The ssh options and destination that name this host as the user's ssh sees it.
#[derive(Debug)]
struct Target {
    ssh: SshArgs,
}

impl Target {
    /// From the explicit arguments: `-F`, `-l USER`, `-p PORT`, and ALIAS (or HOST).
    fn explicit(args: &Settings) -> Target {
        let mut options: Vec<OsString> = Vec::new();
        if let Some(f) = &args.config {
            options.extend(["-F".into(), f.clone().into_os_string()]);
        }
        if let Some(u) = &args.user {
            options.extend(["-l".into(), u.into()]);
        }
        options.extend(["-p".into(), args.port.to_string().into()]);
        let destination = args.alias.as_deref().unwrap_or(&args.host);
        Target {
            ssh: SshArgs {
                options,
                destination: Some(destination.into()),
                ..Default::default()
            },
        }
    }

    /// `user@alias` for messages.
    fn label(&self, cfg: &SshConfig) -> String {
        let dest = self.ssh.destination.as_deref().unwrap_or_default();
        let dest = dest.to_string_lossy();
        match cfg.get("user") {
            Some(u) if !dest.contains('@') => format!("{u}@{dest}"),
            _ => dest.into_owned(),
        }
    }

    /// Names this host, user, port and config: the sync master's socket and the stamp.
    fn key(&self, cfg: &SshConfig) -> String {
        let mut h = Sha1::new();
        for w in self.ssh.config_options() {
            h.update(w.as_bytes());
            h.update([0]);
        }
        for k in ["user", "hostname", "port"] {
            h.update(cfg.get(k).unwrap_or_default().as_bytes());
            h.update([0]);
        }
        h.update(
            self.ssh
                .destination
                .as_deref()
                .unwrap_or_default()
                .as_bytes(),
        );
        stamp::hex(&h.finalize()[..8])
    }
}

/// Where the host's name for the ssh config came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// `--alias`, `--user` or `-F` in the ProxyCommand line.
    Explicit,
    /// The command line of the ssh that runs this ProxyCommand.
    ParentSsh,
    /// Neither: only HOST (`%h`, the resolved HostName), as for a client that is not OpenSSH
    /// (paramiko, fabric) running a ProxyCommand without `--alias`.
    HostOnly,
}

/// Chooses the target and reads its ssh config. Without `--alias`, `--user` or `-F`, the
/// parent ssh's command line is used when the parent is ssh and its config resolves to
/// exactly HOST and PORT; otherwise the explicit form. Nothing depends on the parent being
/// ssh when the line says which host it is.
fn resolve_target(args: &Settings) -> Result<(Target, SshConfig, Source)> {
    let explicit = args.alias.is_some() || args.user.is_some() || args.config.is_some();
    if !explicit && let Some(ssh) = parent_ssh() {
        let t = Target { ssh };
        match SshConfig::resolve(&t.ssh) {
            Ok(cfg) if same_host(&cfg, &args.host, args.port) => {
                ui::debug(format_args!(
                    "ssh config of the parent ssh's destination {}",
                    t.ssh.destination.as_deref().unwrap_or_default().display()
                ));
                return Ok((t, cfg, Source::ParentSsh));
            }
            _ => ui::debug("the parent ssh's command line does not name this host; using HOST"),
        }
    }
    let t = Target::explicit(args);
    let cfg = SshConfig::resolve(&t.ssh)?;
    let source = if explicit {
        Source::Explicit
    } else {
        Source::HostOnly
    };
    Ok((t, cfg, source))
}

/// `args` without an `--alias` or `--user` that is still an ssh `%` token: a client that does
/// not expand it (paramiko leaves `%n` as it is) passes it literally, and no host alias or
/// user name is `%n` or `%r`.
fn without_unexpanded_tokens(args: &Settings) -> Settings {
    let token = |v: &Option<String>| {
        v.as_deref()
            .is_some_and(|v| v.len() == 2 && v.starts_with('%'))
    };
    let mut out = args.clone();
    for (value, what) in [(&mut out.alias, "--alias"), (&mut out.user, "--user")] {
        if token(value) {
            ui::debug(format_args!(
                "{what} {} was not expanded by the ssh client; ignoring it",
                value.as_deref().unwrap_or_default()
            ));
            *value = None;
        }
    }
    out
}

fn same_host(cfg: &SshConfig, host: &str, port: u16) -> bool {
    cfg.get("hostname")
        .is_some_and(|h| h.eq_ignore_ascii_case(host))
        && cfg.get("port") == Some(port.to_string().as_str())
}

/// The parent process's command line, when it is ssh (Linux; elsewhere `None`).
fn parent_ssh() -> Option<SshArgs> {
    let ppid = unsafe { libc::getppid() };
    let raw = std::fs::read(format!("/proc/{ppid}/cmdline")).ok()?;
    parse_ssh_cmdline(&raw)
}

/// Parses a NUL-separated command line; `Some` only for `ssh` with a destination.
fn parse_ssh_cmdline(raw: &[u8]) -> Option<SshArgs> {
    let raw = raw.strip_suffix(&[0]).unwrap_or(raw);
    let argv: Vec<OsString> = raw
        .split(|&b| b == 0)
        .map(|w| OsStr::from_bytes(w).to_owned())
        .collect();
    if Path::new(argv.first()?).file_name()? != "ssh" {
        return None;
    }
    match args::split(&argv[1..], &[]).ok()? {
        args::Split { ssso, ssh } if ssso.is_empty() && ssh.destination.is_some() => Some(ssh),
        _ => None,
    }
}

/// Whether `cmd` (a resolved `proxycommand`) runs this program's `proxy` subcommand.
fn runs_ssso_proxy(cmd: &str) -> bool {
    let Ok(words) = shell_words::split(cmd) else {
        return false;
    };
    let words: Vec<&str> = words
        .iter()
        .map(String::as_str)
        .skip_while(|w| *w == "exec")
        .collect();
    let me = std::env::current_exe().ok();
    let me = me.as_deref().and_then(Path::file_name);
    let first = words.first().map(Path::new).and_then(Path::file_name);
    first.is_some()
        && (first == me || first == Some(OsStr::new("ssso")))
        && words[1..].contains(&"proxy")
}

/// Syncs over this host's sync master (started when there is none). `Ok(None)`: skipped,
/// the stamp says this token was synced moments ago.
fn sync_to_host(
    t: &Target,
    cfg: &SshConfig,
    plan: &sync::Plan,
    dest: &str,
) -> Result<Option<sync::Report>> {
    let base = master::private_base()?;
    let key = t.key(cfg);
    let ctl = base.join(format!("p{key}"));
    // One stamp file per host, also the lock that makes a burst of parallel calls start one
    // master and sync once.
    let stamp_path = base.join(format!("p{key}.s"));
    let mut stamp = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&stamp_path)
        .with_context(|| format!("cannot open {}", stamp_path.display()))?;
    if unsafe { libc::flock(stamp.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(io::Error::last_os_error()).context("cannot lock the sync stamp");
    }
    let digest = stamp::digest(plan);
    if stamp::is_current(&mut stamp, &digest) {
        return Ok(None);
    }
    if !master_alive(&ctl) {
        remove_stale_socket(&ctl);
        start_master(t, cfg, &ctl, dest)?;
    } else {
        ui::debug(format_args!(
            "reusing the sync connection {}",
            ctl.display()
        ));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(sync::run(&ctl, plan, SYNC_TIMEOUT))?;
    if stamp::complete(&report) {
        use std::os::unix::fs::FileExt as _;
        let _ = stamp.set_len(0);
        let _ = stamp.write_all_at(digest.as_bytes(), 0);
    }
    Ok(Some(report))
}

/// `ssh -O check` on the socket.
fn master_alive(ctl: &Path) -> bool {
    if !ctl.exists() {
        return false;
    }
    Command::new("ssh")
        .args(["-F", "/dev/null", "-o", "LogLevel=QUIET", "-S"])
        .arg(ctl)
        .args(["-O", "check", "ssso-sync"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Removes a dead socket left at `ctl`: only a socket, only one of ours (our private
/// directory, our uid).
fn remove_stale_socket(ctl: &Path) {
    if let Ok(m) = std::fs::symlink_metadata(ctl)
        && m.file_type().is_socket()
        && m.uid() == unsafe { libc::getuid() }
    {
        ui::debug(format_args!("removing the dead socket {}", ctl.display()));
        let _ = std::fs::remove_file(ctl);
    }
}

/// The sync master's command line (see [`start_master`]).
fn master_command(t: &Target, cfg: &SshConfig, ctl: &Path) -> Command {
    // When the host's ProxyCommand is `ssso proxy`, the inner one hands ssh the socket and
    // exits: no relay process lives on beside the master.
    let fdpass = cfg.get("proxycommand").is_some_and(runs_ssso_proxy);
    let extra: &[&str] = if fdpass {
        &["-o", "ProxyUseFdpass=yes"]
    } else {
        &[]
    };
    master::sync_master_command(&t.ssh, ctl, &PERSIST_SECS.to_string(), extra)
}

/// Starts the sync master in the background: prompts on the terminal (ssh opens /dev/tty),
/// stdin from /dev/null, its stdout to our stderr (never to the SSH stream).
fn start_master(t: &Target, cfg: &SshConfig, ctl: &Path, dest: &str) -> Result<()> {
    let mut cmd = master_command(t, cfg, ctl);
    ui::debug(format_args!("starting the sync connection to {dest}"));
    let err = stderr_fd()?;
    let status = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::from(err))
        .stderr(Stdio::inherit())
        .status()
        .context("could not run ssh; is OpenSSH installed?")?;
    if !status.success() {
        bail!("could not open the sync connection to {dest} (ssh: {status})");
    }
    Ok(())
}

fn stderr_fd() -> Result<std::os::fd::OwnedFd> {
    use std::os::fd::AsFd as _;
    io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .context("cannot duplicate stderr")
}

/// Connects to HOST:PORT, trying every address it resolves to, in order.
fn connect_tcp(host: &str, port: u16) -> Result<TcpStream> {
    let addrs = (host, port)
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve {host}"))?;
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect(addr) {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                ui::debug(format_args!("connected to {addr}"));
                return Ok(s);
            }
            Err(e) => last = Some(anyhow::Error::new(e).context(format!("connect to {addr}"))),
        }
    }
    Err(last.unwrap_or_else(|| anyhow::anyhow!("{host} has no address")))
        .with_context(|| format!("cannot connect to {host} port {port}"))
}

/// Hands the socket to ssh (`fdpass`) or relays until the connection ends.
fn serve(sock: TcpStream, fdpass: bool) -> Result<u8> {
    if fdpass {
        mux::send_fd(1, sock.as_raw_fd()).context("cannot pass the connection to ssh")?;
        return Ok(0);
    }
    relay(sock)?;
    Ok(0)
}

fn stdout_is_socket() -> bool {
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    unsafe { libc::fstat(1, &mut st) == 0 && (st.st_mode & libc::S_IFMT) == libc::S_IFSOCK }
}

/// After the inner hop connected: stderr to /dev/null (see [`run`]).
fn quiet_stderr() {
    if let Ok(null) = File::options().write(true).open("/dev/null") {
        unsafe { libc::dup2(null.as_raw_fd(), 2) };
    }
}

/// Relays stdin to the socket (splice(2) unless `SSSO_PROXY_RELAY=copy`) and the socket to
/// stdout (read/write) until the server side ends. stdin's
/// EOF half-closes the socket (shutdown(Write)) and the other direction goes on; the socket's
/// EOF (or a failed write to stdout) closes stdout and ends the relay, whatever stdin does.
fn relay(sock: TcpStream) -> Result<()> {
    let splice = std::env::var_os(RELAY_ENV).is_none_or(|v| v != "copy");
    let up_sock = sock.try_clone()?;
    std::thread::Builder::new()
        .name("stdin-to-socket".into())
        .spawn(move || {
            let _ = pump(0, up_sock.as_raw_fd(), splice);
            let _ = up_sock.shutdown(Shutdown::Write);
        })?;
    // Not splice(2) here: splicing from the TCP socket into ssh's pipe stalled OpenSSH's key
    // exchange on Linux 6.18 (the bytes reached the pipe, ssh never went on); read/write does
    // not, and costs nothing measurable (see bench/proxy.sh).
    let down = pump(sock.as_raw_fd(), 1, false);
    // Close stdout (ssh sees EOF) by putting /dev/null in its place.
    if let Ok(null) = File::options().write(true).open("/dev/null") {
        unsafe { libc::dup2(null.as_raw_fd(), 1) };
    }
    match down {
        Ok(n) => ui::debug(format_args!(
            "connection closed after {n} bytes from the server"
        )),
        Err(e) => ui::debug(format_args!("relay ended: {e}")),
    }
    Ok(())
}

/// Moves bytes from `from` to `to` until EOF: with `use_splice`, splice(2) where one side is a
/// pipe (no copy through user space), else read/write with a large buffer. Returns the byte
/// count.
fn pump(from: RawFd, to: RawFd, use_splice: bool) -> io::Result<u64> {
    let mut total = 0u64;
    #[cfg(target_os = "linux")]
    if use_splice {
        loop {
            let n = unsafe {
                libc::splice(
                    from,
                    std::ptr::null_mut(),
                    to,
                    std::ptr::null_mut(),
                    1 << 20,
                    libc::SPLICE_F_MOVE,
                )
            };
            if n > 0 {
                total += n as u64;
                continue;
            }
            if n == 0 {
                return Ok(total);
            }
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EINTR) => continue,
                // Neither side is a pipe: fall back (nothing was moved by splice).
                Some(libc::EINVAL) if total == 0 => break,
                _ => return Err(e),
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = use_splice;
    // SAFETY: borrowed for the loop only; ManuallyDrop keeps the fds open.
    let mut src = ManuallyDrop::new(unsafe { File::from_raw_fd(from) });
    let mut dst = ManuallyDrop::new(unsafe { File::from_raw_fd(to) });
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = match src.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        dst.write_all(&buf[..n])?;
        total += n as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixStream;
    use std::time::Duration;

    /// `ssso proxy [--user U] [--alias A] [-F C] HOST PORT`'s settings.
    fn args(extra: &[&str]) -> Settings {
        let mut s = Settings {
            session: session::Settings {
                profile: None,
                freshness: crate::aws::login::Freshness {
                    min_valid: Duration::from_secs(900),
                    refresh_before: crate::aws::schedule::REFRESH_BEFORE,
                    login: true,
                    login_args: Vec::new(),
                },
                sync: sync::Options::default(),
            },
            strict: false,
            user: None,
            alias: None,
            config: None,
            host: String::new(),
            port: 0,
        };
        let mut words = extra.iter();
        let mut positional = Vec::new();
        while let Some(w) = words.next() {
            let mut value = || words.next().map(|v| v.to_string());
            match *w {
                "--user" => s.user = value(),
                "--alias" => s.alias = value(),
                "-F" => s.config = value().map(Into::into),
                other => positional.push(other),
            }
        }
        s.host = positional[0].to_owned();
        s.port = positional[1].parse().unwrap();
        s
    }

    #[test]
    fn explicit_target() {
        let a = args(&[
            "--user",
            "bob",
            "--alias",
            "jup",
            "-F",
            "/c",
            "h.example",
            "2222",
        ]);
        let t = Target::explicit(&a);
        let words: Vec<_> = t.ssh.options.iter().map(|w| w.to_str().unwrap()).collect();
        assert_eq!(words, ["-F", "/c", "-l", "bob", "-p", "2222"]);
        assert_eq!(t.ssh.destination.as_deref(), Some(OsStr::new("jup")));
        let a = args(&["h.example", "22"]);
        let t = Target::explicit(&a);
        assert_eq!(t.ssh.destination.as_deref(), Some(OsStr::new("h.example")));
        assert!(!a.strict);
    }

    #[test]
    fn unexpanded_tokens_count_as_not_given() {
        let a =
            without_unexpanded_tokens(&args(&["--user", "%r", "--alias", "%n", "h.example", "22"]));
        assert_eq!((a.user, a.alias), (None, None));
        let a = without_unexpanded_tokens(&args(&[
            "--user",
            "bob",
            "--alias",
            "%nx",
            "h.example",
            "22",
        ]));
        assert_eq!(
            (a.user.as_deref(), a.alias.as_deref()),
            (Some("bob"), Some("%nx"))
        );
    }

    #[test]
    fn parent_command_line() {
        let t = parse_ssh_cmdline(
            b"ssh\0-x\0-oClearAllForwardings=yes\0-F\0/cfg\0-l\0bob\0-s\0--\0jup\0sftp\0",
        )
        .unwrap();
        assert_eq!(t.destination.as_deref(), Some(OsStr::new("jup")));
        let opts: Vec<_> = t.config_options();
        let opts: Vec<_> = opts.iter().map(|w| w.to_str().unwrap()).collect();
        assert_eq!(
            opts,
            ["-o", "ClearAllForwardings=yes", "-F", "/cfg", "-l", "bob"]
        );
        assert!(parse_ssh_cmdline(b"/usr/bin/ssh\0host\0").is_some());
        assert!(parse_ssh_cmdline(b"sh\0-c\0exec ssso proxy h 22\0").is_none());
        assert!(parse_ssh_cmdline(b"ssh\0-G\0").is_none());
        assert!(parse_ssh_cmdline(b"").is_none());
    }

    #[test]
    fn recognises_its_own_proxy_command() {
        assert!(runs_ssso_proxy("ssso proxy %h %p"));
        assert!(runs_ssso_proxy(
            "exec /usr/local/bin/ssso proxy --alias %n %h %p"
        ));
        assert!(!runs_ssso_proxy("ssh -W %h:%p bastion"));
        assert!(!runs_ssso_proxy("ssso status"));
        assert!(!runs_ssso_proxy("nc %h %p"));
    }

    #[test]
    fn fd_passing_delivers_a_working_socket() {
        let (a, b) = UnixStream::pair().unwrap();
        let (mut x, y) = UnixStream::pair().unwrap();
        crate::ssh::mux::send_fd(a.as_raw_fd(), y.as_raw_fd()).unwrap();
        drop(y);
        // Receive it as OpenSSH does: one byte and one SCM_RIGHTS fd.
        let mut byte = [0u8; 1];
        let mut iov = libc::iovec {
            iov_base: byte.as_mut_ptr().cast(),
            iov_len: 1,
        };
        let mut control = [0u64; 8];
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control) as _;
        let n = unsafe { libc::recvmsg(b.as_raw_fd(), &mut msg, 0) };
        assert_eq!(n, 1);
        assert_eq!(byte, [0]);
        let fd = unsafe {
            let c = libc::CMSG_FIRSTHDR(&msg);
            assert_eq!((*c).cmsg_type, libc::SCM_RIGHTS);
            std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<libc::c_int>())
        };
        let mut got = unsafe { UnixStream::from_raw_fd(fd) };
        x.write_all(b"ping").unwrap();
        let mut buf = [0u8; 4];
        got.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"ping");
    }

    #[test]
    fn pump_copies_through_pipes_and_sockets() {
        for splice in [true, false] {
            // pipe -> socket -> pipe, with splice where it applies.
            let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
            let (mut r1, mut w1) = pipe();
            let (s1, mut s2) = UnixStream::pair().unwrap();
            let d = data.clone();
            let writer = std::thread::spawn(move || {
                w1.write_all(&d).unwrap();
            });
            let pumper = std::thread::spawn(move || {
                let n = pump(r1.as_raw_fd(), s1.as_raw_fd(), splice).unwrap();
                drop(s1);
                let _ = &mut r1;
                n
            });
            let mut got = Vec::new();
            s2.read_to_end(&mut got).unwrap();
            writer.join().unwrap();
            assert_eq!(pumper.join().unwrap(), data.len() as u64);
            assert!(got == data, "relay changed the bytes (splice {splice})");
        }
    }

    fn pipe() -> (File, File) {
        let mut fds = [0; 2];
        assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
        unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) }
    }

    #[test]
    fn master_command_keeps_user_options_after_its_own() {
        let a = args(&["--user", "bob", "--alias", "jup", "h", "22"]);
        let t = Target::explicit(&a);
        let cfg = SshConfig::parse("proxycommand ssso proxy %h %p\n");
        let cmd = master_command(&t, &cfg, Path::new("/s/c"));
        let words: Vec<_> = cmd.get_args().map(|w| w.to_str().unwrap()).collect();
        let joined = words.join(" ");
        assert!(
            joined
                .starts_with("-M -N -f -S /s/c -o ControlPersist=60 -T -o ClearAllForwardings=yes"),
            "{joined}"
        );
        assert!(
            joined.ends_with("-o ProxyUseFdpass=yes -l bob -p 22 -- jup"),
            "{joined}"
        );
        let envs: Vec<_> = cmd.get_envs().collect();
        assert_eq!(envs, [(OsStr::new(INNER_ENV), Some(OsStr::new("1")))]);
        let cfg = SshConfig::parse("proxyjump bastion\n");
        let cmd = master_command(&t, &cfg, Path::new("/s/c"));
        assert!(!cmd.get_args().any(|w| w == "ProxyUseFdpass=yes"));
    }
}
