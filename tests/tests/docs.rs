//! The errors shown in the docs are the compiler's real output: every ```text block preceded by
//! `<!-- ui: tests/ui/<rule>/<case>.stderr -->` must equal that trybuild file, which the ui
//! suite checks against the compiler. Change a message and this test names the doc to update.

use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the workspace")
        .to_path_buf()
}

/// `(stderr path, block text)` for each marked block of `doc`.
fn marked_blocks(doc: &str) -> Vec<(String, String)> {
    let mut blocks = Vec::new();
    let mut lines = doc.lines();
    while let Some(line) = lines.next() {
        let Some(path) = line
            .trim()
            .strip_prefix("<!-- ui: ")
            .and_then(|rest| rest.strip_suffix(" -->"))
        else {
            continue;
        };
        let fence = lines.next().unwrap_or_default();
        assert_eq!(
            fence.trim(),
            "```text",
            "a ```text block must follow the marker of {path}"
        );
        let body: Vec<&str> = lines.by_ref().take_while(|l| l.trim() != "```").collect();
        blocks.push((path.to_owned(), body.join("\n")));
    }
    blocks
}

#[test]
fn documented_errors_match_the_ui_cases() {
    let root = workspace();
    let mut checked = 0;
    for doc in [
        "README.md",
        "clay-config/docs/derive.md",
        "cargo-clay/README.md",
    ] {
        let Ok(text) = std::fs::read_to_string(root.join(doc)) else {
            continue;
        };
        for (path, block) in marked_blocks(&text) {
            let expected = std::fs::read_to_string(root.join(&path));
            assert!(expected.is_ok(), "{doc} cites {path}, which cannot be read");
            let expected = expected.unwrap_or_default();
            assert_eq!(
                block.trim_end(),
                expected.trim_end(),
                "{doc}: the block marked {path} differs from the compiler's output"
            );
            checked += 1;
        }
    }
    assert!(checked >= 1, "no documented error was found to check");
}

#[test]
fn the_marker_parser_reads_blocks() {
    let doc = "x\n<!-- ui: a.stderr -->\n```text\nerror: one\n  two\n```\ny\n";
    assert_eq!(
        marked_blocks(doc),
        [("a.stderr".to_owned(), "error: one\n  two".to_owned())]
    );
}
