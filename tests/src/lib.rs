//! Helpers for the end-to-end tests in `tests/tests/`: find the `sipedge` binary that
//! `cargo test` built and the corpora shipped in `tests/corpora/`.

use std::path::PathBuf;

/// The `sipedge` binary of the current build profile (cargo builds every workspace binary
/// before it runs any test).
pub fn sipedge_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    // target/<profile>/deps/<test-binary> -> target/<profile>/sipedge
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(PathBuf::from)
        .unwrap_or_default();
    let bin = dir.join("sipedge");
    assert!(
        bin.exists(),
        "{} not found: build the workspace first (cargo build --workspace)",
        bin.display()
    );
    bin
}

/// `tests/corpora/<rel>` in the source tree.
pub fn corpus(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("corpora")
        .join(rel)
}
