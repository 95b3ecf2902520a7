//! Helpers for the unit tests (compiled for tests only).

use std::path::{Path, PathBuf};

/// The AWS SDK conformance data in `tests/conformance` (see its README), or None when the
/// folder is missing: a failure under `CI=true`; elsewhere a SKIPPED line written straight to
/// the process's stderr (libtest captures `eprintln!`, so that would hide it).
pub fn conformance_dir(test: &str) -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance");
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!(
            "{test}: conformance data missing at {} (required under CI=true)",
            dir.display()
        );
    }
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stderr(),
        "\n*** {test}: SKIPPED: conformance data not found at {} ***\n",
        dir.display()
    );
    None
}
