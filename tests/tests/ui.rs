//! trybuild ui cases: one folder per rule under `tests/ui/`, plus `multiple/` (every error of a
//! struct in one build) and `pass/`.

use std::path::{Path, PathBuf};

/// trybuild compiles the cases in a scratch crate under `target/tests/trybuild/<crate>/`, and
/// `CARGO_MANIFEST_DIR` is that crate's directory. Policy paths in the cases are relative to
/// the crate root, so the fixtures are copied to the same relative place there.
fn place_policy_fixtures() {
    let target_dir = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.ancestors().nth(3).map(Path::to_path_buf))
        .expect("the test executable lives in <target>/debug/deps");
    let scratch = target_dir
        .join("tests")
        .join("trybuild")
        .join(env!("CARGO_PKG_NAME"))
        .join("tests/ui/policies");
    std::fs::create_dir_all(&scratch).expect("create the scratch policy folder");
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("ui/policies");
    for entry in std::fs::read_dir(&fixtures).expect("read ui/policies") {
        let path = entry.expect("fixture entry").path();
        if let Some(name) = path.file_name() {
            std::fs::copy(&path, scratch.join(name)).expect("copy a policy fixture");
        }
    }
}

#[test]
fn ui() {
    place_policy_fixtures();
    let cases = trybuild::TestCases::new();
    cases.pass("ui/pass/*.rs");
    for entry in
        std::fs::read_dir(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("ui")).expect("ui")
    {
        let dir = entry.expect("ui entry").path();
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        if dir.is_dir() && name != "pass" && name != "policies" {
            cases.compile_fail(format!("ui/{name}/*.rs"));
        }
    }
}
