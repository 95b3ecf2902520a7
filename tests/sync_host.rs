//! The host side of the sync against unfriendly but ordinary hosts, through the real sshd, each
//! case checking the bytes on the host afterwards: tokens judged by their instant (offsets,
//! `UTC`, fractions) and broken ones repaired; directories, FIFOs and symlinks at the targets;
//! a read-only `~/.aws` or cache; the host program killed at each step; a host without `tr`,
//! `mktemp` and `head`; a 13 MB config; a disk that fills up in the middle of a write.

mod common;

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use common::*;

const PROFILE: &str = "dev";
const SESSION: &str = "corp";

fn key() -> String {
    cache_key(SESSION)
}

fn err(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A local side whose token expires in `expires_in` seconds; its file's bytes and expiry.
fn local_with(label: &str, expires_in: i64) -> (Local, Vec<u8>, i64) {
    let local = Local::new(&sso_config(PROFILE, SESSION));
    let token = unique_token(label);
    local.write_token(&key(), &token, expires_in);
    local.register_token(&token);
    let bytes = fs::read(local.token_path(&key())).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let exp = ssso::time::parse_timestamp(v["expiresAt"].as_str().unwrap()).unwrap();
    (local, bytes, exp)
}

/// ssso's own files left in `~/.aws` and the cache: temporaries, locks, markers.
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

/// `ssso --profile dev USER 'echo ran'`: the command must run whatever the sync did.
fn connect(local: &Local, user: &str) -> Output {
    let out = run(
        &mut local.ssso_to(&["--profile", PROFILE, "-v"], user, &["echo ran"]),
        CMD_TIMEOUT,
    );
    assert_success(&out, "connect");
    assert_eq!(out.stdout, b"ran\n", "{}", err(&out));
    out
}

/// A token file for START_URL (or `url`) with `expiresAt` written as `expires`.
fn token_text(access: &str, expires: &str, url: &str) -> Vec<u8> {
    format!(
        r#"{{"startUrl": "{url}", "region": "{SSO_REGION}", "accessToken": "{access}", "expiresAt": "{expires}", "clientId": "c", "clientSecret": "s", "registrationExpiresAt": "2099-01-01T00:00:00Z", "refreshToken": "r-{access}"}}"#
    )
    .into_bytes()
}

/// `secs` as the wall clock at UTC offset `offset` (seconds), with that offset: `-08:00`...
fn with_offset(secs: i64, offset: i64) -> String {
    let local = iso8601(secs + offset);
    let sign = if offset < 0 { '-' } else { '+' };
    let o = offset.abs();
    format!(
        "{}{sign}{:02}:{:02}",
        local.trim_end_matches('Z'),
        o / 3600,
        o % 3600 / 60
    )
}

/// The host's token file, from our token's expiry.
type Remote = Box<dyn Fn(i64) -> Vec<u8>>;

/// Every remote token is judged by its instant and its validity: a valid one that expires
/// later stays (and comes back here), anything else is replaced by ours.
#[test]
fn remote_tokens_are_judged_by_their_instant() {
    let u = user("ssso-bash");
    let cases: Vec<(&str, Remote, bool)> = vec![
        (
            "truncated JSON, later",
            Box::new(|exp| token_text("t", &iso8601(exp + 3600), START_URL)[..60].to_vec()),
            false,
        ),
        (
            "no accessToken, later",
            Box::new(|exp| {
                format!(
                    r#"{{"startUrl": "{START_URL}", "expiresAt": "{}"}}"#,
                    iso8601(exp + 3600)
                )
                .into_bytes()
            }),
            false,
        ),
        (
            "another startUrl, later",
            Box::new(|exp| {
                token_text("o", &iso8601(exp + 3600), "https://other.awsapps.com/start")
            }),
            false,
        ),
        (
            "-08:00, really an hour later",
            Box::new(|exp| token_text("w", &with_offset(exp + 3600, -8 * 3600), START_URL)),
            true,
        ),
        (
            "+09:00, really an hour earlier",
            Box::new(|exp| token_text("e", &with_offset(exp - 3600, 9 * 3600), START_URL)),
            false,
        ),
        (
            "UTC suffix, later",
            Box::new(|exp| {
                let z = iso8601(exp + 600);
                token_text("u", &format!("{}UTC", z.trim_end_matches('Z')), START_URL)
            }),
            true,
        ),
        (
            "fractional seconds, later",
            Box::new(|exp| {
                let z = iso8601(exp + 120);
                token_text(
                    "f",
                    &format!("{}.123456Z", z.trim_end_matches('Z')),
                    START_URL,
                )
            }),
            true,
        ),
        (
            "fractional seconds, earlier",
            Box::new(|exp| {
                let z = iso8601(exp - 120);
                token_text(
                    "g",
                    &format!("{}.999999Z", z.trim_end_matches('Z')),
                    START_URL,
                )
            }),
            false,
        ),
    ];
    for (what, remote, kept) in cases {
        let (local, ours, exp) = local_with("judge", 7200);
        let theirs = remote(exp);
        u.write(
            ".aws/config",
            sso_config(PROFILE, SESSION).as_bytes(),
            0o600,
        );
        u.write(&token_rel_path(&key()), &theirs, 0o600);
        let out = connect(&local, u.name());
        assert!(
            !err(&out).contains("could not sync"),
            "{what}: {}",
            err(&out)
        );
        let now = u.read(&token_rel_path(&key())).unwrap();
        if kept {
            assert_eq!(now, theirs, "{what}: the host's newer token was replaced");
            assert_eq!(
                fs::read(local.token_path(&key())).unwrap(),
                theirs,
                "{what}: the host's newer token was not adopted here"
            );
        } else {
            assert_eq!(now, ours, "{what}: the host's token was not replaced");
        }
        assert!(
            leftovers(u.name()).is_empty(),
            "{what}: {:?}",
            leftovers(u.name())
        );
    }
}

/// What is at a target that is not a regular file.
#[derive(Clone, Copy, Debug)]
enum Odd {
    Dir,
    Fifo,
    Symlink,
}

fn make_odd(user: &str, rel: &str, odd: Odd) {
    let (uid, gid, home) = passwd(user).unwrap();
    let p = home.join(rel);
    match odd {
        Odd::Dir => fs::create_dir(&p).unwrap(),
        Odd::Fifo => {
            let c = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
            assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        }
        Odd::Symlink => {
            remote_write(user, ".aws/elsewhere", b"keep", 0o600);
            std::os::unix::fs::symlink(home.join(".aws/elsewhere"), &p).unwrap();
        }
    }
    std::os::unix::fs::lchown(&p, Some(uid), Some(gid)).unwrap();
}

fn assert_odd_intact(user: &str, rel: &str, odd: Odd) {
    let p = home(user).join(rel);
    let m = fs::symlink_metadata(&p).unwrap();
    match odd {
        Odd::Dir => {
            assert!(m.is_dir());
            assert!(
                fs::read_dir(&p).unwrap().next().is_none(),
                "something went into {rel}"
            );
        }
        Odd::Fifo => assert!(m.file_type().is_fifo()),
        Odd::Symlink => {
            assert!(m.file_type().is_symlink());
            assert_eq!(remote_read(user, ".aws/elsewhere").unwrap(), b"keep");
        }
    }
}

/// A directory, a FIFO or a symlink at the token path or at `~/.aws/config`: left as it is,
/// the warning names the path and the reason, the other file is synced, the command runs.
#[test]
fn directories_fifos_and_symlinks_at_the_targets_are_refused() {
    let u = user("ssso-sh");
    for (odd, reason) in [
        (Odd::Dir, "is a directory"),
        (Odd::Fifo, "is a FIFO"),
        (Odd::Symlink, "is a symlink"),
    ] {
        // At the token path.
        let _ = fs::remove_dir_all(u.home().join(".aws"));
        u.write(
            ".aws/config",
            sso_config(PROFILE, SESSION).as_bytes(),
            0o600,
        );
        u.write(".aws/sso/cache/.keep", b"", 0o600);
        make_odd(u.name(), &token_rel_path(&key()), odd);
        let (local, _, _) = local_with("odd", 7200);
        let out = connect(&local, u.name());
        let e = err(&out);
        assert!(
            e.contains("could not sync the AWS token")
                && e.contains(&format!("~/.aws/sso/cache/{}.json {reason}", key())),
            "{odd:?}: {e}"
        );
        assert_odd_intact(u.name(), &token_rel_path(&key()), odd);
        assert!(
            leftovers(u.name()).is_empty(),
            "{odd:?}: {:?}",
            leftovers(u.name())
        );

        // At ~/.aws/config.
        let _ = fs::remove_dir_all(u.home().join(".aws"));
        u.write(".aws/sso/cache/.keep", b"", 0o600);
        make_odd(u.name(), ".aws/config", odd);
        let (local, ours, _) = local_with("odd-config", 7200);
        let out = connect(&local, u.name());
        let e = err(&out);
        assert!(
            e.contains(&format!("~/.aws/config {reason}")),
            "{odd:?}: {e}"
        );
        assert!(!e.contains("could not sync the AWS token"), "{odd:?}: {e}");
        assert_eq!(u.read(&token_rel_path(&key())).unwrap(), ours, "{odd:?}");
        assert_odd_intact(u.name(), ".aws/config", odd);
        assert!(
            leftovers(u.name()).is_empty(),
            "{odd:?}: {:?}",
            leftovers(u.name())
        );
    }
}

fn chmod(user: &str, rel: &str, mode: u32) {
    fs::set_permissions(home(user).join(rel), fs::Permissions::from_mode(mode)).unwrap();
}

/// A read-only `~/.aws` with a writable cache, and the reverse: what can be written is, the
/// rest is left as it was with a message that names the path and the reason.
#[test]
fn read_only_aws_directory_or_cache() {
    let u = user("ssso-zsh");
    let old_cfg = b"[default]\nregion = eu-west-1\n";
    for ro in [".aws", ".aws/sso/cache"] {
        let _ = fs::remove_dir_all(u.home().join(".aws"));
        let old_tok = token_text("old", &iso8601(ssso::time::now() + 600), START_URL);
        u.write(".aws/config", old_cfg, 0o600);
        u.write(&token_rel_path(&key()), &old_tok, 0o600);
        chmod(u.name(), ro, 0o500);
        let (local, ours, _) = local_with("ro", 7200);
        let out = connect(&local, u.name());
        let e = err(&out);
        let cfg = u.read(".aws/config").unwrap();
        let tok = u.read(&token_rel_path(&key())).unwrap();
        chmod(u.name(), ro, 0o700);
        if ro == ".aws" {
            assert!(
                e.contains("cannot write in ~/.aws: Permission denied"),
                "{ro}: {e}"
            );
            assert!(!e.contains("could not sync the AWS token"), "{ro}: {e}");
            assert_eq!(cfg, old_cfg, "{ro}");
            assert_eq!(tok, ours, "{ro}");
        } else {
            assert!(
                e.contains("could not sync the AWS token")
                    && e.contains("cannot write in ~/.aws/sso/cache: Permission denied"),
                "{ro}: {e}"
            );
            assert_eq!(tok, old_tok, "{ro}");
            let c = String::from_utf8(cfg).unwrap();
            assert!(
                c.starts_with("[default]\nregion = eu-west-1\n\n[profile dev]"),
                "{c}"
            );
        }
        assert!(
            leftovers(u.name()).is_empty(),
            "{ro}: {:?}",
            leftovers(u.name())
        );
    }
}

/// Waits (bounded) for `~USER/REL` to exist and hold something.
fn wait_for(user: &str, rel: &str) -> Vec<u8> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Some(b) = remote_read(user, rel).filter(|b| !b.is_empty()) {
            return b;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("~{user}/{rel} never appeared");
}

/// The host program killed (SIGKILL: no trap runs) at each step: before it answers, with the
/// new token in its temporary file, with the new config in its temporary file. The targets are
/// the old or the new file, never a part; the session still runs; the next sync removes what
/// the killed one left and completes.
#[test]
fn the_host_program_killed_at_each_step() {
    let u = user("ssso-bash");
    for point in ["read", "token", "config"] {
        let _ = fs::remove_dir_all(u.home().join(".aws"));
        let old_cfg = b"[default]\nregion = eu-west-1\n".to_vec();
        let old_tok = token_text("old", &iso8601(ssso::time::now() + 600), START_URL);
        u.write(".aws/config", &old_cfg, 0o600);
        u.write(&token_rel_path(&key()), &old_tok, 0o600);
        let (local, ours, _) = local_with("killed", 7200);
        let mut cmd = local.ssso_to(&["--profile", PROFILE], u.name(), &["echo ran"]);
        cmd.env("SSSO_TEST_SYNC_STALL", format!("{point}:20"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let started = Instant::now();
        let child = cmd.spawn().unwrap();
        // The host program announces its pid for the waiting session: that is the victim.
        let run_marker = loop {
            let found = fs::read_dir(u.home().join(".aws/sso/cache"))
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.file_name().into_string().unwrap())
                .find(|n| n.starts_with(".ssso-run-"));
            if let Some(n) = found {
                break format!(".aws/sso/cache/{n}");
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "{point}: no run marker"
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        let pid: i32 = String::from_utf8(wait_for(u.name(), &run_marker))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let temp = match point {
            "token" => Some(format!(".aws/sso/cache/.ssso-tok.{pid}")),
            "config" => Some(format!(".aws/.ssso-cfg.{pid}")),
            _ => None,
        };
        if let Some(t) = &temp {
            wait_for(u.name(), t);
            // Let the stall begin (the temporary is complete before it).
            std::thread::sleep(Duration::from_millis(300));
        } else {
            std::thread::sleep(Duration::from_millis(300));
        }
        // The program and its `sleep` (the test's stall, which would hold the channel open).
        let kids = children_of(pid);
        unsafe { libc::kill(pid, libc::SIGKILL) };
        for k in kids {
            unsafe { libc::kill(k, libc::SIGKILL) };
        }
        let out = child.wait_with_output().unwrap();
        assert_success(&out, point);
        assert_eq!(out.stdout, b"ran\n", "{point}: {}", err(&out));
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "{point}: the session waited for a sync that was gone"
        );
        let tok = u.read(&token_rel_path(&key())).unwrap();
        assert!(tok == old_tok || tok == ours, "{point}: a partial token");
        let cfg = u.read(".aws/config").unwrap();
        assert!(
            cfg == old_cfg || cfg.starts_with(b"[default]\nregion = eu-west-1\n\n[profile dev]"),
            "{point}: a partial config"
        );
        if point == "config" {
            // The token step was done before the config's.
            assert_eq!(tok, ours, "{point}");
        }
        // The next sync completes and removes the leftovers of the killed one.
        let out = connect(&local, u.name());
        assert!(
            !err(&out).contains("could not sync"),
            "{point}: {}",
            err(&out)
        );
        assert_eq!(u.read(&token_rel_path(&key())).unwrap(), ours, "{point}");
        let cfg = String::from_utf8(u.read(".aws/config").unwrap()).unwrap();
        assert_eq!(cfg.matches("[profile dev]").count(), 1, "{point}: {cfg}");
        assert!(
            leftovers(u.name()).is_empty(),
            "{point}: {:?}",
            leftovers(u.name())
        );
    }
}

/// Restores a file of the user's home when dropped.
struct Restore {
    path: std::path::PathBuf,
    old: Option<Vec<u8>>,
}

impl Drop for Restore {
    fn drop(&mut self) {
        match &self.old {
            Some(b) => fs::write(&self.path, b).unwrap(),
            None => {
                let _ = fs::remove_file(&self.path);
            }
        }
    }
}

/// A host whose PATH has only sh and the utilities the README names (no `tr`, `mktemp`,
/// `head`): the sync completes and the user's command runs.
#[test]
fn a_host_without_tr_mktemp_or_head() {
    let u = user("ssso-bash");
    let (_, _, home) = passwd(u.name()).unwrap();
    u.write(".aws/testbin/.keep", b"", 0o600);
    let bin = home.join(".aws/testbin");
    for tool in [
        "sh", "cksum", "wc", "cat", "ls", "id", "mkdir", "mv", "rm", "sync", "sleep",
    ] {
        let real = ["/bin", "/usr/bin"]
            .iter()
            .map(|d| std::path::Path::new(d).join(tool))
            .find(|p| p.exists())
            .unwrap();
        std::os::unix::fs::symlink(real, bin.join(tool)).unwrap();
    }
    let rc = home.join(".bashrc");
    let _restore = Restore {
        old: fs::read(&rc).ok(),
        path: rc.clone(),
    };
    // bash reads ~/.bashrc for sshd's commands (Debian builds it so).
    fs::write(&rc, format!("PATH={}\n", bin.display())).unwrap();
    let (local, ours, _) = local_with("notr", 7200);
    let out = run(
        &mut local.ssso_to(
            &["--profile", PROFILE],
            u.name(),
            &["echo ran; command -v tr || echo no-tr; command -v head || echo no-head"],
        ),
        CMD_TIMEOUT,
    );
    assert_success(&out, "no tr");
    assert_eq!(out.stdout, b"ran\nno-tr\nno-head\n", "{}", err(&out));
    assert!(!err(&out).contains("could not sync"), "{}", err(&out));
    assert_eq!(u.read(&token_rel_path(&key())).unwrap(), ours);
    let cfg = String::from_utf8(u.read(".aws/config").unwrap()).unwrap();
    assert!(
        cfg.contains("[profile dev]") && cfg.contains("[sso-session corp]"),
        "{cfg}"
    );
    assert!(leftovers(u.name()).is_empty(), "{:?}", leftovers(u.name()));
}

/// A 13 MB host config: the sync completes, the profile's old section is replaced in place,
/// the session section appended, every other byte unchanged; the next connect writes nothing.
/// Over 16 MB: left alone with the reason.
#[test]
fn a_13_mb_host_config() {
    let u = user("ssso-ksh");
    let mut head = String::from("# a big file\n");
    let mut i = 0;
    while head.len() < 6_500_000 {
        head.push_str(&format!(
            "[profile p{i}]\nregion = us-east-1\noutput = json\n\n"
        ));
        i += 1;
    }
    let old_section = "[profile dev]\nsso_session = old\n";
    let mut tail = String::from("\n# after dev\n");
    while head.len() + tail.len() < 13_000_000 {
        tail.push_str(&format!("[profile q{i}]\nregion = eu-west-1\n\n"));
        i += 1;
    }
    let before = format!("{head}{old_section}{tail}");
    u.write(".aws/config", before.as_bytes(), 0o600);
    let (local, ours, _) = local_with("big", 7200);
    let out = connect(&local, u.name());
    assert!(!err(&out).contains("could not sync"), "{}", err(&out));
    assert!(!err(&out).contains("left it alone"), "{}", err(&out));
    let full = sso_config(PROFILE, SESSION);
    let (profile_text, session_text) = full.split_at(full.find("[sso-session").unwrap());
    let profile_text = profile_text.trim_end_matches('\n').to_owned() + "\n";
    let want = format!("{head}{profile_text}{tail}\n{session_text}");
    let after = u.read(".aws/config").unwrap();
    assert!(
        after == want.as_bytes(),
        "the 13 MB config was not merged as expected"
    );
    assert_eq!(u.read(&token_rel_path(&key())).unwrap(), ours);
    let cfg_path = u.home().join(".aws/config");
    let ino = fs::metadata(&cfg_path).unwrap().ino();
    let out = connect(&local, u.name());
    assert!(
        !err(&out).contains("remote ~/.aws/config updated"),
        "{}",
        err(&out)
    );
    assert_eq!(fs::metadata(&cfg_path).unwrap().ino(), ino, "rewritten");

    let mut huge = before.clone();
    while huge.len() <= 16 << 20 {
        huge.push_str("# padding padding padding padding padding padding padding\n");
    }
    u.write(".aws/config", huge.as_bytes(), 0o600);
    let out = connect(&local, u.name());
    assert!(
        err(&out).contains("over the 16 MB ssso edits"),
        "{}",
        err(&out)
    );
    assert!(u.read(".aws/config").unwrap() == huge.as_bytes());
    assert!(leftovers(u.name()).is_empty(), "{:?}", leftovers(u.name()));
}

/// The disk fills up in the middle of a config change, then of a token write: the old file
/// stays byte for byte, no temporary is left, the warning names the cause.
#[test]
fn a_disk_that_fills_up_during_a_write() {
    let u = user(FULL_USER);
    let tiny = TinyAws::mount(1024);
    // A config of 600 KB: its new version does not fit beside it.
    let mut cfg = String::new();
    let mut i = 0;
    while cfg.len() < 600_000 {
        cfg.push_str(&format!("[profile p{i}]\nregion = us-east-1\n\n"));
        i += 1;
    }
    u.write(".aws/config", cfg.as_bytes(), 0o600);
    let old_tok = token_text("old", &iso8601(ssso::time::now() + 600), START_URL);
    u.write(&token_rel_path(&key()), &old_tok, 0o600);
    let (local, ours, _) = local_with("enospc", 7200);
    let out = connect(&local, u.name());
    let e = err(&out);
    assert!(
        e.contains("could not write ~/.aws/config") && e.contains("disk full"),
        "{e}"
    );
    assert!(
        u.read(".aws/config").unwrap() == cfg.as_bytes(),
        "the config changed"
    );
    assert_eq!(u.read(&token_rel_path(&key())).unwrap(), ours);
    assert!(leftovers(u.name()).is_empty(), "{:?}", leftovers(u.name()));

    // Then no room at all for the next token.
    tiny.fill();
    let (local, _, _) = local_with("enospc-token", 9000);
    let out = connect(&local, u.name());
    let e = err(&out);
    assert!(
        e.contains("could not sync the AWS token") && e.contains("disk full"),
        "{e}"
    );
    assert_eq!(u.read(&token_rel_path(&key())).unwrap(), ours);
    assert!(u.read(".aws/config").unwrap() == cfg.as_bytes());
    assert!(leftovers(u.name()).is_empty(), "{:?}", leftovers(u.name()));
    drop(tiny);
}

/// Every directory above the targets is checked before anything is made or written beneath
/// it (as the README says: directories of other users and directories that others can write
/// are refused): a `~/.aws` at 0777 gets neither a config nor a cache inside it; a
/// `~/.aws/sso` of another user gets no cache and no token. The warnings name the path and the
/// reason; the command runs.
#[test]
fn directories_above_the_targets_of_others_or_writable_by_others_are_refused() {
    let u = user("ssso-sh");
    u.write(".aws/.keep", b"", 0o600);
    chmod(u.name(), ".aws", 0o777);
    let (local, _, _) = local_with("aws-0777", 7200);
    let out = connect(&local, u.name());
    let e = err(&out);
    let why = "~/.aws is writable by other users (mode drwxrwxrwx)";
    assert!(
        e.contains("could not sync the AWS token") && e.contains(why),
        "{e}"
    );
    assert!(
        e.matches(why).count() == 2,
        "the config's warning names it too: {e}"
    );
    assert!(!u.home().join(".aws/sso").exists(), "made inside ~/.aws");
    assert!(u.read(".aws/config").is_none());
    chmod(u.name(), ".aws", 0o700);

    // ~/.aws/sso of another user (nobody), open to all: nothing beneath it, the config synced.
    let _ = fs::remove_dir_all(u.home().join(".aws"));
    u.write(".aws/sso/.keep", b"", 0o600);
    let (nobody, _, _) = passwd("nobody").unwrap();
    std::os::unix::fs::chown(u.home().join(".aws/sso"), Some(nobody), None).unwrap();
    chmod(u.name(), ".aws/sso", 0o777);
    let (local, _, _) = local_with("sso-other", 7200);
    let out = connect(&local, u.name());
    let e = err(&out);
    assert!(
        e.contains("could not sync the AWS token")
            && e.contains(&format!(
                "~/.aws/sso belongs to another user (uid {nobody})"
            )),
        "{e}"
    );
    assert!(
        !u.home().join(".aws/sso/cache").exists(),
        "made inside ~/.aws/sso"
    );
    let cfg = String::from_utf8(u.read(".aws/config").unwrap()).unwrap();
    assert!(cfg.contains("[profile dev]"), "{cfg}");
    assert!(leftovers(u.name()).is_empty(), "{:?}", leftovers(u.name()));
}

/// A host whose PATH has the README's utilities but `cksum`: the warning says that `cksum` is
/// missing there and what for (not that the token file "kept changing"); nothing is written;
/// the command runs.
#[test]
fn a_host_without_cksum() {
    let u = user("ssso-bash");
    let (_, _, home) = passwd(u.name()).unwrap();
    let old_tok = token_text("old", &iso8601(ssso::time::now() + 600), START_URL);
    u.write(&token_rel_path(&key()), &old_tok, 0o600);
    u.write(".aws/testbin/.keep", b"", 0o600);
    let bin = home.join(".aws/testbin");
    for tool in [
        "sh", "wc", "cat", "ls", "id", "mkdir", "mv", "rm", "sync", "sleep",
    ] {
        let real = ["/bin", "/usr/bin"]
            .iter()
            .map(|d| std::path::Path::new(d).join(tool))
            .find(|p| p.exists())
            .unwrap();
        std::os::unix::fs::symlink(real, bin.join(tool)).unwrap();
    }
    let rc = home.join(".bashrc");
    let _restore = Restore {
        old: fs::read(&rc).ok(),
        path: rc.clone(),
    };
    fs::write(&rc, format!("PATH={}\n", bin.display())).unwrap();
    let (local, _, _) = local_with("nocksum", 7200);
    let out = run(
        &mut local.ssso_to(&["--profile", PROFILE], u.name(), &["echo ran"]),
        CMD_TIMEOUT,
    );
    assert_success(&out, "no cksum");
    assert_eq!(out.stdout, b"ran\n", "{}", err(&out));
    let e = err(&out);
    assert!(
        e.contains("could not sync the AWS token") && e.contains("no `cksum`"),
        "{e}"
    );
    assert!(!e.contains("kept changing"), "{e}");
    assert_eq!(u.read(&token_rel_path(&key())).unwrap(), old_tok);
    assert!(u.read(".aws/config").is_none());
    assert!(leftovers(u.name()).is_empty(), "{:?}", leftovers(u.name()));
}
