//! Differential test: ssso's AWS config parser against the real botocore.
//!
//! The AWS CLI names the token file from what botocore reads, so ssso must read every config
//! the same way. This test generates configs (random sections and names with unicode, quotes,
//! case and spaces; tabs and odd whitespace; `=` and `:`; comments; continuation lines;
//! sub-sections; duplicates; CRLF and lone CR; a BOM; `[default]`, `[profile default]` and
//! `[DEFAULT]`; sso-session and legacy profiles; long-term keys and roles), asks botocore about
//! each through `tests/support/botocore_oracle.py` (one python process, JSON lines), and
//! requires, for every profile: the same session, start URL, region and token cache file name,
//! or a refusal exactly where botocore refuses, except for ssso's named deviations (see
//! [`expect`]). It also checks the profile and session names and their order, and that the
//! sections ssso copies to a remote (`Section.text`), read alone by botocore, resolve the same.
//!
//! First it replays `tests/corpus/botocore/` (every earlier failure, shrunk). A new failure is
//! shrunk (delta debugging over lines, then characters) and saved there; commit it with the
//! fix. Settings (environment):
//! - `SSSO_TEST_BOTOCORE_PYTHON`: the python with botocore (default: the test venv's,
//!   `/opt/ssso-test/venv/bin/python3`, made by tests/support/setup.sh);
//! - `SSSO_BOTOCORE_SEED`: run every case from this seed (decimal or 0x hex) instead of half
//!   from the fixed seed and half from a new one; `SSSO_BOTOCORE_CASE`: only that case;
//! - `SSSO_BOTOCORE_CASES`: how many configs to generate (default 2000).

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Instant;

use serde_json::{Value, json};
use ssso::aws::config::{AwsConfig, SsoProfile};

const DEFAULT_PYTHON: &str = "/opt/ssso-test/venv/bin/python3";
const FIXED_SEED: u64 = 0x55_50_b0_70_c0_2e;
const DEFAULT_CASES: usize = 2000;
/// Failures shrunk and saved per run (the rest are only counted).
const MAX_SHRUNK: usize = 5;

const CREDENTIAL_KEYS: &[&str] = &[
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "credential_process",
];
const ROLE_KEYS: &[&str] = &[
    "role_arn",
    "source_profile",
    "credential_source",
    "web_identity_token_file",
];

// ------------------------------------------------------------------------------------ oracle

struct Oracle {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    dir: tempfile::TempDir,
    n: usize,
}

impl Oracle {
    fn start() -> Oracle {
        let python =
            std::env::var("SSSO_TEST_BOTOCORE_PYTHON").unwrap_or_else(|_| DEFAULT_PYTHON.into());
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/botocore_oracle.py");
        let mut child = Command::new(&python)
            .arg(&script)
            .env("LC_ALL", "C.UTF-8")
            .env("PYTHONUTF8", "1")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run {python} (botocore's python: run tests/support/setup.sh, or set SSSO_TEST_BOTOCORE_PYTHON): {e}"
                )
            });
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut hello = String::new();
        stdout.read_line(&mut hello).unwrap();
        let hello: Value = serde_json::from_str(&hello).unwrap_or_else(|e| {
            panic!(
                "{python} {}: no greeting ({e}): {hello:?}",
                script.display()
            )
        });
        eprintln!(
            "botocore_diff: botocore {} from {} (python {}, {})",
            hello["botocore"], hello["file"], hello["python"], hello["encoding"]
        );
        assert_eq!(hello["encoding"], "utf-8", "the oracle must read UTF-8");
        Oracle {
            child,
            stdin,
            stdout,
            dir: tempfile::tempdir().unwrap(),
            n: 0,
        }
    }

    /// Writes `bytes` to a file and asks botocore about it; returns the file and the answer.
    fn ask(&mut self, bytes: &[u8], probes: &BTreeSet<String>) -> (PathBuf, Value) {
        self.n += 1;
        let path = self.dir.path().join(format!("case{}.ini", self.n % 4));
        std::fs::write(&path, bytes).unwrap();
        let req = json!({"path": path, "probes": probes});
        writeln!(self.stdin, "{req}").unwrap();
        self.stdin.flush().unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        let v: Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("oracle answer ({e}): {line:?}"));
        assert!(v.get("oracle_error").is_none(), "the oracle failed: {v}");
        (path, v)
    }
}

impl Drop for Oracle {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ------------------------------------------------------------------------ what ssso must do

thread_local! {
    /// What the comparisons covered: refused files, and profiles by botocore's outcome.
    static SEEN: std::cell::RefCell<std::collections::BTreeMap<String, usize>> = Default::default();
}

fn seen(what: &str) {
    SEEN.with(|s| *s.borrow_mut().entry(what.to_owned()).or_default() += 1);
}

/// What ssso must do for one profile, with the rule that says so.
#[derive(Debug, Clone, PartialEq)]
enum Want {
    /// No such profile.
    Unknown,
    /// A refusal: botocore's own, or one of ssso's named deviations.
    Refuse(&'static str),
    Resolve {
        session: Option<String>,
        start_url: String,
        region: String,
        cache_file: String,
    },
}

fn has(props: &Value, key: &str) -> bool {
    props.get(key).is_some()
}

fn in_list(list: &Value, key: &str) -> bool {
    list.as_array()
        .is_some_and(|l| l.iter().any(|k| k.as_str() == Some(key)))
}

/// ssso's expected outcome for profile `name`, from botocore's answer `a` (see the oracle).
/// The deviations, each named:
/// - POLICY: long-term keys or role keys anywhere in botocore's dict for the profile: ssso
///   refuses (it never copies long-term credentials), where botocore would use them.
/// - TOKEN-ONLY LEGACY: a profile with sso_start_url + sso_region and no sso_session, account
///   or role keys: botocore's providers skip it, `aws sso login` logs it in by its start URL,
///   ssso resolves it to that token.
/// - SUB-SECTION: the session name, start URL or region is a sub-section (a dict in botocore):
///   ssso refuses (botocore would fail later, using it).
/// - DEFAULT: a setting ssso reads comes only from `[DEFAULT]`: ssso refuses (it copies the
///   profile's and session's own sections, and `[DEFAULT]` would be missing on the remote).
/// - NUL: a profile name with a NUL byte: ssso refuses (no command line can carry it to the
///   remote).
fn expect(name: &str, a: &Value, defaults: &Value) -> Want {
    if a["exists"] != true {
        return Want::Unknown;
    }
    if name.contains('\0') {
        return Want::Refuse("NUL");
    }
    let props = &a["props"];
    if CREDENTIAL_KEYS
        .iter()
        .chain(ROLE_KEYS)
        .any(|k| has(props, k))
    {
        return Want::Refuse("POLICY");
    }
    let (token, creds) = (&a["token"], &a["creds"]);
    if token.get("error").is_some() || creds.get("error").is_some() {
        return Want::Refuse("botocore refuses");
    }
    let (session, start, region, cache) = if let Some(t) = token.get("ok") {
        (
            Some(&t["session_name"]),
            &t["sso_start_url"],
            &t["sso_region"],
            &token["cache_file"],
        )
    } else if let Some(c) = creds.get("ok") {
        (
            None,
            &c["sso_start_url"],
            &c["sso_region"],
            &creds["cache_file"],
        )
    } else if has(props, "sso_start_url") && has(props, "sso_region") {
        seen("TOKEN-ONLY LEGACY");
        (
            None,
            &props["sso_start_url"],
            &props["sso_region"],
            &a["legacy_cache_file"],
        )
    } else {
        return Want::Refuse("not an SSO profile for botocore");
    };
    let (Some(start), Some(region)) = (start.as_str(), region.as_str()) else {
        return Want::Refuse("SUB-SECTION");
    };
    let session = match session {
        Some(s) => match s.as_str() {
            Some(s) => Some(s.to_owned()),
            None => return Want::Refuse("SUB-SECTION"),
        },
        None => None,
    };
    let from_profile: &[&str] = if session.is_some() {
        &["sso_session", "sso_account_id", "sso_role_name"]
    } else {
        &[
            "sso_start_url",
            "sso_region",
            "sso_account_id",
            "sso_role_name",
        ]
    };
    let inherited = |keys: &[&str], own: &Value| {
        keys.iter()
            .any(|k| in_list(defaults, k) && !in_list(own, k))
    };
    if from_profile
        .iter()
        .any(|k| has(props, k) && in_list(defaults, k) && !in_list(&a["own"], k))
        || (session.is_some()
            && inherited(
                &["sso_start_url", "sso_region", "sso_registration_scopes"],
                &a["session_own"],
            ))
    {
        return Want::Refuse("DEFAULT");
    }
    Want::Resolve {
        session,
        start_url: start.to_owned(),
        region: region.to_owned(),
        cache_file: cache
            .as_str()
            .expect("a cache file for a string")
            .to_owned(),
    }
}

fn got(r: &anyhow::Result<SsoProfile>) -> Want {
    match r {
        Ok(s) => Want::Resolve {
            session: s.session.clone(),
            start_url: s.start_url.clone(),
            region: s.region.clone(),
            cache_file: s.cache_file_name.clone(),
        },
        Err(e) if format!("{e:#}").contains("is not in") => Want::Unknown,
        Err(_) => Want::Refuse("ssso"),
    }
}

fn agree(want: &Want, got: &Want) -> bool {
    match (want, got) {
        (Want::Refuse(_), Want::Refuse(_)) => true,
        _ => want == got,
    }
}

/// One disagreement: a coarse kind (the shrinker keeps it) and the details.
#[derive(Debug, Clone)]
struct Failure {
    kind: String,
    detail: String,
}

fn fail(kind: &str, detail: String) -> Option<Failure> {
    Some(Failure {
        kind: kind.to_owned(),
        detail,
    })
}

/// Compares ssso with botocore on one config; None when they agree.
fn check(oracle: &mut Oracle, bytes: &[u8], extra: &[&str]) -> Option<Failure> {
    let path = oracle.dir.path().join("ssso.ini");
    std::fs::write(&path, bytes).unwrap();
    let ours = AwsConfig::load(&path);
    let mut probes: BTreeSet<String> = extra.iter().map(|s| s.to_string()).collect();
    if let Ok(cfg) = &ours {
        probes.extend(cfg.profile_names());
    }
    probes.remove("");
    let (_, theirs) = oracle.ask(bytes, &probes);
    let cfg = match (&ours, theirs.get("parse_error")) {
        (Err(e), Some(_)) => {
            seen("file refused by both");
            let msg = format!("{e:#}");
            if !(msg.contains("line ") || msg.contains("UTF-8")) {
                return fail("message", format!("refusal without a line: {msg}"));
            }
            return None;
        }
        (Err(e), None) => return fail("ssso refuses the file", format!("ssso: {e:#}")),
        (Ok(_), Some(b)) => return fail("botocore refuses the file", format!("botocore: {b}")),
        (Ok(cfg), None) => cfg,
    };
    let names: Vec<String> = cfg
        .profile_names()
        .into_iter()
        .filter(|n| !n.is_empty())
        .collect();
    let their_names: Vec<String> =
        serde_json::from_value::<Vec<String>>(theirs["profiles"].clone())
            .unwrap()
            .into_iter()
            .filter(|n| !n.is_empty())
            .collect();
    if names != their_names {
        return fail(
            "profile names",
            format!("ssso {names:?}, botocore {their_names:?}"),
        );
    }
    let sessions = cfg.sso_session_names();
    if json!(sessions) != theirs["sso_sessions"] {
        return fail(
            "session names",
            format!("ssso {sessions:?}, botocore {}", theirs["sso_sessions"]),
        );
    }
    let answers = theirs["answers"].as_object().unwrap();
    let sso_names: Vec<&String> = their_names
        .iter()
        .filter(|n| {
            let p = &answers[n.as_str()]["props"];
            has(p, "sso_session") || has(p, "sso_start_url")
        })
        .collect();
    let ours_sso: Vec<String> = cfg
        .sso_profile_names()
        .into_iter()
        .filter(|n| !n.is_empty())
        .collect();
    if ours_sso.iter().collect::<Vec<_>>() != sso_names {
        return fail(
            "sso profile names",
            format!("ssso {ours_sso:?}, botocore {sso_names:?}"),
        );
    }
    for (name, a) in answers {
        let want = expect(name, a, &theirs["defaults"]);
        seen(match &want {
            Want::Unknown => "profile unknown",
            Want::Refuse(why) => why,
            Want::Resolve {
                session: Some(_), ..
            } => "profile resolved (sso-session)",
            Want::Resolve { .. } => "profile resolved (legacy)",
        });
        let r = cfg.sso_profile(name);
        let g = got(&r);
        if !agree(&want, &g) {
            let kind = match (&want, &g) {
                (Want::Resolve { .. }, Want::Resolve { .. }) => "resolves differently",
                (Want::Resolve { .. }, _) => "ssso refuses a profile",
                (_, Want::Resolve { .. }) => "ssso resolves a profile",
                _ => "unknown vs refused",
            };
            return fail(
                kind,
                format!(
                    "profile {name:?}: want {want:?}, ssso {g:?} ({})\nbotocore: {a}",
                    match &r {
                        Ok(_) => String::new(),
                        Err(e) => format!("{e:#}"),
                    }
                ),
            );
        }
        if let Ok(sso) = &r
            && let Some(f) = round_trip(oracle, name, sso, &want)
        {
            return Some(f);
        }
    }
    None
}

/// The sections ssso would copy to a remote, read alone by botocore, must resolve the same.
/// A header line between the two keeps an indented `[sso-session]` header from continuing
/// the profile's last value (it does in configparser; see `Section`).
fn round_trip(oracle: &mut Oracle, name: &str, sso: &SsoProfile, want: &Want) -> Option<Failure> {
    let mut text = sso.profile_section.text.clone();
    if let Some(s) = &sso.session_section {
        text.push_str("[ssso-roundtrip]\n");
        text.push_str(&s.text);
    }
    let probes: BTreeSet<String> = [name.to_owned()].into();
    let (_, theirs) = oracle.ask(text.as_bytes(), &probes);
    if let Some(e) = theirs.get("parse_error") {
        return fail(
            "round trip",
            format!("profile {name:?}: botocore cannot read the copied sections: {e}\n{text:?}"),
        );
    }
    let again = expect(name, &theirs["answers"][name], &theirs["defaults"]);
    if &again != want {
        return fail(
            "round trip",
            format!("profile {name:?}: the copied sections give {again:?}, not {want:?}\n{text:?}"),
        );
    }
    None
}

// ------------------------------------------------------------------------------- generator

/// SplitMix64: small, seedable, good enough to pick things.
struct Rng(u64);

impl Rng {
    fn new(seed: u64, case: u64) -> Rng {
        let mut r = Rng(seed ^ case.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        r.next();
        r
    }
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
    /// True with probability `percent`/100.
    fn pct(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a, T: ?Sized>(&mut self, items: &[&'a T]) -> &'a T {
        items[self.below(items.len())]
    }
}

const NAMES: &[&str] = &[
    "dev",
    "corp",
    "a",
    "Dev",
    "default",
    "prod-1",
    "my dev",
    "déjà",
    "名前",
    "x.y@z+1",
    "a:b",
    "a=b",
    "-x",
    "tab\tname",
    "ĸ",
    "ΑΣ",
    "a#b",
    "a;b",
    "q\"uote",
    "it's",
    "back\\slash",
    "",
    "DEFAULT",
    "\u{a0}nb",
    "ss\u{1}o",
    "b\u{7}el",
    "nu\u{0}l",
];
const URLS: &[&str] = &[
    "https://d-123.awsapps.com/start",
    "https://d-123.awsapps.com/start/",
    "https://d-123.awsapps.com/start#",
    "https://corp.awsapps.com/start # old",
    "https://é.example/start",
    "",
    "x",
];
const REGIONS: &[&str] = &["us-east-1", "eu-west-1", "", "us-east-1 ; c", "EU-WEST-1"];
const SEPS: &[&str] = &[" = ", "=", " : ", ":", "\t=\t", " =\t", "  =  ", " :", "= "];
const INDENTS: &[&str] = &[
    "", "", "", "", "", "", " ", "\t", "  ", "\u{3000}", "\u{a0}", "\u{1c}",
];
const BLANKS: &[&str] = &["", "", " ", "\t", "\u{a0}", "\u{c}", " \t "];
const COMMENTS: &[&str] = &[
    "# c",
    "; c",
    "  # indented",
    "\t; tab",
    "#",
    ";[profile x]",
    "# sso_session = z",
];
const GARBAGE: &[&str] = &[
    "no separator",
    "[",
    "[]",
    "]",
    "= x",
    ": x",
    "[profile unclosed",
    "[]]",
    "[a]b]",
    "\u{feff}[profile bom]",
    "  stray",
];

/// A name as written in a header: plain, quoted, escaped, with odd spacing.
fn header_name(rng: &mut Rng, name: &str) -> String {
    match rng.below(10) {
        0 => format!("\"{name}\""),
        1 => format!("'{name}'"),
        2 => name.replace(' ', "\\ "),
        3 => format!("{name} "),
        4 => format!("\"{name}"),
        5 => format!("{name}\\"),
        _ => name.to_owned(),
    }
}

fn header(rng: &mut Rng, kind: &str, name: &str) -> String {
    let sep = rng.pick(&[" ", " ", " ", "\t", "  ", "", "\u{a0}"]);
    let inner = match kind {
        "default" => rng
            .pick(&["default", "default", "default ", " default", "Default"])
            .to_owned(),
        "DEFAULT" => "DEFAULT".to_owned(),
        "other" => rng
            .pick(&[
                "services x",
                "preview",
                "plugins",
                "profilex y",
                "profiles y",
                "sso-sessions y",
                "Profile a",
            ])
            .to_owned(),
        _ => format!("{kind}{sep}{}", header_name(rng, name)),
    };
    let lead = if rng.pct(2) {
        rng.pick(&[" ", "\t", " profile"])
    } else {
        ""
    };
    let tail = if rng.pct(10) {
        rng.pick(&[" # c", "; c", "]", " x", " ; [y]", "\t"])
    } else {
        ""
    };
    format!("{lead}[{inner}]{tail}")
}

fn value_for(rng: &mut Rng, key: &str, names: &[&str]) -> String {
    let base = match key.to_ascii_lowercase().as_str() {
        "sso_session" => {
            let n = rng.pick(names);
            match rng.below(12) {
                0 => format!("\"{n}\""),
                1 => n.to_uppercase(),
                _ => n.to_owned(),
            }
        }
        "sso_start_url" => rng.pick(URLS).to_owned(),
        "sso_region" | "region" => rng.pick(REGIONS).to_owned(),
        "sso_account_id" => rng.pick(&["111122223333", "1", ""]).to_owned(),
        "sso_role_name" => rng.pick(&["Dev", "R", ""]).to_owned(),
        _ => rng.pick(&["v", "a b", "x=y", "k:v", "ünï", ""]).to_owned(),
    };
    if rng.pct(5) {
        format!("{base}{}", rng.pick(&[" # c", " ;c", "#x", "\t"]))
    } else {
        base
    }
}

const KEYS: &[&str] = &[
    "sso_session",
    "sso_session",
    "sso_start_url",
    "sso_start_url",
    "sso_region",
    "sso_region",
    "sso_account_id",
    "sso_role_name",
    "region",
    "sso_registration_scopes",
    "SSO_Session",
    "Sso_Start_Url",
    "output",
    "s3",
    "key with spaces",
    "ünï",
    "Ünï",
    "ΣSSO",
    "SSOΣ",
    "ssoς",
    "ssoσ",
    "İd",
    "i\u{307}d",
];
const RARE_KEYS: &[&str] = &[
    "aws_access_key_id",
    "role_arn",
    "source_profile",
    "credential_process",
    "web_identity_token_file",
    "aws_session_token",
    "aws_access_\u{212a}ey_id",
];

/// One generated config; `names` collects the names used (probes for the unknown path).
/// Two thirds are realistic SSO configs with a few odd spellings, one third is chaos.
fn generate(rng: &mut Rng, names_out: &mut Vec<String>) -> Vec<u8> {
    let lines = if rng.pct(67) {
        coherent(rng, names_out)
    } else {
        chaos(rng, names_out)
    };
    finish(rng, &lines)
}

/// A realistic config: profiles that use sessions, legacy profiles, plain ones; each line
/// spelled in one of the ways botocore reads (or, rarely, does not).
fn coherent(rng: &mut Rng, names_out: &mut Vec<String>) -> Vec<String> {
    // Distinct names (a repeated header is refused; that is the chaos generator's job).
    let mut sessions: Vec<&str> = vec!["corp"];
    for _ in 0..rng.below(3) {
        let n = rng.pick(NAMES);
        if !sessions.contains(&n) {
            sessions.push(n);
        }
    }
    let mut profiles: Vec<&str> = vec!["dev"];
    for _ in 0..rng.below(4) {
        let n = rng.pick(NAMES);
        if !profiles.contains(&n) {
            profiles.push(n);
        }
    }
    names_out.extend(sessions.iter().chain(&profiles).map(|s| s.to_string()));
    let mut sections: Vec<Vec<String>> = Vec::new();
    let line = |rng: &mut Rng, key: &str, value: &str| -> Vec<String> {
        let key = if rng.pct(8) {
            let mut k: Vec<char> = key.chars().collect();
            let i = rng.below(k.len());
            k[i] = k[i].to_ascii_uppercase();
            k.into_iter().collect()
        } else if rng.pct(3) {
            key.to_uppercase()
        } else {
            key.to_owned()
        };
        let indent = if rng.pct(8) { rng.pick(INDENTS) } else { "" };
        let sep = if rng.pct(50) { " = " } else { rng.pick(SEPS) };
        let trailing = if rng.pct(5) {
            rng.pick(&[" ", "\t", " # c", ";c"])
        } else {
            ""
        };
        let mut out = vec![format!("{indent}{key}{sep}{value}{trailing}")];
        if rng.pct(4) {
            out.push(format!(
                "{indent}{}{}",
                rng.pick(&[" ", "\t"]),
                rng.pick(&["more", "k = v"])
            ));
        }
        if rng.pct(5) {
            out.push(rng.pick(COMMENTS).to_owned());
        }
        if rng.pct(5) {
            out.push(rng.pick(BLANKS).to_owned());
        }
        out
    };
    for p in &profiles {
        let kind = if *p == "default" && rng.pct(50) {
            "default"
        } else {
            "profile"
        };
        let mut sec = vec![header(rng, kind, p)];
        let mut props: Vec<(String, String)> = Vec::new();
        match rng.below(10) {
            0..=5 => {
                let s = if rng.pct(90) {
                    rng.pick(&sessions)
                } else {
                    rng.pick(NAMES)
                };
                props.push(("sso_session".into(), s.to_owned()));
                if rng.pct(10) {
                    props.push(("sso_start_url".into(), rng.pick(URLS).to_owned()));
                }
            }
            6..=8 => {
                props.push(("sso_start_url".into(), rng.pick(URLS).to_owned()));
                if rng.pct(90) {
                    props.push(("sso_region".into(), rng.pick(REGIONS).to_owned()));
                }
            }
            _ => {}
        }
        if rng.pct(70) {
            props.push(("sso_account_id".into(), "111122223333".into()));
            props.push(("sso_role_name".into(), "Dev".into()));
        } else if rng.pct(10) {
            props.push(("sso_account_id".into(), "1".into()));
        }
        if rng.pct(40) {
            props.push(("region".into(), rng.pick(REGIONS).to_owned()));
        }
        if rng.pct(3) {
            props.push((rng.pick(RARE_KEYS).to_owned(), "x".into()));
        }
        if rng.pct(2) && !props.is_empty() {
            let dup = props[rng.below(props.len())].clone();
            props.push(dup);
        }
        for (k, v) in props {
            sec.extend(line(rng, &k, &v));
        }
        sections.push(sec);
    }
    for s in &sessions {
        let mut sec = vec![header(rng, "sso-session", s)];
        if rng.pct(95) {
            let v = rng.pick(URLS);
            sec.extend(line(rng, "sso_start_url", v));
        }
        if rng.pct(95) {
            let v = rng.pick(REGIONS);
            sec.extend(line(rng, "sso_region", v));
        }
        if rng.pct(30) {
            sec.extend(line(rng, "sso_registration_scopes", "sso:account:access"));
        }
        sections.push(sec);
    }
    if rng.pct(6) {
        let mut sec = vec!["[DEFAULT]".to_owned()];
        let k = rng.pick(&[
            "sso_region",
            "region",
            "sso_session",
            "sso_start_url",
            "sso_account_id",
            "output",
        ]);
        let v = rng.pick(&["us-east-1", "corp", "https://d-123.awsapps.com/start", "1"]);
        sec.extend(line(rng, k, v));
        sections.push(sec);
    }
    // Shuffle the sections; now and then repeat a header or add a stray line.
    let mut lines = Vec::new();
    while !sections.is_empty() {
        let sec = sections.remove(rng.below(sections.len()));
        lines.extend(sec);
        if rng.pct(30) {
            lines.push(String::new());
        }
    }
    if rng.pct(2) {
        let h = lines
            .iter()
            .find(|l| l.contains('['))
            .cloned()
            .unwrap_or_default();
        lines.push(h);
    }
    if rng.pct(2) {
        lines.insert(rng.below(lines.len() + 1), rng.pick(GARBAGE).to_owned());
    }
    lines
}

/// Anything goes: random headers, keys and lines.
fn chaos(rng: &mut Rng, names_out: &mut Vec<String>) -> Vec<String> {
    let mut names: Vec<&str> = Vec::new();
    for _ in 0..1 + rng.below(4) {
        names.push(rng.pick(NAMES));
    }
    if rng.pct(70) {
        names.push("dev");
        names.push("corp");
    }
    names_out.extend(names.iter().map(|s| s.to_string()));
    let mut lines: Vec<String> = Vec::new();
    let mut headers: Vec<String> = Vec::new();
    if rng.pct(20) {
        lines.push(rng.pick(COMMENTS).to_owned());
    }
    if rng.pct(10) {
        lines.push(rng.pick(BLANKS).to_owned());
    }
    let sections = 1 + rng.below(7);
    for _ in 0..sections {
        if rng.pct(3) && !headers.is_empty() {
            // The same header again, byte for byte.
            let h = headers[rng.below(headers.len())].clone();
            lines.push(h);
        } else {
            let kind = match rng.below(100) {
                0..=44 => "profile",
                45..=74 => "sso-session",
                75..=84 => "default",
                85..=89 => "DEFAULT",
                _ => "other",
            };
            let name = rng.pick(&names);
            let h = header(rng, kind, name);
            headers.push(h.clone());
            lines.push(h);
        }
        let mut used: Vec<String> = Vec::new();
        let props = rng.below(6);
        for _ in 0..props {
            let key = if rng.pct(4) {
                rng.pick(RARE_KEYS).to_owned()
            } else if rng.pct(5) && !used.is_empty() {
                used[rng.below(used.len())].clone()
            } else {
                let k = rng.pick(KEYS).to_owned();
                // ASCII only: keys that only Unicode case rules make equal stay in.
                if used.iter().any(|u| u.eq_ignore_ascii_case(&k)) {
                    continue;
                }
                k
            };
            used.push(key.clone());
            let indent = rng.pick(INDENTS);
            let sep = rng.pick(SEPS);
            if rng.pct(6) {
                // A sub-section: an empty first line, then indented `name = value` lines.
                lines.push(format!("{indent}{key}{}", sep.trim_end()));
                for _ in 0..1 + rng.below(2) {
                    let l = rng.pick(&[
                        "x = 1",
                        "y=",
                        "bad",
                        "sso_region = us-east-1",
                        "= v",
                        "a = 1\u{2028}b = 2",
                        "a = 1\u{b}b",
                        "a = 1\u{85}b = \u{1f}",
                    ]);
                    lines.push(format!("{indent}  {l}"));
                }
                continue;
            }
            let value = value_for(rng, &key, &names);
            let trailing = if rng.pct(8) {
                rng.pick(&[" ", "\t", "\u{a0}"])
            } else {
                ""
            };
            lines.push(format!("{indent}{key}{sep}{value}{trailing}"));
            if rng.pct(8) {
                // Continuation lines (or lines that look like one and are not).
                for _ in 0..1 + rng.below(2) {
                    let ind = rng.pick(&[" ", "\t", "    ", "", "\u{3000}"]);
                    let l = rng.pick(&["more", "k = v", "[profile cont]", "# not a value", ""]);
                    lines.push(format!("{indent}{ind}{l}"));
                }
            }
            if rng.pct(6) {
                lines.push(rng.pick(COMMENTS).to_owned());
            }
            if rng.pct(6) {
                lines.push(rng.pick(BLANKS).to_owned());
            }
        }
        if rng.pct(3) {
            lines.push(rng.pick(GARBAGE).to_owned());
        }
        if rng.pct(30) {
            lines.push(String::new());
        }
    }
    lines
}

/// Line endings (one style or mixed), maybe a BOM, maybe an invalid byte.
fn finish(rng: &mut Rng, lines: &[String]) -> Vec<u8> {
    let eol = match rng.below(100) {
        0..=69 => "\n",
        70..=84 => "\r\n",
        85..=89 => "\r",
        _ => "mixed",
    };
    let mut out = String::new();
    if rng.pct(1) {
        out.push('\u{feff}');
    }
    for (i, l) in lines.iter().enumerate() {
        out.push_str(l);
        if i + 1 < lines.len() || rng.pct(85) {
            out.push_str(if eol == "mixed" {
                rng.pick(&["\n", "\r\n", "\r"])
            } else {
                eol
            });
        }
    }
    let mut bytes = out.into_bytes();
    if rng.pct(1) {
        let at = rng.below(bytes.len() + 1);
        bytes.insert(at, 0xff);
    }
    bytes
}

// ------------------------------------------------------------------------------- shrinking

/// Lines with their endings (`\n`, `\r\n` or a lone `\r`), as byte strings.
fn split_lines(b: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut cur = Vec::new();
    let mut i = 0;
    while i < b.len() {
        cur.push(b[i]);
        if b[i] == b'\n' || (b[i] == b'\r' && b.get(i + 1) != Some(&b'\n')) {
            out.push(std::mem::take(&mut cur));
        }
        i += 1;
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Delta debugging (ddmin) over `items`: a smallest-ish subsequence that still fails.
fn ddmin<T: Clone>(items: Vec<T>, fails: &mut dyn FnMut(&[T]) -> bool) -> Vec<T> {
    let mut items = items;
    let mut n = 2;
    while items.len() >= 2 {
        let chunk = items.len().div_ceil(n);
        let mut reduced = false;
        for start in (0..items.len()).step_by(chunk) {
            let end = (start + chunk).min(items.len());
            let complement: Vec<T> = items[..start]
                .iter()
                .chain(&items[end..])
                .cloned()
                .collect();
            if fails(&complement) {
                items = complement;
                n = (n - 1).max(2);
                reduced = true;
                break;
            }
        }
        if !reduced {
            if n >= items.len() {
                break;
            }
            n = (n * 2).min(items.len());
        }
    }
    if items.len() == 1 && fails(&[]) {
        items.clear();
    }
    items
}

/// Shrinks a failing config: lines first, then characters within each line.
fn shrink(oracle: &mut Oracle, bytes: &[u8], kind: &str, extra: &[&str]) -> Vec<u8> {
    let mut budget = 3000;
    let mut still = |b: &[u8], oracle: &mut Oracle| -> bool {
        if budget == 0 {
            return false;
        }
        budget -= 1;
        check(oracle, b, extra).is_some_and(|f| f.kind == kind)
    };
    let lines = split_lines(bytes);
    let lines = ddmin(lines, &mut |ls| still(&ls.concat(), oracle));
    let mut lines = lines;
    for i in 0..lines.len() {
        let line = lines[i].clone();
        // Characters when the line is text, bytes when it is not.
        let units: Vec<Vec<u8>> = match std::str::from_utf8(&line) {
            Ok(s) => s.chars().map(|c| c.to_string().into_bytes()).collect(),
            Err(_) => line.iter().map(|&b| vec![b]).collect(),
        };
        let shrunk = ddmin(units, &mut |us| {
            let mut ls = lines.clone();
            ls[i] = us.concat();
            still(&ls.concat(), oracle)
        });
        lines[i] = shrunk.concat();
    }
    lines.concat()
}

// ------------------------------------------------------------------------------------ main

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/botocore")
}

fn parse_seed(s: &str) -> u64 {
    let s = s.trim();
    match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16),
        None => s.parse(),
    }
    .unwrap_or_else(|e| panic!("SSSO_BOTOCORE_SEED={s}: {e}"))
}

/// FNV-1a, for corpus file names.
fn fnv(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf2_9ce4_8422_2325, |h, &x| {
        (h ^ x as u64).wrapping_mul(0x100_0000_01b3)
    })
}

/// The sync's merge reads a host's file for its sections only ([`AwsConfig::spans`]): the
/// same decision as the full parse (the same refusal), the same sections.
fn spans_agree(full: &anyhow::Result<AwsConfig>, text: &str, what: &str) {
    let lean = AwsConfig::spans(text);
    match (full, &lean) {
        (Ok(cfg), Ok(spans)) => assert_eq!(
            format!("{:?}", cfg.section_spans().collect::<Vec<_>>()),
            format!("{:?}", spans.iter().collect::<Vec<_>>()),
            "{what}: the sections differ\n  config: {text:?}"
        ),
        (Err(a), Err(b)) => assert_eq!(
            format!("{a:#}"),
            format!("{b:#}"),
            "{what}: the refusals differ\n  config: {text:?}"
        ),
        _ => panic!(
            "{what}: the full parse {} the file, AwsConfig::spans {}\n  config: {text:?}",
            if full.is_ok() { "reads" } else { "refuses" },
            if lean.is_ok() {
                "reads it"
            } else {
                "refuses it"
            }
        ),
    }
}

#[test]
fn botocore_agrees() {
    let started = Instant::now();
    let mut oracle = Oracle::start();
    let mut failures: Vec<String> = Vec::new();

    // 1. The corpus: every earlier failure.
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .map(|d| {
            d.map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|x| x == "ini"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        if let Some(fl) = check(&mut oracle, &bytes, NAMES) {
            failures.push(format!(
                "corpus {}: {}: {}\n  config: {:?}",
                f.display(),
                fl.kind,
                fl.detail,
                String::from_utf8_lossy(&bytes)
            ));
        }
    }
    let replayed = files.len();

    // 2. Generated configs.
    let cases: usize = std::env::var("SSSO_BOTOCORE_CASES")
        .map(|s| s.parse().expect("SSSO_BOTOCORE_CASES: a number"))
        .unwrap_or(DEFAULT_CASES);
    let only: Option<u64> = std::env::var("SSSO_BOTOCORE_CASE")
        .ok()
        .map(|s| s.parse().expect("SSSO_BOTOCORE_CASE: a number"));
    let seeds: Vec<(u64, usize)> = match std::env::var("SSSO_BOTOCORE_SEED") {
        Ok(s) => vec![(parse_seed(&s), cases)],
        Err(_) => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap();
            let fresh = fnv(&now.as_nanos().to_le_bytes()) ^ u64::from(std::process::id());
            vec![(FIXED_SEED, cases / 2), (fresh, cases - cases / 2)]
        }
    };
    eprintln!(
        "botocore_diff: seeds {} (reproduce one with SSSO_BOTOCORE_SEED=0x..)",
        seeds
            .iter()
            .map(|(s, n)| format!("{s:#x} x{n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut generated = 0;
    let mut shrunk = 0;
    let mut resolved = 0;
    for &(seed, n) in &seeds {
        for case in 0..n as u64 {
            if only.is_some_and(|o| o != case) {
                continue;
            }
            let mut rng = Rng::new(seed, case);
            let mut names = Vec::new();
            let bytes = generate(&mut rng, &mut names);
            generated += 1;
            let extra: Vec<&str> = names.iter().map(String::as_str).collect();
            let text = String::from_utf8_lossy(&bytes);
            let full = AwsConfig::parse(&text);
            spans_agree(&full, &text, &format!("seed {seed:#x} case {case}"));
            if let Ok(cfg) = full {
                resolved += cfg
                    .profile_names()
                    .iter()
                    .filter(|p| cfg.sso_profile(p).is_ok())
                    .count();
            }
            let Some(fl) = check(&mut oracle, &bytes, &extra) else {
                continue;
            };
            let mut report = format!(
                "seed {seed:#x} case {case} (SSSO_BOTOCORE_SEED={seed:#x} SSSO_BOTOCORE_CASE={case}): {}: {}\n  config: {:?}",
                fl.kind,
                fl.detail,
                String::from_utf8_lossy(&bytes)
            );
            if shrunk < MAX_SHRUNK {
                shrunk += 1;
                let small = shrink(&mut oracle, &bytes, &fl.kind, &extra);
                let detail = check(&mut oracle, &small, &extra)
                    .map(|f| f.detail)
                    .unwrap_or_default();
                std::fs::create_dir_all(corpus_dir()).unwrap();
                let file = corpus_dir().join(format!("{:016x}.ini", fnv(&small)));
                std::fs::write(&file, &small).unwrap();
                report.push_str(&format!(
                    "\n  shrunk to {:?}, saved as {} (commit it with the fix): {detail}",
                    String::from_utf8_lossy(&small),
                    file.display()
                ));
            }
            failures.push(report);
        }
    }
    eprintln!(
        "botocore_diff: {replayed} corpus files, {generated} generated configs ({resolved} profiles resolved), {} oracle calls, {:.1} s",
        oracle.n,
        started.elapsed().as_secs_f64()
    );
    SEEN.with(|s| eprintln!("botocore_diff: covered {:?}", s.borrow()));
    assert!(
        failures.is_empty(),
        "{} disagreement(s) with botocore:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    if only.is_none() {
        assert!(generated >= cases, "generated {generated} of {cases}");
        // The generator must reach the interesting paths, not only refusals.
        assert!(
            resolved * 10 >= generated,
            "only {resolved} profiles resolved"
        );
    }
}
