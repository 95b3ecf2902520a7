//! The differential test against the real ssh: generated command lines, drawn from the
//! installed ssh's grammar, run through plain `ssh` and through `ssso` against the harness's
//! sshd, as [`REC_USER`], whose login shell records how it was started. For each line it
//! compares the command that reaches the login shell (argv, `$0` included: the last start of
//! each session process that is not ssso's own bootstrap), stdout and the exit status.
//!
//! Lines cover options with and without values, clustered flags, `--`, options after the
//! destination, `-o` forms, `ssh://` destinations, quoting, empty words, unicode, control
//! bytes and invalid UTF-8 in commands, exit statuses, logins reading stdin, queries, and
//! lines that ssh or ssso refuse. Where ssso's own grammar refuses a line (`ssso: error:`,
//! exit 2), ssh must refuse it too (its usage, exit 255): the one documented difference.
//!
//! `SSSO_DIFF_SEED` replays a run (the seed is printed on failure), `SSSO_DIFF_CASES` sets the
//! number of lines (300 by default), `SSSO_DIFF_VERBOSE=1` prints each line and its times. Plain ssh reuses one connection through a ControlMaster
//! in the test's ssh config, as a user's ssh would; ssso makes its own connection each time.

mod common;

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::*;
use ssso::ssh::grammar::{Grammar, Letter, Version};

const PROFILE: &str = "dev";
const SESSION: &str = "corp";
const CASE_TIMEOUT: Duration = Duration::from_secs(40);

/// splitmix64: small, seedable, the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// What the generator knows of the test setup.
struct World {
    config: PathBuf,
    port: String,
    key: PathBuf,
    log: PathBuf,
    grammar: Grammar,
}

/// One generated line and what it sends on stdin.
#[derive(Debug, Clone)]
struct Case {
    argv: Vec<Vec<u8>>,
    stdin: Vec<u8>,
}

/// Flags that are safe in any line (no background, no hang, no forced tty).
const FLAGS: &[u8] = b"4AaCgknqTtvxXYMy";

/// Pieces of remote command words: shell syntax, quoting, unicode, control bytes, invalid
/// UTF-8, exits, stdin readers.
const FRAGMENTS: &[&[u8]] = &[
    b"echo",
    b"echo",
    b"printf '%s|'",
    b"printf '%s\\n'",
    b"a",
    b"b c",
    b"'single quoted'",
    b"\"double $HOME\"",
    b"$0",
    b"\"$0\"",
    b"$#",
    b";",
    b"&&",
    b"||",
    b"true",
    b"false",
    b">&2",
    b"exit",
    b"\xc3\xa9t\xc3\xa9",
    b"\xe2\x98\x83",
    b"\x01",
    b"\x02\x03\x04",
    b"\x1b[0m",
    b"\x7f",
    b"\xff\xfe",
    b"\t",
    b"\n",
    b"\\",
    b"'\\''",
    b"!",
    b"!!",
    b"\\$x",
    b"$((6*7))",
    b"`echo bq`",
    b"$(echo sub)",
    b"*",
    b"~",
    b"#",
    b"{x,y}",
    b"wc -c",
    b"cat",
    b"read v; echo \"got:$v\"",
    b"(exit 9)",
    b"$?",
    b"nosuch-command-ssso",
    b"\"",
    b"'",
    b"$(",
];

fn word(rng: &mut Rng) -> Vec<u8> {
    let mut w = Vec::new();
    for _ in 0..1 + rng.below(3) {
        let f: &[u8] = FRAGMENTS[rng.below(FRAGMENTS.len())];
        w.extend_from_slice(f);
    }
    if rng.chance(10) {
        w = format!("exit {}", rng.below(256)).into_bytes();
    }
    if rng.chance(4) {
        w.clear();
    }
    w
}

/// One option item: one or two words.
/// `tty` is whether the line already asks for a tty (`-t` or `RequestTTY`): a second would
/// force one, whose echo of stdin has a timing of its own, and which ssh over a shared
/// connection (the baseline here) does not allocate without a local tty.
fn option(rng: &mut Rng, w: &World, tty: &mut bool) -> Vec<Vec<u8>> {
    let s = |x: &str| x.as_bytes().to_vec();
    let value_opts: Vec<(u8, Vec<u8>)> = vec![
        (b'p', s(&w.port)),
        (b'l', s(REC_USER)),
        (b'o', s("LogLevel=ERROR")),
        (b'o', s("LogLevel ERROR")),
        (b'o', s("ServerAliveInterval=20")),
        (b'o', s("RequestTTY=no")),
        (b'o', s("RequestTTY=yes")),
        (b'o', s("Compression=yes")),
        (b'o', s("SetEnv=SSSO_DIFF=1")),
        (b'o', s("ConnectTimeout=15")),
        (b'o', s("StdinNull=yes")),
        (b'o', s("EscapeChar=none")),
        (b'o', s("LogLevel=QUIET")),
        (b'o', s("RemoteCommand=echo from-rc")),
        (b'c', s("aes128-ctr")),
        (b'c', s("aes256-gcm@openssh.com")),
        (b'm', s("hmac-sha2-256")),
        (b'e', s("none")),
        (b'e', s("~")),
        (b'i', w.key.as_os_str().as_bytes().to_vec()),
        (b'b', s("127.0.0.1")),
        (b'E', w.log.as_os_str().as_bytes().to_vec()),
        (b'S', s("none")),
    ];
    let mut flags: Vec<u8> = Vec::new();
    if rng.chance(60) {
        for _ in 0..1 + rng.below(3) {
            let f = *rng.pick(FLAGS);
            if f == b't' {
                if *tty {
                    continue;
                }
                *tty = true;
            }
            flags.push(f);
        }
        if w.grammar.letter(b'P') == Letter::Flag && rng.chance(15) {
            flags.push(b'P');
        }
    }
    let value = (flags.is_empty() || rng.chance(35)).then(|| {
        if w.grammar.letter(b'P') == Letter::Value && rng.chance(5) {
            return (b'P', s("ssso-diff-tag"));
        }
        loop {
            let (letter, v) = rng.pick(&value_opts).clone();
            if v.starts_with(b"RequestTTY") {
                if *tty {
                    continue;
                }
                *tty = true;
            }
            return (letter, v);
        }
    });
    let mut word = vec![b'-'];
    word.extend_from_slice(&flags);
    let mut out = Vec::new();
    match value {
        None => out.push(word),
        Some((letter, v)) => {
            word.push(letter);
            if rng.chance(40) {
                word.extend_from_slice(&v);
                out.push(word);
            } else {
                out.push(word);
                out.push(v);
            }
        }
    }
    out
}

fn generate(rng: &mut Rng, w: &World) -> Case {
    let s = |x: &str| x.as_bytes().to_vec();
    let mut argv: Vec<Vec<u8>> = Vec::new();
    let mut config_placed = false;
    let mut tty = false;
    let place_config = |argv: &mut Vec<Vec<u8>>, rng: &mut Rng| {
        if rng.chance(50) {
            argv.push(s("-F"));
            argv.push(w.config.as_os_str().as_bytes().to_vec());
        } else {
            let mut f = s("-F");
            f.extend_from_slice(w.config.as_os_str().as_bytes());
            argv.push(f);
        }
    };
    for _ in 0..rng.below(4) {
        if !config_placed && rng.chance(40) {
            place_config(&mut argv, rng);
            config_placed = true;
        }
        argv.extend(option(rng, w, &mut tty));
    }
    let dest_after = rng.chance(25);
    if !config_placed && !dest_after {
        place_config(&mut argv, rng);
        config_placed = true;
    }
    // Rare lines that one side or both refuse, or that ask ssh a question.
    let special = rng.below(100);
    match special {
        0 => argv.push(s("-H")),
        1 => argv.push(s("--bogus")),
        2 => argv.push(s("-G")),
        3 => argv.push(s("-V")),
        4 => argv.extend([s("-Q"), s("cipher")]),
        5 => argv.extend([s("-O"), s("check")]),
        _ => {}
    }
    let dashdash = rng.chance(20);
    if dashdash {
        if !config_placed {
            place_config(&mut argv, rng);
            config_placed = true;
        }
        argv.push(s("--"));
    }
    let dest = match rng.below(5) {
        0 => format!("ssh://{REC_USER}@{HOST_ALIAS}"),
        1 => format!("ssh://{REC_USER}@{HOST_ALIAS}:{}", w.port),
        2 => {
            argv.extend([s("-l"), s(REC_USER)]);
            HOST_ALIAS.to_owned()
        }
        _ => format!("{REC_USER}@{HOST_ALIAS}"),
    };
    argv.push(dest.into_bytes());
    if !dashdash {
        if !config_placed {
            place_config(&mut argv, rng);
        }
        for _ in 0..rng.below(2) {
            argv.extend(option(rng, w, &mut tty));
        }
        if rng.chance(8) {
            argv.push(s("--"));
        }
    }
    let mut words = match rng.below(10) {
        0 => 0,
        1 => 1,
        _ => 1 + rng.below(5),
    };
    if !dashdash {
        // Lines ssh refuses: an option missing its value at the end; -f (a background ssh)
        // and -s (a subsystem) without a command.
        let last = match special {
            6 => Some("-f"),
            7 => Some("-s"),
            8 => Some("-p"),
            _ => None,
        };
        if let Some(last) = last {
            argv.push(s(last));
            words = 0;
        }
    }
    for i in 0..words {
        let mut w = word(rng);
        // A first command word that looks like an option would be read as one.
        if i == 0 && w.first() == Some(&b'-') && !dashdash {
            w.insert(0, b'x');
        }
        argv.push(w);
    }
    let stdin = match rng.below(4) {
        0 => Vec::new(),
        1 => b"echo from-stdin $0\nexit 7\n".to_vec(),
        2 => b"line one\nline two \xff\n".to_vec(),
        _ => b"printf '%s\\n' \"$0\" \"$-\"\n".to_vec(),
    };
    Case { argv, stdin }
}

/// What one run showed.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    status: Option<i32>,
    stdout: Vec<u8>,
    /// The final start of the login shell in each process, sorted: the command as it reached
    /// the shell (ssso's own bootstrap starts and its sync programs are left out).
    shells: Vec<Vec<Vec<u8>>>,
}

fn is_bootstrap(argv: &[Vec<u8>]) -> bool {
    argv.len() == 3 && argv[2].starts_with(b"exec sh -c 'c=$(printf %b ")
}

fn seen(out: &Output) -> Seen {
    let mut shells: Vec<Vec<Vec<u8>>> = rec_records()
        .into_iter()
        .filter_map(|(_, starts)| starts.last().cloned())
        .filter(|argv| !is_bootstrap(argv))
        .collect();
    shells.sort();
    Seen {
        status: out.status.code(),
        stdout: out.stdout.clone(),
        shells,
    }
}

fn show(argv: &[Vec<u8>]) -> String {
    argv.iter()
        .map(|a| format!("{:?}", String::from_utf8_lossy(a)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `program` with `case`'s line and stdin, as the shell records it.
fn run_case(local: &Local, program: &Path, case: &Case) -> (Output, Seen) {
    rec_clear();
    let mut cmd = local.command(program);
    cmd.args(case.argv.iter().map(|a| OsString::from_vec(a.clone())))
        .env("SSSO_PROFILE", PROFILE);
    let out = run_with_stdin(&mut cmd, &case.stdin, CASE_TIMEOUT);
    // The session's processes may still be writing their records after ssh returned (a
    // login shell's exit races ssh's): wait until sshd's children for this user are gone.
    let deadline = Instant::now() + Duration::from_secs(5);
    while sessions_of_rec_user() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let s = seen(&out);
    (out, s)
}

/// Whether a process of REC_USER other than a ControlMaster's sshd session is still running.
fn sessions_of_rec_user() -> bool {
    let uid = passwd(REC_USER).unwrap().0;
    std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
        let Ok(status) = std::fs::read_to_string(e.path().join("status")) else {
            return false;
        };
        let is_user = status
            .lines()
            .find(|l| l.starts_with("Uid:"))
            .is_some_and(|l| l.split_whitespace().nth(1) == Some(&uid.to_string()));
        let comm = std::fs::read_to_string(e.path().join("comm")).unwrap_or_default();
        is_user && !comm.starts_with("sshd")
    })
}

fn refusal_of_ssh(out: &Output) -> bool {
    let err = String::from_utf8_lossy(&out.stderr);
    out.status.code() == Some(255)
        && (err.contains("usage: ssh")
            || err.contains("unknown option")
            || err.contains("illegal option")
            || err.contains("requires an argument"))
}

#[test]
fn generated_lines_behave_as_with_ssh() {
    let seed: u64 = std::env::var("SSSO_DIFF_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    let cases: usize = std::env::var("SSSO_DIFF_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    eprintln!("differential: seed {seed}, {cases} lines (SSSO_DIFF_SEED={seed} replays it)");

    let srv = server();
    let _u = user(REC_USER);
    let local = Local::new(&sso_config(PROFILE, SESSION));
    let token = unique_token("diff");
    local.write_token(&cache_key(SESSION), &token, 3600);
    local.register_token(&token);
    // Plain ssh reuses one connection, as a user's ControlMaster would; both use the cheaper
    // of OpenSSH's key exchanges (the lines' own options are what is compared). The master is
    // started here, before any line: a line with `-v` that created it would keep its stderr
    // open for ControlPersist (OpenSSH keeps a persistent master's stderr under -v), and the
    // case would wait for an EOF that cannot come. `ControlMaster no` still joins it.
    let config = local.scratch().join("diff.conf");
    std::fs::write(
        &config,
        format!(
            "Host {HOST_ALIAS}\n  ControlMaster no\n  ControlPath {}/cm-%C\n  \
             ControlPersist 300\n  KexAlgorithms curve25519-sha256\nInclude {}\n",
            local.scratch().display(),
            srv.ssh_config().display()
        ),
    )
    .unwrap();
    let _master = MasterGuard {
        local: &local,
        config: config.clone(),
    };
    let mut start = local.command("ssh");
    start
        .arg("-F")
        .arg(&config)
        .args(["-MfN", "-o", "ControlMaster=yes", &srv.dest(REC_USER)])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    assert!(
        start.status().unwrap().success(),
        "the plain ssh's master did not start: {start:?}"
    );
    let ssh_v = Command::new("ssh").arg("-V").output().unwrap();
    let world = World {
        config,
        port: srv.port.to_string(),
        key: srv.client_key().to_path_buf(),
        log: local.scratch().join("ssh-E.log"),
        grammar: Grammar::for_version(Version::parse(&String::from_utf8_lossy(&ssh_v.stderr))),
    };

    let mut rng = Rng(seed);
    let started = Instant::now();
    let (mut sessions, mut refused, mut queries) = (0, 0, 0);
    let (mut time_ssh, mut time_ssso) = (Duration::ZERO, Duration::ZERO);
    for i in 0..cases {
        let case = generate(&mut rng, &world);
        let t0 = Instant::now();
        let (a_out, a) = run_case(&local, Path::new("ssh"), &case);
        let t1 = Instant::now();
        let (b_out, b) = run_case(&local, ssso_bin(), &case);
        time_ssh += t1 - t0;
        time_ssso += t1.elapsed();
        if std::env::var_os("SSSO_DIFF_VERBOSE").is_some() {
            eprintln!(
                "{i}: ssh {:?} ssso {:?}: {}",
                t1 - t0,
                t1.elapsed(),
                show(&case.argv)
            );
        }
        let context = || {
            format!(
                "differential: line {i} of seed {seed} (replay: SSSO_DIFF_SEED={seed} \
                 SSSO_DIFF_CASES={}):\n  {}\n--- ssh stderr:\n{}--- ssso stderr:\n{}",
                i + 1,
                show(&case.argv),
                String::from_utf8_lossy(&a_out.stderr),
                String::from_utf8_lossy(&b_out.stderr)
            )
        };
        let ssso_usage = b.status == Some(2)
            && String::from_utf8_lossy(&b_out.stderr).starts_with("ssso: error:");
        if ssso_usage {
            // The one documented difference: ssso's usage errors where ssh prints its usage.
            assert!(
                refusal_of_ssh(&a_out),
                "ssso refused, ssh did not: {}",
                context()
            );
            assert!(
                b.stdout.is_empty() && b.shells.is_empty() && a.shells.is_empty(),
                "{}",
                context()
            );
            refused += 1;
            continue;
        }
        assert_eq!(b, a, "ssso (left) differs from ssh (right): {}", context());
        if a.shells.is_empty() {
            queries += 1;
        } else {
            sessions += 1;
        }
    }
    let took = started.elapsed();
    eprintln!(
        "differential: {cases} lines in {:.1} s (ssh {:.1} s, ssso {:.1} s; {sessions} \
         sessions, {queries} without a session, {refused} usage errors), seed {seed}",
        took.as_secs_f64(),
        time_ssh.as_secs_f64(),
        time_ssso.as_secs_f64()
    );
    assert!(
        sessions * 2 > cases,
        "too few lines reached a shell: {sessions}"
    );
    // ssso's sessions were synced.
    let synced = remote_read(REC_USER, &token_rel_path(&cache_key(SESSION)))
        .expect("no token on the host after the ssso sessions");
    assert!(String::from_utf8_lossy(&synced).contains(&token));
}

/// Closes plain ssh's shared connection at the end.
struct MasterGuard<'a> {
    local: &'a Local,
    config: PathBuf,
}

impl Drop for MasterGuard<'_> {
    fn drop(&mut self) {
        let mut cmd = self.local.command("ssh");
        cmd.arg("-F")
            .arg(&self.config)
            .args(["-O", "exit", &server().dest(REC_USER)]);
        let _ = cmd.output();
    }
}
