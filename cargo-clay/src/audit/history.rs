//! The error table's "Exposed API key" row: what git scanning found in the working tree and in
//! every object of the repository (all refs, every stash entry, commit and tag messages,
//! unreachable objects).

use super::ids::EXPOSED;
use super::{Item, Status};
use crate::scan::{self, SecretFinding};

/// "Exposed API key": every secret of the working tree and of history.
pub fn exposed(
    tree: &[SecretFinding],
    history: &[SecretFinding],
    in_git: bool,
    no_history: bool,
) -> Item {
    let mut item = Item::new(EXPOSED, "Exposed API key");
    for secret in tree.iter().chain(history) {
        item.fail_with(scan::to_finding(secret));
    }
    if item.evidence.is_empty() {
        item.add(
            Status::Pass,
            if in_git && !no_history {
                "no key in the working tree or in any object of the repository (every commit of \
                 every ref and stash entry, commit and tag messages, unreachable objects)"
            } else if in_git {
                "no key in the working tree (history not scanned: --no-history)"
            } else {
                "no key in the files (not a git repository: no history)"
            },
        );
    }
    item
}
