//! Property test of the sync's config merge (`ssso::sync::merge`) against the real botocore:
//! for generated host configs (profiles, sessions, `[default]`, other kinds, other spellings of
//! the synced profile and session, comments, blank lines, continuation lines and sub-sections,
//! tabs, `:` and `=`, CRLF, no final newline, a BOM), the merge
//! - refuses exactly the files botocore refuses (and then changes nothing);
//! - keeps every byte outside the sections of the synced profile and session (what the merge
//!   adds outside them is only line ends, before an appended section);
//! - gives a file that botocore reads to the intended settings: the profile's keys as sent,
//!   its session's start URL and region, every other profile exactly as before;
//! - is idempotent: merging the result again changes nothing.
//!
//! `SSSO_MERGE_SEED` (decimal) runs from that seed, `SSSO_MERGE_CASES` sets how many configs
//! (default 1000); a failure prints the seed, the case and the file.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use serde_json::{Value, json};
use ssso::aws::config::{AwsConfig, Named};
use ssso::sync::merge::{Merge, merge};

const PYTHON: &str = "/opt/ssso-test/venv/bin/python3";
const FIXED_SEED: u64 = 0x5eed_9e4e;

const PROFILE: &str = "[profile dev]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = ReadOnly\nregion = eu-west-1\n";
const SESSION: &str = "[sso-session corp]\nsso_start_url = https://example.awsapps.com/start\nsso_region = eu-west-1\nsso_registration_scopes = sso:account:access\n";
const WANT: &[(&str, &str)] = &[("profile dev", PROFILE), ("sso-session corp", SESSION)];

struct Oracle {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    dir: tempfile::TempDir,
}

impl Oracle {
    fn start() -> Oracle {
        let python = std::env::var("SSSO_TEST_BOTOCORE_PYTHON").unwrap_or_else(|_| PYTHON.into());
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
            .unwrap_or_else(|e| panic!("cannot run {python} (run tests/support/setup.sh): {e}"));
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut hello = String::new();
        stdout.read_line(&mut hello).unwrap();
        let hello: Value = serde_json::from_str(&hello).unwrap();
        assert_eq!(hello["encoding"], "utf-8", "the oracle must read UTF-8");
        Oracle {
            child,
            stdin,
            stdout,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn ask(&mut self, bytes: &[u8], probes: &BTreeSet<String>) -> Value {
        let path = self.dir.path().join("case.ini");
        std::fs::write(&path, bytes).unwrap();
        writeln!(self.stdin, "{}", json!({"path": path, "probes": probes})).unwrap();
        self.stdin.flush().unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        let v: Value = serde_json::from_str(&line).unwrap();
        assert!(v.get("oracle_error").is_none(), "the oracle failed: {v}");
        v
    }
}

impl Drop for Oracle {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pct(&mut self, p: u64) -> bool {
        self.next() % 100 < p
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// A host config: sections of several kinds, with the synced profile and session sometimes
/// there already (in several spellings), in LF or CRLF, with or without a final newline.
fn generate(rng: &mut Rng) -> Vec<u8> {
    let mut lines: Vec<String> = Vec::new();
    if rng.pct(20) {
        lines.push(
            rng.pick(&["# host config", "; managed by hand", ""])
                .to_owned(),
        );
    }
    let n = rng.below(7);
    let mut used = BTreeSet::new();
    for _ in 0..n {
        let header = match rng.below(12) {
            0 => "[default]".to_owned(),
            1 => "[profile dev]".to_owned(),
            2 => "[profile \"dev\"]".to_owned(),
            3 => "[ profile  dev ]".to_owned(),
            4 => "[sso-session corp]".to_owned(),
            5 => "[sso-session 'corp']".to_owned(),
            6 => format!("[sso-session s{}]", rng.below(3)),
            7 => format!("[services svc{}]", rng.below(3)),
            8 => "[preview]".to_owned(),
            _ => format!("[profile p{}]", rng.below(5)),
        };
        // A repeated section makes botocore refuse the file: sometimes, on purpose.
        if !used.insert(header.clone()) && !rng.pct(10) {
            continue;
        }
        lines.push(header);
        let mut keys = vec!["region", "output", "cli_pager", "sso_session", "retry_mode"];
        for _ in 0..rng.below(4) {
            // A key set twice in one section makes botocore refuse the file: rarely.
            let key = if rng.pct(3) {
                "region"
            } else {
                keys.remove(rng.below(keys.len()))
            };
            let sep = rng.pick(&[" = ", "=", " =\t", ": ", "\t= "]);
            let value = rng.pick(&["us-east-1", "json", "x y", "", "standard", "s1"]);
            lines.push(format!("{key}{sep}{value}"));
            if rng.pct(10) {
                lines.push("  continued".to_owned());
            }
        }
        if rng.pct(15) {
            lines.push("s3 =".to_owned());
            lines.push("  max_concurrent_requests = 4".to_owned());
        }
        if rng.pct(30) {
            lines.push(String::new());
        }
        if rng.pct(20) {
            lines.push(
                rng.pick(&["# about the next one", ";x", "\t# indented"])
                    .to_owned(),
            );
        }
    }
    if rng.pct(3) {
        // Neither a header nor an option: botocore refuses the file.
        lines.push("just words".to_owned());
    }
    let eol = if rng.pct(25) { "\r\n" } else { "\n" };
    let mut text = lines.join(eol);
    if !lines.is_empty() && rng.pct(80) {
        text.push_str(eol);
    }
    let mut bytes = text.into_bytes();
    if rng.pct(3) {
        bytes.splice(0..0, [0xef, 0xbb, 0xbf]);
    }
    bytes
}

/// The bytes of `text` outside the sections that define the synced profile or session.
fn outside(text: &str) -> String {
    let cfg = AwsConfig::parse(text).unwrap();
    let mut out = String::new();
    let mut at = 0;
    let mut spans: Vec<_> = cfg
        .section_spans()
        .filter(|s| {
            WANT.iter().any(|(h, _)| s.has_header(h))
                || s.named == Some(Named::Profile("dev"))
                || s.named == Some(Named::SsoSession("corp"))
        })
        .map(|s| s.span)
        .collect();
    spans.sort_by_key(|r| r.start);
    for r in spans {
        out.push_str(&text[at..r.start]);
        at = r.end;
    }
    out.push_str(&text[at..]);
    out
}

fn profiles(answer: &Value) -> Vec<String> {
    answer["profiles"]
        .as_array()
        .map(|a| a.iter().map(|v| v.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

#[test]
fn the_merge_keeps_every_other_byte_and_botocore_reads_what_was_meant() {
    let seed = std::env::var("SSSO_MERGE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(FIXED_SEED);
    let cases: usize = std::env::var("SSSO_MERGE_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000);
    let mut oracle = Oracle::start();
    let (mut refused, mut changed, mut replaced) = (0, 0, 0);
    for case in 0..cases {
        let mut rng = Rng(seed ^ (case as u64).wrapping_mul(0x2545_f491_4f6c_dd1d));
        let before = generate(&mut rng);
        let ctx = || {
            format!(
                "seed {seed} case {case}:\n{}",
                String::from_utf8_lossy(&before)
            )
        };
        let mut probes: BTreeSet<String> = ["dev", "default", "p0", "p1", "p2", "p3", "p4"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let theirs_before = oracle.ask(&before, &probes);
        let result = merge(&before, WANT);
        let botocore_refuses = theirs_before.get("parse_error").is_some();
        match result {
            Err(why) => {
                assert!(
                    botocore_refuses,
                    "ssso refused ({why}), botocore reads it: {}",
                    ctx()
                );
                refused += 1;
                continue;
            }
            Ok(_) if botocore_refuses => panic!(
                "botocore refuses ({}), the merge went ahead: {}",
                theirs_before["parse_error"],
                ctx()
            ),
            Ok(Merge::Unchanged) => continue,
            Ok(Merge::Changed(after)) => {
                changed += 1;
                let b = String::from_utf8(before.clone()).unwrap();
                let a = String::from_utf8(after.clone()).unwrap();
                if outside(&b).len() != b.len() {
                    replaced += 1;
                }
                let (ob, oa) = (outside(&b), outside(&a));
                assert!(
                    oa.starts_with(&ob) && oa[ob.len()..].bytes().all(|c| c == b'\n' || c == b'\r'),
                    "bytes outside the sections changed:\n--- before\n{ob:?}\n--- after\n{oa:?}\n{}",
                    ctx()
                );
                assert_eq!(merge(&after, WANT), Ok(Merge::Unchanged), "{}", ctx());
                probes.extend(profiles(&theirs_before));
                let theirs = oracle.ask(&after, &probes);
                assert!(
                    theirs.get("parse_error").is_none(),
                    "botocore refuses the merged file ({}): {}\n--- merged\n{a}",
                    theirs["parse_error"],
                    ctx()
                );
                let dev = &theirs["answers"]["dev"];
                for line in PROFILE.lines().skip(1) {
                    let (k, v) = line.split_once(" = ").unwrap();
                    assert_eq!(dev["props"][k], v, "dev's {k}: {}\n--- merged\n{a}", ctx());
                }
                let token = &dev["token"]["ok"];
                assert_eq!(
                    token["sso_start_url"],
                    "https://example.awsapps.com/start",
                    "{dev}: {}\n--- merged\n{a}",
                    ctx()
                );
                assert_eq!(token["sso_region"], "eu-west-1", "{}", ctx());
                for name in profiles(&theirs_before) {
                    if name == "dev" {
                        continue;
                    }
                    assert_eq!(
                        theirs["answers"][&name]["props"],
                        theirs_before["answers"][&name]["props"],
                        "profile {name} changed: {}\n--- merged\n{a}",
                        ctx()
                    );
                }
            }
        }
    }
    eprintln!(
        "merge_property: {cases} configs from seed {seed}: {changed} merged ({replaced} with a section replaced), {refused} refused"
    );
    assert!(changed > cases / 2 && replaced > cases / 10 && refused > 0);
}
