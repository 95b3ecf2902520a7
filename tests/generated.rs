//! The checked-in completions (`completions/`) and man page (`man/ssso.1`) are what the
//! current binary generates (run with `SSSO_UPDATE_GENERATED=1` to rewrite them); the man page
//! renders without warnings; and the completions work in real shells: bash and zsh on a
//! pseudo-terminal, typing TAB, and fish through its own completion engine (`complete -C`).

use std::path::{Path, PathBuf};
mod common;

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_ssso");

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn generate(args: &[&str]) -> Vec<u8> {
    let out = Command::new(BIN).args(args).output().unwrap();
    assert!(out.status.success(), "ssso {args:?}: {out:?}");
    out.stdout
}

const FILES: &[(&str, &[&str])] = &[
    ("completions/ssso.bash", &["completions", "bash"]),
    ("completions/_ssso", &["completions", "zsh"]),
    ("completions/ssso.fish", &["completions", "fish"]),
    ("completions/_ssso.ps1", &["completions", "powershell"]),
    ("completions/ssso.elv", &["completions", "elvish"]),
    ("man/ssso.1", &["man"]),
];

#[test]
fn checked_in_files_match_the_binary() {
    let update = std::env::var_os("SSSO_UPDATE_GENERATED").is_some_and(|v| v == "1");
    let mut stale = Vec::new();
    for (rel, args) in FILES {
        let want = generate(args);
        let path = root().join(rel);
        if update {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &want).unwrap();
        } else if std::fs::read(&path).ok().as_deref() != Some(&want[..]) {
            stale.push(*rel);
        }
    }
    assert!(
        stale.is_empty(),
        "out of date: {stale:?}; run `SSSO_UPDATE_GENERATED=1 cargo test --test generated` and commit the result"
    );
}

#[test]
fn man_page_renders_without_warnings() {
    let page = root().join("man/ssso.1");
    let out = Command::new("groff")
        .args(["-ww", "-man", "-z"])
        .arg(&page)
        .output()
        .expect("groff is needed for this test (Debian: groff-base)");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "groff: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new("man")
        .args(["--warnings", "-l"])
        .arg(&page)
        .env("MANWIDTH", "80")
        .env("MANPAGER", "cat")
        .env("PAGER", "cat")
        .output()
        .expect("man is needed for this test (Debian: man-db)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "man: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for needle in [
        "SUBCOMMANDS AND HOST NAMES",
        "DOCTOR",
        "SETUP",
        "SHELL COMPLETION",
        "EXIT STATUS",
    ] {
        assert!(text.contains(needle), "man page lacks {needle:?}:\n{text}");
    }
}

/// A HOME with two SSO profiles and one key profile, one ssh config Host, one known host.
fn home() -> tempfile::TempDir {
    let h = tempfile::tempdir().unwrap();
    let p = h.path();
    std::fs::create_dir_all(p.join(".aws")).unwrap();
    std::fs::create_dir_all(p.join(".ssh")).unwrap();
    std::fs::write(
        p.join(".aws/config"),
        "[profile dev]\nsso_session = corp\n[profile prod]\nsso_session = corp\n[profile keys]\naws_access_key_id = AKIA\n[sso-session corp]\nsso_start_url = https://corp/start\nsso_region = eu-west-1\n",
    )
    .unwrap();
    std::fs::write(p.join(".ssh/config"), "Host alpha-box *.wild\n    User a\n").unwrap();
    std::fs::write(
        p.join(".ssh/known_hosts"),
        "bravo.example.org,10.1.2.3 ssh-ed25519 AAAA\n|1|hashed= ssh-ed25519 AAAA\n",
    )
    .unwrap();
    h
}

fn path_var() -> String {
    format!(
        "{}:/usr/local/bin:/usr/bin:/bin",
        Path::new(BIN).parent().unwrap().display()
    )
}

/// Runs `argv` (an interactive shell) on a pseudo-terminal through the harness's pty driver:
/// `setup` at the first prompt, then each line of [`TYPED`] at the next prompt (`READY> `).
fn in_pty(argv: &[&str], home: &Path, setup: &str) -> String {
    let mut cmd = Command::new(argv[0]);
    cmd.args(&argv[1..])
        .env("HOME", home)
        .env("PATH", path_var())
        .env("TERM", "xterm")
        .env_remove("AWS_CONFIG_FILE");
    let mut steps = vec![("[#$%>] ", setup)];
    steps.extend(TYPED.iter().map(|(typed, _)| ("READY> ", *typed)));
    steps.push(("READY> ", "exit\r"));
    let out = common::run_in_pty(&cmd, &steps, std::time::Duration::from_secs(60));
    String::from_utf8_lossy(&out.stdout).replace('\r', "")
}

/// What each typed line (TAB = complete) must run as, once the shell has completed it.
const TYPED: &[(&str, &str)] = &[
    ("ssso --profile d\t\r", "GOT<--profile dev>"),
    ("ssso --profile=pr\t\r", "GOT<--profile=prod>"),
    ("ssso alp\t\r", "GOT<alpha-box>"),
    (
        "ssso -p 2222 me@brav\t\r",
        "GOT<-p 2222 me@bravo.example.org>",
    ),
    ("ssso statu\t\r", "GOT<status>"),
    ("ssso status --js\t\r", "GOT<status --json>"),
    (
        "ssso doctor --profile pro\t\r",
        "GOT<doctor --profile prod>",
    ),
];

fn check_typed(shell: &str, out: &str) {
    for (typed, want) in TYPED {
        assert!(
            out.contains(want),
            "{shell}: typing {typed:?} did not run {want}:\n{out}"
        );
    }
    assert!(
        !out.contains("keys>"),
        "{shell} offered a non-SSO profile:\n{out}"
    );
}

#[test]
fn bash_completes_profiles_and_hosts() {
    let h = home();
    let script = root().join("completions/ssso.bash");
    let setup = format!(
        "PS1='RE''ADY> '; source '{}'; ssso() {{ printf 'GOT<%s>\\n' \"$*\"; }}\r",
        script.display()
    );
    let out = in_pty(&["bash", "--norc", "--noprofile", "-i"], h.path(), &setup);
    check_typed("bash", &out);
}

#[test]
fn zsh_completes_profiles_and_hosts() {
    let h = home();
    let setup = format!(
        "PS1='RE''ADY> '; fpath=('{}' $fpath); autoload -Uz compinit; compinit -u -D; ssso() {{ print -r -- \"GOT<$*>\" }}\r",
        root().join("completions").display()
    );
    let out = in_pty(&["zsh", "-f", "-i"], h.path(), &setup);
    check_typed("zsh", &out);
}

#[test]
fn fish_completes_profiles_and_hosts() {
    let h = home();
    let complete = |line: &str| -> Vec<String> {
        let out = Command::new("fish")
            .args(["--no-config", "-c"])
            .arg(format!(
                "source '{}'; complete -C '{line}'",
                root().join("completions/ssso.fish").display()
            ))
            .env("HOME", h.path())
            .env("PATH", path_var())
            .output()
            .expect("fish is needed for this test");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.split('\t').next().unwrap_or("").to_owned())
            .collect()
    };
    assert_eq!(complete("ssso --profile d"), ["dev"]);
    assert!(complete("ssso --profile=p").contains(&"--profile=prod".to_owned()));
    assert!(complete("ssso alp").contains(&"alpha-box".to_owned()));
    assert!(complete("ssso me@brav").contains(&"me@bravo.example.org".to_owned()));
}
