//! The house has layers: every module of `src/` imports only from its own layer or the ones
//! below it, and no two modules import each other, directly or around a circle. Read from the
//! source itself (every `crate::...` path outside comments), so that a new import that runs
//! back up fails here, with the file and the path that does it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, lowest first: a module may use modules of its own layer or lower ones only.
/// `aws` and `ssh` are one layer, but neither may use the other (checked separately).
const LAYERS: &[(&str, &[&str])] = &[
    ("base", &["time", "ui", "files", "testing"]),
    ("sides", &["aws", "ssh"]),
    ("sync", &["sync", "forward"]),
    ("session", &["session"]),
    ("commands", &["cmd"]),
    ("boundary", &["cli", "docs"]),
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// `src/aws/token.rs` → `aws::token`, `src/sync/mod.rs` → `sync`; lib.rs and main.rs are the
/// crate root and the binary, outside the layers.
fn module_of(path: &Path) -> Option<String> {
    let rel = path.strip_prefix(src()).ok()?.with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    let m = parts.join("::");
    (m != "lib" && m != "main").then_some(m)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn layer(module: &str) -> usize {
    let top = module.split("::").next().unwrap();
    LAYERS
        .iter()
        .position(|(_, tops)| tops.contains(&top))
        .unwrap_or_else(|| panic!("module {module} is in no layer: add it to LAYERS"))
}

/// Every module each module uses: (user, used) → the first line that does it.
fn edges() -> BTreeMap<(String, String), String> {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let modules: BTreeSet<String> = files.iter().filter_map(|f| module_of(f)).collect();
    let mut edges = BTreeMap::new();
    for f in &files {
        let Some(me) = module_of(f) else { continue };
        let text = std::fs::read_to_string(f).unwrap();
        // `use crate::{a, b::c};` groups are read as `crate::a`, `crate::b::c`.
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap();
            let mut rest = code;
            while let Some(at) = rest.find("crate::") {
                rest = &rest[at + "crate::".len()..];
                let path: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                    .collect();
                let mut candidates: Vec<String> = Vec::new();
                if path.ends_with("::") && rest[path.len()..].starts_with('{') {
                    let inner = &rest[path.len() + 1..];
                    let inner = &inner[..inner.find('}').unwrap_or(inner.len())];
                    for item in inner.split(',') {
                        candidates.push(format!("{path}{}", item.trim()));
                    }
                } else {
                    candidates.push(path);
                }
                for c in candidates {
                    // The longest prefix of the path that is a module.
                    let segs: Vec<&str> = c.split("::").filter(|s| !s.is_empty()).collect();
                    let used = (1..=segs.len())
                        .rev()
                        .map(|k| segs[..k].join("::"))
                        .find(|m| modules.contains(m));
                    if let Some(used) = used
                        && used != me
                        && !me.starts_with(&format!("{used}::"))
                    {
                        edges.entry((me.clone(), used)).or_insert_with(|| {
                            format!("{}:{}: {}", f.display(), n + 1, line.trim())
                        });
                    }
                }
            }
        }
    }
    edges
}

#[test]
fn no_import_runs_back_up() {
    let mut bad = Vec::new();
    for ((me, used), at) in edges() {
        let (lm, lu) = (layer(&me), layer(&used));
        let top = |m: &str| m.split("::").next().unwrap().to_owned();
        if lu > lm {
            bad.push(format!(
                "{me} ({}) uses {used} ({}), a higher layer: {at}",
                LAYERS[lm].0, LAYERS[lu].0
            ));
        } else if lu == lm && LAYERS[lm].0 == "sides" && top(&me) != top(&used) {
            bad.push(format!(
                "{me} uses {used}, a sibling it must not know: {at}"
            ));
        }
    }
    assert!(
        bad.is_empty(),
        "imports that run back up:\n{}",
        bad.join("\n")
    );
}

#[test]
fn no_circles() {
    let edges = edges();
    let mut graph: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (me, used) in edges.keys() {
        graph.entry(me).or_default().push(used);
    }
    // Depth-first search; a node met again while still on the path closes a circle.
    fn visit<'a>(
        n: &'a str,
        graph: &BTreeMap<&'a str, Vec<&'a str>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
        circles: &mut Vec<String>,
    ) {
        if done.contains(n) {
            return;
        }
        if let Some(i) = path.iter().position(|p| *p == n) {
            let mut c: Vec<&str> = path[i..].to_vec();
            c.push(n);
            circles.push(c.join(" -> "));
            return;
        }
        path.push(n);
        for m in graph.get(n).into_iter().flatten() {
            visit(m, graph, path, done, circles);
        }
        path.pop();
        done.insert(n);
    }
    let mut circles = Vec::new();
    let mut done = BTreeSet::new();
    for n in graph.keys() {
        visit(n, &graph, &mut Vec::new(), &mut done, &mut circles);
    }
    assert!(
        circles.is_empty(),
        "import circles:\n{}",
        circles.join("\n")
    );
}

/// The check itself reads imports: a known edge must be there.
#[test]
fn the_reader_sees_imports() {
    let e = edges();
    assert!(
        e.contains_key(&("session".to_owned(), "sync".to_owned())),
        "{e:?}"
    );
    assert!(e.contains_key(&("cmd::connect".to_owned(), "ssh::master".to_owned())));
    assert!(e.len() > 30, "{}", e.len());
}
