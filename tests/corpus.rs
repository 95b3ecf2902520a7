//! The malformed-input corpus in `tests/corpus/` (see its README): every local config, token
//! and ssh config there gets a clear error or the documented fallback, never a panic, and
//! nothing is written. (`tests/corpus/remote/` is run through the sync script by the unit
//! tests in `src/sync/`; hostile remote replies are in `tests/sync.rs`.)

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use common::*;

fn corpus(kind: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(kind);
    let mut v: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

/// Every file under HOME with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut m = BTreeMap::new();
    for e in fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            m.extend(snapshot(&p));
        } else {
            m.insert(p.clone(), fs::read(&p).unwrap_or_default());
        }
    }
    m
}

/// Runs `cmd`, checks the common promises, returns (exit code, stderr).
fn check(local: &Local, cmd: &mut std::process::Command, what: &str) -> (i32, String) {
    let before = snapshot(local.home());
    let out = run(cmd, CMD_TIMEOUT);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    let code = out.status.code().unwrap_or(-1);
    assert!(!err.contains("panicked"), "{what}: {err}");
    // 1: `ssso status` for a stale token.
    assert!(
        matches!(code, 0 | 1 | 254 | 255),
        "{what}: exit {code}: {err}"
    );
    if code > 1 {
        assert!(err.contains("ssso: error:") || code == 255, "{what}: {err}");
    }
    for secret in ["SECRET-A", "SECRET-KEY"] {
        assert!(
            !err.contains(secret),
            "{what}: a secret in the message: {err}"
        );
        assert!(
            !String::from_utf8_lossy(&out.stdout).contains(secret),
            "{what}"
        );
    }
    assert_eq!(
        snapshot(local.home()),
        before,
        "{what}: something was written"
    );
    (code, err)
}

#[test]
fn local_configs() {
    let files = corpus("config");
    assert!(files.len() >= 20);
    for f in files {
        let local = Local::new("");
        fs::copy(&f, local.home().join(".aws/config")).unwrap();
        local.write_token(&cache_key("corp"), "SECRET-A", 3600);
        let what = f.file_name().unwrap().to_string_lossy().into_owned();
        let (code, err) = check(
            &local,
            local.ssso().args(["status", "--profile", "dev"]),
            &what,
        );
        // botocore's verdicts (tests/support/botocore_oracle.py; tests/botocore_diff.rs checks
        // the parser against it at large): the files it cannot read are refused, naming the
        // line; the ones where it resolves `dev` resolve (0: fresh token, 1: stale).
        const REFUSED: &[&str] = &[
            "binary.ini",
            "bom.ini",
            "dup-profile.ini",
            "dup-session.ini",
            "keys-before-section.ini",
            "line-without-equals.ini",
            "unclosed-header.ini",
        ];
        const RESOLVED: &[&str] = &[
            "cr-only.ini",
            "crlf.ini",
            "huge.ini",
            "long-line.ini",
            "nested-values.ini",
            "no-final-newline.ini",
            "nul.ini",
            "unicode-names.ini",
        ];
        if REFUSED.contains(&what.as_str()) {
            assert_eq!(code, 254, "{what}: {err}");
            assert!(
                err.contains("line ") || err.contains("UTF-8"),
                "{what}: {err}"
            );
        } else if RESOLVED.contains(&what.as_str()) {
            assert!(code == 0 || code == 1, "{what}: exit {code}: {err}");
        }
    }
}

#[test]
fn local_tokens() {
    let files = corpus("token");
    assert!(files.len() >= 20);
    for f in files {
        let local = Local::new(&sso_config("dev", "corp"));
        local.write_token(&cache_key("corp"), "placeholder", 3600);
        fs::copy(&f, local.token_path(&cache_key("corp"))).unwrap();
        let what = f.file_name().unwrap().to_string_lossy().into_owned();
        check(
            &local,
            local.ssso().args(["status", "--profile", "dev"]),
            &what,
        );
        // The connect path refuses before connecting, or goes on with a usable token (to a
        // closed port on 127.0.0.1).
        let (code, err) = check(
            &local,
            local
                .ssso()
                .args(["--no-login", "--profile", "dev", "-F", "/dev/null"])
                .args(["-o", "ConnectTimeout=5", "-p", "1", "127.0.0.1", "true"]),
            &what,
        );
        if code == 254 {
            assert!(
                err.contains("token") || err.contains("log in"),
                "{what}: {err}"
            );
        }
    }
}

#[test]
fn ssh_configs() {
    let files = corpus("sshconfig");
    assert!(files.len() >= 10);
    for f in files {
        let local = Local::new(&sso_config("dev", "corp"));
        local.write_token(&cache_key("corp"), "SECRET-A", 3600);
        let what = f.file_name().unwrap().to_string_lossy().into_owned();
        let (code, _) = check(
            &local,
            local
                .ssso()
                .args(["--no-login", "--profile", "dev", "-F"])
                .arg(&f)
                .args(["-o", "ConnectTimeout=5", "corpus-host", "true"]),
            &what,
        );
        assert_ne!(code, 0, "{what}: nothing listens there");
    }
}
