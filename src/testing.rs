//! Helpers for the unit tests (compiled for tests only).

use std::path::{Path, PathBuf};

/// The shared conformance data, or None (with a loud note) when it is absent outside CI.
pub fn conformance_dir(test: &str) -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance");
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!(
            "{test}: conformance data missing at {} (required under CI=true)",
            dir.display()
        );
    }
    eprintln!(
        "\n*** {test}: SKIPPED: conformance data not found at {} ***\n",
        dir.display()
    );
    None
}
