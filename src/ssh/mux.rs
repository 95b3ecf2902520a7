//! A command's session over a live master of the user's, opened in-process: what `ssh` does as
//! a mux client (OpenSSH's `mux.c`, `PROTOCOL.mux`) for a command without a tty, without
//! starting `ssh`. The master gets ssso's own stdin, stdout and stderr (`SCM_RIGHTS`), runs the
//! command on a new channel, and reports its exit status; the bytes never pass through ssso.
//!
//! Only the plain case goes this way ([`Eligible::check`]): no tty, no forwardings, no agent or
//! X11, no `-f`, `-n`, `-M` or tunnel, `LogLevel` at most INFO (a mux client prints nothing
//! there without a tty). The request is byte for byte the one ssh's mux client sends (a unit
//! test compares them against the installed ssh): the variables that `SendEnv` allows, then
//! `SetEnv`, `TERM`, the escape character. Everything else keeps the `ssh` process. A failure
//! before the master opened the session ([`Outcome::NotOpened`]) has run nothing on the host:
//! the caller then starts `ssh`, which tries the same master and falls back as ssh does.
//!
//! Exit status as ssh's mux client: the status the master reports, 255 when the master closes
//! without one (the command died of a signal, the connection broke) or when ssso is told to
//! stop once the session is open (SIGTERM, SIGHUP, SIGINT: closing the control connection
//! ends the channel, as ssh's does); see [`run`] for the rest.

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixStream;
use std::path::Path;

use anyhow::{Context, Result, bail};
use tokio::io::AsyncReadExt;

use crate::ssh::config::SshConfig;

const MUX_MSG_HELLO: u32 = 0x0000_0001;
const MUX_C_NEW_SESSION: u32 = 0x1000_0002;
const MUX_S_PERMISSION_DENIED: u32 = 0x8000_0002;
const MUX_S_FAILURE: u32 = 0x8000_0003;
const MUX_S_EXIT_MESSAGE: u32 = 0x8000_0004;
const MUX_S_SESSION_OPENED: u32 = 0x8000_0006;
const MUX_S_TTY_ALLOC_FAIL: u32 = 0x8000_0008;
const SSHMUX_VER: u32 = 4;
const NO_ESCAPE: u32 = 0xffff_ffff;

/// What ssh's mux client would send for this line besides the command: the environment
/// strings, `TERM`, the escape character.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Eligible {
    env: Vec<Vec<u8>>,
    term: Vec<u8>,
    escape: u32,
}

/// `escapechar` as `ssh -G` prints it (`none`, `~`, or a control character vis-encoded as
/// `\^A`), as the number ssh's mux client sends (the master uses it only with a tty).
fn escape_char(v: Option<&str>) -> Option<u32> {
    match v.map(str::as_bytes) {
        None => Some(u32::from(b'~')),
        Some(b"none") => Some(NO_ESCAPE),
        Some([c]) => Some(u32::from(*c)),
        Some([b'\\', b'^', b'?']) => Some(0x7f),
        Some([b'\\', b'^', c]) => Some(u32::from(*c & 0x1f)),
        Some(_) => None,
    }
}

impl Eligible {
    /// `Some` when ssh's mux client would do nothing for this line but open one session without
    /// a tty for the command: `cfg` is `ssh -G` of the whole line. `environ` is what that ssh
    /// would inherit.
    pub fn check<'a>(
        cfg: &SshConfig,
        environ: impl Iterator<Item = (&'a OsStr, &'a OsStr)>,
    ) -> Option<Eligible> {
        let is = |k: &str, v: &[&str]| cfg.get(k).is_none_or(|x| v.contains(&x));
        let plain = is("requesttty", &["auto", "false", "no"])
            && is("stdinnull", &["no"])
            && is("forkafterauthentication", &["no"])
            && is("sessiontype", &["default"])
            && is("forwardagent", &["no"])
            && is("forwardx11", &["no"])
            && is("tunnel", &["false", "no"])
            && is("loglevel", &["QUIET", "FATAL", "ERROR", "INFO"])
            && ["localforward", "remoteforward", "dynamicforward"]
                .iter()
                .all(|k| cfg.get(k).is_none());
        if !plain {
            return None;
        }
        let escape = escape_char(cfg.get("escapechar"))?;
        let send: Vec<&str> = cfg.all("sendenv").collect();
        let mut env = Vec::new();
        let mut term = None;
        for (k, v) in environ {
            if k.as_bytes() == b"TERM" {
                term = Some(v.as_bytes().to_vec());
            }
            let name = k.as_bytes();
            if name.is_empty() || name.contains(&b'=') || name.len() >= 1023 {
                continue;
            }
            if send.iter().any(|p| glob(p.as_bytes(), name)) {
                let mut e = name.to_vec();
                e.push(b'=');
                e.extend_from_slice(v.as_bytes());
                env.push(e);
            }
        }
        let setenv: Vec<&str> = cfg.all("setenv").collect();
        if let Some(t) = setenv
            .iter()
            .find_map(|e| e.strip_prefix("TERM="))
            .filter(|t| !t.is_empty())
        {
            term = Some(t.as_bytes().to_vec());
        }
        env.extend(setenv.iter().map(|e| e.as_bytes().to_vec()));
        Some(Eligible {
            env,
            term: term.unwrap_or_default(),
            escape,
        })
    }
}

/// ssh's `match_pattern`: `*` any run of bytes, `?` one byte.
fn glob(pat: &[u8], s: &[u8]) -> bool {
    match (pat.first(), s.first()) {
        (None, None) => true,
        (Some(b'*'), _) => glob(&pat[1..], s) || (!s.is_empty() && glob(pat, &s[1..])),
        (Some(b'?'), Some(_)) => glob(&pat[1..], &s[1..]),
        (Some(p), Some(c)) if p == c => glob(&pat[1..], &s[1..]),
        _ => false,
    }
}

/// How an in-process session went.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The master never opened the session: nothing ran on the host.
    NotOpened(String),
    /// ssh's exit status for it.
    Status(u8),
}

fn put_u32(b: &mut Vec<u8>, v: u32) {
    b.extend_from_slice(&v.to_be_bytes());
}

fn put_str(b: &mut Vec<u8>, s: &[u8]) {
    put_u32(b, s.len() as u32);
    b.extend_from_slice(s);
}

fn packet(body: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(body.len() + 4);
    put_str(&mut p, body);
    p
}

fn read_packet(s: &mut UnixStream) -> std::io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len)?;
    let len = u32::from_be_bytes(len) as usize;
    if len > 256 * 1024 {
        return Err(std::io::Error::other("mux packet too long"));
    }
    let mut body = vec![0; len];
    s.read_exact(&mut body)?;
    Ok(body)
}

fn get_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Sends `fd` over the unix socket `via` with SCM_RIGHTS and one NUL byte, as OpenSSH's
/// `mm_send_fd` does and its `ProxyUseFdpass` expects (ssso proxy), and as ssh's mux client passes its stdio to
/// the master.
pub fn send_fd(via: std::os::fd::RawFd, fd: std::os::fd::RawFd) -> std::io::Result<()> {
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<libc::c_int>() as u32) } as usize;
    // u64 words keep the control buffer aligned for cmsghdr.
    let mut control = vec![0u64; space.div_ceil(8)];
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = space as _;
    // SAFETY: msg_control points at `space` bytes, enough for one cmsghdr with one int.
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<libc::c_int>() as u32) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::c_int>(), fd);
    }
    loop {
        let n = unsafe { libc::sendmsg(via, &msg, 0) };
        if n == 1 {
            return Ok(());
        }
        let e = std::io::Error::last_os_error();
        if n < 0 && e.kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        return Err(if n < 0 {
            e
        } else {
            std::io::Error::other("short sendmsg")
        });
    }
}

/// Opens the session for `command` on the master at `ctl`, with ssso's stdio. `Err` is
/// [`Outcome::NotOpened`]'s reason.
fn open(ctl: &Path, command: &[u8], env: &Eligible) -> Result<UnixStream> {
    let mut s = UnixStream::connect(ctl).context("could not connect to the master")?;
    let mut hello = Vec::new();
    put_u32(&mut hello, MUX_MSG_HELLO);
    put_u32(&mut hello, SSHMUX_VER);
    s.write_all(&packet(&hello))?;
    let theirs = read_packet(&mut s)?;
    if get_u32(&theirs, 0) != Some(MUX_MSG_HELLO) || get_u32(&theirs, 4) != Some(SSHMUX_VER) {
        bail!("the master does not speak mux protocol version {SSHMUX_VER}");
    }
    let mut m = Vec::new();
    put_u32(&mut m, MUX_C_NEW_SESSION);
    put_u32(&mut m, 1); // request id, as ssh's after its alive check
    put_str(&mut m, b""); // reserved
    for flag in [0, 0, 0, 0] {
        // tty, X11, agent, subsystem
        put_u32(&mut m, flag);
    }
    put_u32(&mut m, env.escape);
    put_str(&mut m, &env.term);
    put_str(&mut m, command);
    for e in &env.env {
        put_str(&mut m, e);
    }
    s.write_all(&packet(&m))?;
    for fd in 0..3 {
        send_fd(s.as_raw_fd(), fd).context("could not pass stdio to the master")?;
    }
    let r = read_packet(&mut s)?;
    let reason = || {
        let len = get_u32(&r, 8).unwrap_or(0) as usize;
        String::from_utf8_lossy(r.get(12..12 + len).unwrap_or_default()).into_owned()
    };
    match get_u32(&r, 0) {
        Some(MUX_S_SESSION_OPENED) => Ok(s),
        Some(MUX_S_PERMISSION_DENIED) => bail!("master refused session request: {}", reason()),
        Some(MUX_S_FAILURE) => bail!("session request failed: {}", reason()),
        Some(t) => bail!("unexpected response from master 0x{t:08x}"),
        None => bail!("empty response from master"),
    }
}

/// Runs `command` over the master at `ctl` as ssh's mux client would, until the master closes
/// the control connection or `stop` yields a signal that ssso was sent (SIGTERM, SIGHUP,
/// SIGINT, SIGQUIT). The status for a signal is the one ssso gave when ssh ran the session:
/// 128 + the signal while the session is being opened (ssh still had the default handlers
/// and died of it), 255 once it is open (ssh's mux client closes and exits 255), but
/// 128 + SIGQUIT always (ssh never catches it).
pub async fn run(
    ctl: &Path,
    command: &[u8],
    env: &Eligible,
    stop: impl std::future::Future<Output = i32>,
) -> Outcome {
    let (ctl, command, env) = (ctl.to_path_buf(), command.to_vec(), env.clone());
    let opening = tokio::task::spawn_blocking(move || open(&ctl, &command, &env));
    tokio::pin!(stop);
    let s = tokio::select! {
        r = opening => match r {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Outcome::NotOpened(format!("{e:#}")),
            Err(e) => return Outcome::NotOpened(format!("{e}")),
        },
        sig = &mut stop => return Outcome::Status(128u8.saturating_add(sig as u8)),
    };
    let wait = async {
        s.set_nonblocking(true).ok()?;
        let mut s = tokio::net::UnixStream::from_std(s).ok()?;
        let mut exit = None;
        loop {
            let mut len = [0u8; 4];
            if s.read_exact(&mut len).await.is_err() {
                break;
            }
            let len = u32::from_be_bytes(len) as usize;
            let mut body = vec![0; len.min(256 * 1024)];
            if len > body.len() || s.read_exact(&mut body).await.is_err() {
                break;
            }
            match get_u32(&body, 0) {
                Some(MUX_S_EXIT_MESSAGE) if exit.is_none() => exit = get_u32(&body, 8),
                Some(MUX_S_TTY_ALLOC_FAIL) => {}
                // A second exit message, or anything else: ssh's `fatal`.
                _ => return Some(255),
            }
        }
        // The master closed: its exit message, or 255 without one (a signal killed the
        // command, the connection broke).
        Some(exit.map_or(255, |v| v as u8))
    };
    tokio::select! {
        s = wait => Outcome::Status(s.unwrap_or(255)),
        sig = &mut stop => Outcome::Status(if sig == libc::SIGQUIT {
            128 + libc::SIGQUIT as u8
        } else {
            255
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    fn eligible(cfg: &str, env: &[(&str, &str)]) -> Option<Eligible> {
        let env: Vec<(OsString, OsString)> =
            env.iter().map(|(k, v)| (k.into(), v.into())).collect();
        Eligible::check(
            &SshConfig::parse(cfg),
            env.iter().map(|(k, v)| (k.as_os_str(), v.as_os_str())),
        )
    }

    /// A master that answers one mux client: hello, the alive check, then a new session that
    /// it records (the message, the three descriptors read and dropped), reports `exit` for
    /// (or nothing: `None`) and closes.
    fn fake_master(path: &Path, exit: Option<u32>) -> std::thread::JoinHandle<Vec<u8>> {
        let listener = std::os::unix::net::UnixListener::bind(path).unwrap();
        std::thread::spawn(move || {
            let (mut c, _) = listener.accept().unwrap();
            let send = |c: &mut UnixStream, words: &[u32]| {
                let mut body = Vec::new();
                for w in words {
                    put_u32(&mut body, *w);
                }
                c.write_all(&packet(&body)).unwrap();
            };
            send(&mut c, &[MUX_MSG_HELLO, SSHMUX_VER]);
            assert_eq!(
                get_u32(&read_packet(&mut c).unwrap(), 0),
                Some(MUX_MSG_HELLO)
            );
            loop {
                let body = read_packet(&mut c).unwrap();
                let rid = get_u32(&body, 4).unwrap();
                match get_u32(&body, 0).unwrap() {
                    0x1000_0004 => send(&mut c, &[0x8000_0005, rid, 1]),
                    MUX_C_NEW_SESSION => {
                        let mut fds = [0u8; 3];
                        c.read_exact(&mut fds).unwrap();
                        send(&mut c, &[MUX_S_SESSION_OPENED, rid, 7]);
                        if let Some(e) = exit {
                            send(&mut c, &[MUX_S_EXIT_MESSAGE, 7, e]);
                        }
                        return body;
                    }
                    t => panic!("unexpected request 0x{t:08x}"),
                }
            }
        })
    }

    /// What ssso sends for a session is what the installed ssh's own mux client sends for the
    /// same line and environment (`SendEnv`, `SetEnv`, TERM, the escape character), and both
    /// exit with the status the master reports, or 255 without one.
    #[test]
    fn the_session_request_is_ssh_s_own() {
        let dir = tempfile::tempdir().unwrap();
        let cfg_path = dir.path().join("config");
        std::fs::write(
            &cfg_path,
            "Host x\n  HostName 127.0.0.1\n  SendEnv LANG LC_* FO?\n  SetEnv A=1 \"B=x y\"\n  EscapeChar ^A\n",
        )
        .unwrap();
        let env = [
            ("PATH", "/usr/bin:/bin"),
            ("HOME", "/nonexistent-ssso-test"),
            ("LANG", "C.UTF-8"),
            ("LC_ALL", "C"),
            ("FOO", "bar baz"),
            ("FOOD", "no"),
            ("TERM", "xterm-test"),
        ];
        let command = "echo 'it''s' \"$HOME\"";
        let ssh_line = |sock: &Path, query: &[&str]| {
            let mut cmd = std::process::Command::new("ssh");
            cmd.arg("-F")
                .arg(&cfg_path)
                .args(["-o", "ControlMaster=no", "-o"])
                .arg(format!("ControlPath={}", sock.display()))
                .args(query)
                .args(["x", command])
                .env_clear()
                .envs(env)
                .stdin(std::process::Stdio::null());
            cmd
        };
        for exit in [Some(42), Some(256 + 3), None] {
            let want = exit.map_or(255, |e| e as u8);
            let sock = dir.path().join("ssh.sock");
            let _ = std::fs::remove_file(&sock);
            let master = fake_master(&sock, exit);
            let status = ssh_line(&sock, &[]).status().unwrap();
            let from_ssh = master.join().unwrap();
            assert_eq!(status.code(), Some(i32::from(want)), "ssh, {exit:?}");

            let out = ssh_line(&sock, &["-G"]).output().unwrap();
            let cfg = SshConfig::parse(&String::from_utf8_lossy(&out.stdout));
            // In the order a child of std gets them (sorted), as ssh did here.
            let sorted: std::collections::BTreeMap<&str, &str> = env.into_iter().collect();
            let eligible = Eligible::check(
                &cfg,
                sorted.iter().map(|(k, v)| (OsStr::new(k), OsStr::new(v))),
            )
            .expect("a plain line");
            let sock = dir.path().join("ssso.sock");
            let _ = std::fs::remove_file(&sock);
            let master = fake_master(&sock, exit);
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let outcome = rt.block_on(run(
                &sock,
                command.as_bytes(),
                &eligible,
                std::future::pending(),
            ));
            let from_ssso = master.join().unwrap();
            assert_eq!(outcome, Outcome::Status(want), "{exit:?}");
            assert_eq!(
                String::from_utf8_lossy(&from_ssso),
                String::from_utf8_lossy(&from_ssh)
            );
        }
    }

    #[test]
    fn globs_as_ssh() {
        assert!(glob(b"LC_*", b"LC_ALL"));
        assert!(glob(b"*", b""));
        assert!(glob(b"L?NG", b"LANG"));
        assert!(!glob(b"LANG", b"LANGUAGE"));
        assert!(!glob(b"LC_*", b"XLC_A"));
    }

    #[test]
    fn only_the_plain_case() {
        let base = "requesttty auto\nstdinnull no\nforkafterauthentication no\nsessiontype default\nforwardagent no\nforwardx11 no\ntunnel false\nloglevel INFO\n";
        assert!(eligible(base, &[]).is_some());
        for extra in [
            "requesttty force\n",
            "requesttty true\n",
            "stdinnull yes\n",
            "forkafterauthentication yes\n",
            "sessiontype none\n",
            "forwardagent yes\n",
            "forwardx11 yes\n",
            "tunnel point-to-point\n",
            "loglevel DEBUG1\n",
            "localforward 1 [a]:2\n",
            "remoteforward 1 [a]:2\n",
            "dynamicforward 1080\n",
        ] {
            let cfg = format!("{extra}{base}");
            assert!(eligible(&cfg, &[]).is_none(), "{extra}");
        }
    }

    #[test]
    fn sends_the_environment_as_ssh_does() {
        let cfg = "sendenv LANG\nsendenv LC_*\nsetenv AWS_PROFILE=dev\nsetenv B=x y\n";
        let e = eligible(
            cfg,
            &[
                ("LANG", "C"),
                ("HOME", "/h"),
                ("LC_ALL", "C"),
                ("TERM", "xterm"),
            ],
        )
        .unwrap();
        let env: Vec<&[u8]> = e.env.iter().map(Vec::as_slice).collect();
        assert_eq!(
            env,
            [&b"LANG=C"[..], b"LC_ALL=C", b"AWS_PROFILE=dev", b"B=x y"]
        );
        assert_eq!(e.term, b"xterm");
        let e = eligible("setenv TERM=vt100\n", &[("TERM", "xterm")]).unwrap();
        assert_eq!(e.term, b"vt100");
    }
}
